-- name: user_registration_details
-- title: User registration details: one row per user, with the portal's filters
-- description: The portal's "User registration details" list from the latest registration
--   snapshot: per user, user type, role (admin as Graph's isAdmin), whether the account is
--   enabled, SSPR registered / enabled / capable, MFA and passwordless capable, the methods
--   registered, the default method the user chose and the system-preferred one, and when Entra
--   last updated the row. Filters: method (a methodsRegistered key such as mobilePhone, or any),
--   capable (any, sspr, not_sspr, mfa, not_mfa, passwordless, not_passwordless), role (any,
--   admin, non-admin), user_type (any, member, guest). Disabled accounts are left out, as the
--   coverage reports leave them out, unless include_disabled=true. Unlike the portal's list,
--   the answer can be exported whole (--format csv / xlsx) and asked of any earlier snapshot with
--   snapshot (a date; default the latest).
-- params: method:string=any, capable:string(any|sspr|not_sspr|mfa|not_mfa|passwordless|not_passwordless)=any, role:string(any|admin|non-admin)=any, user_type:string(any|member|guest)=any, include_disabled:bool=false, snapshot:date=9999-12-31
-- chart: table
WITH pick AS (
  SELECT max(snapshot_date) AS d FROM registration_details WHERE snapshot_date <= $snapshot
),
state AS (
  SELECT user_id, account_enabled FROM users
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM users WHERE snapshot_date <= $snapshot)
)
SELECT r.user_principal_name, r.user_display_name, r.user_type,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       coalesce(s.account_enabled, true) AS account_enabled,
       coalesce(r.is_sspr_registered, false) AS sspr_registered,
       coalesce(r.is_sspr_enabled, false) AS sspr_enabled,
       coalesce(r.is_sspr_capable, false) AS sspr_capable,
       coalesce(r.is_mfa_capable, false) AS mfa_capable,
       coalesce(r.is_passwordless_capable, false) AS passwordless_capable,
       r.methods_registered,
       r.user_preferred_method AS default_method,
       CASE WHEN r.is_system_preferred_enabled THEN r.system_preferred_methods END AS system_preferred_method,
       r.last_updated_time,
       r.snapshot_date
FROM registration_details r
JOIN pick p ON r.snapshot_date = p.d
LEFT JOIN state s ON s.user_id = r.user_id
WHERE ($include_disabled OR coalesce(s.account_enabled, true))
  AND ($method = 'any' OR concat(',', coalesce(r.methods_registered, ''), ',') LIKE concat('%,', $method, ',%'))
  AND ($role = 'any' OR (r.is_admin AND $role = 'admin') OR (NOT coalesce(r.is_admin, false) AND $role = 'non-admin'))
  AND ($user_type = 'any' OR lower(r.user_type) = lower($user_type))
  AND ($capable = 'any'
       OR ($capable = 'sspr' AND coalesce(r.is_sspr_capable, false))
       OR ($capable = 'not_sspr' AND NOT coalesce(r.is_sspr_capable, false))
       OR ($capable = 'mfa' AND coalesce(r.is_mfa_capable, false))
       OR ($capable = 'not_mfa' AND NOT coalesce(r.is_mfa_capable, false))
       OR ($capable = 'passwordless' AND coalesce(r.is_passwordless_capable, false))
       OR ($capable = 'not_passwordless' AND NOT coalesce(r.is_passwordless_capable, false)))
ORDER BY r.user_principal_name
