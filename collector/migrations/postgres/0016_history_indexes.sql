-- What keeps the pages and lists fast with a year of history (`cargo xtask bench history`).

-- Stats count a period's findings (through 0015's findings_by_received), tickets and answers.
CREATE INDEX tickets_by_opened ON tickets (opened_at_ms);
CREATE INDEX ticket_feedback_by_time ON ticket_feedback (at_ms);
-- The tickets a user report was linked to (stats: tickets no report reached).
CREATE INDEX ticket_links_by_linked ON ticket_links (linked_id, ticket_id);
-- A device's tickets, incidents included (its page, `GET /api/v1/tickets?device=`).
CREATE INDEX ticket_devices_by_device ON ticket_devices (device_id, ticket_id);
-- The queue's order, open tickets first (`Store::tickets`): a list walks it and stops at its
-- limit; the open ones are the range where the first column is 0.
CREATE INDEX tickets_by_queue_order ON tickets
    ((CASE WHEN open_key IS NULL THEN 1 ELSE 0 END), priority, resolution_due_ms, id);
