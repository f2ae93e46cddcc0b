-- view: security_info_events
-- Every security-info audit event (registered, deleted, default changed, registration started
-- and completed; by the user or an admin: activities of kind registration / registration_admin)
-- with the authentication method its resultReason names ("User registered Mobile Phone SMS."):
-- reference table security_info_methods, the first pattern in match_order that the lower-cased
-- text contains; NULL when none does. names_method (activities.csv) says whether the activity
-- changes one method and so names it ('yes': registered, deleted, default changed) or not ('no':
-- registration started, completed, reviewed); a report filtering on it filters the few catalogue
-- rows, not the million events.
CREATE VIEW security_info_events AS
WITH info AS (
  SELECT e.id, e.activity_time, e.event_date, e.activity, e.result, e.result_reason,
         e.actor_user_id, e.actor_upn, e.actor_ip, e.target_user_id, e.target_upn,
         e.correlation_id, a.kind, a.names_method
  FROM audit_events e
  JOIN activities a ON a.activity = e.activity
  WHERE a.kind IN ('registration', 'registration_admin')
),
-- Each distinct wording is matched once, and the events take its method through a hash join
-- (built on the few wordings): matching every event against every pattern was a nested-loop join.
wordings AS (
  SELECT result_reason, lower(result_reason) AS reason_lower
  FROM (SELECT DISTINCT result_reason FROM info WHERE result_reason IS NOT NULL) d
),
named AS (
  SELECT w.result_reason, min(m.match_order) AS match_order
  FROM wordings w
  JOIN security_info_methods m ON w.reason_lower LIKE concat('%', m.pattern, '%')
  GROUP BY w.result_reason
),
first_match AS (
  SELECT n.result_reason, m.method
  FROM named n
  JOIN security_info_methods m ON m.match_order = n.match_order
)
SELECT i.*, f.method
FROM first_match f
RIGHT JOIN info i ON f.result_reason = i.result_reason
