-- name: reset_then_privileged_operation
-- title: A password reset followed by a privileged operation by the same account
-- description: Successful password resets (self-service: when the session ended; by an admin:
--   when it was done; derived table reset_attempts) followed within `minutes` (default 30) by a
--   privileged operation performed by the account whose password was reset: the directory
--   audits of reference table privileged_operations (role assignments, app credentials and
--   consent, conditional access and federation changes, MFA disabled, someone else's password
--   reset or security info changed). Whoever takes an account over through its password tends
--   to use it at once. Privileged operations are directory audits the SSPR sources do not carry:
--   when the lake holds no audit events besides password and security-info ones, `note` says so
--   on every row, and on a row of its own when nothing was found (collect them: [collect.graph]
--   services = [..., "Core Directory", "Conditional Access"], or import an AuditLogs export that
--   has them). The community hunt; no portal figure. Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, minutes:int=30
-- chart: table
WITH resets AS (
  SELECT user_id, user_principal_name, initiated_by AS reset_by, ended_at AS reset_at,
         ip AS reset_ip, correlation_id
  FROM reset_attempts
  WHERE outcome = 'succeeded' AND started_at >= $from AND started_at < $to AND user_id IS NOT NULL
),
ops AS (
  SELECT e.actor_user_id, e.activity, p.category, p.why, e.activity_time, e.actor_ip,
         coalesce(e.target_upn, e.target_display_name) AS target
  FROM audit_events e
  JOIN privileged_operations p ON p.activity = e.activity
  WHERE e.activity_time >= $from AND e.activity_time < $to + INTERVAL '1 day'
    AND e.actor_user_id IS NOT NULL
),
directory AS (
  SELECT count(*) AS audits
  FROM audit_events
  WHERE logged_by_service NOT IN ('Self-service Password Management', 'Authentication Methods')
    AND activity NOT IN ('Reset user password', 'Change user password')
),
found AS (
  SELECT r.user_principal_name, r.reset_by, r.reset_at, o.activity AS operation, o.category,
         o.why, o.activity_time AS operation_at,
         CAST(round((epoch_seconds(o.activity_time) - epoch_seconds(r.reset_at)) / 60.0, 1) AS DOUBLE) AS minutes_after,
         o.target, r.reset_ip, o.actor_ip AS operation_ip, r.correlation_id
  FROM resets r
  JOIN ops o ON o.actor_user_id = r.user_id
  WHERE o.activity_time >= r.reset_at
    AND epoch_seconds(o.activity_time) - epoch_seconds(r.reset_at) <= $minutes * 60
)
-- One row of nulls carrying the note when nothing was found and nothing could be.
SELECT f.user_principal_name, f.reset_by, f.reset_at, f.operation, f.operation_at,
       f.minutes_after, f.target, f.category, f.why, f.reset_ip, f.operation_ip, f.correlation_id,
       CASE WHEN d.audits = 0 THEN 'The lake holds no directory audits besides password and security-info events, so only admin resets can be seen here: collect them ([collect.graph] services: Core Directory, Conditional Access) or import an AuditLogs export that has them.' END AS note
FROM directory d
LEFT JOIN found f ON true
WHERE f.user_principal_name IS NOT NULL OR d.audits = 0
ORDER BY f.reset_at, f.operation_at, f.user_principal_name
