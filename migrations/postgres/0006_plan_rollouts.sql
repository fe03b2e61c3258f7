-- (PostgreSQL twin of migrations/sqlite/0006_plan_rollouts.sql.)
-- A plan that rolls a scriptlet revision out to its connection's cluster (`PATCH /1.0` with
-- `instances.placement.scriptlet`), instead of moving instances. `source` is the revision's
-- text as approved. `live_at_preview` is the cluster's scriptlet when the plan was previewed
-- (another text at execution supersedes the plan); `impact` the impact replay of the live
-- scriptlet against `source` attached to the review (JSON). When executed, `previous` is the
-- cluster's scriptlet just before, kept as revision `previous_revision` of the same scriptlet,
-- so the reverse plan restores it. `state` is pending, running, succeeded or failed; `detail`
-- holds Incus's error verbatim.
CREATE TABLE plan_rollouts (
    plan_id           BIGINT NOT NULL PRIMARY KEY REFERENCES plans (id),
    scriptlet_id      BIGINT NOT NULL REFERENCES scriptlets (id),
    revision          BIGINT NOT NULL,
    source            TEXT   NOT NULL,
    live_at_preview   TEXT,
    impact            TEXT,
    previous          TEXT,
    previous_revision BIGINT,
    state             TEXT   NOT NULL,
    detail            TEXT,
    started_at        BIGINT,
    finished_at       BIGINT
);
