-- name: registration_by_method_group
-- title: Users by the strength of the methods they registered
-- description: Per method group of reference table auth_methods, the users of the latest
--   registration snapshot with at least one method of the group (a user counts in every group
--   they have a method in), and the users whose strongest group it is (phishing_resistant, then
--   passwordless, mfa, temporary, weak, sspr_only; "none" for users with no listed method), each
--   with its share. Weak = SMS, voice and security questions. Enabled accounts only unless
--   include_disabled=true.
-- params: include_disabled:bool=false
-- chart: bar x=method_group y=users_strongest sort=none
WITH disabled AS (
  SELECT user_id FROM users
  WHERE snapshot_date = (SELECT max(snapshot_date) FROM users) AND NOT account_enabled
),
latest AS (
  SELECT r.user_id, concat(',', coalesce(r.methods_registered, ''), ',') AS methods
  FROM registration_details r
  LEFT JOIN disabled d ON d.user_id = r.user_id
  WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
    AND ($include_disabled OR d.user_id IS NULL)
),
ranks AS (
  SELECT 'phishing_resistant' AS method_group, 1 AS strength
  UNION ALL SELECT 'passwordless', 2
  UNION ALL SELECT 'mfa', 3
  UNION ALL SELECT 'temporary', 4
  UNION ALL SELECT 'weak', 5
  UNION ALL SELECT 'sspr_only', 6
  UNION ALL SELECT 'password', 7
  UNION ALL SELECT 'none', 8
),
per_user AS (
  SELECT DISTINCT l.user_id, m.method_group
  FROM latest l
  JOIN auth_methods m ON l.methods LIKE concat('%,', m.method, ',%')
),
strongest AS (
  SELECT l.user_id, coalesce(min(k.strength), 8) AS strength
  FROM latest l
  LEFT JOIN per_user p ON p.user_id = l.user_id
  LEFT JOIN ranks k ON k.method_group = p.method_group
  GROUP BY l.user_id
),
total AS (SELECT count(*) AS users FROM latest)
SELECT k.method_group,
       coalesce(h.users, 0) AS users_with,
       round(100.0 * coalesce(h.users, 0) / max(t.users), 1) AS users_with_pct,
       coalesce(s.users, 0) AS users_strongest,
       round(100.0 * coalesce(s.users, 0) / max(t.users), 1) AS users_strongest_pct
FROM ranks k
CROSS JOIN total t
LEFT JOIN (SELECT method_group, count(*) AS users FROM per_user GROUP BY method_group) h
  ON h.method_group = k.method_group
LEFT JOIN (SELECT strength, count(*) AS users FROM strongest GROUP BY strength) s
  ON s.strength = k.strength
GROUP BY k.method_group, k.strength, h.users, s.users
ORDER BY k.strength
