-- Notification channels: what happened to tickets (written in the same transaction as the
-- change), expanded into one durable delivery per channel that wants it, retried with
-- backoff until delivered or given up. Delivery survives restarts.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id        BIGINT NOT NULL REFERENCES tickets (id),
    event            TEXT NOT NULL,
    at_ms            BIGINT NOT NULL,
    expanded_at_ms   BIGINT
);
CREATE INDEX notifications_unexpanded ON notifications (expanded_at_ms, id);

CREATE TABLE deliveries (
    id                  TEXT PRIMARY KEY,
    channel             TEXT NOT NULL,
    notification_id     BIGINT NOT NULL REFERENCES notifications (id),
    ticket_id           BIGINT NOT NULL REFERENCES tickets (id),
    event               TEXT NOT NULL,
    payload_json        TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms  BIGINT NOT NULL,
    last_error          TEXT,
    delivered_at_ms     BIGINT,
    UNIQUE (channel, notification_id)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms);
