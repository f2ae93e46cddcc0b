-- name: top_errors_this_week
-- title: The ten most frequent errors of the last seven days
-- description: From the error stream (derived table error_events, every source): the ten codes
--   (ADSync split by message pattern) with the most events in the seven days before `to` (default: now), with the previous
--   week's count for comparison, category, meaning and resolution.
-- params: to:timestamp=now
-- chart: bar x=code y=events
WITH w AS (
  SELECT source, code, name, category, meaning, resolution, time,
         CASE WHEN time >= $to - INTERVAL '7 days' THEN 1 ELSE 0 END AS this_week
  FROM error_events
  WHERE time >= $to - INTERVAL '14 days' AND time < $to
)
SELECT source, code, name, category,
       sum(this_week) AS events,
       sum(1 - this_week) AS previous_week,
       max(time) AS last_seen,
       min(meaning) AS meaning, min(resolution) AS resolution
FROM w
GROUP BY source, code, name, category
HAVING sum(this_week) > 0
ORDER BY events DESC, source, code
LIMIT 10
