-- What the limits read often: collectors look for devices revoked anywhere every 2 s, and
-- sign-in attempts are forgotten by age and set aside by id on every attempt.
CREATE INDEX devices_by_revoked ON devices (revoked_at_ms);
CREATE INDEX login_failures_by_age ON login_failures (at_ms);
CREATE INDEX login_failures_by_attempt ON login_failures (attempt_id);
