-- name: writeback_errors
-- title: Password writeback errors on the Entra Connect server
-- description: PasswordResetService and ADSync events that are not starts, successes or health
--   events, by code and category, with name, meaning and resolution from the error_codes catalogue.
--   ADSync events are refined by their message (hresult or known text, message_patterns). Event ids
--   the catalogue does not know are kept and shown as unknown, so new codes surface here.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=code y=events
WITH e AS (
  SELECT computer, event_record_id, time_created, provider, CAST(event_id AS STRING) AS code,
         hresult, tracking_id, message, lower(coalesce(message, '')) AS lmessage
  FROM writeback_events
  WHERE time_created >= $from AND time_created < $to
),
first_pattern AS (
  SELECT e.computer, e.event_record_id, e.time_created, e.code, min(p.match_order) AS match_order
  FROM e JOIN message_patterns p
    ON (p.provider = e.provider OR p.provider = '*') AND e.lmessage LIKE p.pattern
  GROUP BY e.computer, e.event_record_id, e.time_created, e.code
),
classified AS (
  SELECT e.provider, e.code, e.hresult, e.tracking_id, e.time_created, e.message,
         coalesce(x.name, 'unknown') AS name,
         coalesce(x.category, 'unknown') AS code_category,
         p.name AS detail,
         coalesce(p.category, x.category, 'unknown') AS category,
         coalesce(p.meaning, x.meaning) AS meaning,
         coalesce(p.resolution, x.resolution) AS resolution
  FROM e
  LEFT JOIN error_codes x ON x.source = e.provider AND x.code = e.code
  LEFT JOIN first_pattern f
    ON f.computer = e.computer AND f.time_created = e.time_created AND f.code = e.code
   AND (f.event_record_id = e.event_record_id OR (f.event_record_id IS NULL AND e.event_record_id IS NULL))
  LEFT JOIN message_patterns p ON p.match_order = f.match_order
)
SELECT provider, code, name, coalesce(detail, '') AS detail, category,
       count(*) AS events,
       count(DISTINCT tracking_id) AS operations,
       min(time_created) AS first_seen,
       max(time_created) AS last_seen,
       min(hresult) AS hresult,
       min(meaning) AS meaning,
       min(resolution) AS resolution,
       substr(min(message), 1, 200) AS example
FROM classified
WHERE code_category NOT IN ('start', 'success', 'health')
GROUP BY provider, code, name, coalesce(detail, ''), category
ORDER BY events DESC, provider, code, detail
