-- The knowledge base staff write: articles in Markdown, each linked to the checks (by
-- prefix: "dns." or "disk.free_low", space-separated) and fault fingerprints it answers, and
-- suggested on the tickets that match; and canned replies admins keep for the reply form.
CREATE TABLE articles (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    checks         TEXT NOT NULL DEFAULT '',
    fingerprints   TEXT NOT NULL DEFAULT '',
    author         TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);

CREATE TABLE canned_replies (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT NOT NULL UNIQUE,
    body           TEXT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
