-- derived: writeback_operations
-- One row per password-writeback operation on an Entra Connect server that started in
-- [$from, $to): the start event (31001 reset, 31006 change, 31009 admin reset) and everything
-- sharing its TrackingId up to a day later: success (31002/31007/31010), failure
-- (31003/31008/31011) and the 32xxx/33xxx error event that explains it, with its category.
WITH e AS (
  SELECT * FROM writeback_events
  WHERE event_date >= $from AND event_date <= $to AND tracking_id IS NOT NULL
    AND provider = 'PasswordResetService'
),
starts AS (
  SELECT tracking_id, computer, min(time_created) AS started_at,
         min(CASE event_id WHEN 31001 THEN 'reset' WHEN 31006 THEN 'change' ELSE 'admin_reset' END) AS operation
  FROM e WHERE event_id IN (31001, 31006, 31009)
  GROUP BY tracking_id, computer
),
ends AS (
  SELECT tracking_id, computer,
         max(CASE WHEN event_id IN (31002, 31007, 31010) THEN time_created END) AS succeeded_at,
         max(CASE WHEN event_id IN (31003, 31008, 31011) THEN time_created END) AS failed_at
  FROM e GROUP BY tracking_id, computer
),
errors AS (
  SELECT tracking_id, computer, event_id, hresult,
         row_number() OVER (PARTITION BY tracking_id, computer ORDER BY time_created, event_id) AS rn
  FROM e WHERE event_id BETWEEN 32000 AND 33999
)
SELECT s.tracking_id,
       CAST(s.started_at AS DATE) AS operation_date,
       s.computer,
       s.operation,
       s.started_at,
       coalesce(n.succeeded_at, n.failed_at) AS ended_at,
       CAST(1000 * (epoch_seconds(coalesce(n.succeeded_at, n.failed_at)) - epoch_seconds(s.started_at)) AS DOUBLE) AS duration_ms,
       CASE WHEN n.succeeded_at IS NOT NULL THEN 'succeeded'
            WHEN n.failed_at IS NOT NULL THEN 'failed'
            ELSE 'started' END AS outcome,
       x.event_id AS error_event_id,
       x.hresult,
       CAST(x.event_id AS STRING) AS error_code,
       c.category
FROM starts s
LEFT JOIN ends n ON n.tracking_id = s.tracking_id AND n.computer = s.computer
LEFT JOIN (SELECT * FROM errors WHERE rn = 1) x ON x.tracking_id = s.tracking_id AND x.computer = s.computer
LEFT JOIN error_codes c ON c.source = 'PasswordResetService' AND c.code = CAST(x.event_id AS STRING)
WHERE CAST(s.started_at AS DATE) >= $from AND CAST(s.started_at AS DATE) < $to
