-- name: reset_by_method
-- title: Self-service resets by verification method
-- description: Per verification method (sspr_steps method keys): self-service attempts that
--   started it, that completed it, and that went on to succeed, with the completion and success
--   rates. An attempt that used two methods counts for both.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=method y=started
WITH m AS (
  SELECT correlation_id, method,
         max(CASE WHEN stage = 'verify_completed' THEN 1 ELSE 0 END) AS completed
  FROM sspr_step_events
  WHERE method IS NOT NULL AND stage IN ('verify_started', 'verify_completed')
    AND activity_time >= $from AND activity_time < $to
  GROUP BY correlation_id, method
)
SELECT m.method,
       count(*) AS started,
       sum(m.completed) AS completed,
       sum(CASE WHEN a.outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
       round(100.0 * sum(m.completed) / count(*), 1) AS completion_rate_pct,
       round(100.0 * sum(CASE WHEN a.outcome = 'succeeded' THEN 1 ELSE 0 END) / count(*), 1) AS success_rate_pct
FROM m
JOIN reset_attempts a ON a.correlation_id = m.correlation_id AND a.initiated_by = 'self'
GROUP BY m.method
ORDER BY started DESC, m.method
