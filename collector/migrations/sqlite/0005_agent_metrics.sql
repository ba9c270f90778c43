-- What each agent says about itself in its heartbeats, latest only: one UPDATE of the device's
-- row per heartbeat, no history (that is for a time-series database scraping /metrics).
ALTER TABLE devices ADD COLUMN agent_cycle_ms BIGINT;
ALTER TABLE devices ADD COLUMN agent_rss_bytes BIGINT;
ALTER TABLE devices ADD COLUMN agent_outbox_depth BIGINT;
ALTER TABLE devices ADD COLUMN agent_metrics_at_ms BIGINT;

-- /metrics counts tickets opened and resolved from the notifications written with those
-- changes; by event, the count reads this index alone instead of the table.
CREATE INDEX notifications_by_event ON notifications (event);
