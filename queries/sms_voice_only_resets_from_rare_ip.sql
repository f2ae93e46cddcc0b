-- name: sms_voice_only_resets_from_rare_ip
-- title: Resets verified only by phone from a rarely seen IP (SIM-swap pattern)
-- description: Successful self-service resets whose every completed verification method was a
--   phone code or call (SMS, mobile voice, office voice) and whose IP address appears in at most
--   max_ip_attempts attempts of any user in the window: what a SIM swap or call forwarding looks
--   like from Entra's side.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, max_ip_attempts:int=1
-- chart: table
WITH a AS (
  SELECT * FROM reset_attempts
  WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
),
ips AS (SELECT ip, count(*) AS attempts FROM a WHERE ip IS NOT NULL GROUP BY ip)
SELECT a.user_principal_name, a.started_at, a.ip, i.attempts AS ip_attempts, a.methods_completed,
       a.client_kind, a.correlation_id
FROM a JOIN ips i ON i.ip = a.ip
WHERE a.outcome = 'succeeded'
  AND a.methods_completed IS NOT NULL AND a.methods_completed <> ''
  AND replace(replace(replace(replace(a.methods_completed, 'mobile_sms', ''), 'mobile_voice', ''), 'office_voice', ''), ',', '') = ''
  AND i.attempts <= $max_ip_attempts
ORDER BY a.started_at, a.correlation_id
