-- name: reset_success_daily
-- title: SSPR reset success per day
-- description: Self-service reset sessions (one per correlation id with at least one SSPR flow
--   event) by the local day they started in --tz: sessions started, sessions that succeeded
--   (a "User successfully reset password" step or a successful "Reset password (self-service)"),
--   and the success rate.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: line x=day y=success_rate_pct
WITH sessions AS (
  SELECT correlation_id,
         min(activity_time) AS started_at,
         max(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded
  FROM sspr_step_events
  WHERE correlation_id IS NOT NULL
  GROUP BY correlation_id
)
SELECT local_date(started_at, $tz) AS day,
       count(*) AS sessions_started,
       sum(succeeded) AS sessions_succeeded,
       count(*) - sum(succeeded) AS sessions_not_succeeded,
       round(100.0 * sum(succeeded) / count(*), 1) AS success_rate_pct
FROM sessions
WHERE started_at >= $from AND started_at < $to
GROUP BY local_date(started_at, $tz)
ORDER BY day
