-- name: unclassified_steps
-- title: Step strings no rule knows yet
-- description: Every resultReason of the self-service flow that no pattern of reference table
--   sspr_steps matches (view sspr_step_events), with how often and since when it is seen, so that
--   new Microsoft wording is noticed the day it appears instead of being counted as
--   "unclassified" in the reset reports. Add a row to queries/reference/sspr_steps.csv (or your
--   own copy in queries_dir) for each string listed. Empty when every string is known.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: table
SELECT trim(result_reason) AS result_reason,
       activity,
       result,
       count(*) AS events,
       count(DISTINCT correlation_id) AS sessions,
       min(activity_time) AS first_seen,
       max(activity_time) AS last_seen,
       min(correlation_id) AS example_correlation_id
FROM sspr_step_events
WHERE pattern IS NULL
  AND activity <> 'Blocked from self-service password reset'
  AND activity_time >= $from AND activity_time < $to
GROUP BY trim(result_reason), activity, result
ORDER BY events DESC, result_reason, activity, result
