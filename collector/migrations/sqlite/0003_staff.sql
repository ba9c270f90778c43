-- Staff who sign in to the web UI and API: argon2 password hashes, server-side sessions (the
-- cookie holds a random token, stored hashed) with a CSRF token each, and failed sign-ins
-- remembered for rate limiting.
CREATE TABLE users (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('technician', 'supervisor', 'admin')),
    password_hash   TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    disabled_at_ms  BIGINT
);

CREATE TABLE sessions (
    token_hash      BLOB PRIMARY KEY,
    user_name       TEXT NOT NULL REFERENCES users (name),
    csrf_token      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);

CREATE TABLE login_failures (
    user_name  TEXT NOT NULL,
    peer       TEXT,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX login_failures_by_user ON login_failures (user_name, at_ms);
