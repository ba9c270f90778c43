-- The tickets of each settled UTC day, summed up for the stats of long windows
-- (`store/stats.rs`): a year of stats adds up 365 rows instead of grouping 100,000 tickets.
-- `figures` (JSON) was made when the day's `generation` was `figures_generation`; every write
-- that changes what the stats say about a ticket of a day more than a day old bumps that
-- day's generation, so a summary older than the day's last change is never used. Days
-- younger than that are never summed up (the stats count them live). A day without a row has
-- no summary to outdate: the stats make its row before summing it up, under the write lock.
CREATE TABLE stats_ticket_days (
    day_start_ms        BIGINT PRIMARY KEY,
    generation          BIGINT NOT NULL DEFAULT 0,
    figures_generation  BIGINT,
    figures             TEXT
);

-- What the stats read of a ticket: opened, kind, state, priority, check, assignee, fingerprint,
-- device and scope (its site), its times and targets, its resolution.
CREATE TRIGGER stats_ticket_inserted AFTER INSERT ON tickets
WHEN NEW.opened_at_ms < (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000
BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = NEW.opened_at_ms - NEW.opened_at_ms % 86400000;
END;

CREATE TRIGGER stats_ticket_updated AFTER UPDATE ON tickets
WHEN (OLD.opened_at_ms < (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000
      OR NEW.opened_at_ms < (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000)
 AND (OLD.opened_at_ms IS NOT NEW.opened_at_ms OR OLD.kind IS NOT NEW.kind
      OR OLD.state IS NOT NEW.state OR OLD.priority IS NOT NEW.priority
      OR OLD.check_name IS NOT NEW.check_name OR OLD.assignee IS NOT NEW.assignee
      OR OLD.fingerprint IS NOT NEW.fingerprint OR OLD.device_id IS NOT NEW.device_id
      OR OLD.scope IS NOT NEW.scope OR OLD.first_response_at_ms IS NOT NEW.first_response_at_ms
      OR OLD.resolved_at_ms IS NOT NEW.resolved_at_ms OR OLD.response_due_ms IS NOT NEW.response_due_ms
      OR OLD.resolution_due_ms IS NOT NEW.resolution_due_ms OR OLD.resolution IS NOT NEW.resolution)
BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms IN (OLD.opened_at_ms - OLD.opened_at_ms % 86400000,
                           NEW.opened_at_ms - NEW.opened_at_ms % 86400000);
END;

CREATE TRIGGER stats_ticket_deleted AFTER DELETE ON tickets BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = OLD.opened_at_ms - OLD.opened_at_ms % 86400000;
END;

-- Whether a user report reached a ticket ("opened by checks without a report").
CREATE TRIGGER stats_report_link_inserted AFTER INSERT ON report_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets WHERE id = NEW.ticket_id);
END;
CREATE TRIGGER stats_report_link_updated AFTER UPDATE ON report_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms IN (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets
                           WHERE id IN (OLD.ticket_id, NEW.ticket_id));
END;
CREATE TRIGGER stats_report_link_deleted AFTER DELETE ON report_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets WHERE id = OLD.ticket_id);
END;
CREATE TRIGGER stats_ticket_link_inserted AFTER INSERT ON ticket_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets WHERE id = NEW.linked_id);
END;
CREATE TRIGGER stats_ticket_link_updated AFTER UPDATE ON ticket_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms IN (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets
                           WHERE id IN (OLD.linked_id, NEW.linked_id));
END;
CREATE TRIGGER stats_ticket_link_deleted AFTER DELETE ON ticket_links BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1
    WHERE day_start_ms = (SELECT opened_at_ms - opened_at_ms % 86400000 FROM tickets WHERE id = OLD.linked_id);
END;

-- A device's tickets are counted at its site: a move changes every day it had tickets on.
CREATE TRIGGER stats_device_moved AFTER UPDATE OF site ON devices
WHEN OLD.site IS NOT NEW.site
BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1;
END;
