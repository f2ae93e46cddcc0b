-- name: registration_by_method_group
-- title: Users by the strength of the methods they registered
-- description: Per method group of reference table auth_methods, the users of the latest
--   registration snapshot with at least one method of the group (a user counts in every group
--   they have a method in), and the users whose strongest group it is (phishing_resistant, then
--   passwordless, mfa, temporary, weak, sspr_only; "none" for users with no listed method), each
--   with its share. Weak = SMS, voice and security questions. Enabled accounts only unless
--   include_disabled=true.
-- params: include_disabled:bool=false
-- settings: sspr.materialize_ctes=lists, datafusion.optimizer.max_passes=1
-- chart: bar x=method_group y=users_strongest sort=none
-- One pass of the logical optimizer: a second pass over this plan of many CTEs took 3-4 of its
-- 10 ms of optimising, and the plan of one pass runs as fast (in process, bench lake).
WITH latest AS (
  SELECT r.user_id, concat(',', coalesce(r.methods_registered, ''), ',') AS methods
  FROM registration_details r
  LEFT JOIN disabled_accounts d ON d.user_id = r.user_id
  WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
    AND ($include_disabled OR d.user_id IS NULL)
),
-- One VALUES node rather than a UNION ALL of eight one-row selects, which the plan holds twice:
-- 2.5 of 55 ms of planning and running on the bench lake.
ranks AS (
  SELECT * FROM (VALUES ('phishing_resistant', 1), ('passwordless', 2), ('mfa', 3), ('temporary', 4),
                        ('weak', 5), ('sspr_only', 6), ('password', 7), ('none', 8)) AS k(method_group, strength)
),
-- Users with the same method list count alike: the LIKE match (a nested loop, no hash key) runs
-- once per distinct list with its user count, not once per user.
lists AS (SELECT methods, count(*) AS users FROM latest GROUP BY methods),
list_groups AS (
  SELECT DISTINCT l.methods, m.method_group
  FROM lists l
  JOIN auth_methods m ON l.methods LIKE concat('%,', m.method, ',%')
),
strongest AS (
  SELECT l.methods, max(l.users) AS users, coalesce(min(k.strength), 8) AS strength
  FROM lists l
  LEFT JOIN list_groups g ON g.methods = l.methods
  LEFT JOIN ranks k ON k.method_group = g.method_group
  GROUP BY l.methods
),
total AS (SELECT sum(users) AS users FROM lists)
SELECT k.method_group,
       coalesce(h.users, 0) AS users_with,
       round(100.0 * coalesce(h.users, 0) / max(t.users), 1) AS users_with_pct,
       coalesce(s.users, 0) AS users_strongest,
       round(100.0 * coalesce(s.users, 0) / max(t.users), 1) AS users_strongest_pct
FROM ranks k
CROSS JOIN total t
LEFT JOIN (SELECT g.method_group, sum(l.users) AS users
           FROM list_groups g JOIN lists l ON l.methods = g.methods
           GROUP BY g.method_group) h
  ON h.method_group = k.method_group
LEFT JOIN (SELECT strength, sum(users) AS users FROM strongest GROUP BY strength) s
  ON s.strength = k.strength
GROUP BY k.method_group, k.strength, h.users, s.users
ORDER BY k.strength
