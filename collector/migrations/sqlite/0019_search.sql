-- Search (issue 18): one document per ticket, device, person and knowledge entry, its words
-- in an FTS5 index. The words are made by the collector (`store/search.rs`: lower case,
-- accents folded, Chinese/Japanese/Korean as overlapping pairs of characters) and joined by
-- spaces, so the index only splits on spaces: the `ascii` tokenizer keeps every non-ASCII
-- character, and PostgreSQL indexes the very same words.
CREATE TABLE search_documents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('ticket', 'device', 'person', 'knowledge')),
    entity_id  TEXT NOT NULL,
    label      TEXT NOT NULL,
    -- The readable text the words came from, for snippets.
    body       TEXT NOT NULL,
    UNIQUE (kind, entity_id)
);
-- rowid = search_documents.id.
CREATE VIRTUAL TABLE search_terms USING fts5 (terms, tokenize = 'ascii');

-- What changed since it was indexed: triggers mark it here (one small row, so ingest stays
-- fast), and the next search (or `Store::refresh_search_index`) rebuilds its document first.
-- The triggers insert WHERE NOT EXISTS, never OR IGNORE: an UPSERT that fires them imposes
-- its own conflict policy (ABORT) on their statements.
CREATE TABLE search_stale (
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    PRIMARY KEY (kind, entity_id)
) WITHOUT ROWID;

CREATE TRIGGER search_ticket_inserted AFTER INSERT ON tickets BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(NEW.id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER search_ticket_updated AFTER UPDATE OF title, description, requester, device_id ON tickets
WHEN OLD.title IS NOT NEW.title OR OLD.description IS NOT NEW.description
  OR OLD.requester IS NOT NEW.requester OR OLD.device_id IS NOT NEW.device_id BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(NEW.id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER search_ticket_deleted AFTER DELETE ON tickets BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(OLD.id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(OLD.id AS TEXT));
END;
CREATE TRIGGER search_event_inserted AFTER INSERT ON ticket_events BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(NEW.ticket_id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(NEW.ticket_id AS TEXT));
END;
-- Retention empties `data_json`: the pruned evidence leaves the index with it.
CREATE TRIGGER search_event_updated AFTER UPDATE OF text, data_json ON ticket_events
WHEN OLD.text IS NOT NEW.text OR OLD.data_json IS NOT NEW.data_json BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(NEW.ticket_id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(NEW.ticket_id AS TEXT));
END;
CREATE TRIGGER search_event_deleted AFTER DELETE ON ticket_events BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(OLD.ticket_id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(OLD.ticket_id AS TEXT));
END;
CREATE TRIGGER search_ticket_device_inserted AFTER INSERT ON ticket_devices BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(NEW.ticket_id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(NEW.ticket_id AS TEXT));
END;
CREATE TRIGGER search_ticket_device_deleted AFTER DELETE ON ticket_devices BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(OLD.ticket_id AS TEXT)
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'ticket' AND entity_id = CAST(OLD.ticket_id AS TEXT));
END;
CREATE TRIGGER search_device_inserted AFTER INSERT ON devices BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'device', NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'device' AND entity_id = NEW.id);
END;
CREATE TRIGGER search_device_updated AFTER UPDATE OF hostname, site, os_name, os_version, users_json ON devices
WHEN OLD.hostname IS NOT NEW.hostname OR OLD.site IS NOT NEW.site OR OLD.os_name IS NOT NEW.os_name
  OR OLD.os_version IS NOT NEW.os_version OR OLD.users_json IS NOT NEW.users_json BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'device', NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'device' AND entity_id = NEW.id);
END;
CREATE TRIGGER search_device_deleted AFTER DELETE ON devices BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'device', OLD.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'device' AND entity_id = OLD.id);
END;
CREATE TRIGGER search_person_inserted AFTER INSERT ON people BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'person', NEW.account
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'person' AND entity_id = NEW.account);
END;
CREATE TRIGGER search_person_updated AFTER UPDATE OF display_name, email ON people
WHEN OLD.display_name IS NOT NEW.display_name OR OLD.email IS NOT NEW.email BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'person', NEW.account
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'person' AND entity_id = NEW.account);
END;
CREATE TRIGGER search_person_deleted AFTER DELETE ON people BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'person', OLD.account
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'person' AND entity_id = OLD.account);
END;
CREATE TRIGGER search_solution_inserted AFTER INSERT ON solutions BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', NEW.fingerprint
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'knowledge' AND entity_id = NEW.fingerprint);
END;
CREATE TRIGGER search_solution_deleted AFTER DELETE ON solutions BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', OLD.fingerprint
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'knowledge' AND entity_id = OLD.fingerprint);
END;

-- Backfill: everything already stored is indexed by the first search after the upgrade.
INSERT INTO search_stale (kind, entity_id) SELECT 'ticket', CAST(id AS TEXT) FROM tickets;
INSERT INTO search_stale (kind, entity_id) SELECT 'device', id FROM devices;
INSERT INTO search_stale (kind, entity_id) SELECT 'person', account FROM people;
INSERT INTO search_stale (kind, entity_id) SELECT DISTINCT 'knowledge', fingerprint FROM solutions;
