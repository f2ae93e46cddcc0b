-- name: resets_per_ip
-- title: Many users resetting from one IP address
-- description: IP addresses from which at least min_users distinct users started a self-service
--   reset on the same UTC day (column utc_day: the day is the detection bucket, a UTC day
--   whatever --tz, which shows the attempt times in its zone): a shared kiosk or NAT, or someone
--   working through accounts.
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31, min_users:int=5
-- settings: datafusion.optimizer.preserve_file_partitions=2,
--   datafusion.optimizer.subset_repartition_threshold=2
-- chart: bar x=ip y=users
-- Distinct users per (ip, day) as a two-level aggregation: one group per user first, then a
-- plain count. Same answer as count(DISTINCT …), without a hash set per group. The day is the
-- partition column (the UTC date of started_at by its definition in reset_attempts), one value
-- per file instead of a cast per row. Both groupings contain the day, and the settings
-- (DataFusion-only) hand each partition whole days: each aggregation then runs once per
-- partition, without a partial step and a shuffle of 1.7M rows between the two (333 -> 205 ms on
-- the 100,000-user tenant). A lake of one day keeps DataFusion's usual plan (`=2`: from two days on).
WITH per_user AS (
  SELECT ip,
         attempt_date AS day,
         user_principal_name,
         count(*) AS attempts,
         count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
         min(started_at) AS first_attempt,
         max(started_at) AS last_attempt
  FROM reset_attempts
  WHERE initiated_by = 'self' AND ip IS NOT NULL
    AND started_at >= $from AND started_at < $to
  GROUP BY ip, attempt_date, user_principal_name
)
SELECT ip,
       day AS utc_day,
       count(user_principal_name) AS users,
       sum(attempts) AS attempts,
       sum(succeeded) AS succeeded,
       min(first_attempt) AS first_attempt,
       max(last_attempt) AS last_attempt
FROM per_user
GROUP BY ip, day
HAVING count(user_principal_name) >= $min_users
ORDER BY users DESC, utc_day, ip
