-- view: sspr_step_events
-- Every SSPR flow event classified by its resultReason against reference table sspr_steps:
-- normalised (trimmed, lower-cased, trailing period dropped), matched by prefix, most specific
-- (longest) pattern wins; an exact match is the longest possible. Strings no pattern knows keep
-- their raw text and get outcome 'unclassified', so new Microsoft wording shows up in reports
-- instead of vanishing.
CREATE VIEW sspr_step_events AS
WITH flow AS (
  SELECT id, activity_time, event_date, correlation_id, activity, result, result_reason,
         actor_user_id, actor_upn, actor_ip, target_user_id, target_upn, user_agent, client_type
  FROM audit_events
  WHERE lower(logged_by_service) = 'self-service password management'
    AND activity IN ('Self-service password reset flow activity progress',
                     'Reset password (self-service)',
                     'Blocked from self-service password reset')
),
-- A tenant's million step events carry a few dozen distinct strings: each distinct string is
-- normalised and matched once (the longest pattern it starts with; an exact match is the
-- longest possible), and the events take the answer through a hash join on the raw text.
-- Normalising and matching every event was two passes of string work over all of them and a
-- nested-loop join for those whose text is not exactly a pattern.
reasons AS (
  SELECT result_reason,
         CASE
           WHEN substr(lower(trim(result_reason)), length(trim(result_reason)), 1) = '.'
             THEN substr(lower(trim(result_reason)), 1, length(trim(result_reason)) - 1)
           ELSE lower(trim(result_reason))
         END AS reason_norm
  FROM (SELECT DISTINCT result_reason FROM flow WHERE result_reason IS NOT NULL) d
),
classified AS (
  SELECT r.result_reason, s.pattern, s.stage, s.stage_order, s.method, s.outcome, s.category, s.error_code,
         row_number() OVER (PARTITION BY r.result_reason ORDER BY length(s.pattern) DESC, s.pattern) AS rn
  FROM reasons r
  JOIN sspr_steps s ON r.reason_norm LIKE concat(s.pattern, '%')
),
matched AS (
  SELECT f.*, c.pattern, c.stage, c.stage_order, c.method, c.outcome, c.category, c.error_code
  -- The few classified strings first: the hash table is built on them, not on the events.
  FROM (SELECT * FROM classified WHERE rn = 1) c
  RIGHT JOIN flow f ON c.result_reason = f.result_reason
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
       error_code,
       -- The matched pattern's own stage and category, null where no pattern matched: plain
       -- columns of the classified side. A query that filters on them as well as on stage and
       -- category makes the join inner and reaches the few dozen patterns before the events
       -- are joined; on stage and category alone, every event goes through the join first.
       matched.stage AS pattern_stage,
       matched.category AS pattern_category
FROM matched
