-- The contact directory: who an OS account is (a name staff can address, an e-mail address,
-- the language they read). Imported from CSV or edited by admins; accounts not in it still
-- work everywhere, shown by their account name.
CREATE TABLE people (
    account TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    email TEXT,
    language TEXT,
    updated_at_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
