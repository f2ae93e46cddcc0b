-- name: sspr_activity_events
-- title: Registration and reset events, one row each, with the portal's filters
-- description: The portal's event lists of Authentication methods → Activity: every password
--   reset attempt (derived table reset_attempts: self-service sessions and admin resets) and
--   every security-info event (registered, deleted, default changed, registration started and
--   completed; by the user or an admin), newest first: time, user, feature, who initiated it,
--   the method (for a reset the verification methods completed, as sspr_steps.csv names them;
--   for security info the Graph methodsRegistered key its wording names, by view
--   security_info_events), status (success or failure), the outcome in detail and the failure
--   reason. Filters: user (a UPN, or any), feature (any,
--   reset, registration), status (any, success, failure). Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, user:string=any, feature:string(any|reset|registration)=any, status:string(any|success|failure)=any
-- chart: table
WITH events AS (
  SELECT activity_time AS time, coalesce(target_upn, actor_upn) AS user_principal_name,
         'registration' AS feature,
         CASE WHEN kind = 'registration_admin' THEN 'admin' ELSE 'self' END AS initiated_by,
         activity, method,
         CASE WHEN lower(result) = 'success' THEN 'success' ELSE 'failure' END AS status,
         lower(result) AS outcome,
         CASE WHEN lower(result) = 'success' THEN CAST(NULL AS STRING) ELSE result_reason END AS failure_reason,
         actor_ip AS ip, correlation_id
  FROM security_info_events
  WHERE activity_time >= $from AND activity_time < $to
  UNION ALL
  SELECT started_at, user_principal_name, 'reset', initiated_by,
         CASE WHEN initiated_by = 'admin' THEN 'Reset password (by admin)' ELSE 'Reset password (self-service)' END,
         methods_completed,
         CASE WHEN outcome = 'succeeded' THEN 'success' ELSE 'failure' END,
         outcome, failure_reason, ip, correlation_id
  FROM reset_attempts
  WHERE started_at >= $from AND started_at < $to
)
SELECT time, user_principal_name, feature, initiated_by, activity, method, status, outcome,
       failure_reason, ip, correlation_id
FROM events
WHERE ($user = 'any' OR lower(user_principal_name) = lower($user))
  AND ($feature = 'any' OR feature = $feature)
  AND ($status = 'any' OR status = $status)
ORDER BY time DESC, correlation_id
