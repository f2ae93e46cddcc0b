-- name: sms_voice_only_resets_from_rare_ip
-- title: Resets verified only by phone from a rarely seen IP (SIM-swap pattern)
-- description: Successful self-service resets whose every completed verification method was a
--   phone code or call (SMS, mobile voice, office voice) and whose IP address appears in at most
--   max_ip_attempts attempts of any user in the window: what a SIM swap or call forwarding looks
--   like from Entra's side.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, max_ip_attempts:int=1
-- settings: datafusion.optimizer.join_reordering=false,
--   datafusion.optimizer.hash_join_single_partition_threshold_rows=100000000,
--   datafusion.optimizer.hash_join_single_partition_threshold=10000000000
-- chart: table
WITH a AS (
  SELECT * FROM reset_attempts
  WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
),
ips AS (
  SELECT ip, count(*) AS attempts FROM a WHERE ip IS NOT NULL GROUP BY ip
  HAVING count(*) <= $max_ip_attempts
)
SELECT a.user_principal_name, a.started_at, a.ip, i.attempts AS ip_attempts, a.methods_completed,
       a.client_kind, a.correlation_id
-- The rare IPs (a few thousand) build the hash table once and the succeeded attempts stream past
-- it; the planner's guesses put the attempts on the build side and hash-partitioned both, hence
-- the settings (DataFusion-only; other engines plan it themselves).
FROM ips i JOIN a ON a.ip = i.ip
-- methods_completed is the sorted, distinct, comma-joined list of the session's methods, so
-- "only phone methods" is one of the seven non-empty combinations of the three (a lookup in the
-- column's dictionary instead of rewriting 1.2M strings four times).
WHERE a.outcome = 'succeeded'
  AND a.methods_completed IN ('mobile_sms', 'mobile_voice', 'office_voice',
                              'mobile_sms,mobile_voice', 'mobile_sms,office_voice',
                              'mobile_voice,office_voice', 'mobile_sms,mobile_voice,office_voice')
ORDER BY a.started_at, a.correlation_id
