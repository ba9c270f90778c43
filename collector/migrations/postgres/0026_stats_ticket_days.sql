-- The tickets of each settled UTC day, summed up for the stats of long windows
-- (`store/stats.rs`): a year of stats adds up 365 rows instead of grouping 100,000 tickets.
-- `figures` (JSON) was made when the day's `generation` was `figures_generation`; every write
-- that changes what the stats say about a ticket of a day more than a day old bumps that
-- day's generation (in the writer's transaction), so a summary made from a snapshot older than
-- the day's last change is never used. Today's tickets bump nothing: collectors writing them
-- never wait on each other here.
CREATE TABLE stats_ticket_days (
    day_start_ms        BIGINT PRIMARY KEY,
    generation          BIGINT NOT NULL DEFAULT 0,
    figures_generation  BIGINT,
    figures             TEXT
);

CREATE FUNCTION stats_bump_ticket_day(opened_at_ms BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF opened_at_ms IS NULL
       OR opened_at_ms >= (EXTRACT(EPOCH FROM clock_timestamp())::BIGINT - 86400) * 1000 THEN
        RETURN;
    END IF;
    INSERT INTO stats_ticket_days (day_start_ms, generation)
    VALUES (opened_at_ms - opened_at_ms % 86400000, 1)
    ON CONFLICT (day_start_ms) DO UPDATE SET generation = stats_ticket_days.generation + 1;
END;
$$;

CREATE FUNCTION stats_mark_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_bump_ticket_day(OLD.opened_at_ms);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND (TG_OP = 'INSERT' OR NEW.opened_at_ms - NEW.opened_at_ms % 86400000
                                <> OLD.opened_at_ms - OLD.opened_at_ms % 86400000) THEN
        PERFORM stats_bump_ticket_day(NEW.opened_at_ms);
    END IF;
    RETURN NULL;
END;
$$;

-- What the stats read of a ticket: opened, kind, state, priority, check, assignee, fingerprint,
-- device and scope (its site), its times and targets, its resolution.
CREATE TRIGGER stats_ticket_added_or_removed AFTER INSERT OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION stats_mark_ticket();
CREATE TRIGGER stats_ticket_updated AFTER UPDATE ON tickets
    FOR EACH ROW
    WHEN (OLD.opened_at_ms IS DISTINCT FROM NEW.opened_at_ms OR OLD.kind IS DISTINCT FROM NEW.kind
          OR OLD.state IS DISTINCT FROM NEW.state OR OLD.priority IS DISTINCT FROM NEW.priority
          OR OLD.check_name IS DISTINCT FROM NEW.check_name OR OLD.assignee IS DISTINCT FROM NEW.assignee
          OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.device_id IS DISTINCT FROM NEW.device_id
          OR OLD.scope IS DISTINCT FROM NEW.scope
          OR OLD.first_response_at_ms IS DISTINCT FROM NEW.first_response_at_ms
          OR OLD.resolved_at_ms IS DISTINCT FROM NEW.resolved_at_ms
          OR OLD.response_due_ms IS DISTINCT FROM NEW.response_due_ms
          OR OLD.resolution_due_ms IS DISTINCT FROM NEW.resolution_due_ms
          OR OLD.resolution IS DISTINCT FROM NEW.resolution)
    EXECUTE FUNCTION stats_mark_ticket();

-- Whether a user report reached a ticket ("opened by checks without a report").
CREATE FUNCTION stats_mark_linked_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'report_links' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM stats_bump_ticket_day((SELECT opened_at_ms FROM tickets WHERE id = OLD.ticket_id));
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM stats_bump_ticket_day((SELECT opened_at_ms FROM tickets WHERE id = NEW.ticket_id));
        END IF;
    ELSE
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM stats_bump_ticket_day((SELECT opened_at_ms FROM tickets WHERE id = OLD.linked_id));
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM stats_bump_ticket_day((SELECT opened_at_ms FROM tickets WHERE id = NEW.linked_id));
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER stats_report_link_changed AFTER INSERT OR UPDATE OR DELETE ON report_links
    FOR EACH ROW EXECUTE FUNCTION stats_mark_linked_ticket();
CREATE TRIGGER stats_ticket_link_changed AFTER INSERT OR UPDATE OR DELETE ON ticket_links
    FOR EACH ROW EXECUTE FUNCTION stats_mark_linked_ticket();

-- A device's tickets are counted at its site: a move changes every day it had tickets on.
CREATE FUNCTION stats_mark_device_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stats_ticket_days SET generation = generation + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER stats_device_moved AFTER UPDATE OF site ON devices
    FOR EACH ROW WHEN (OLD.site IS DISTINCT FROM NEW.site)
    EXECUTE FUNCTION stats_mark_device_moved();
