-- derived: error_events
-- Every error of [$from, $to) from every source in one stream: cloud SSPR steps that failed or
-- were blocked (code: SSPR_00xx where known, else the resultReason), writeback server events that
-- are not starts, successes or health events (ADSync refined by message), and credential-provider
-- errors and warnings; with name, category, meaning and resolution from the catalogue (a row with
-- code '*' describes every code of a source Microsoft documents no catalogue for).
WITH cloud AS (
  SELECT e.event_date, e.activity_time AS time, 'cloud' AS source,
         coalesce(e.error_code, e.result_reason) AS code,
         e.result_reason AS detail, e.correlation_id,
         coalesce(e.target_upn, e.actor_upn) AS subject, e.category AS step_category
  FROM sspr_step_events e
  WHERE e.outcome IN ('failed', 'blocked') AND e.event_date >= $from AND e.event_date < $to
),
wb AS (
  SELECT w.event_date, w.time_created AS time, w.provider AS source, CAST(w.event_id AS STRING) AS code,
         w.message AS detail, w.tracking_id AS correlation_id, w.computer AS subject,
         w.computer, w.event_record_id, lower(coalesce(w.message, '')) AS lmessage
  FROM writeback_events w
  WHERE w.event_date >= $from AND w.event_date < $to
),
wb_pattern AS (
  SELECT w.computer, w.event_record_id, w.time, w.code, min(p.match_order) AS match_order
  FROM wb w JOIN message_patterns p ON (p.provider = w.source OR p.provider = '*') AND w.lmessage LIKE p.pattern
  GROUP BY w.computer, w.event_record_id, w.time, w.code
),
onprem AS (
  SELECT w.event_date, w.time, w.source, w.code, w.detail, w.correlation_id, w.subject,
         coalesce(p.name, x.name) AS name,
         coalesce(p.category, x.category, 'unknown') AS category,
         coalesce(p.meaning, x.meaning) AS meaning,
         coalesce(p.resolution, x.resolution) AS resolution,
         coalesce(x.category, 'unknown') AS code_category
  FROM wb w
  LEFT JOIN error_codes x ON x.source = w.source AND x.code = w.code
  LEFT JOIN wb_pattern f ON f.computer = w.computer AND f.time = w.time AND f.code = w.code
   AND (f.event_record_id = w.event_record_id OR (f.event_record_id IS NULL AND w.event_record_id IS NULL))
  LEFT JOIN message_patterns p ON p.match_order = f.match_order
),
client AS (
  SELECT c.event_date, c.time_created AS time, c.provider AS source, CAST(c.event_id AS STRING) AS code,
         c.message AS detail, c.tracking_id AS correlation_id, c.computer AS subject
  FROM credential_provider_events c
  WHERE c.level IN (1, 2, 3) AND c.event_date >= $from AND c.event_date < $to
)
SELECT c.event_date, c.time, c.source, c.code, x.name,
       coalesce(x.category, c.step_category, 'unknown') AS category,
       x.meaning, x.resolution, c.detail, c.correlation_id, c.subject
FROM cloud c LEFT JOIN error_codes x ON x.source = 'cloud' AND x.code = c.code
UNION ALL
SELECT event_date, time, source, code, name, category, meaning, resolution, detail, correlation_id, subject
FROM onprem WHERE code_category NOT IN ('start', 'success', 'health')
UNION ALL
SELECT c.event_date, c.time, c.source, c.code, coalesce(x.name, d.name) AS name,
       coalesce(x.category, d.category, 'unknown') AS category,
       coalesce(x.meaning, d.meaning) AS meaning, coalesce(x.resolution, d.resolution) AS resolution,
       c.detail, c.correlation_id, c.subject
FROM client c
LEFT JOIN error_codes x ON x.source = c.source AND x.code = c.code
-- A source without a documented catalogue has one catalogue row for every code (code '*').
LEFT JOIN error_codes d ON d.source = c.source AND d.code = '*'
