-- name: reset_failures_by_reason
-- title: Why SSPR sessions did not succeed
-- description: Sessions that never succeeded, by the last non-progress step they logged (its
--   resultReason as written by Entra, the outcome and stage from reference table sspr_steps, and
--   the SSPR_00xx code the step corresponds to where one is known). Sessions without any
--   terminal step are counted as "no terminal step logged".
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=reason y=sessions
WITH sessions AS (
  SELECT correlation_id,
         min(activity_time) AS started_at,
         max(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded
  FROM sspr_step_events
  WHERE correlation_id IS NOT NULL
  GROUP BY correlation_id
),
failed AS (
  SELECT correlation_id, started_at FROM sessions
  WHERE succeeded = 0 AND started_at >= $from AND started_at < $to
),
terminal AS (
  SELECT e.correlation_id, e.result_reason, e.outcome, e.stage, e.category, e.error_code, e.activity_time,
         row_number() OVER (PARTITION BY e.correlation_id ORDER BY e.activity_time DESC, e.id DESC) AS rn
  FROM sspr_step_events e
  JOIN failed f ON e.correlation_id = f.correlation_id
  WHERE e.outcome <> 'progress'
),
last_step AS (
  SELECT f.correlation_id,
         coalesce(t.result_reason, 'no terminal step logged') AS reason,
         coalesce(t.outcome, 'unknown') AS outcome,
         t.stage, coalesce(t.category, 'unknown') AS category, t.error_code,
         f.started_at
  FROM failed f
  LEFT JOIN (SELECT * FROM terminal WHERE rn = 1) t ON t.correlation_id = f.correlation_id
)
SELECT outcome, reason, stage, category, error_code,
       count(*) AS sessions,
       min(started_at) AS first_seen,
       max(started_at) AS last_seen
FROM last_step
GROUP BY outcome, reason, stage, category, error_code
ORDER BY sessions DESC, reason
