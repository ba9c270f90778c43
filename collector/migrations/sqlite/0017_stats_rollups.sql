-- What keeps the stats of long windows fast with a year of history (`store/stats.rs`).

-- Findings received per UTC day (`day_start_ms`, a multiple of 86,400,000), kept for days
-- settled long enough ago that no commit can still add to them; filled lazily by the stats
-- from `findings`, and dropped by retention for the days it prunes, so a sum of them always
-- equals counting the findings themselves.
CREATE TABLE stats_findings_days (
    day_start_ms  BIGINT PRIMARY KEY,
    findings      BIGINT NOT NULL
);
-- Fix stats count the tickets ever resolved: through this index, not the table.
CREATE INDEX tickets_by_resolved ON tickets (resolved_at_ms);
