-- Search (issue 18): one document per ticket, device, person and knowledge entry, its words
-- in a tsvector with a GIN index. The words are made by the collector (`store/search.rs`:
-- lower case, accents folded, Chinese/Japanese/Korean as overlapping pairs of characters)
-- and cast to a tsvector as they are, so PostgreSQL's parser (which depends on the
-- database's locale) never splits them and SQLite indexes the very same words.
CREATE TABLE search_documents (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('ticket', 'device', 'person', 'knowledge')),
    entity_id  TEXT NOT NULL,
    label      TEXT NOT NULL,
    -- The readable text the words came from, for snippets.
    body       TEXT NOT NULL,
    terms      TSVECTOR NOT NULL,
    UNIQUE (kind, entity_id)
);
CREATE INDEX search_documents_terms ON search_documents USING GIN (terms);

-- What changed since it was indexed: triggers mark it here (one small row, so ingest stays
-- fast), and the next search (or `Store::refresh_search_index`) rebuilds its document first.
-- Not unique: a mark never waits for another transaction's mark of the same thing (a unique
-- key would make two writers touching the same tickets wait on each other, even deadlock).
CREATE TABLE search_stale (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL
);
CREATE INDEX search_stale_by_entity ON search_stale (kind, entity_id);

-- TG_ARGV[0]: the kind; the entity is the row's `id`, `ticket_id`, `account` or `fingerprint`.
CREATE FUNCTION search_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed RECORD;
    entity TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    IF TG_TABLE_NAME IN ('tickets', 'devices') THEN entity := changed.id::text;
    ELSIF TG_TABLE_NAME IN ('ticket_events', 'ticket_devices') THEN entity := changed.ticket_id::text;
    ELSIF TG_TABLE_NAME = 'people' THEN entity := changed.account;
    ELSE entity := changed.fingerprint;
    END IF;
    INSERT INTO search_stale (kind, entity_id) VALUES (TG_ARGV[0], entity);
    RETURN NULL;
END;
$$;

CREATE TRIGGER search_ticket_inserted AFTER INSERT OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('ticket');
CREATE TRIGGER search_ticket_updated AFTER UPDATE OF title, description, requester, device_id ON tickets
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description
        OR OLD.requester IS DISTINCT FROM NEW.requester OR OLD.device_id IS DISTINCT FROM NEW.device_id)
    EXECUTE FUNCTION search_mark_stale('ticket');
CREATE TRIGGER search_event_inserted AFTER INSERT OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('ticket');
-- Retention empties `data_json`: the pruned evidence leaves the index with it.
CREATE TRIGGER search_event_updated AFTER UPDATE OF text, data_json ON ticket_events
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.data_json IS DISTINCT FROM NEW.data_json)
    EXECUTE FUNCTION search_mark_stale('ticket');
CREATE TRIGGER search_ticket_device_changed AFTER INSERT OR DELETE ON ticket_devices
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('ticket');
CREATE TRIGGER search_device_inserted AFTER INSERT OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('device');
CREATE TRIGGER search_device_updated AFTER UPDATE OF hostname, site, os_name, os_version, users_json ON devices
    FOR EACH ROW WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.site IS DISTINCT FROM NEW.site
        OR OLD.os_name IS DISTINCT FROM NEW.os_name OR OLD.os_version IS DISTINCT FROM NEW.os_version
        OR OLD.users_json IS DISTINCT FROM NEW.users_json)
    EXECUTE FUNCTION search_mark_stale('device');
CREATE TRIGGER search_person_changed AFTER INSERT OR DELETE ON people
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('person');
CREATE TRIGGER search_person_updated AFTER UPDATE OF display_name, email ON people
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION search_mark_stale('person');
CREATE TRIGGER search_solution_changed AFTER INSERT OR DELETE ON solutions
    FOR EACH ROW EXECUTE FUNCTION search_mark_stale('knowledge');

-- Backfill: everything already stored is indexed by the first search after the upgrade.
INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', id::text FROM tickets;
INSERT INTO search_stale (kind, entity_id) SELECT 'device', id FROM devices;
INSERT INTO search_stale (kind, entity_id) SELECT 'person', account FROM people;
INSERT INTO search_stale (kind, entity_id) SELECT DISTINCT 'knowledge', fingerprint FROM solutions;
