-- Sign-in limits per account as well as per address: each attempt gets an id so that one
-- refused by a limit (never checked against the password) can be set aside; those do not
-- lengthen the account's backoff, so a flood of refused guesses cannot keep its owner out.
ALTER TABLE login_failures ADD COLUMN attempt_id TEXT;
ALTER TABLE login_failures ADD COLUMN throttled_at_ms BIGINT;
CREATE INDEX login_failures_by_peer ON login_failures (peer, at_ms);
