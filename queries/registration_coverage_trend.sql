-- name: registration_coverage_trend
-- title: SSPR registration coverage over time
-- description: Per registration snapshot (derived table registration_coverage_daily): users,
--   SSPR registered, enabled and capable, MFA capable, and the capable share, for all users and
--   by user type. As the Entra portal counts, accounts disabled in the users snapshot nearest each
--   registration snapshot are left out; include_disabled=true counts them too (the accounts
--   column says which). Needs `sspr build`.
-- params: from:date=1970-01-01, to:date=9999-12-31, include_disabled:bool=false
-- settings: datafusion.optimizer.max_passes=1, datafusion.execution.target_partitions=1
-- chart: line x=snapshot_date y=capable_pct series=user_type
-- The all-users row per snapshot is the (snapshot_date) grouping set.
-- One partition: the table holds a few rows per snapshot, and more streams only add a
-- repartition and a merge to plan and run (7.9 against 6.7 ms in process, planning included).
SELECT snapshot_date,
       CASE WHEN grouping(user_type) = 1 THEN 'all' ELSE user_type END AS user_type,
       sum(users) AS users,
       sum(sspr_registered) AS sspr_registered,
       sum(sspr_enabled) AS sspr_enabled,
       sum(sspr_capable) AS sspr_capable,
       sum(mfa_capable) AS mfa_capable,
       round(100.0 * sum(sspr_capable) / sum(users), 1) AS capable_pct,
       CASE WHEN $include_disabled THEN 'enabled and disabled' ELSE 'enabled only' END AS accounts
FROM registration_coverage_daily
WHERE snapshot_date >= $from AND snapshot_date <= $to
  AND ($include_disabled OR account_enabled)
GROUP BY GROUPING SETS ((snapshot_date), (snapshot_date, user_type))
ORDER BY snapshot_date, CASE WHEN user_type = 'all' THEN 0 ELSE 1 END, user_type
