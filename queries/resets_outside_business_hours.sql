-- name: resets_outside_business_hours
-- title: Resets outside business hours
-- description: Password-reset attempts (self-service and by an admin, derived table reset_attempts)
--   that started on a Saturday or Sunday or outside [start_hour, end_hour) on a weekday, on the
--   wall clock of --tz (the config's [query] tz) with the hours from [query] business_hours
--   (default 8 to 18): a reset at 3 a.m. or on a Sunday is worth a look when the user's working
--   hours make it unlikely. Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC, start_hour:int=8, end_hour:int=18
-- chart: table
SELECT user_principal_name, initiated_by, started_at,
       CASE local_weekday(started_at, $tz) WHEN 1 THEN 'Mon' WHEN 2 THEN 'Tue' WHEN 3 THEN 'Wed'
            WHEN 4 THEN 'Thu' WHEN 5 THEN 'Fri' WHEN 6 THEN 'Sat' ELSE 'Sun' END AS weekday,
       local_hour(started_at, $tz) AS hour,
       outcome, ip, client_kind, correlation_id
FROM reset_attempts
WHERE started_at >= $from AND started_at < $to
  AND (local_weekday(started_at, $tz) >= 6
       OR local_hour(started_at, $tz) < $start_hour
       OR local_hour(started_at, $tz) >= $end_hour)
ORDER BY started_at, correlation_id
