-- name: coverage_lost
-- title: Users who were SSPR capable and are not any more
-- description: Users capable in an earlier registration snapshot and not capable in the latest
--   one (methods removed, policy scope changed), with the last snapshot they were capable in and
--   the methods they had then and have now.
-- params:
-- chart: table
WITH latest AS (SELECT max(snapshot_date) AS d FROM registration_details),
now_r AS (SELECT r.* FROM registration_details r JOIN latest l ON r.snapshot_date = l.d),
was AS (
  SELECT r.user_id, r.snapshot_date, r.methods_registered,
         row_number() OVER (PARTITION BY r.user_id ORDER BY r.snapshot_date DESC) AS rn
  FROM registration_details r JOIN latest l ON r.snapshot_date < l.d
  WHERE r.is_sspr_capable
)
SELECT n.user_principal_name, n.user_type,
       CASE WHEN n.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       w.snapshot_date AS last_capable_snapshot,
       w.methods_registered AS methods_then,
       n.methods_registered AS methods_now,
       CASE WHEN NOT coalesce(n.is_sspr_enabled, false) THEN 'no longer enabled by policy' ELSE 'no longer registered' END AS change
FROM now_r n JOIN was w ON w.user_id = n.user_id AND w.rn = 1
WHERE NOT coalesce(n.is_sspr_capable, false)
ORDER BY CASE WHEN n.is_admin THEN 0 ELSE 1 END, n.user_principal_name
