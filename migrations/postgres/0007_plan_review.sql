-- (PostgreSQL twin of migrations/sqlite/0007_plan_review.sql.)
-- Review bound to what was reviewed (four eyes, one version).
--
-- `version` counts the versions of what a plan will run: every edit, new preview and
-- supersede makes a new one. An approval is given to one version (`plan_approvals.version`)
-- and counts only while the plan still has it; approving is a compare-and-set on it.
-- `snapshot_id` is the stored snapshot a plan is drafted, previewed and reviewed on, when it
-- is not previewed against fresh captures of its connection (`connection` is then '' unless
-- given for the execution).
ALTER TABLE plans ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN snapshot_id BIGINT;
ALTER TABLE plan_approvals ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Every account that contributed to what a plan will run (`contribution`: created, edited,
-- skipped a move before approval, wrote the rolled-out revision); none of them may approve it.
CREATE TABLE plan_contributors (
    plan_id      BIGINT NOT NULL REFERENCES plans (id),
    username     TEXT   NOT NULL,
    contribution TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (plan_id, username, contribution)
);

-- The contributors of the plans that exist: their authors, whoever edited them (from the audit
-- log, which has every edit), and the authors of the revisions they roll out.
INSERT INTO plan_contributors (plan_id, username, contribution, at)
SELECT id, author, 'created', created_at FROM plans;

INSERT INTO plan_contributors (plan_id, username, contribution, at)
SELECT CAST(substr(subject, 6) AS BIGINT), actor, 'edited', MIN(at)
FROM audit_log
WHERE kind = 'plan.edited' AND actor IS NOT NULL AND subject LIKE 'plan:%'
GROUP BY subject, actor;

INSERT INTO plan_contributors (plan_id, username, contribution, at)
SELECT rollouts.plan_id, revisions.author, 'wrote_revision', revisions.created_at
FROM plan_rollouts AS rollouts
JOIN scriptlet_revisions AS revisions
  ON revisions.scriptlet_id = rollouts.scriptlet_id AND revisions.number = rollouts.revision;
