-- PostgreSQL twin of migrations/sqlite/0001_foundation.sql: same tables, same meaning.
CREATE TABLE enrollment_tokens (
    token_hash      BYTEA PRIMARY KEY,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    used_at_ms      BIGINT,
    used_by_device  TEXT
);

CREATE TABLE devices (
    id                        TEXT PRIMARY KEY,
    hostname                  TEXT NOT NULL,
    agent_version             TEXT NOT NULL,
    enrolled_at_ms            BIGINT NOT NULL,
    certificate_serial        TEXT NOT NULL,
    certificate_not_after_ms  BIGINT NOT NULL,
    revoked_at_ms             BIGINT,
    os_name                   TEXT,
    os_version                TEXT,
    inventory_json            TEXT,
    inventory_at_ms           BIGINT,
    last_seen_at_ms           BIGINT,
    committed_sequence        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE findings (
    device_id       TEXT NOT NULL REFERENCES devices (id),
    sequence        BIGINT NOT NULL,
    check_name      TEXT NOT NULL,
    resource        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    evidence_json   TEXT NOT NULL,
    observed_at_ms  BIGINT NOT NULL,
    received_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (device_id, sequence)
);

CREATE TABLE api_keys (
    key_hash       BYTEA PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('technician', 'supervisor', 'admin')),
    created_at_ms  BIGINT NOT NULL,
    revoked_at_ms  BIGINT
);
