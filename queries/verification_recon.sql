-- name: verification_recon
-- title: Verification-option reconnaissance
-- description: Users with at least min_attempts self-service attempts that reached the
--   verification options and started none (furthest stage verify_options, no success): someone
--   learning which methods an account has without trying one.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, min_attempts:int=2
-- chart: table
SELECT user_principal_name,
       count(*) AS attempts,
       count(DISTINCT ip) AS ips,
       min(started_at) AS first_attempt,
       max(started_at) AS last_attempt
FROM reset_attempts
WHERE initiated_by = 'self' AND furthest_stage = 'verify_options' AND outcome <> 'succeeded'
  AND started_at >= $from AND started_at < $to
GROUP BY user_principal_name
HAVING count(*) >= $min_attempts
ORDER BY attempts DESC, user_principal_name
