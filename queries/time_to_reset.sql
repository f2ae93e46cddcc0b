-- name: time_to_reset
-- title: How long a successful self-service reset takes
-- description: Duration from the first to the last event of succeeded attempts (reset_attempts),
--   as percentiles (50, 90, 99) and mean, overall and per client kind.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=client_kind y=p50_seconds
-- One scan: the overall row is the empty grouping set (a UNION ALL of two scans read every row
-- twice). grouping() tells it from a real client kind.
SELECT CASE WHEN grouping(client_kind) = 1 THEN 'all' ELSE client_kind END AS client_kind,
       count(*) AS resets,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p50_seconds,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p90_seconds,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_seconds), 1) AS p99_seconds,
       round(avg(duration_seconds), 1) AS mean_seconds
FROM reset_attempts
WHERE initiated_by = 'self' AND outcome = 'succeeded' AND started_at >= $from AND started_at < $to
GROUP BY GROUPING SETS ((), (client_kind))
ORDER BY CASE WHEN client_kind = 'all' THEN 0 ELSE 1 END, client_kind
