-- name: sspr_activity_events
-- title: Registration and reset events, one row each, with the portal's filters
-- description: The portal's event lists of Authentication methods → Activity: every password
--   reset attempt (derived table reset_attempts: self-service sessions and admin resets) and
--   every security-info event (registered, deleted, default changed, registration started and
--   completed; by the user or an admin), newest first: time, user, feature, who initiated it,
--   the method (for a reset the verification methods completed, as sspr_steps.csv names them;
--   for security info the Graph methodsRegistered key its wording names, through reference table
--   security_info_methods), status (success or failure), the outcome in detail and the failure
--   reason. Filters: user (a UPN, or any), feature (any,
--   reset, registration), status (any, success, failure). Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, user:string=any, feature:string(any|reset|registration)=any, status:string(any|success|failure)=any
-- chart: table
WITH info AS (
  SELECT e.id, e.activity_time, coalesce(e.target_upn, e.actor_upn) AS user_principal_name,
         CASE WHEN a.kind = 'registration_admin' THEN 'admin' ELSE 'self' END AS initiated_by,
         e.activity, lower(e.result) AS result, e.result_reason, e.actor_ip, e.correlation_id,
         lower(e.result_reason) AS reason
  FROM audit_events e
  JOIN activities a ON a.activity = e.activity
  WHERE a.kind IN ('registration', 'registration_admin')
    AND e.activity_time >= $from AND e.activity_time < $to
),
first_match AS (
  SELECT i.id, min(m.match_order) AS match_order
  FROM info i
  JOIN security_info_methods m ON i.reason LIKE concat('%', m.pattern, '%')
  GROUP BY i.id
),
events AS (
  SELECT i.activity_time AS time, i.user_principal_name, 'registration' AS feature, i.initiated_by,
         i.activity, m.method,
         CASE WHEN i.result = 'success' THEN 'success' ELSE 'failure' END AS status,
         i.result AS outcome,
         CASE WHEN i.result = 'success' THEN CAST(NULL AS STRING) ELSE i.result_reason END AS failure_reason,
         i.actor_ip AS ip, i.correlation_id
  FROM info i
  LEFT JOIN first_match f ON f.id = i.id
  LEFT JOIN security_info_methods m ON m.match_order = f.match_order
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
