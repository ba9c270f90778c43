-- Enrollment tokens are stored hashed (SHA-256 of a 256-bit random secret) and used at most once.
CREATE TABLE enrollment_tokens (
    token_hash      BLOB PRIMARY KEY,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    used_at_ms      INTEGER,
    used_by_device  TEXT
);

CREATE TABLE devices (
    id                        TEXT PRIMARY KEY,
    hostname                  TEXT NOT NULL,
    agent_version             TEXT NOT NULL,
    enrolled_at_ms            INTEGER NOT NULL,
    certificate_serial        TEXT NOT NULL,
    certificate_not_after_ms  INTEGER NOT NULL,
    revoked_at_ms             INTEGER,
    os_name                   TEXT,
    os_version                TEXT,
    inventory_json            TEXT,
    inventory_at_ms           INTEGER,
    last_seen_at_ms           INTEGER,
    -- Highest finding sequence of this device that is committed; acks never exceed it.
    committed_sequence        INTEGER NOT NULL DEFAULT 0
);

-- (device_id, sequence) makes redelivery harmless.
CREATE TABLE findings (
    device_id       TEXT NOT NULL REFERENCES devices (id),
    sequence        INTEGER NOT NULL,
    check_name      TEXT NOT NULL,
    resource        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    evidence_json   TEXT NOT NULL,
    observed_at_ms  INTEGER NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (device_id, sequence)
) WITHOUT ROWID;

CREATE TABLE api_keys (
    key_hash       BLOB PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('technician', 'supervisor', 'admin')),
    created_at_ms  INTEGER NOT NULL,
    revoked_at_ms  INTEGER
);
