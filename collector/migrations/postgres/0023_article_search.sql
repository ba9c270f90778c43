-- Articles in the one search (issue 18): each is a knowledge document of its own,
-- `article/ID`, beside the solutions log's documents (one per fingerprint).
CREATE FUNCTION search_mark_article() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    INSERT INTO search_stale (kind, entity_id) VALUES ('knowledge', 'article/' || changed.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER search_article_changed AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION search_mark_article();

INSERT INTO search_stale (kind, entity_id) SELECT 'knowledge', 'article/' || id::text FROM articles;
