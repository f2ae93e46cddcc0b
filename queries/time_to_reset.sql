-- name: time_to_reset
-- title: How long a successful self-service reset takes
-- description: Duration from the first to the last event of succeeded attempts (reset_attempts),
--   as percentiles (50, 90, 99) and mean, overall and per client kind.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- settings: sspr.materialize_ctes=s
-- chart: bar x=client_kind y=p50_seconds
-- The overall row is its own aggregate over a second read of `s`, not the empty grouping set:
-- percentile_cont keeps every value of a group, and as a grouping set the overall group is a
-- second copy of all of them that one thread merges and selects from at the end (measured
-- beside each other: the two scans in parallel take 13-22 % less time; still 120 against 146 ms
-- with the binary's own percentile_cont accumulators). Hence the two alike
-- select lists: an 'all' copy of every row under one GROUP BY instead makes one thread merge
-- that copy again (158 against 140 ms). `s` (two columns of the succeeded attempts) is computed
-- once for both: each day file is opened and decoded once (run 16.3-17.1 against 11.0-11.2 ms
-- on the 1M-event bench lake, in process).
WITH s AS (
  SELECT client_kind, duration_seconds
  FROM reset_attempts
  WHERE initiated_by = 'self' AND outcome = 'succeeded' AND started_at >= $from AND started_at < $to
)
SELECT client_kind, resets, p50_seconds, p90_seconds, p99_seconds, mean_seconds
FROM (
  SELECT 'all' AS client_kind, 0 AS slice,
         count(*) AS resets,
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p50_seconds,
         round(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p90_seconds,
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p99_seconds,
         round(avg(duration_seconds), 1) AS mean_seconds
  FROM s
  UNION ALL
  SELECT client_kind, 1 AS slice,
         count(*) AS resets,
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p50_seconds,
         round(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p90_seconds,
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p99_seconds,
         round(avg(duration_seconds), 1) AS mean_seconds
  FROM s
  GROUP BY client_kind
) r
ORDER BY slice, client_kind
