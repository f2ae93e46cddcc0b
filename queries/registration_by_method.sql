-- name: registration_by_method
-- title: Users registered per authentication method
-- description: The portal's "Users registered by authentication method": per method of the latest
--   userRegistrationDetails snapshot, the users who registered it and their share of the users,
--   with the method's group from reference table auth_methods (phishing_resistant, passwordless,
--   mfa, weak: SMS, voice and security questions, sspr_only, temporary). Enabled accounts only, as
--   the portal and registration_coverage count; include_disabled=true counts all. A method name
--   auth_methods does not list is not shown (add a row for it); the user still counts in the share.
-- params: include_disabled:bool=false
-- settings: sspr.materialize_ctes=lists
-- chart: hbar x=label y=users
-- A user's methods are one comma-separated string; matching ',<method>,' inside ',<list>,' is
-- the same in every engine (splitting a string into rows is not). The match runs once per
-- distinct list with its user count (a few hundred lists for 100,000 users), not once per user:
-- a LIKE join has no hash key and runs as a nested loop.
WITH latest AS (
  SELECT r.user_id, concat(',', coalesce(r.methods_registered, ''), ',') AS methods
  FROM registration_details r
  LEFT JOIN disabled_accounts d ON d.user_id = r.user_id
  WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM registration_details)
    AND ($include_disabled OR d.user_id IS NULL)
),
lists AS (SELECT methods, count(*) AS users FROM latest GROUP BY methods),
total AS (SELECT sum(users) AS users FROM lists)
SELECT m.method, m.label, m.method_group,
       sum(l.users) AS users,
       round(100.0 * sum(l.users) / max(t.users), 1) AS users_pct
FROM lists l
JOIN auth_methods m ON l.methods LIKE concat('%,', m.method, ',%')
CROSS JOIN total t
GROUP BY m.method, m.label, m.method_group
ORDER BY users DESC, m.method
