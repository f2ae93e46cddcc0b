-- name: registration_activity_daily
-- title: Security-info registrations and changes per method per day, succeeded and failed
-- description: The portal's registration activity: per local day (--tz), activity and
--   authentication method, the security-info events (registered, deleted, default changed; by the
--   user or an admin) that succeeded and failed, and the distinct users. The method is read from
--   the event's resultReason ("User registered Mobile Phone SMS.") by view security_info_events
--   (reference table security_info_methods), as the Graph methodsRegistered key; an event whose
--   activity names no method (activities.csv names_method = 'no': registration started,
--   completed, reviewed) is left out here and counted by
--   password_activity_daily, and a method-naming text no pattern knows is listed as
--   'unrecognised' with its wording kept in example_reason, so a new one is seen.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: stacked x=day y=events series=method
SELECT local_date(activity_time, $tz) AS day, activity, coalesce(method, 'unrecognised') AS method,
       count(*) AS events,
       count(*) FILTER (WHERE lower(result) = 'success') AS succeeded,
       count(*) FILTER (WHERE lower(result) = 'failure') AS failed,
       count(DISTINCT coalesce(target_user_id, actor_user_id)) AS users,
       min(result_reason) AS example_reason
FROM security_info_events
WHERE names_method = 'yes'
  AND activity_time >= $from AND activity_time < $to
GROUP BY local_date(activity_time, $tz), activity, coalesce(method, 'unrecognised')
ORDER BY 1, 2, 3
