-- name: reset_failures_by_reason
-- title: Why SSPR sessions did not succeed
-- description: Self-service attempts that never succeeded (derived table reset_attempts), by the
--   last non-progress step they logged (its resultReason as written by Entra, without surrounding
--   space or trailing periods, which Entra writes both ways for some strings; the outcome from
--   reference table sspr_steps, the furthest stage reached, and the SSPR_00xx code the step
--   corresponds to where one is known). Attempts without any terminal step are counted as
--   "no terminal step logged". Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=reason y=sessions
SELECT outcome,
       coalesce(trim(TRAILING '.' FROM trim(failure_reason)), 'no terminal step logged') AS reason,
       furthest_stage AS stage,
       coalesce(failure_category, 'unknown') AS category,
       error_code,
       count(*) AS sessions,
       min(started_at) AS first_seen,
       max(started_at) AS last_seen
FROM reset_attempts
WHERE initiated_by = 'self' AND outcome <> 'succeeded'
  AND started_at >= $from AND started_at < $to
GROUP BY outcome, coalesce(trim(TRAILING '.' FROM trim(failure_reason)), 'no terminal step logged'),
         furthest_stage, coalesce(failure_category, 'unknown'), error_code
ORDER BY sessions DESC, reason, stage
