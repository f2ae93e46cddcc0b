-- name: reset_by_client_kind
-- title: Self-service resets by client: web portal, Windows logon screen, Windows 7/8.1 add-in
-- description: Attempts, successes and success rate per client kind (reference table
--   client_types applied to ClientType and the user agent in `sspr build`).
-- params: from:timestamp=1970-01-01, to:timestamp=9999-12-31
-- chart: bar x=client_kind y=attempts
SELECT client_kind,
       count(*) AS attempts,
       count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
       round(100.0 * count(*) FILTER (WHERE outcome = 'succeeded') / count(*), 1) AS success_rate_pct
FROM reset_attempts
WHERE initiated_by = 'self' AND started_at >= $from AND started_at < $to
GROUP BY client_kind
ORDER BY attempts DESC, client_kind
