-- name: registration_activity_daily
-- title: Security-info registrations and changes per method per day, succeeded and failed
-- description: The portal's registration activity: per local day (--tz), activity and
--   authentication method, the security-info events (registered, deleted, default changed; by the
--   user or an admin) that succeeded and failed, and the distinct users. The method is read from
--   the event's resultReason ("User registered Mobile Phone SMS.") through reference table
--   security_info_methods (the first pattern in match_order the text contains), as the Graph
--   methodsRegistered key; an event that names no method it knows (registration started,
--   completed, reviewed) is left out here and counted by password_activity_daily, and a
--   method-naming text no pattern knows is listed as 'unrecognised' with its wording kept in
--   example_reason, so a new one is seen.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: stacked x=day y=events series=method
WITH ev AS (
  SELECT e.id, local_date(e.activity_time, $tz) AS day, e.activity, lower(e.result) AS result,
         coalesce(e.target_user_id, e.actor_user_id) AS user_id, e.result_reason,
         lower(e.result_reason) AS reason
  FROM audit_events e
  JOIN activities a ON a.activity = e.activity
  WHERE a.kind IN ('registration', 'registration_admin')
    AND e.activity NOT IN ('User started security info registration',
                           'User registered all required security info',
                           'User reviewed security info',
                           'User registered for self-service password reset')
    AND e.activity_time >= $from AND e.activity_time < $to
),
first_match AS (
  SELECT ev.id, min(m.match_order) AS match_order
  FROM ev
  JOIN security_info_methods m ON ev.reason LIKE concat('%', m.pattern, '%')
  GROUP BY ev.id
)
SELECT ev.day, ev.activity, coalesce(m.method, 'unrecognised') AS method,
       count(*) AS events,
       count(*) FILTER (WHERE ev.result = 'success') AS succeeded,
       count(*) FILTER (WHERE ev.result = 'failure') AS failed,
       count(DISTINCT ev.user_id) AS users,
       min(ev.result_reason) AS example_reason
FROM ev
LEFT JOIN first_match f ON f.id = ev.id
LEFT JOIN security_info_methods m ON m.match_order = f.match_order
GROUP BY ev.day, ev.activity, coalesce(m.method, 'unrecognised')
ORDER BY ev.day, ev.activity, method
