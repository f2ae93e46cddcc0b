-- name: reset_users
-- title: Distinct users who reset their password
-- description: The portal's count of users who reset, over any window: per who started the reset
--   (self: self-service, admin: "Reset password (by admin)"), the attempts and the distinct users
--   who tried and who succeeded, from derived table reset_attempts (a user counted once however
--   many attempts). Needs `sspr build`.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=initiated_by y=users_succeeded
SELECT initiated_by,
       count(*) AS attempts,
       count(*) FILTER (WHERE outcome = 'succeeded') AS attempts_succeeded,
       count(DISTINCT coalesce(user_id, user_principal_name)) AS users_tried,
       count(DISTINCT CASE WHEN outcome = 'succeeded' THEN coalesce(user_id, user_principal_name) END) AS users_succeeded
FROM reset_attempts
WHERE started_at >= $from AND started_at < $to
GROUP BY initiated_by
ORDER BY initiated_by DESC
