-- Reports do not flood the queue (issue 19). Every user report is linked to the one ticket
-- that took it: the report ticket it opened, the requester's open report ticket it joined
-- (same device, requester and diagnosis within [tickets] report_join_window), or the open
-- fleet incident that explains it (a known outage). The help page reads the outcome by
-- (device, report id); the stats count reports answered by a known outage and problems a
-- check had found first (`check_first`: a check-raised ticket of the report's area was open
-- on the device, or an incident explained it, when the report arrived).
CREATE TABLE report_links (
    device_id    TEXT NOT NULL REFERENCES devices (id),
    report_id    TEXT NOT NULL,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    how          TEXT NOT NULL CHECK (how IN ('opened', 'joined', 'known_outage')),
    -- The requester: the reporter's account, else "uid N", else NULL (unknown).
    requester    TEXT,
    -- What the report is about (playbooks, first failed layer, target), for joining.
    group_key    TEXT NOT NULL,
    check_first  BIGINT NOT NULL DEFAULT 0,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (device_id, report_id)
);
CREATE INDEX report_links_by_group ON report_links (device_id, group_key, at_ms);
CREATE INDEX report_links_by_ticket ON report_links (ticket_id);
CREATE INDEX report_links_by_time ON report_links (at_ms);

-- What requesters answered when asked "Is it fixed?" on the help page, with an optional
-- 1-5 rating (CSAT) and their words. Written by the help page; read by the stats.
CREATE TABLE ticket_feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    account    TEXT NOT NULL,
    answer     TEXT NOT NULL CHECK (answer IN ('fixed', 'not_fixed')),
    rating     INTEGER NULL CHECK (rating BETWEEN 1 AND 5),
    words      TEXT NOT NULL DEFAULT '',
    at_ms      BIGINT NOT NULL
);
CREATE INDEX ticket_feedback_by_ticket ON ticket_feedback (ticket_id);
