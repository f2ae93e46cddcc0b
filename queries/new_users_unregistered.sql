-- name: new_users_unregistered
-- title: Users created more than N days ago who are still not registered for SSPR
-- description: Enabled member and guest accounts from the latest `users` snapshot, created at
--   least `days` days before the latest registration snapshot, that the latest registration
--   snapshot shows as not SSPR registered; oldest accounts first.
-- params: days:int=14
-- chart: table
WITH latest_r AS (SELECT max(snapshot_date) AS d FROM registration_details),
latest_u AS (SELECT max(snapshot_date) AS d FROM users),
r AS (SELECT x.* FROM registration_details x JOIN latest_r l ON x.snapshot_date = l.d),
u AS (SELECT x.* FROM users x JOIN latest_u l ON x.snapshot_date = l.d)
SELECT u.user_principal_name, u.display_name, u.user_type, u.department, u.created_time,
       CAST(floor((epoch_seconds(CAST(r.snapshot_date AS TIMESTAMP)) - epoch_seconds(u.created_time)) / 86400) AS BIGINT) AS days_since_created,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role
-- r first: the unregistered users are the smaller side, so the hash table is built on them.
FROM r JOIN u ON u.user_id = r.user_id
WHERE coalesce(u.account_enabled, true)
  AND NOT coalesce(r.is_sspr_registered, false)
  AND u.created_time IS NOT NULL
  AND epoch_seconds(CAST(r.snapshot_date AS TIMESTAMP)) - epoch_seconds(u.created_time) >= $days * 86400
ORDER BY u.created_time, u.user_principal_name
