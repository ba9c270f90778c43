-- People (issue 19). A report ticket's requester: the local account that made the report, as
-- the agent's report socket saw it (peer credentials), copied from the report's evidence when
-- the ticket opens. A device's users: the account names of its latest inventory (sessions,
-- else the last login), as a JSON array, so ticket lists can show affected users without
-- reading whole inventories.
ALTER TABLE tickets ADD COLUMN requester TEXT;
ALTER TABLE tickets ADD COLUMN requester_uid BIGINT;
ALTER TABLE devices ADD COLUMN users_json TEXT;
