-- derived: registration_coverage_daily
-- Per registration snapshot date in [$from, $to) and slice (user type, admin role, department,
-- account enabled): users, SSPR registered / enabled / capable, MFA capable, passwordless capable.
-- The department and whether the account is enabled come from the `users` snapshot of the same
-- date, else the latest earlier one, else the earliest later one (they change rarely;
-- registration snapshots are more frequent). A user no `users` snapshot holds counts as enabled
-- (Graph's registration details do not say), as the portal counts every user it cannot rule out.
WITH r AS (
  SELECT * FROM registration_details WHERE snapshot_date >= $from AND snapshot_date < $to
),
u AS (
  SELECT r.snapshot_date, r.user_id, d.department, d.account_enabled,
         row_number() OVER (PARTITION BY r.snapshot_date, r.user_id
                            ORDER BY CASE WHEN d.snapshot_date <= r.snapshot_date THEN 0 ELSE 1 END,
                                     CASE WHEN d.snapshot_date <= r.snapshot_date THEN d.snapshot_date END DESC,
                                     d.snapshot_date) AS rn
  FROM r JOIN users d ON d.user_id = r.user_id
)
SELECT r.snapshot_date,
       coalesce(r.user_type, 'unknown') AS user_type,
       CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END AS role,
       coalesce(u.department, 'unknown') AS department,
       coalesce(u.account_enabled, true) AS account_enabled,
       count(*) AS users,
       sum(CASE WHEN r.is_sspr_registered THEN 1 ELSE 0 END) AS sspr_registered,
       sum(CASE WHEN r.is_sspr_enabled THEN 1 ELSE 0 END) AS sspr_enabled,
       sum(CASE WHEN r.is_sspr_capable THEN 1 ELSE 0 END) AS sspr_capable,
       sum(CASE WHEN r.is_mfa_capable THEN 1 ELSE 0 END) AS mfa_capable,
       sum(CASE WHEN r.is_passwordless_capable THEN 1 ELSE 0 END) AS passwordless_capable
FROM r
LEFT JOIN (SELECT * FROM u WHERE rn = 1) u ON u.snapshot_date = r.snapshot_date AND u.user_id = r.user_id
GROUP BY r.snapshot_date, coalesce(r.user_type, 'unknown'),
         CASE WHEN r.is_admin THEN 'admin' ELSE 'non-admin' END, coalesce(u.department, 'unknown'),
         coalesce(u.account_enabled, true)
