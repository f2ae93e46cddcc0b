-- name: register_then_reset
-- title: Security info registered or changed, then a reset from a new IP soon after
-- description: Self-service resets started within `hours` (default 24) after security info of
--   the same user was registered, changed or deleted (by the user or an admin, whatever the
--   result), from an IP address that neither that security-info event nor any of the user's
--   earlier reset attempts used: the pattern of someone who took over an account adding their own
--   method, or removing the owner's, and resetting with it. "Earlier" covers the reset attempts
--   in the lake; sign-in logs are not collected.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, hours:int=24
-- settings: datafusion.optimizer.join_reordering=false,
--   datafusion.optimizer.hash_join_single_partition_threshold_rows=100000000,
--   datafusion.optimizer.hash_join_single_partition_threshold=10000000000
-- chart: table
WITH reg AS (
  SELECT lower(coalesce(target_upn, actor_upn)) AS upn, activity_time AS registered_at, actor_ip AS reg_ip
  FROM audit_events
  WHERE activity IN ('User registered security info', 'User registered all required security info',
                     'User changed default security info', 'User deleted security info',
                     'User updated security info', 'Admin registered security info',
                     'Admin updated security info', 'Admin deleted security info')
),
a AS (
  SELECT correlation_id, user_principal_name, lower(user_principal_name) AS upn, started_at, ip,
         outcome, methods_completed
  FROM reset_attempts
  WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to AND ip IS NOT NULL
),
-- The registrations (few) build the hash table and the attempts stream past them. The planner
-- guesses every filter keeps 20 % of its rows, so it takes the 10M audit events' registrations for
-- the bigger side and swaps the join; `join_reordering=false` keeps the order written here, and
-- the single-partition thresholds let the small side be built once instead of both sides being
-- hash-partitioned (DataFusion-only settings; other engines pick their own plan).
hits AS (
  SELECT a.correlation_id, a.user_principal_name, a.upn, a.started_at, a.ip, a.outcome,
         a.methods_completed, r.registered_at, r.reg_ip
  FROM reg r
  JOIN a ON a.upn = r.upn
   AND a.started_at > r.registered_at
   AND epoch_seconds(a.started_at) - epoch_seconds(r.registered_at) <= $hours * 3600
  WHERE a.ip <> coalesce(r.reg_ip, '')
)
SELECT user_principal_name, correlation_id, started_at, ip, outcome, methods_completed,
       max(registered_at) AS registered_at, min(reg_ip) AS registration_ip
FROM hits h
-- The IP is new: no earlier self-service attempt of this user came from it. An anti-join of the
-- few hits against the attempts, not a first-seen aggregate over every (user, IP) pair.
WHERE NOT EXISTS (
  SELECT 1 FROM reset_attempts p
  WHERE p.initiated_by = 'self' AND p.ip = h.ip AND lower(p.user_principal_name) = h.upn
    AND p.started_at < h.registered_at
)
GROUP BY user_principal_name, correlation_id, started_at, ip, outcome, methods_completed
ORDER BY started_at, correlation_id
