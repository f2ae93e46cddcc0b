-- view: security_info_events
-- Every security-info audit event (registered, deleted, default changed, registration started
-- and completed; by the user or an admin: activities of kind registration / registration_admin)
-- with the authentication method its resultReason names ("User registered Mobile Phone SMS."):
-- reference table security_info_methods, the first pattern in match_order that the lower-cased
-- text contains; NULL when none does.
CREATE VIEW security_info_events AS
WITH info AS (
  SELECT e.id, e.activity_time, e.event_date, e.activity, e.result, e.result_reason,
         e.actor_user_id, e.actor_upn, e.actor_ip, e.target_user_id, e.target_upn,
         e.correlation_id, a.kind
  FROM audit_events e
  JOIN activities a ON a.activity = e.activity
  WHERE a.kind IN ('registration', 'registration_admin')
),
first_match AS (
  SELECT i.id, min(m.match_order) AS match_order
  FROM info i
  JOIN security_info_methods m ON lower(i.result_reason) LIKE concat('%', m.pattern, '%')
  GROUP BY i.id
)
SELECT i.*, m.method
FROM info i
LEFT JOIN first_match f ON f.id = i.id
LEFT JOIN security_info_methods m ON m.match_order = f.match_order
