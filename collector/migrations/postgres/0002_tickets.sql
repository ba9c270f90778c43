-- PostgreSQL twin of migrations/sqlite/0002_tickets.sql.
-- Tickets: conditions per (device, check, resource), tickets with their timeline and devices,
-- the problems-and-solutions log, and what fleet correlation groups devices by.

ALTER TABLE devices ADD COLUMN site TEXT NOT NULL DEFAULT 'default';
ALTER TABLE devices ADD COLUMN vip BIGINT NOT NULL DEFAULT 0;
-- Set while the device is silent beyond the stale limit; its firing conditions are stale.
ALTER TABLE devices ADD COLUMN stale_since_ms BIGINT;

-- The scopes a device belongs to ("site=hq", "gateway=192.0.2.1", "dns=192.0.2.53").
CREATE TABLE device_scopes (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    scope      TEXT NOT NULL,
    PRIMARY KEY (device_id, scope)
);
CREATE INDEX device_scopes_by_scope ON device_scopes (scope, device_id);

CREATE TABLE tickets (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                  TEXT NOT NULL CHECK (kind IN ('device', 'incident', 'report')),
    ticket_key            TEXT NOT NULL,
    -- The key while the ticket is open, NULL otherwise: at most one open ticket per key, across
    -- every collector sharing the database.
    open_key              TEXT UNIQUE,
    state                 TEXT NOT NULL,
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL,
    check_name            TEXT NOT NULL,
    resource              TEXT NOT NULL,
    device_id             TEXT REFERENCES devices (id),
    scope                 TEXT,
    fingerprint           TEXT NOT NULL,
    severity              TEXT NOT NULL,
    impact                TEXT NOT NULL,
    urgency               TEXT NOT NULL,
    priority              BIGINT NOT NULL,
    tier                  BIGINT NOT NULL DEFAULT 1,
    assignee              TEXT,
    staff_owned           BIGINT NOT NULL DEFAULT 0,
    vip                   BIGINT NOT NULL DEFAULT 0,
    device_count          BIGINT NOT NULL DEFAULT 0,
    opened_at_ms          BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL,
    resolved_at_ms        BIGINT,
    closed_at_ms          BIGINT,
    first_response_at_ms  BIGINT,
    response_due_ms       BIGINT NOT NULL,
    resolution_due_ms     BIGINT NOT NULL,
    pending_since_ms      BIGINT,
    response_breached     BIGINT NOT NULL DEFAULT 0,
    resolution_breached   BIGINT NOT NULL DEFAULT 0,
    reopen_count          BIGINT NOT NULL DEFAULT 0,
    incident_id           BIGINT REFERENCES tickets (id),
    resolution            TEXT
);
CREATE INDEX tickets_by_key ON tickets (ticket_key, id);
CREATE INDEX tickets_by_state ON tickets (state, priority);
CREATE INDEX tickets_by_fingerprint ON tickets (fingerprint, opened_at_ms);
CREATE INDEX tickets_by_device ON tickets (device_id);

-- Devices a ticket lists; an incident grows here.
CREATE TABLE ticket_devices (
    ticket_id        BIGINT NOT NULL REFERENCES tickets (id),
    device_id        TEXT NOT NULL REFERENCES devices (id),
    added_at_ms      BIGINT NOT NULL,
    recovered_at_ms  BIGINT,
    PRIMARY KEY (ticket_id, device_id)
);

-- Tickets about the same trouble: a user's report and the device's open condition tickets.
CREATE TABLE ticket_links (
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    linked_id  BIGINT NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (ticket_id, linked_id)
);

-- The timeline: every state change, note, piece of evidence and escalation.
CREATE TABLE ticket_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    at_ms       BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT,
    text        TEXT NOT NULL,
    data_json   TEXT
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);

CREATE TABLE conditions (
    device_id        TEXT NOT NULL REFERENCES devices (id),
    check_name       TEXT NOT NULL,
    resource         TEXT NOT NULL,
    state            TEXT NOT NULL,
    observed_firing  BIGINT NOT NULL,
    severity         TEXT NOT NULL,
    summary          TEXT NOT NULL,
    evidence_json    TEXT NOT NULL,
    since_ms         BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL,
    -- Recent changes between firing and clear (JSON array of ms), for flap detection, and the
    -- last of them: a flapping condition settles a whole flap window after it.
    changes_json     TEXT NOT NULL,
    changed_at_ms    BIGINT NOT NULL,
    ticket_id        BIGINT REFERENCES tickets (id),
    -- "app=NAME@VERSION" when the evidence names the application's version: a scope of its own.
    app_scope        TEXT,
    PRIMARY KEY (device_id, check_name, resource)
);
CREATE INDEX conditions_by_check ON conditions (check_name, state, since_ms);
CREATE INDEX conditions_by_ticket ON conditions (ticket_id);
CREATE INDEX conditions_by_app_scope ON conditions (app_scope, check_name);

-- Problems and solutions: what fixed a fingerprint, and how often.
CREATE TABLE solutions (
    fingerprint    TEXT NOT NULL,
    solution       TEXT NOT NULL,
    check_name     TEXT NOT NULL,
    worked_count   BIGINT NOT NULL,
    first_at_ms    BIGINT NOT NULL,
    last_at_ms     BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, solution)
);

CREATE TABLE problems (
    fingerprint    TEXT PRIMARY KEY,
    check_name     TEXT NOT NULL,
    flagged_at_ms  BIGINT NOT NULL
);

-- One row per check name, locked (PostgreSQL: FOR UPDATE) while a transaction decides tickets
-- for that check, so collectors sharing the database take turns instead of racing.
CREATE TABLE check_locks (
    check_name  TEXT PRIMARY KEY
);

-- Technician-triggered reproduction: waits for the device, is sent down its stream, and its
-- result lands on the ticket's timeline; requests nobody answers expire visibly.
CREATE TABLE reproduce_requests (
    id             TEXT PRIMARY KEY,
    ticket_id      BIGINT REFERENCES tickets (id),
    device_id      TEXT NOT NULL REFERENCES devices (id),
    playbook       TEXT NOT NULL,
    target         TEXT,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed', 'expired')),
    requested_by   TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    sent_at_ms     BIGINT,
    done_at_ms     BIGINT,
    result_json    TEXT,
    error          TEXT
);
CREATE INDEX reproduce_requests_by_device ON reproduce_requests (device_id, state);
