-- name: new_users_unregistered
-- title: Users created more than N days ago who are still not registered for SSPR
-- description: Enabled member and guest accounts from the latest `users` snapshot, created at
--   least `days` days before the latest registration snapshot, that the latest registration
--   snapshot shows as not SSPR registered; oldest accounts first.
-- params: days:int=14
-- settings: datafusion.optimizer.join_reordering=false,
--   datafusion.execution.hash_join_buffering_capacity=67108864
-- chart: table
-- Each side reads one snapshot file: the binary answers max(snapshot_date) from the partition
-- values and the scans prune with it (src/query/known_subquery.rs). With nothing left for the
-- join to tell the users scan, that scan runs while the hash table is built (the buffering
-- setting, DataFusion-only) instead of after it: both files are decoded at once.
WITH r AS (SELECT * FROM registration_details
           WHERE snapshot_date = (SELECT max(snapshot_date) FROM registration_details)),
u AS (SELECT * FROM users WHERE snapshot_date = (SELECT max(snapshot_date) FROM users))
SELECT u.user_principal_name, u.display_name, u.user_type, u.department, u.created_time,
       CAST(floor((epoch_seconds(CAST(r.snapshot_date AS TIMESTAMP)) - epoch_seconds(u.created_time)) / 86400) AS BIGINT) AS days_since_created,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role
-- r first: the unregistered users are the smaller side, so the hash table is built on them (the
-- planner's estimates would swap the sides, hence join_reordering=false).
FROM r JOIN u ON u.user_id = r.user_id
WHERE coalesce(u.account_enabled, true)
  AND NOT coalesce(r.is_sspr_registered, false)
  AND u.created_time IS NOT NULL
  AND epoch_seconds(CAST(r.snapshot_date AS TIMESTAMP)) - epoch_seconds(u.created_time) >= $days * 86400
ORDER BY u.created_time, u.user_principal_name
