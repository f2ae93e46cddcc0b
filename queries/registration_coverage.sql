-- name: registration_coverage
-- title: SSPR registration coverage (latest snapshot)
-- description: Users in the latest userRegistrationDetails snapshot, how many are registered,
--   enabled and capable for self-service password reset, and the share of each, by user type
--   and admin role, with an all-users row first. Capable = registered and enabled by policy.
-- params:
-- chart: bar x=user_type y=capable_pct
-- One scan of the latest snapshot: the all-users row is the empty grouping set.
WITH r AS (
  SELECT snapshot_date,
         coalesce(user_type, 'unknown') AS user_type,
         CASE WHEN is_admin THEN 'admin' ELSE 'non-admin' END AS role,
         is_sspr_registered, is_sspr_enabled, is_sspr_capable
  FROM registration_details
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
)
SELECT min(snapshot_date) AS snapshot_date,
       CASE WHEN grouping(user_type) = 1 THEN 'all' ELSE user_type END AS user_type,
       CASE WHEN grouping(role) = 1 THEN 'all' ELSE role END AS role,
       count(*) AS users,
       sum(CASE WHEN is_sspr_registered THEN 1 ELSE 0 END) AS sspr_registered,
       sum(CASE WHEN is_sspr_enabled THEN 1 ELSE 0 END) AS sspr_enabled,
       sum(CASE WHEN is_sspr_capable THEN 1 ELSE 0 END) AS sspr_capable,
       round(100.0 * sum(CASE WHEN is_sspr_registered THEN 1 ELSE 0 END) / count(*), 1) AS registered_pct,
       round(100.0 * sum(CASE WHEN is_sspr_enabled THEN 1 ELSE 0 END) / count(*), 1) AS enabled_pct,
       round(100.0 * sum(CASE WHEN is_sspr_capable THEN 1 ELSE 0 END) / count(*), 1) AS capable_pct
FROM r
GROUP BY GROUPING SETS ((), (user_type, role))
ORDER BY CASE WHEN user_type = 'all' THEN 0 ELSE 1 END, user_type, role
