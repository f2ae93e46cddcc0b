-- name: registration_coverage_by_role
-- title: Registration coverage by role: privileged admins, other admins, users
-- description: The portal's role filter (Graph's includedUserRoles: privilegedAdmin, admin,
--   user) over the latest userRegistrationDetails snapshot: per role, the users, how many are
--   SSPR registered, enabled and capable, MFA and passwordless capable, and the share of each,
--   with an all-users row first. privilegedAdmin = holds one of the roles in
--   privileged_roles.csv (Graph's list: Global, Security, Conditional Access, Exchange,
--   SharePoint, Helpdesk, Billing, User and Authentication Administrator) in the latest
--   role_assignments snapshot, at any scope; admin = holds another directory role, or is
--   isAdmin in the registration row; user = neither. Only active assignments made to the user
--   are seen: a role held through a role-assignable group or only eligible in PIM is not. As the
--   portal counts, disabled accounts are left out unless include_disabled=true. When the lake
--   has no role assignments, note says so and privileged admins are counted as admin.
-- params: include_disabled:bool=false
-- chart: bar x=role y=capable_pct sort=none
WITH held AS (
  SELECT a.principal_id AS user_id,
         max(CASE WHEN p.template_id IS NOT NULL THEN 1 ELSE 0 END) AS privileged
  FROM role_assignments a
  LEFT JOIN privileged_roles p
    ON p.template_id = lower(coalesce(a.role_template_id, a.role_definition_id))
  WHERE a.snapshot_date = (SELECT max(snapshot_date) FROM role_assignments)
  GROUP BY a.principal_id
),
classed AS (
  SELECT CASE WHEN h.privileged = 1 THEN 'privilegedAdmin'
              WHEN h.user_id IS NOT NULL OR coalesce(r.is_admin, false) THEN 'admin'
              ELSE 'user' END AS role,
         r.snapshot_date, r.is_sspr_registered, r.is_sspr_enabled, r.is_sspr_capable,
         r.is_mfa_capable, r.is_passwordless_capable
  FROM registration_details r
  LEFT JOIN held h ON h.user_id = r.user_id
  LEFT JOIN disabled_accounts d ON d.user_id = r.user_id
  WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
    AND ($include_disabled OR d.user_id IS NULL)
),
slices AS (
  SELECT role,
         min(snapshot_date) AS snapshot_date,
         count(*) AS users,
         count(*) FILTER (WHERE is_sspr_registered) AS registered,
         count(*) FILTER (WHERE is_sspr_enabled) AS enabled,
         count(*) FILTER (WHERE is_sspr_capable) AS capable,
         count(*) FILTER (WHERE is_mfa_capable) AS mfa,
         count(*) FILTER (WHERE is_passwordless_capable) AS passwordless
  FROM classed
  GROUP BY role
),
roles AS (
  SELECT max(snapshot_date) AS roles_snapshot FROM role_assignments
),
totals AS (
  SELECT min(snapshot_date) AS snapshot_date,
         CASE WHEN grouping(role) = 1 THEN 'all' ELSE role END AS role,
         sum(users) AS users,
         sum(registered) AS sspr_registered,
         sum(enabled) AS sspr_enabled,
         sum(capable) AS sspr_capable,
         round(100.0 * sum(registered) / sum(users), 1) AS registered_pct,
         round(100.0 * sum(capable) / sum(users), 1) AS capable_pct,
         sum(mfa) AS mfa_capable,
         round(100.0 * sum(mfa) / sum(users), 1) AS mfa_capable_pct,
         sum(passwordless) AS passwordless_capable,
         round(100.0 * sum(passwordless) / sum(users), 1) AS passwordless_capable_pct
  FROM slices
  GROUP BY GROUPING SETS ((), (role))
)
SELECT t.*,
       x.roles_snapshot,
       CASE WHEN $include_disabled THEN 'enabled and disabled' ELSE 'enabled only' END AS accounts,
       CASE WHEN x.roles_snapshot IS NULL
            THEN 'no role assignments in the lake: privileged admins are counted as admin (collect them with [graph] roles = true, or import a roleAssignments export)'
       END AS note
FROM totals t CROSS JOIN roles x
ORDER BY CASE t.role WHEN 'all' THEN 0 WHEN 'privilegedAdmin' THEN 1 WHEN 'admin' THEN 2 ELSE 3 END
