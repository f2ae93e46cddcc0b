-- name: user_timeline
-- title: One user's password story, across every source
-- description: Everything the lake knows about one user (user: UPN or object id) in the window,
--   in time order: the cloud's audit events where the user is the actor or the target (each SSPR
--   step with its stage and outcome, resets, changes, admin resets, security-info registrations),
--   changes of the user's registration between snapshots (methods, SSPR capable), the Entra
--   Connect server's writeback events for the user's sessions (TrackingId = correlation id), the
--   DCs' 4723 / 4724 / 4740 / 4767 for the account (sAMAccountName = the UPN's part before @, as
--   reset_attempts joins them), and the credential provider's events on the machines where the
--   user started a reset from the sign-in screen (the events naming the user, and the errors of
--   that machine within ten minutes of them). Errors carry their meaning and resolution from
--   reference table error_codes. `sspr explain USER` prints this as a story.
-- params: user:string, from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: table
WITH ids AS (
  SELECT user_id FROM users WHERE lower(user_principal_name) = lower($user) OR user_id = $user
  UNION
  SELECT user_id FROM registration_details WHERE lower(user_principal_name) = lower($user) OR user_id = $user
),
upns AS (
  SELECT lower(user_principal_name) AS upn FROM users
  WHERE user_id IN (SELECT user_id FROM ids) AND user_principal_name IS NOT NULL
  UNION
  SELECT lower(user_principal_name) AS upn FROM registration_details
  WHERE user_id IN (SELECT user_id FROM ids) AND user_principal_name IS NOT NULL
  UNION
  SELECT lower(trim($user)) AS upn WHERE trim($user) <> ''
),
accounts AS (
  SELECT DISTINCT lower(split_part(upn, '@', 1)) AS account FROM upns WHERE upn LIKE '%@%'
),
-- One hash join per way an event names the user (a disjunction of IN subqueries is not planned
-- by every engine); UNION drops an event found two ways.
cloud AS (
  SELECT a.id, a.activity_time, a.correlation_id, a.activity, a.result, a.result_reason,
         a.actor_ip, a.actor_user_id, a.actor_upn
  FROM audit_events a JOIN ids i ON a.target_user_id = i.user_id
  WHERE a.activity_time >= $from AND a.activity_time < $to
  UNION
  SELECT a.id, a.activity_time, a.correlation_id, a.activity, a.result, a.result_reason,
         a.actor_ip, a.actor_user_id, a.actor_upn
  FROM audit_events a JOIN ids i ON a.actor_user_id = i.user_id
  WHERE a.activity_time >= $from AND a.activity_time < $to
  UNION
  SELECT a.id, a.activity_time, a.correlation_id, a.activity, a.result, a.result_reason,
         a.actor_ip, a.actor_user_id, a.actor_upn
  FROM audit_events a JOIN upns u ON lower(a.target_upn) = u.upn
  WHERE a.activity_time >= $from AND a.activity_time < $to
  UNION
  SELECT a.id, a.activity_time, a.correlation_id, a.activity, a.result, a.result_reason,
         a.actor_ip, a.actor_user_id, a.actor_upn
  FROM audit_events a JOIN upns u ON lower(a.actor_upn) = u.upn
  WHERE a.activity_time >= $from AND a.activity_time < $to
),
cloud_rows AS (
  SELECT c.activity_time AS time, 'cloud' AS source, c.activity AS event,
         coalesce(s.outcome, lower(c.result)) AS outcome,
         s.stage,
         c.result_reason AS detail,
         c.correlation_id,
         c.actor_ip AS ip,
         CAST(NULL AS STRING) AS computer,
         CASE WHEN ia.user_id IS NULL AND ua.upn IS NULL THEN c.actor_upn END AS by_other,
         x.meaning, x.resolution
  FROM cloud c
  LEFT JOIN ids ia ON ia.user_id = c.actor_user_id
  LEFT JOIN upns ua ON ua.upn = lower(c.actor_upn)
  LEFT JOIN sspr_step_events s ON s.id = c.id
  LEFT JOIN error_codes x ON x.source = 'cloud' AND x.code = s.error_code
),
registration AS (
  SELECT snapshot_date, is_sspr_capable, methods_registered,
         lag(is_sspr_capable) OVER (ORDER BY snapshot_date) AS was_capable,
         lag(methods_registered) OVER (ORDER BY snapshot_date) AS had_methods,
         row_number() OVER (ORDER BY snapshot_date) AS n
  FROM registration_details
  WHERE user_id IN (SELECT user_id FROM ids)
),
registration_rows AS (
  SELECT CAST(snapshot_date AS TIMESTAMP) AS time, 'registration' AS source,
         CASE WHEN n = 1 THEN 'registration first seen' ELSE 'registration changed' END AS event,
         CASE WHEN is_sspr_capable THEN 'sspr_capable' ELSE 'not_sspr_capable' END AS outcome,
         CAST(NULL AS STRING) AS stage,
         concat('methods: ', coalesce(nullif(methods_registered, ''), 'none'),
                CASE WHEN n > 1 AND coalesce(had_methods, '') <> coalesce(methods_registered, '')
                     THEN concat(' (were: ', coalesce(nullif(had_methods, ''), 'none'), ')') ELSE '' END) AS detail,
         CAST(NULL AS STRING) AS correlation_id, CAST(NULL AS STRING) AS ip, CAST(NULL AS STRING) AS computer,
         CAST(NULL AS STRING) AS by_other,
         CASE WHEN NOT coalesce(is_sspr_capable, false) THEN 'the user cannot reset: not registered, or not enabled for SSPR' END AS meaning,
         CASE WHEN NOT coalesce(is_sspr_capable, false) THEN 'have the user register at https://aka.ms/mysecurityinfo, or add them to the SSPR group' END AS resolution
  FROM registration
  WHERE snapshot_date >= CAST($from AS DATE) AND snapshot_date <= CAST($to AS DATE)
    AND (n = 1 OR coalesce(was_capable, false) <> coalesce(is_sspr_capable, false)
         OR coalesce(had_methods, '') <> coalesce(methods_registered, ''))
),
writeback_rows AS (
  SELECT w.time_created AS time, 'writeback' AS source,
         concat(w.provider, ' ', CAST(w.event_id AS STRING)) AS event,
         CASE WHEN w.level IN (1, 2) THEN 'error' WHEN w.level = 3 THEN 'warning' ELSE 'info' END AS outcome,
         CAST(NULL AS STRING) AS stage,
         w.message AS detail, w.tracking_id AS correlation_id, CAST(NULL AS STRING) AS ip, w.computer,
         CAST(NULL AS STRING) AS by_other,
         CASE WHEN x.category NOT IN ('start', 'success', 'health') THEN x.meaning END AS meaning,
         CASE WHEN x.category NOT IN ('start', 'success', 'health') THEN x.resolution END AS resolution
  FROM writeback_events w
  LEFT JOIN error_codes x ON x.source = w.provider AND x.code = CAST(w.event_id AS STRING)
  WHERE w.tracking_id IN (SELECT correlation_id FROM cloud WHERE correlation_id IS NOT NULL)
    AND w.time_created >= $from AND w.time_created < $to
),
dc_rows AS (
  SELECT d.time_created AS time, 'dc' AS source,
         concat(CAST(d.event_id AS STRING), ' ',
                CASE d.event_id WHEN 4723 THEN 'password change attempt'
                                WHEN 4724 THEN 'password reset attempt'
                                WHEN 4740 THEN 'account locked out'
                                WHEN 4767 THEN 'account unlocked' END) AS event,
         CASE WHEN d.audit_success THEN 'success' ELSE 'failure' END AS outcome,
         CAST(NULL AS STRING) AS stage,
         concat(coalesce(d.target_domain, ''), chr(92), coalesce(d.target_account, ''),
                ' by ', coalesce(d.subject_domain, ''), chr(92), coalesce(d.subject_account, ''),
                CASE WHEN d.event_id = 4724 AND upper(substr(d.subject_account, 1, 5)) = 'MSOL_'
                     THEN ' (password writeback)' ELSE '' END) AS detail,
         CAST(NULL AS STRING) AS correlation_id, CAST(NULL AS STRING) AS ip, d.computer,
         CASE WHEN lower(d.subject_account) = lower(d.target_account) OR upper(substr(d.subject_account, 1, 5)) = 'MSOL_'
              THEN NULL ELSE d.subject_account END AS by_other,
         CASE WHEN NOT d.audit_success THEN 'the domain controller refused the change (password policy, permissions)'
              WHEN d.event_id = 4740 THEN 'too many wrong passwords: the account is locked until it unlocks or is unlocked' END AS meaning,
         CASE WHEN NOT d.audit_success THEN 'check the domain password policy and the writeback account''s permissions (writeback_errors)'
              WHEN d.event_id = 4740 THEN 'find the device still using the old password; SSPR can unlock the account if unlock is enabled' END AS resolution
  FROM dc_security_events d
  WHERE d.event_id IN (4723, 4724, 4740, 4767)
    AND lower(d.target_account) IN (SELECT account FROM accounts)
    AND d.time_created >= $from AND d.time_created < $to
),
client_seen AS (
  SELECT c.computer, c.time_created
  FROM credential_provider_events c
  WHERE c.time_created >= $from AND c.time_created < $to
    AND EXISTS (SELECT 1 FROM upns u WHERE instr(lower(coalesce(c.message, '')), u.upn) > 0)
),
client_rows AS (
  SELECT c.time_created AS time, 'client' AS source,
         concat(c.provider, ' ', CAST(c.event_id AS STRING)) AS event,
         CASE WHEN c.level IN (1, 2) THEN 'error' WHEN c.level = 3 THEN 'warning' ELSE 'info' END AS outcome,
         CAST(NULL AS STRING) AS stage,
         c.message AS detail, c.tracking_id AS correlation_id, CAST(NULL AS STRING) AS ip, c.computer,
         CAST(NULL AS STRING) AS by_other,
         CASE WHEN c.level IN (1, 2, 3) THEN coalesce(x.meaning, y.meaning) END AS meaning,
         CASE WHEN c.level IN (1, 2, 3) THEN coalesce(x.resolution, y.resolution) END AS resolution
  FROM credential_provider_events c
  LEFT JOIN error_codes x ON x.source = c.provider AND x.code = CAST(c.event_id AS STRING)
  LEFT JOIN error_codes y ON y.source = c.provider AND y.code = '*'
  WHERE c.time_created >= $from AND c.time_created < $to
    AND EXISTS (SELECT 1 FROM client_seen s
                WHERE s.computer = c.computer
                  AND c.time_created >= s.time_created - INTERVAL '10 minutes'
                  AND c.time_created <= s.time_created + INTERVAL '10 minutes')
)
SELECT time, source, event, outcome, stage, detail, correlation_id, ip, computer, by_other, meaning, resolution
FROM (
  SELECT * FROM cloud_rows
  UNION ALL SELECT * FROM registration_rows
  UNION ALL SELECT * FROM writeback_rows
  UNION ALL SELECT * FROM dc_rows
  UNION ALL SELECT * FROM client_rows
) t
ORDER BY time, CASE source WHEN 'registration' THEN 0 WHEN 'client' THEN 1 WHEN 'cloud' THEN 2
                           WHEN 'writeback' THEN 3 ELSE 4 END, event, detail
