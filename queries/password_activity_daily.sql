-- name: password_activity_daily
-- title: Password activity per day: resets, changes, unlocks, admin resets, registrations
-- description: The portal's activity over time: per local day (--tz) and audit activity, the
--   events, how many succeeded and failed, and the distinct users, with the activity's kind from
--   reference table activities (sspr_reset, sspr_change, sspr_unlock, admin_reset, sspr_blocked,
--   registration, registration_admin). The reset flow's per-step events are left out (one reset
--   is many steps: reset_success_daily counts attempts).
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, tz:string=UTC
-- chart: stacked x=day y=events series=kind
SELECT local_date(e.activity_time, $tz) AS day,
       a.kind,
       e.activity,
       count(*) AS events,
       count(*) FILTER (WHERE lower(e.result) = 'success') AS succeeded,
       count(*) FILTER (WHERE lower(e.result) = 'failure') AS failed,
       count(DISTINCT coalesce(e.target_user_id, e.actor_user_id)) AS users
FROM audit_events e
JOIN activities a ON a.activity = e.activity
WHERE a.kind IN ('sspr_reset', 'sspr_change', 'sspr_unlock', 'admin_reset', 'sspr_blocked',
                 'registration', 'registration_admin')
  AND e.activity_time >= $from AND e.activity_time < $to
GROUP BY local_date(e.activity_time, $tz), a.kind, e.activity
ORDER BY day, a.kind, e.activity
