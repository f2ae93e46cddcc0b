-- name: password_operations_per_user_daily
-- title: Accounts with many password operations in a day, cloud and domain controller together
-- description: Per account and UTC day, every password operation the lake saw, when there are
--   more than max_per_day: self-service reset attempts and admin resets (derived table
--   reset_attempts), self-service changes (audit "Change password (self-service)"), and at the
--   domain controllers 4723 (the user changed it) and 4724 (someone reset it) - leaving out 4724 by
--   the Entra Connect account (MSOL_), which is the writeback of a cloud reset already counted.
--   Every attempt counts, whatever its result. Cloud and DC rows meet on the account name: the
--   UPN's part before @, lower-cased, against the DC's TargetUserName (a tenant whose
--   sAMAccountNames differ from the UPN prefix sees those users' cloud and DC rows apart). The
--   community hunt "more than N resets or changes per user per day"; no portal joins the two.
--   Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, max_per_day:int=3
-- chart: hbar x=account y=total
WITH cloud AS (
  SELECT lower(split_part(user_principal_name, '@', 1)) AS account,
         user_principal_name,
         CAST(started_at AS DATE) AS day,
         CASE WHEN initiated_by = 'self' THEN 1 ELSE 0 END AS self_resets,
         CASE WHEN initiated_by = 'admin' THEN 1 ELSE 0 END AS admin_resets,
         0 AS changes, 0 AS dc_changes, 0 AS dc_resets
  FROM reset_attempts
  WHERE started_at >= $from AND started_at < $to AND user_principal_name IS NOT NULL
  UNION ALL
  SELECT lower(split_part(coalesce(target_upn, actor_upn), '@', 1)),
         coalesce(target_upn, actor_upn),
         CAST(activity_time AS DATE),
         0, 0, 1, 0, 0
  FROM audit_events
  WHERE activity = 'Change password (self-service)'
    AND activity_time >= $from AND activity_time < $to AND coalesce(target_upn, actor_upn) IS NOT NULL
  UNION ALL
  SELECT lower(target_account), CAST(NULL AS STRING), CAST(time_created AS DATE),
         0, 0, 0,
         CASE WHEN event_id = 4723 THEN 1 ELSE 0 END,
         CASE WHEN event_id = 4724 THEN 1 ELSE 0 END
  FROM dc_security_events
  WHERE event_id IN (4723, 4724)
    AND NOT (event_id = 4724 AND upper(substr(coalesce(subject_account, ''), 1, 5)) = 'MSOL_')
    AND time_created >= $from AND time_created < $to AND target_account IS NOT NULL
)
SELECT account,
       max(user_principal_name) AS user_principal_name,
       day,
       sum(self_resets) AS self_resets,
       sum(admin_resets) AS admin_resets,
       sum(changes) AS changes,
       sum(dc_changes) AS dc_changes,
       sum(dc_resets) AS dc_resets,
       sum(self_resets + admin_resets + changes + dc_changes + dc_resets) AS total
FROM cloud
GROUP BY account, day
HAVING sum(self_resets + admin_resets + changes + dc_changes + dc_resets) > $max_per_day
ORDER BY total DESC, day, account
