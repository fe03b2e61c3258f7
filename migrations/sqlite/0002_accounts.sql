-- Accounts, sessions, API tokens and the audit log.
-- Times are Unix milliseconds (INTEGER): compared in queries, formatted by the server.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    role                TEXT    NOT NULL CHECK (role IN ('viewer', 'author', 'reviewer', 'operator', 'admin')),
    -- argon2id in PHC string form (algorithm, parameters, salt and hash).
    password_hash       TEXT    NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- The session id itself is only in the browser's cookie; the store keeps its SHA-256, so a
-- copy of the database signs nobody in.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    address      TEXT
);

CREATE INDEX sessions_by_user ON sessions (user_id);

-- API tokens act as their user, with the user's current role. Only the SHA-256 is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Who did what, when, from where. Append-only: the triggers refuse changes and deletions.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    -- The acting user; NULL when nobody is signed in (a failed login).
    actor_id INTEGER REFERENCES users (id),
    actor    TEXT,
    kind     TEXT    NOT NULL,
    -- What the action was about: a username, a token name, a snapshot, a plan.
    subject  TEXT,
    -- JSON object with details (never secrets).
    detail   TEXT    NOT NULL DEFAULT '{}',
    address  TEXT
);

CREATE INDEX audit_by_time ON audit_log (at DESC, id DESC);
-- Login rate limits count recent failures per username and per address.
CREATE INDEX audit_by_kind_subject ON audit_log (kind, subject, at);
CREATE INDEX audit_by_kind_address ON audit_log (kind, address, at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
