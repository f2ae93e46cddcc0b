-- derived: reset_attempts
-- One row per password-reset attempt that started in [$from, $to) (dates, UTC): a self-service
-- session (all SSPR flow events sharing a correlation id, classified by the sspr_step_events view)
-- or an admin reset ("Reset password (by admin)"). Sessions are read one day past $to so a session
-- that crosses midnight is whole. Writeback: joined to the Entra Connect server's events by
-- TrackingId = correlation id, else to a domain controller's 4724 by the connector account for the
-- same user within the session (+5 minutes); writeback_join says which.
WITH steps AS (
  SELECT * FROM sspr_step_events
  WHERE event_date >= $from AND event_date <= $to AND correlation_id IS NOT NULL
),
-- Each step with its place in the session, all from one sort by (activity_time, id): seq 1 is
-- the first step (ip, client, agent); the last terminal step (reason, outcome, category, code
-- of a failed session) is the terminal step with no terminal step after it; the furthest stage
-- is the last step at the session's highest stage order. Window sums and row_number rather
-- than ordered first_value/last_value aggregates, so that Spark builds the same table from this
-- SQL (queries/README.md, "Derived tables"); every window shares one partitioning and order, so
-- DataFusion sorts the day's steps once.
ranked AS (
  SELECT correlation_id, id, activity_time, outcome, stage, stage_order, method,
         target_user_id, actor_user_id, target_upn, actor_upn,
         actor_ip, client_type, user_agent, result_reason, category, error_code,
         row_number() OVER (PARTITION BY correlation_id ORDER BY activity_time, id) AS seq,
         sum(CASE WHEN outcome <> 'progress' THEN 1 ELSE 0 END)
           OVER (PARTITION BY correlation_id ORDER BY activity_time, id
                 ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS terminal_from_here,
         max(stage_order)
           OVER (PARTITION BY correlation_id ORDER BY activity_time, id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS top_order
  FROM steps
),
placed AS (
  SELECT *,
         sum(CASE WHEN stage_order = top_order THEN 1 ELSE 0 END)
           OVER (PARTITION BY correlation_id ORDER BY activity_time, id
                 ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS top_from_here
  FROM ranked
),
sessions AS (
  SELECT correlation_id,
         min(activity_time) AS started_at,
         max(activity_time) AS ended_at,
         count(*) AS events,
         max(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
         max(stage_order) AS furthest_stage_order,
         max(coalesce(target_user_id, actor_user_id)) AS user_id,
         max(coalesce(target_upn, actor_upn)) AS user_principal_name,
         max(CASE WHEN seq = 1 THEN actor_ip END) AS ip,
         max(CASE WHEN seq = 1 THEN client_type END) AS client_type,
         max(CASE WHEN seq = 1 THEN user_agent END) AS user_agent,
         max(CASE WHEN stage_order = top_order AND top_from_here = 1 THEN stage END) AS furthest_stage,
         max(CASE WHEN outcome <> 'progress' AND terminal_from_here = 1 THEN result_reason END) AS t_reason,
         max(CASE WHEN outcome <> 'progress' AND terminal_from_here = 1 THEN outcome END) AS t_outcome,
         max(CASE WHEN outcome <> 'progress' AND terminal_from_here = 1 THEN category END) AS t_category,
         max(CASE WHEN outcome <> 'progress' AND terminal_from_here = 1 THEN error_code END) AS t_error_code,
         -- array_join gives '' for no methods on Spark and NULL on DataFusion: nullif makes both NULL.
         nullif(array_join(array_sort(array_distinct(
           array_agg(method) FILTER (WHERE stage = 'verify_started' AND method IS NOT NULL))), ','), '') AS methods_started,
         nullif(array_join(array_sort(array_distinct(
           array_agg(method) FILTER (WHERE stage = 'verify_completed' AND method IS NOT NULL))), ','), '') AS methods_completed
  FROM placed
  GROUP BY correlation_id
),
started AS (
  SELECT * FROM sessions
  WHERE CAST(started_at AS DATE) >= $from AND CAST(started_at AS DATE) < $to
),
kinds AS (
  SELECT s.correlation_id, c.client_kind,
         row_number() OVER (PARTITION BY s.correlation_id
                            ORDER BY CASE WHEN c.field = 'client_type' THEN 0 ELSE 1 END, c.match_order) AS rn
  FROM started s
  JOIN client_types c
    ON (c.field = 'client_type' AND lower(s.client_type) = c.pattern)
    OR (c.field = 'user_agent' AND lower(s.user_agent) LIKE concat('%', c.pattern, '%'))
),
wb AS (
  SELECT tracking_id,
         max(CASE WHEN event_id IN (31001, 31006, 31009) THEN 1 ELSE 0 END) AS started,
         max(CASE WHEN event_id IN (31002, 31007, 31010) THEN 1 ELSE 0 END) AS succeeded,
         max(CASE WHEN event_id IN (31003, 31008, 31011) THEN 1 ELSE 0 END) AS failed,
         max(CASE WHEN event_id BETWEEN 32000 AND 32999 OR event_id IN (31034, 31044) THEN 1 ELSE 0 END) AS connectivity,
         min(CASE WHEN event_id BETWEEN 32000 AND 33999 THEN CAST(event_id AS STRING) END) AS error_code
  FROM writeback_events
  WHERE event_date >= $from AND event_date <= $to AND tracking_id IS NOT NULL
  GROUP BY tracking_id
),
dc AS (
  SELECT s.correlation_id,
         max(CASE WHEN d.audit_success THEN 1 ELSE 0 END) AS succeeded,
         max(CASE WHEN NOT d.audit_success THEN 1 ELSE 0 END) AS failed
  FROM started s
  JOIN dc_security_events d
    ON d.event_id = 4724
   AND upper(substr(d.subject_account, 1, 5)) = 'MSOL_'
   AND lower(d.target_account) = lower(split_part(s.user_principal_name, '@', 1))
   AND d.time_created >= s.started_at
   AND d.time_created <= s.ended_at + INTERVAL '5 minutes'
  WHERE d.event_date >= $from AND d.event_date <= $to
  GROUP BY s.correlation_id
),
self_service AS (
  SELECT s.correlation_id,
         CAST(s.started_at AS DATE) AS attempt_date,
         s.started_at, s.ended_at,
         CAST(epoch_seconds(s.ended_at) - epoch_seconds(s.started_at) AS DOUBLE) AS duration_seconds,
         s.user_id, s.user_principal_name,
         'self' AS initiated_by,
         s.events,
         s.methods_started,
         s.methods_completed,
         s.furthest_stage,
         s.furthest_stage_order,
         CASE WHEN s.succeeded = 1 THEN 'succeeded' ELSE coalesce(s.t_outcome, 'unknown') END AS outcome,
         CASE WHEN s.succeeded = 1 THEN NULL ELSE s.t_reason END AS failure_reason,
         CASE WHEN s.succeeded = 1 THEN NULL ELSE s.t_category END AS failure_category,
         CASE WHEN s.succeeded = 1 THEN NULL ELSE s.t_error_code END AS error_code,
         s.ip,
         s.client_type,
         coalesce(k.client_kind, 'unknown') AS client_kind,
         s.user_agent,
         CASE WHEN w.tracking_id IS NOT NULL OR dc.correlation_id IS NOT NULL THEN true ELSE false END AS writeback_involved,
         CASE
           WHEN w.succeeded = 1 THEN 'succeeded'
           WHEN w.failed = 1 THEN 'failed'
           WHEN w.connectivity = 1 THEN 'not_reached'
           WHEN w.started = 1 THEN 'started'
           WHEN dc.succeeded = 1 THEN 'succeeded'
           WHEN dc.failed = 1 THEN 'failed'
         END AS writeback_outcome,
         w.error_code AS writeback_error_code,
         CASE WHEN w.tracking_id IS NOT NULL THEN 'tracking_id'
              WHEN dc.correlation_id IS NOT NULL THEN 'user_time_window' END AS writeback_join
  FROM started s
  LEFT JOIN (SELECT * FROM kinds WHERE rn = 1) k ON k.correlation_id = s.correlation_id
  LEFT JOIN wb w ON w.tracking_id = s.correlation_id
  LEFT JOIN dc ON dc.correlation_id = s.correlation_id
),
admin AS (
  SELECT coalesce(correlation_id, id) AS correlation_id,
         CAST(activity_time AS DATE) AS attempt_date,
         activity_time AS started_at, activity_time AS ended_at,
         CAST(0 AS DOUBLE) AS duration_seconds,
         target_user_id AS user_id, target_upn AS user_principal_name,
         'admin' AS initiated_by,
         CAST(1 AS BIGINT) AS events,
         CAST(NULL AS STRING) AS methods_started, CAST(NULL AS STRING) AS methods_completed,
         'reset' AS furthest_stage, CAST(7 AS BIGINT) AS furthest_stage_order,
         CASE WHEN lower(result) = 'success' THEN 'succeeded' ELSE 'failed' END AS outcome,
         CASE WHEN lower(result) = 'success' THEN NULL ELSE result_reason END AS failure_reason,
         CASE WHEN lower(result) = 'success' THEN NULL ELSE 'unknown' END AS failure_category,
         CAST(NULL AS STRING) AS error_code,
         actor_ip AS ip, client_type, 'admin_portal' AS client_kind, user_agent,
         false AS writeback_involved, CAST(NULL AS STRING) AS writeback_outcome,
         CAST(NULL AS STRING) AS writeback_error_code, CAST(NULL AS STRING) AS writeback_join
  FROM audit_events
  WHERE activity = 'Reset password (by admin)'
    AND event_date >= $from AND event_date < $to
)
SELECT * FROM self_service
UNION ALL
SELECT * FROM admin
