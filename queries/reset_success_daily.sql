-- name: reset_success_daily
-- title: SSPR reset success per day
-- description: Self-service reset attempts (derived table reset_attempts: one per correlation id
--   with at least one SSPR flow event) by the local day they started in --tz: attempts started,
--   attempts that succeeded (a "User successfully reset password" step or a successful
--   "Reset password (self-service)"), and the success rate. Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: line x=day y=success_rate_pct
SELECT local_date(started_at, $tz) AS day,
       count(*) AS sessions_started,
       count(*) FILTER (WHERE outcome = 'succeeded') AS sessions_succeeded,
       sum(CASE WHEN outcome = 'succeeded' THEN 0 ELSE 1 END) AS sessions_not_succeeded,
       round(100.0 * count(*) FILTER (WHERE outcome = 'succeeded') / count(*), 1) AS success_rate_pct
FROM reset_attempts
WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
GROUP BY local_date(started_at, $tz)
ORDER BY day
