-- name: users_not_covered
-- title: Users who cannot reset their password themselves
-- description: Users of the latest registration snapshot who are not SSPR capable (not
--   registered, or not enabled by policy), admins first, with what is missing and since when
--   (the earliest snapshot from which they have been continuously not capable). Accounts
--   disabled in the latest users snapshot are left out, as registration_coverage leaves them out
--   of its totals (a disabled account cannot reset); include_disabled=true lists them too.
-- params: include_disabled:bool=false
-- settings: sspr.materialize_ctes=listed history
-- chart: table
-- The history is read for the listed users only (the latest snapshot's not-capable users, four
-- in ten on the bench tenant), not for everyone: 80,000 snapshot rows instead of 200,000 are
-- aggregated. `listed` and `history` are each read in two places, so each is computed once.
WITH listed AS (
  SELECT r.user_id, r.user_principal_name, r.user_display_name, r.user_type, r.is_admin,
         r.is_sspr_enabled, r.is_sspr_registered, r.methods_registered, r.snapshot_date
  FROM registration_details r
  LEFT JOIN disabled_accounts x ON x.user_id = r.user_id
  WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
    AND NOT coalesce(r.is_sspr_capable, false)
    AND ($include_disabled OR x.user_id IS NULL)
),
history AS (
  SELECT h.user_id, h.snapshot_date, h.is_sspr_capable
  FROM listed l
  JOIN registration_details h ON h.user_id = l.user_id
),
capable_at AS (
  SELECT user_id, max(CASE WHEN is_sspr_capable THEN snapshot_date END) AS last_capable
  FROM history GROUP BY user_id
),
since AS (
  SELECT h.user_id, min(h.snapshot_date) AS since
  FROM history h
  LEFT JOIN capable_at c ON c.user_id = h.user_id
  WHERE c.last_capable IS NULL OR h.snapshot_date > c.last_capable
  GROUP BY h.user_id
)
SELECT r.user_principal_name, r.user_display_name, r.user_type,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       CASE WHEN NOT coalesce(r.is_sspr_enabled, false) AND NOT coalesce(r.is_sspr_registered, false) THEN 'not enabled, not registered'
            WHEN NOT coalesce(r.is_sspr_enabled, false) THEN 'not enabled by policy'
            ELSE 'not registered' END AS missing,
       r.methods_registered,
       s.since AS not_capable_since,
       r.snapshot_date
FROM listed r
LEFT JOIN since s ON s.user_id = r.user_id
ORDER BY CASE WHEN r.is_admin THEN 0 ELSE 1 END, s.since, r.user_principal_name
