-- name: users_not_covered
-- title: Users who cannot reset their password themselves
-- description: Users of the latest registration snapshot who are not SSPR capable (not
--   registered, or not enabled by policy), admins first, with what is missing and since when
--   (the earliest snapshot from which they have been continuously not capable). Accounts
--   disabled in the latest users snapshot are left out, as registration_coverage leaves them out
--   of its totals (a disabled account cannot reset); include_disabled=true lists them too.
-- params: include_disabled:bool=false
-- chart: table
WITH latest AS (SELECT max(snapshot_date) AS d FROM registration_details),
disabled AS (
  SELECT user_id FROM users
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM users) AND NOT account_enabled
),
capable_at AS (
  SELECT user_id, max(CASE WHEN is_sspr_capable THEN snapshot_date END) AS last_capable
  FROM registration_details GROUP BY user_id
),
since AS (
  SELECT r.user_id, min(r.snapshot_date) AS since
  FROM registration_details r
  LEFT JOIN capable_at c ON c.user_id = r.user_id
  WHERE c.last_capable IS NULL OR r.snapshot_date > c.last_capable
  GROUP BY r.user_id
)
SELECT r.user_principal_name, r.user_display_name, r.user_type,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       CASE WHEN NOT coalesce(r.is_sspr_enabled, false) AND NOT coalesce(r.is_sspr_registered, false) THEN 'not enabled, not registered'
            WHEN NOT coalesce(r.is_sspr_enabled, false) THEN 'not enabled by policy'
            ELSE 'not registered' END AS missing,
       r.methods_registered,
       s.since AS not_capable_since,
       r.snapshot_date
FROM registration_details r
JOIN latest l ON r.snapshot_date = l.d
LEFT JOIN since s ON s.user_id = r.user_id
LEFT JOIN disabled x ON x.user_id = r.user_id
WHERE NOT coalesce(r.is_sspr_capable, false)
  AND ($include_disabled OR x.user_id IS NULL)
ORDER BY CASE WHEN r.is_admin THEN 0 ELSE 1 END, s.since, r.user_principal_name
