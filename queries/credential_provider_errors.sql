-- name: credential_provider_errors
-- title: SSPR credential-provider errors by machine
-- description: Error and warning events (level 1-3) of the SSPR credential provider (Windows 7/8.1
--   sign-in screen add-in, and providers the config adds) per client machine: how many, which event
--   ids, first and last seen, and an example message. Event ids are shown as they are: Microsoft
--   documents no catalogue for this source.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=computer y=errors
SELECT computer,
       count(*) AS errors,
       count(DISTINCT event_id) AS event_ids,
       min(event_id) AS first_event_id,
       min(time_created) AS first_seen,
       max(time_created) AS last_seen,
       min(hresult) AS hresult,
       substr(min(message), 1, 200) AS example
FROM credential_provider_events
WHERE level IN (1, 2, 3)
  AND time_created >= $from AND time_created < $to
GROUP BY computer
ORDER BY errors DESC, computer
