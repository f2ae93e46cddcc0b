-- name: error_codes
-- title: Error codes across cloud and on-premises evidence
-- description: Every failure seen: cloud SSPR steps that failed or blocked (resultReason, with
--   the SSPR_00xx code where known) and every writeback / ADSync / credential-provider event whose
--   code is not a start, success or health event. Meaning, category and resolution come from
--   reference table error_codes; codes the catalogue does not know are shown as unknown.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=code y=events
WITH cloud AS (
  SELECT 'cloud' AS source,
         coalesce(e.error_code, e.result_reason) AS code,
         e.result_reason AS detail,
         e.category AS step_category,
         e.activity_time AS at
  FROM sspr_step_events e
  WHERE e.outcome IN ('failed', 'blocked')
    AND e.activity_time >= $from AND e.activity_time < $to
),
onprem AS (
  SELECT provider AS source, CAST(event_id AS STRING) AS code, substr(message, 1, 200) AS detail,
         CAST(NULL AS STRING) AS step_category, time_created AS at
  FROM writeback_events
  WHERE time_created >= $from AND time_created < $to
  UNION ALL
  SELECT provider AS source, CAST(event_id AS STRING) AS code, substr(message, 1, 200) AS detail,
         CAST(NULL AS STRING) AS step_category, time_created AS at
  FROM credential_provider_events
  WHERE time_created >= $from AND time_created < $to AND level IN (1, 2, 3)
),
all_errors AS (
  SELECT c.source, c.code, c.detail, c.at,
         coalesce(x.name, '') AS name,
         coalesce(x.category, c.step_category, 'unknown') AS category,
         x.meaning, x.resolution
  FROM cloud c LEFT JOIN error_codes x ON x.source = 'cloud' AND x.code = c.code
  UNION ALL
  SELECT o.source, o.code, o.detail, o.at,
         coalesce(x.name, '') AS name, coalesce(x.category, 'unknown') AS category,
         x.meaning, x.resolution
  FROM onprem o LEFT JOIN error_codes x ON x.source = o.source AND x.code = o.code
  WHERE coalesce(x.category, 'unknown') NOT IN ('start', 'success', 'health')
)
SELECT source, code, name, category,
       count(*) AS events,
       min(at) AS first_seen,
       max(at) AS last_seen,
       min(detail) AS example,
       min(meaning) AS meaning,
       min(resolution) AS resolution
FROM all_errors
GROUP BY source, code, name, category
ORDER BY events DESC, source, code
