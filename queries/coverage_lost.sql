-- name: coverage_lost
-- title: Users who were SSPR capable and are not any more
-- description: Users capable in an earlier registration snapshot and not capable in the latest
--   one (methods removed, policy scope changed), with the last snapshot they were capable in and
--   the methods they had then and have now.
-- params:
-- chart: table
WITH latest AS (SELECT max(snapshot_date) AS d FROM registration_details),
now_r AS (
  SELECT r.* FROM registration_details r JOIN latest l ON r.snapshot_date = l.d
  WHERE NOT coalesce(r.is_sspr_capable, false)
),
-- Each user's last capable snapshot before the latest, then that snapshot's row for its methods
-- (a grouped max and a keyed join instead of ranking every capable row).
was AS (
  SELECT r.user_id, max(r.snapshot_date) AS d
  FROM registration_details r JOIN latest l ON r.snapshot_date < l.d
  WHERE r.is_sspr_capable
  GROUP BY r.user_id
)
SELECT n.user_principal_name, n.user_type,
       CASE WHEN n.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       w.d AS last_capable_snapshot,
       m.methods_registered AS methods_then,
       n.methods_registered AS methods_now,
       CASE WHEN NOT coalesce(n.is_sspr_enabled, false) THEN 'no longer enabled by policy' ELSE 'no longer registered' END AS change
FROM now_r n
JOIN was w ON w.user_id = n.user_id
JOIN registration_details m ON m.user_id = w.user_id AND m.snapshot_date = w.d
ORDER BY CASE WHEN n.is_admin THEN 0 ELSE 1 END, n.user_principal_name
