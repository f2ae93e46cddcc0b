-- name: writeback_health
-- title: Password writeback service health
-- description: The writeback service's timeline on each Entra Connect server: service started and
--   stopped (31015 / 31016), heartbeat gaps (31019, sent every five minutes) longer than
--   gap_minutes, and connectivity errors per hour (events whose catalogue or message category is
--   connectivity). One row per finding, oldest first.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, gap_minutes:int=15
-- chart: timeline x=starts end=ends y=kind series=computer
WITH w AS (
  SELECT computer, provider, event_id, time_created, message, lower(coalesce(message, '')) AS lmessage
  FROM writeback_events
  WHERE time_created >= $from AND time_created < $to
),
service AS (
  SELECT computer,
         CASE WHEN event_id = 31015 THEN 'service_started' ELSE 'service_stopped' END AS kind,
         time_created AS starts, CAST(NULL AS TIMESTAMP) AS ends, CAST(NULL AS BIGINT) AS minutes,
         CAST(1 AS BIGINT) AS events
  FROM w
  WHERE provider = 'PasswordResetService' AND event_id IN (31015, 31016)
),
beats AS (
  SELECT computer, time_created,
         lag(time_created) OVER (PARTITION BY computer ORDER BY time_created) AS previous
  FROM w
  WHERE provider = 'PasswordResetService' AND event_id = 31019
),
gaps AS (
  SELECT computer, 'heartbeat_gap' AS kind, previous AS starts, time_created AS ends,
         CAST(floor((epoch_seconds(time_created) - epoch_seconds(previous)) / 60) AS BIGINT) AS minutes,
         CAST(0 AS BIGINT) AS events
  FROM beats
  WHERE previous IS NOT NULL
    AND epoch_seconds(time_created) - epoch_seconds(previous) > $gap_minutes * 60
),
connectivity AS (
  SELECT w.computer, 'connectivity_errors' AS kind, date_trunc('hour', w.time_created) AS starts,
         CAST(NULL AS TIMESTAMP) AS ends, CAST(60 AS BIGINT) AS minutes, count(*) AS events
  FROM w
  LEFT JOIN error_codes x ON x.source = w.provider AND x.code = CAST(w.event_id AS STRING)
  WHERE x.category = 'connectivity'
     OR w.lmessage LIKE '%couldn''t connect to any service bus endpoint%'
     OR w.lmessage LIKE '%token provider was unable to provide a security token%'
  GROUP BY w.computer, date_trunc('hour', w.time_created)
)
SELECT computer, kind, starts, ends, minutes, events FROM service
UNION ALL SELECT computer, kind, starts, ends, minutes, events FROM gaps
UNION ALL SELECT computer, kind, starts, ends, minutes, events FROM connectivity
ORDER BY starts, computer, kind
