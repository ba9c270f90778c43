-- Fixes (issue 20): the collector asks an agent to run a named fix compiled into it, and the
-- ticket closes the loop with the fix's verification.
--
-- A rollout is one fix for one ticket: started by policy (`auto`), a technician (`approve`)
-- or a user's consent (`ask-user`); for an incident it runs on a few canary devices first and
-- stops fleet-wide when they, or too many others, are not fixed. It ends done or stopped,
-- once; pressing "Apply fix" again starts it anew (a new attempt).
CREATE TABLE fix_rollouts (
    ticket_id      BIGINT NOT NULL REFERENCES tickets (id),
    fix            TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('running', 'done', 'stopped')),
    allowed_by     TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    ended_at_ms    BIGINT,
    outcome        TEXT,
    -- A technician may aim at one device of the ticket, and add parameters (JSON object).
    only_device    TEXT,
    extra_json     TEXT,
    PRIMARY KEY (ticket_id, fix)
);
CREATE INDEX fix_rollouts_running ON fix_rollouts (state, ticket_id);

-- One request to one device: queued until its device connects, sent, then answered
-- (verified, not_verified, failed, refused), expired, or cancelled by a stopped rollout.
CREATE TABLE fix_runs (
    id             TEXT PRIMARY KEY,
    ticket_id      BIGINT NOT NULL REFERENCES tickets (id),
    device_id      TEXT NOT NULL REFERENCES devices (id),
    fix            TEXT NOT NULL,
    parameters_json TEXT NOT NULL,
    allowed_by     TEXT NOT NULL,
    consent_account TEXT,
    fingerprint    TEXT NOT NULL,
    rollout_attempt BIGINT NOT NULL,
    try_number     BIGINT NOT NULL,
    canary         BIGINT NOT NULL DEFAULT 0,
    state          TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    sent_at_ms     BIGINT,
    done_at_ms     BIGINT,
    report_json    TEXT,
    error          TEXT,
    UNIQUE (ticket_id, fix, device_id, rollout_attempt, try_number)
);
CREATE INDEX fix_runs_by_device ON fix_runs (device_id, state, created_at_ms);
CREATE INDEX fix_runs_by_ticket ON fix_runs (ticket_id, fix);
CREATE INDEX fix_runs_by_fingerprint ON fix_runs (fingerprint, fix, state);
CREATE INDEX fix_runs_waiting ON fix_runs (state, expires_at_ms);

-- A fix's mode set through the admin API (beats the config file's at the same level); the
-- empty site is every site.
CREATE TABLE fix_policies (
    fix            TEXT NOT NULL,
    site           TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('auto', 'approve', 'ask-user', 'off')),
    updated_by     TEXT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (fix, site)
);

-- A report's diagnosis, found from its link (report_links names device and report id).
CREATE INDEX findings_user_reports ON findings (device_id, resource) WHERE check_name = 'user.report';
