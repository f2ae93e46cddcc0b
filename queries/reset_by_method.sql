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
-- Attempts counted per distinct (methods started, methods completed, succeeded) first: a few
-- hundred combinations to expand instead of every attempt. Each list (sorted, comma-separated by
-- `sspr build`) becomes ',a,b,' so that one method is matched whole by position.
a AS (
  SELECT concat(',', coalesce(methods_started, ''), ',') AS started_list,
         concat(',', coalesce(methods_completed, ''), ',') AS completed_list,
         succeeded,
         count(*) AS n
  FROM (
    SELECT methods_started, methods_completed,
           CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END AS succeeded
    FROM reset_attempts
    WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
      AND (methods_started IS NOT NULL OR methods_completed IS NOT NULL)
  ) x
  GROUP BY methods_started, methods_completed, succeeded
),
m AS (
  SELECT x.method,
         CASE WHEN instr(a.completed_list, concat(',', x.method, ',')) > 0 THEN a.n ELSE 0 END AS completed,
         a.succeeded * a.n AS succeeded,
         a.n
  FROM a CROSS JOIN methods x
  WHERE instr(a.started_list, concat(',', x.method, ',')) > 0
     OR instr(a.completed_list, concat(',', x.method, ',')) > 0
)
SELECT method,
       sum(n) AS started,
       sum(completed) AS completed,
       sum(succeeded) AS succeeded,
       round(100.0 * sum(completed) / sum(n), 1) AS completion_rate_pct,
       round(100.0 * sum(succeeded) / sum(n), 1) AS success_rate_pct
FROM m
GROUP BY method
ORDER BY started DESC, method
