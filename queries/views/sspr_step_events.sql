-- view: sspr_step_events
-- Every SSPR flow event classified by its resultReason against reference table sspr_steps:
-- normalised (trimmed, lower-cased, trailing period dropped), matched by prefix, most specific
-- (longest) pattern wins; an exact match is the longest possible. Strings no pattern knows keep
-- their raw text and get outcome 'unclassified', so new Microsoft wording shows up in reports
-- instead of vanishing.
CREATE VIEW sspr_step_events AS
WITH flow AS (
  SELECT id, activity_time, event_date, correlation_id, activity, result, result_reason,
         actor_user_id, actor_upn, actor_ip, target_user_id, target_upn, user_agent, client_type,
         CASE
           WHEN substr(lower(trim(result_reason)), length(trim(result_reason)), 1) = '.'
             THEN substr(lower(trim(result_reason)), 1, length(trim(result_reason)) - 1)
           ELSE lower(trim(result_reason))
         END AS reason_norm
  FROM audit_events
  WHERE lower(logged_by_service) = 'self-service password management'
    AND activity IN ('Self-service password reset flow activity progress',
                     'Reset password (self-service)',
                     'Blocked from self-service password reset')
),
-- Most step strings equal a pattern exactly: those take a hash join. Only the rest (strings
-- with trailing text, unknown wording) go through the prefix match.
exact AS (
  SELECT f.*, s.pattern, s.stage, s.stage_order, s.method, s.outcome, s.category, s.error_code,
         1 AS rn
  FROM flow f
  JOIN sspr_steps s ON f.reason_norm = s.pattern
),
rest AS (
  SELECT f.* FROM flow f
  LEFT JOIN sspr_steps s ON f.reason_norm = s.pattern
  WHERE s.pattern IS NULL
),
prefixed AS (
  SELECT r.*, s.pattern, s.stage, s.stage_order, s.method, s.outcome, s.category, s.error_code,
         row_number() OVER (PARTITION BY r.id ORDER BY length(s.pattern) DESC) AS rn
  FROM rest r
  LEFT JOIN sspr_steps s ON r.reason_norm LIKE concat(s.pattern, '%')
),
matched AS (
  SELECT * FROM exact
  UNION ALL
  SELECT * FROM prefixed
)
SELECT id, activity_time, event_date, correlation_id, activity, result, result_reason,
       actor_user_id, actor_upn, actor_ip, target_user_id, target_upn, user_agent, client_type,
       pattern,
       CASE WHEN activity = 'Blocked from self-service password reset' THEN 'blocked' ELSE stage END AS stage,
       stage_order,
       method,
       CASE
         WHEN activity = 'Blocked from self-service password reset' THEN 'blocked'
         WHEN outcome IS NULL AND lower(result) = 'failure' THEN 'failed'
         ELSE coalesce(outcome, 'unclassified')
       END AS outcome,
       CASE WHEN activity = 'Blocked from self-service password reset' THEN 'policy' ELSE coalesce(category, 'unknown') END AS category,
       error_code
FROM matched
WHERE rn = 1
