-- name: bulk_admin_resets
-- title: Administrators resetting many accounts within an hour
-- description: For each administrator, the most distinct accounts whose password they reset
--   ("Reset password (by admin)") within any one hour, when it is at least min_accounts, with when
--   that hour started. The default of 3 is the community hunt's ("Find multiple password reset
--   by admin": more than two target users, le0li9ht/Microsoft-Sentinel-Queries
--   EntraID/PasswordReset.md); a large helpdesk raises it.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, min_accounts:int=3
-- settings: sspr.materialize_ctes=a
-- chart: bar x=admin y=accounts
-- A few dozen of the millions of audit events are admin resets, and `a` is joined with itself.
-- DataFusion would scan audit_events once per reference; the setting (ours, DataFusion-only:
-- src/query/materialize/) computes `a` once and both sides read it, as DuckDB does by itself.
WITH a AS (
  SELECT coalesce(actor_upn, actor_user_id, actor_app_display_name) AS admin, target_upn, activity_time
  FROM audit_events
  WHERE activity = 'Reset password (by admin)' AND lower(coalesce(result, '')) = 'success'
    AND activity_time >= $from AND activity_time < $to
),
windows AS (
  SELECT x.admin, x.activity_time AS window_start, count(DISTINCT y.target_upn) AS accounts
  FROM a x JOIN a y
    ON y.admin = x.admin AND y.activity_time >= x.activity_time
   AND y.activity_time < x.activity_time + INTERVAL '1 hour'
  GROUP BY x.admin, x.activity_time
),
ranked AS (
  SELECT admin, window_start, accounts,
         row_number() OVER (PARTITION BY admin ORDER BY accounts DESC, window_start) AS rn
  FROM windows
)
SELECT admin, accounts, window_start, window_start + INTERVAL '1 hour' AS window_end
FROM ranked
WHERE rn = 1 AND accounts >= $min_accounts
ORDER BY accounts DESC, admin
