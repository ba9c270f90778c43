-- Retention ([retention], store/retention.rs): per-event history is pruned by age, a batch at
-- a time. Each batch finds its rows through one of these indexes instead of scanning.
CREATE INDEX findings_by_received ON findings (received_at_ms);
-- Only entries that still hold evidence: those already pruned leave the index.
CREATE INDEX ticket_events_with_data ON ticket_events (ticket_id, id) WHERE data_json IS NOT NULL;
CREATE INDEX deliveries_by_notification ON deliveries (notification_id);
CREATE INDEX reproduce_requests_by_done ON reproduce_requests (done_at_ms);
CREATE INDEX user_notices_by_sent ON user_notices (sent_at_ms);

-- Notifications pruned, by event: /metrics counts tickets opened and resolved from the
-- notifications written with them, and adds these so the counts still only grow.
CREATE TABLE notification_tallies (
    event   TEXT PRIMARY KEY,
    pruned  BIGINT NOT NULL
);
