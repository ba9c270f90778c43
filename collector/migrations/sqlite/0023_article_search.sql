-- Articles in the one search (issue 18): each is a knowledge document of its own,
-- `article/ID`, beside the solutions log's documents (one per fingerprint).
CREATE TRIGGER search_article_inserted AFTER INSERT ON articles BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', 'article/' || NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'knowledge' AND entity_id = 'article/' || NEW.id);
END;
CREATE TRIGGER search_article_updated AFTER UPDATE ON articles BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', 'article/' || NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'knowledge' AND entity_id = 'article/' || NEW.id);
END;
CREATE TRIGGER search_article_deleted AFTER DELETE ON articles BEGIN
    INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', 'article/' || OLD.id
    WHERE NOT EXISTS (SELECT 1 FROM search_stale WHERE kind = 'knowledge' AND entity_id = 'article/' || OLD.id);
END;

INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', 'article/' || id FROM articles;
