-- name: errors_by_hour
-- title: When errors happen: hour of day by weekday
-- description: Every error in the window (derived table error_events: cloud SSPR steps that failed
--   or were blocked, writeback server errors and credential-provider errors) by the weekday and the
--   hour of the day it happened at on the wall clock of --tz. All 7 × 24 cells are listed, 0 where
--   nothing failed, so a quiet hour reads as quiet, not as missing. Errors bunched at one hour every
--   day point at a scheduled job (a sync cycle, a nightly restart); errors in office hours at
--   users. Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: heatmap x=hour y=errors series=weekday
WITH e AS (
  SELECT local_weekday(time, $tz) AS weekday_order, local_hour(time, $tz) AS hour, count(*) AS errors
  FROM error_events
  WHERE time >= $from AND time < $to
  GROUP BY local_weekday(time, $tz), local_hour(time, $tz)
),
days AS (
  SELECT * FROM (VALUES (1, 'Mon'), (2, 'Tue'), (3, 'Wed'), (4, 'Thu'), (5, 'Fri'), (6, 'Sat'), (7, 'Sun'))
    AS d(weekday_order, weekday)
),
hours AS (
  SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14),
                        (15), (16), (17), (18), (19), (20), (21), (22), (23)) AS h(hour)
)
SELECT d.weekday_order, d.weekday, h.hour, coalesce(e.errors, 0) AS errors
FROM days d
CROSS JOIN hours h
LEFT JOIN e ON e.weekday_order = d.weekday_order AND e.hour = h.hour
ORDER BY d.weekday_order, h.hour
