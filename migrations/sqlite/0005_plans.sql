-- Migration plans: a batch of cross-project moves, reviewed, approved and executed by Berth.
-- `state` is berth_core::plan::PlanState's name; every change is committed before the next
-- step of the executor, so a restart resumes from here. `preview` is the last preview (JSON of
-- berth_core::plan::preview::PlanPreview), stamped with the snapshot it was made on.
CREATE TABLE plans (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL,
    connection         TEXT    NOT NULL,
    author             TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    stop_on_failure    BIGINT  NOT NULL,
    required_approvals BIGINT  NOT NULL,
    preview            TEXT,
    preview_snapshot   BIGINT,
    previewed_at       BIGINT,
    superseded         TEXT,
    reverse_of         BIGINT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);

-- A plan's moves in order (`position` from 1). `state` is pending, skipped, running,
-- succeeded or failed; `detail` holds the skip reason or Incus's error verbatim. `decision` is
-- the member chosen when the move was issued and `operation` Incus's operation for it, both
-- recorded before Berth waits on it: what a restart needs to tell what happened.
CREATE TABLE plan_moves (
    plan_id        BIGINT NOT NULL REFERENCES plans (id),
    position       BIGINT NOT NULL,
    project        TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    target_project TEXT   NOT NULL,
    target         TEXT   NOT NULL,
    from_member    TEXT,
    state          TEXT   NOT NULL,
    detail         TEXT,
    decision       TEXT,
    operation      TEXT,
    started_at     BIGINT,
    finished_at    BIGINT,
    PRIMARY KEY (plan_id, position)
);

-- Approvals since the plan's last edit (an edit deletes them).
CREATE TABLE plan_approvals (
    plan_id     BIGINT NOT NULL REFERENCES plans (id),
    username    TEXT   NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, username)
);

-- Review comments on a plan, or on one of its moves (`position`).
CREATE TABLE plan_comments (
    id         INTEGER PRIMARY KEY,
    plan_id    BIGINT  NOT NULL REFERENCES plans (id),
    position   BIGINT,
    author     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
