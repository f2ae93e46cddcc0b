-- name: admin_self_resets
-- title: Administrators resetting their own password often
-- description: Users who are administrators in the latest registration snapshot (isAdmin) with at
--   least min_resets self-service reset attempts in the window (derived table reset_attempts):
--   how many, how many succeeded, the first and last, and from how many IPs. An admin who resets
--   often forgets a password that guards a lot, or is not the one resetting it. The portal's
--   old "admins resetting their own passwords frequently". Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, min_resets:int=2
-- settings: datafusion.optimizer.join_reordering=false
-- chart: hbar x=user_principal_name y=attempts
-- The few thousand admins are the join's hash table and the attempts probe it (written first,
-- kept first): estimated from the files, the two sides look alike, and DataFusion hashed the
-- 156,000 attempts instead.
WITH admins AS (
  SELECT user_id FROM registration_details
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM registration_details) AND is_admin
),
per_ip AS (
  SELECT a.user_id, a.user_principal_name, a.ip,
         count(*) AS attempts,
         count(*) FILTER (WHERE a.outcome = 'succeeded') AS succeeded,
         min(a.started_at) AS first_attempt,
         max(a.started_at) AS last_attempt
  FROM admins d
  JOIN reset_attempts a ON a.user_id = d.user_id
  WHERE a.initiated_by = 'self' AND a.started_at >= $from AND a.started_at < $to
  GROUP BY a.user_id, a.user_principal_name, a.ip
)
SELECT user_principal_name,
       sum(attempts) AS attempts,
       sum(succeeded) AS succeeded,
       min(first_attempt) AS first_attempt,
       max(last_attempt) AS last_attempt,
       count(ip) AS ips
FROM per_ip
GROUP BY user_id, user_principal_name
HAVING sum(attempts) >= $min_resets
ORDER BY attempts DESC, user_principal_name
