-- name: dc_password_resets
-- title: Password resets on domain controllers (4724), by the writeback connector vs others
-- description: Security event 4724 ("An attempt was made to reset an account's password") on the
--   domain controllers: resets by the Entra Connect AD DS connector account (subject name starting
--   with connector_prefix in any case, i.e. password writeback) against resets by anyone else,
--   with the audit result from the keywords. A writeback reset rejected by domain password policy shows here as a
--   connector failure.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, connector_prefix:string=MSOL_
-- chart: bar x=actor_kind y=resets
-- The prefix is compared as text: in LIKE its `_` would match any one character.
SELECT CASE WHEN upper(substr(subject_account, 1, length($connector_prefix))) = upper($connector_prefix)
            THEN 'connector' ELSE 'other' END AS actor_kind,
       CASE WHEN audit_success THEN 'success'
            WHEN NOT audit_success THEN 'failure'
            ELSE 'unknown' END AS result,
       count(*) AS resets,
       count(DISTINCT target_account) AS target_accounts,
       count(DISTINCT subject_account) AS subject_accounts,
       count(DISTINCT computer) AS domain_controllers,
       min(time_created) AS first_seen,
       max(time_created) AS last_seen
FROM dc_security_events
WHERE event_id = 4724
  AND time_created >= $from AND time_created < $to
GROUP BY 1, 2
ORDER BY actor_kind, result
