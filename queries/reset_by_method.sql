-- name: reset_by_method
-- title: Self-service resets by verification method
-- description: Per verification method (sspr_steps method keys): self-service attempts
--   (reset_attempts, by start time) that started it, that completed it, and that went on to
--   succeed, with the completion and success rates. An attempt that used two methods counts for
--   both; a method with a completed step and no logged start counts as started.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=method y=started
WITH methods AS (
  SELECT DISTINCT method FROM sspr_steps WHERE method IS NOT NULL
),
-- Each attempt's method lists (sorted, comma-separated by `sspr build`) as ',a,b,' so that one
-- method is matched whole by position, against the handful of method keys.
a AS (
  SELECT concat(',', coalesce(methods_started, ''), ',') AS started_list,
         concat(',', coalesce(methods_completed, ''), ',') AS completed_list,
         CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END AS succeeded
  FROM reset_attempts
  WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
    AND (methods_started IS NOT NULL OR methods_completed IS NOT NULL)
),
m AS (
  SELECT x.method,
         CASE WHEN instr(a.completed_list, concat(',', x.method, ',')) > 0 THEN 1 ELSE 0 END AS completed,
         a.succeeded
  FROM a CROSS JOIN methods x
  WHERE instr(a.started_list, concat(',', x.method, ',')) > 0
     OR instr(a.completed_list, concat(',', x.method, ',')) > 0
)
SELECT method,
       count(*) AS started,
       sum(completed) AS completed,
       sum(succeeded) AS succeeded,
       round(100.0 * sum(completed) / count(*), 1) AS completion_rate_pct,
       round(100.0 * sum(succeeded) / count(*), 1) AS success_rate_pct
FROM m
GROUP BY method
ORDER BY started DESC, method
