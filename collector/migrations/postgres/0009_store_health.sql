-- One row the store-health probe rewrites: a write that must reach the disk, so a full disk
-- or a read-only file shows up on /healthz even when no agent is sending.
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at_ms BIGINT NOT NULL
);

-- Things an administrator must know about the collector itself, not about a device's health:
-- an agent whose acknowledged findings the database no longer holds (restored backup, lost
-- WAL). Raised once per dedupe key, shown to admins until acknowledged.
CREATE TABLE collector_alerts (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    device_id TEXT,
    detail TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    raised_at_ms BIGINT NOT NULL,
    acknowledged_at_ms BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX collector_alerts_open ON collector_alerts (acknowledged_at_ms, raised_at_ms);
