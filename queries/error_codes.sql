-- name: error_codes
-- title: Error codes across cloud and on-premises evidence
-- description: Every error in the window from the one error stream (derived table error_events):
--   cloud SSPR steps that failed or were blocked (resultReason, with the SSPR_00xx code where
--   known), writeback / ADSync events that are not starts, successes or health events (ADSync
--   refined by message), and credential-provider errors; with meaning, category and resolution
--   from the catalogue (unknown codes shown as unknown), first and last seen, and the trend: events
--   in the last seven days of the window against the seven days before. Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: hbar x=code y=events
WITH e AS (
  SELECT * FROM error_events WHERE time >= $from AND time < $to
),
-- The window's edges once, not per row; the example is the smallest detail cut to 200 characters
-- (cutting keeps the order, so it is the smallest of the cut details, at one cut per group).
latest AS (
  SELECT max(time) - INTERVAL '7 days' AS week, max(time) - INTERVAL '14 days' AS fortnight FROM e
)
SELECT e.source, e.code, coalesce(e.name, '') AS name, e.category,
       count(*) AS events,
       min(e.time) AS first_seen,
       max(e.time) AS last_seen,
       count(*) FILTER (WHERE e.time > l.week) AS last_7_days,
       count(*) FILTER (WHERE e.time <= l.week AND e.time > l.fortnight) AS previous_7_days,
       substr(min(e.detail), 1, 200) AS example,
       min(e.meaning) AS meaning,
       min(e.resolution) AS resolution
FROM e CROSS JOIN latest l
GROUP BY e.source, e.code, coalesce(e.name, ''), e.category
ORDER BY events DESC, e.source, e.code
