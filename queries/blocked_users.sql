-- name: blocked_users
-- title: Users blocked from self-service reset for 24 hours
-- description: Self-service attempts that ended blocked (too many SMS codes, calls or security
--   question answers, or Entra's "Blocked from self-service password reset"), per user: how many
--   times, the last block and until when it lasts, the step, and the IPs it came from.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: table
-- Distinct IPs per user as a two-level aggregation (one group per user and IP first).
WITH per_ip AS (
  SELECT user_principal_name,
         ip,
         count(*) AS blocked_attempts,
         max(started_at) AS last_blocked_at,
         min(failure_reason) AS step
  FROM reset_attempts
  WHERE initiated_by = 'self' AND outcome = 'blocked'
    AND started_at >= $from AND started_at < $to
  GROUP BY user_principal_name, ip
)
SELECT user_principal_name,
       sum(blocked_attempts) AS blocked_attempts,
       max(last_blocked_at) AS last_blocked_at,
       max(last_blocked_at) + INTERVAL '24 hours' AS blocked_until,
       min(step) AS step,
       count(ip) AS ips,
       min(ip) AS example_ip
FROM per_ip
GROUP BY user_principal_name
ORDER BY blocked_attempts DESC, last_blocked_at DESC, user_principal_name
