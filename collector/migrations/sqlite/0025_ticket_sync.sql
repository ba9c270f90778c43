-- Two-way sync with the ticket systems teams already use (issue 16): per system, a durable
-- outbox of what to tell it, in order per ticket; the remote ticket each Firstline ticket is
-- linked to; the back-sync cursor (with a lease, so one collector polls at a time); and the
-- remote events already taken in, so none comes back twice.
CREATE TABLE sync_links (
    system           TEXT NOT NULL,
    ticket_id        BIGINT NOT NULL REFERENCES tickets (id),
    remote_id        TEXT NOT NULL,
    remote_url       TEXT NOT NULL,
    -- The fields last sent (title, priority, devices, tier, assignee), to send only changes.
    pushed_json      TEXT NOT NULL,
    -- Resolved or closed by a person in the remote system: it wins over auto-reopen.
    closed_remotely  BIGINT NOT NULL DEFAULT 0,
    linked_at_ms     BIGINT NOT NULL,
    synced_at_ms     BIGINT NOT NULL,
    PRIMARY KEY (system, ticket_id)
);
CREATE UNIQUE INDEX sync_links_by_remote ON sync_links (system, remote_id);

CREATE TABLE sync_outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    system              TEXT NOT NULL,
    ticket_id           BIGINT NOT NULL REFERENCES tickets (id),
    -- create, update, comment, resolve, reopen
    op                  TEXT NOT NULL,
    -- The notification it came from (none for an update the sync found itself): expanding
    -- a notification again after a crash adds nothing.
    notification_id     BIGINT,
    text                TEXT,
    created_at_ms       BIGINT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms  BIGINT NOT NULL,
    last_error          TEXT,
    -- Set once it is delivered (or refused for good: failed = 1, with last_error).
    done_at_ms          BIGINT,
    failed              BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sync_outbox_waiting ON sync_outbox (system, ticket_id, id) WHERE done_at_ms IS NULL;
CREATE UNIQUE INDEX sync_outbox_by_notification ON sync_outbox (system, notification_id);
CREATE INDEX sync_outbox_by_ticket ON sync_outbox (ticket_id, id);

CREATE TABLE sync_cursors (
    system          TEXT PRIMARY KEY,
    cursor          TEXT NOT NULL,
    lease_until_ms  BIGINT NOT NULL,
    polled_at_ms    BIGINT,
    last_error      TEXT
);

CREATE TABLE sync_seen (
    system        TEXT NOT NULL,
    remote_event  TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    PRIMARY KEY (system, remote_event)
);
