-- A device over one of its budgets ([limits]: findings per second, conditions, report
-- tickets per hour, scopes per inventory) is noted once on its own row, shown on its page.
ALTER TABLE devices ADD COLUMN budget_note TEXT;
ALTER TABLE devices ADD COLUMN budget_note_at_ms BIGINT;
