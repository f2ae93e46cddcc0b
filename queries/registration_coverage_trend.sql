-- name: registration_coverage_trend
-- title: SSPR registration coverage over time
-- description: Per registration snapshot (derived table registration_coverage_daily): users,
--   SSPR registered, enabled and capable, MFA capable, and the capable share, for all users and
--   by user type. Needs `sspr build`.
-- params: from:date=1970-01-01, to:date=9999-12-31
-- settings: datafusion.optimizer.max_passes=1
-- chart: line x=snapshot_date y=capable_pct series=user_type
-- The all-users row per snapshot is the (snapshot_date) grouping set.
SELECT snapshot_date,
       CASE WHEN grouping(user_type) = 1 THEN 'all' ELSE user_type END AS user_type,
       sum(users) AS users,
       sum(sspr_registered) AS sspr_registered,
       sum(sspr_enabled) AS sspr_enabled,
       sum(sspr_capable) AS sspr_capable,
       sum(mfa_capable) AS mfa_capable,
       round(100.0 * sum(sspr_capable) / sum(users), 1) AS capable_pct
FROM registration_coverage_daily
WHERE snapshot_date >= $from AND snapshot_date <= $to
GROUP BY GROUPING SETS ((snapshot_date), (snapshot_date, user_type))
ORDER BY snapshot_date, CASE WHEN user_type = 'all' THEN 0 ELSE 1 END, user_type
