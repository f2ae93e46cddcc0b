-- name: reset_funnel
-- title: Where self-service resets drop out
-- description: Self-service attempts (reset_attempts) reaching each stage of the flow (identify,
--   verification options, verification started / completed, all verified, new password, reset),
--   with the share of attempts and the conversion from the previous stage.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: funnel x=stage y=attempts
-- Attempts are counted per (furthest stage, succeeded) first: a handful of rows to set against
-- the stages instead of every attempt.
WITH a AS (
  SELECT furthest_stage_order AS reached,
         CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END AS succeeded,
         count(*) AS n
  FROM reset_attempts
  WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
  GROUP BY furthest_stage_order, CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END
),
stages AS (
  SELECT DISTINCT stage, stage_order FROM sspr_steps WHERE stage_order IS NOT NULL
),
counts AS (
  SELECT s.stage_order, s.stage,
         sum(CASE WHEN a.reached >= s.stage_order OR a.succeeded = 1 THEN a.n ELSE 0 END) AS attempts
  FROM stages s CROSS JOIN a
  GROUP BY s.stage_order, s.stage
)
SELECT stage_order, stage, attempts,
       round(100.0 * attempts / max(attempts) OVER (), 1) AS pct_of_started,
       round(100.0 * attempts / lag(attempts) OVER (ORDER BY stage_order), 1) AS pct_of_previous
FROM counts
ORDER BY stage_order
