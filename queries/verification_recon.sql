-- name: verification_recon
-- title: Verification-option reconnaissance
-- description: Users with at least min_attempts self-service attempts that reached the
--   verification options and started none (furthest stage verify_options, no success): someone
--   learning which methods an account has without trying one.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, min_attempts:int=2
-- settings: datafusion.execution.parquet.pushdown_filters=true
-- chart: table
-- Distinct IPs per user as a two-level aggregation (one group per user and IP first).
WITH per_ip AS (
  SELECT user_principal_name,
         ip,
         count(*) AS attempts,
         min(started_at) AS first_attempt,
         max(started_at) AS last_attempt
  FROM reset_attempts
  WHERE initiated_by = 'self' AND furthest_stage = 'verify_options' AND outcome <> 'succeeded'
    AND started_at >= $from AND started_at < $to
  GROUP BY user_principal_name, ip
)
SELECT user_principal_name,
       sum(attempts) AS attempts,
       count(ip) AS ips,
       min(first_attempt) AS first_attempt,
       max(last_attempt) AS last_attempt
FROM per_ip
GROUP BY user_principal_name
HAVING sum(attempts) >= $min_attempts
ORDER BY attempts DESC, user_principal_name
