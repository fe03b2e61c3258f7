-- The decision log (issue 21): the placements a cluster really made, read from its event
-- stream, each beside Berth's prediction for the same request. Times are Unix milliseconds,
-- flags 0/1.

-- An admin turns the log on per connection.
ALTER TABLE connections ADD COLUMN decision_log BIGINT NOT NULL DEFAULT 0;

-- One placement: where `instance` of `project` landed (`member`; NULL while not known), why
-- (`reason`: new, relocation, evacuation, restore, rebalance), by which of Incus's lifecycle
-- actions (`operation`; `seen-later` for one a reconciliation found after a gap, `gap_id`),
-- the scriptlet's lines (`logs`, JSON `[{"level","message"}]`, as the cluster sent them: every
-- answer scrubs them of the snapshot's secret values) and the member that ran it, the revision
-- of the connection's live scriptlet that ran (`revision_scriptlet`, `revision`); the request
-- as Berth asks its simulator (`request`, JSON of the operation; it holds the instance's config,
-- never answered as stored); and the prediction on snapshot `snapshot_id` with the revision
-- the snapshot had (`predicted_*`), `agrees` 1/0, or why it could not be made
-- (`unpredictable`). `predicted_at` NULL: not predicted yet. `updated_at` moves with every
-- change (the live tail follows it).
CREATE TABLE decisions (
    id                   INTEGER PRIMARY KEY,
    connection           TEXT    NOT NULL,
    at                   BIGINT  NOT NULL,
    recorded_at          BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    operation            TEXT    NOT NULL,
    reason               TEXT    NOT NULL,
    project              TEXT    NOT NULL,
    instance             TEXT    NOT NULL,
    member               TEXT,
    from_project         TEXT,
    from_member          TEXT,
    runs_on              TEXT,
    logs                 TEXT    NOT NULL,
    seen_later           BIGINT  NOT NULL,
    gap_id               BIGINT,
    revision_scriptlet   BIGINT,
    revision             BIGINT,
    request              TEXT,
    snapshot_id          BIGINT,
    predicted_revision   BIGINT,
    predicted_member     TEXT,
    predicted_error      TEXT,
    predicted_candidates TEXT,
    agrees               BIGINT,
    unpredictable        TEXT,
    predicted_at         BIGINT
);
CREATE INDEX decisions_by_time ON decisions (connection, at, id);
CREATE INDEX decisions_by_change ON decisions (updated_at, id);
CREATE INDEX decisions_to_predict ON decisions (connection, predicted_at);

-- A time the stream was not held: `reason` disconnect (the stream dropped), handover (the
-- listening replica died or lost its lease) or restart (Berth stopped with the log on); of one
-- member's stream (`member`) or of the whole connection. `ended_at` NULL: still open; then a
-- capture reconciles it (`reconciled_at`, `seen_later` instances recorded).
CREATE TABLE decision_gaps (
    id            INTEGER PRIMARY KEY,
    connection    TEXT   NOT NULL,
    member        TEXT,
    reason        TEXT   NOT NULL,
    detail        TEXT   NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    reconciled_at BIGINT,
    seen_later    BIGINT
);
CREATE INDEX decision_gaps_by_time ON decision_gaps (connection, started_at);

-- Who listens to each connection (the holder of the lease `decisions:NAME`), in which state
-- (listening, stopped: Berth shut down with the log on, disabled: an admin turned it off),
-- since when, and until when the stream was known whole (`alive_at`): where the next holder's
-- gap starts. `scriptlet_id`: the scriptlet whose revisions are the cluster's live texts.
CREATE TABLE decision_listeners (
    connection   TEXT   PRIMARY KEY,
    holder       TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    since        BIGINT NOT NULL,
    alive_at     BIGINT NOT NULL,
    scriptlet_id BIGINT REFERENCES scriptlets (id)
);

-- Captures made through a connection, and when (the decision log predicts on the newest one
-- finished before a placement). A snapshot stored once may be captured many times.
CREATE TABLE connection_captures (
    connection  TEXT   NOT NULL,
    snapshot_id BIGINT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (connection, finished_at, snapshot_id)
);
