-- view: disabled_accounts
-- The accounts disabled (accountEnabled false) in the latest users snapshot: the ones the Entra
-- portal leaves out of its registration figures (Graph's credentialUserRegistrationCount counts
-- users with accountEnabled true). The current-state coverage reports leave them out unless
-- include_disabled=true; one definition, so they all leave out the same accounts. The trend
-- report uses the users snapshot nearest each registration snapshot instead (derived table
-- registration_coverage_daily, column account_enabled).
CREATE VIEW disabled_accounts AS
SELECT user_id FROM users
WHERE snapshot_date = (SELECT max(snapshot_date) FROM users) AND NOT account_enabled
