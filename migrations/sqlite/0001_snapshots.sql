-- Snapshots of clusters: immutable, identified by the SHA-256 of their canonical JSON.
-- The summary columns are copies of what the body says, so listings need not parse bodies.
CREATE TABLE snapshots (
    id             INTEGER PRIMARY KEY,
    content_hash   TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    source_kind    TEXT    NOT NULL,
    captured_at    TEXT    NOT NULL,
    incus_version  TEXT    NOT NULL,
    member_count   INTEGER NOT NULL,
    instance_count INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    stored_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE INDEX snapshots_by_capture ON snapshots (captured_at DESC, id DESC);
