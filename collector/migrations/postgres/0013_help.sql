-- The help page (issue 19): what a device's user reads and does without a terminal.
--
-- A help link is asked for by the agent over its mTLS stream for the OS account that clicked
-- "Get IT help"; it is stored hashed, works once, and expires in minutes. Redeemed, it becomes
-- a help session (a cookie, stored hashed) that sees only that device and that account.
CREATE TABLE help_links (
    token_hash     TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    account        TEXT NOT NULL,
    uid            BIGINT,
    lang           TEXT,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    used_at_ms     BIGINT
);
CREATE INDEX help_links_by_device ON help_links (device_id, created_at_ms);

CREATE TABLE help_sessions (
    token_hash     TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    account        TEXT NOT NULL,
    uid            BIGINT,
    lang           TEXT,
    csrf_token     TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL
);

-- What a user should hear about on their desktop (a public reply, a fix to confirm, an
-- outage), already in their language; sent down the device's stream once.
CREATE TABLE user_notices (
    id             TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    account        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    ticket_id      BIGINT,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    sent_at_ms     BIGINT
);
CREATE INDEX user_notices_waiting ON user_notices (device_id, sent_at_ms);

-- A report made on the help page reaches the agent as a reproduce request with parameters
-- (the words, the account, the language).
ALTER TABLE reproduce_requests ADD COLUMN parameters_json TEXT;

-- A resolved ticket with a requester waits for their answer ("is it fixed?").
ALTER TABLE tickets ADD COLUMN awaiting_requester_since_ms BIGINT;
