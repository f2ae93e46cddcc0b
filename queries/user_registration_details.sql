-- name: user_registration_details
-- title: User registration details: one row per user, with the portal's filters
-- description: The portal's "User registration details" list from the latest registration
--   snapshot: per user, user type, role (admin as Graph's isAdmin), whether they hold one of
--   Graph's privileged-admin roles and which directory roles they hold (role_assignments),
--   whether the account is enabled, SSPR registered / enabled / capable, MFA and passwordless
--   capable, the methods registered, the default method the user chose and the system-preferred
--   one, and when Entra last updated the row. Filters: method (a methodsRegistered key such as
--   mobilePhone, or any), capable (any, sspr, not_sspr, mfa, not_mfa, passwordless,
--   not_passwordless), role (any; admin and non-admin as isAdmin; privileged: holds a role of
--   privileged_roles.csv), user_type (any, member, guest). Disabled accounts are left out, as
--   the coverage reports leave them out, unless include_disabled=true. Unlike the portal's list,
--   the answer can be exported whole (--format csv / xlsx) and asked of any earlier snapshot with
--   snapshot (a date; default the latest).
-- params: method:string=any, capable:string(any|sspr|not_sspr|mfa|not_mfa|passwordless|not_passwordless)=any, role:string(any|admin|non-admin|privileged)=any, user_type:string(any|member|guest)=any, include_disabled:bool=false, snapshot:date=9999-12-31
-- chart: table
WITH pick AS (
  SELECT max(snapshot_date) AS d FROM registration_details WHERE snapshot_date <= $snapshot
),
state AS (
  SELECT user_id, account_enabled FROM users
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM users WHERE snapshot_date <= $snapshot)
),
-- The directory roles each user holds in the role_assignments snapshot of that day or before.
held AS (
  SELECT a.principal_id AS user_id,
         max(CASE WHEN p.template_id IS NOT NULL THEN 1 ELSE 0 END) AS privileged,
         array_join(array_sort(array_distinct(
           array_agg(coalesce(a.role_name, a.role_definition_id)))), ', ') AS roles
  FROM role_assignments a
  LEFT JOIN privileged_roles p ON p.template_id = lower(coalesce(a.role_template_id, a.role_definition_id))
  WHERE a.snapshot_date = (SELECT max(snapshot_date) FROM role_assignments WHERE snapshot_date <= $snapshot)
  GROUP BY a.principal_id
)
SELECT r.user_principal_name, r.user_display_name, r.user_type,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       coalesce(h.privileged = 1, false) AS privileged_admin,
       h.roles AS admin_roles,
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
LEFT JOIN held h ON h.user_id = r.user_id
WHERE ($include_disabled OR coalesce(s.account_enabled, true))
  AND ($method = 'any' OR concat(',', coalesce(r.methods_registered, ''), ',') LIKE concat('%,', $method, ',%'))
  AND ($role = 'any' OR (r.is_admin AND $role = 'admin') OR (NOT coalesce(r.is_admin, false) AND $role = 'non-admin')
       OR (h.privileged = 1 AND $role = 'privileged'))
  AND ($user_type = 'any' OR lower(r.user_type) = lower($user_type))
  AND ($capable = 'any'
       OR ($capable = 'sspr' AND coalesce(r.is_sspr_capable, false))
       OR ($capable = 'not_sspr' AND NOT coalesce(r.is_sspr_capable, false))
       OR ($capable = 'mfa' AND coalesce(r.is_mfa_capable, false))
       OR ($capable = 'not_mfa' AND NOT coalesce(r.is_mfa_capable, false))
       OR ($capable = 'passwordless' AND coalesce(r.is_passwordless_capable, false))
       OR ($capable = 'not_passwordless' AND NOT coalesce(r.is_passwordless_capable, false)))
ORDER BY r.user_principal_name
