-- Paging `GET /api/v1/tickets` for integrations: `changed_since` and its cursor walk tickets by
-- (updated_at_ms, id); the default order, by id, is the primary key's.
CREATE INDEX tickets_by_updated ON tickets (updated_at_ms, id);
-- The queue's filters by assignee and by requester (`Store::tickets`).
CREATE INDEX tickets_by_assignee ON tickets (assignee, id);
CREATE INDEX tickets_by_requester ON tickets (requester, id);
