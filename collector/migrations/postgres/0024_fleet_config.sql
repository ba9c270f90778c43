-- Fleet configuration (issue 15): groups of devices, policies in agent.toml's own schema
-- attached to groups, each change a new version (who, when, why: the audit trail), and what
-- each device says it runs.
CREATE TABLE device_groups (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    -- 'site' (devices at `site`), 'rule' (hostname pattern and/or OS), 'manual' (members).
    kind              TEXT NOT NULL CHECK (kind IN ('site', 'rule', 'manual')),
    site              TEXT,
    hostname_pattern  TEXT,
    os_contains       TEXT,
    created_by        TEXT NOT NULL,
    created_at_ms     BIGINT NOT NULL
);

CREATE TABLE device_group_members (
    group_id   BIGINT NOT NULL REFERENCES device_groups (id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, device_id)
);

CREATE TABLE policies (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    group_id       BIGINT NOT NULL REFERENCES device_groups (id),
    -- Higher wins where two policies of a device set the same key.
    precedence     BIGINT NOT NULL DEFAULT 0,
    -- The version in force (a row of policy_versions).
    version        BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    policy_id  BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    toml       TEXT NOT NULL,
    author     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (policy_id, version)
);

-- Bumped by every change to groups and policies: sessions of every collector compare it to
-- push what changed.
CREATE TABLE fleet_generation (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    value  BIGINT NOT NULL
);
INSERT INTO fleet_generation (id, value) VALUES (1, 0);

ALTER TABLE devices ADD COLUMN config_version TEXT;
ALTER TABLE devices ADD COLUMN config_refused_version TEXT;
ALTER TABLE devices ADD COLUMN config_error TEXT;
ALTER TABLE devices ADD COLUMN config_reported_at_ms BIGINT;

-- Safe rollout: a new version goes first to its canaries (a share of the group's devices,
-- picked when the rollout starts, and/or a canary group); the others run `stable_version`
-- until it is promoted (or rolled back).
ALTER TABLE policies ADD COLUMN stable_version BIGINT;
ALTER TABLE policies ADD COLUMN canary_group_id BIGINT REFERENCES device_groups (id);
CREATE TABLE policy_canaries (
    policy_id  BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    PRIMARY KEY (policy_id, device_id)
);
