-- Single sign-on (OpenID Connect).
-- (PostgreSQL twin of migrations/sqlite/0010_oidc.sql: the same columns with the same meaning.)

ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_by_external_id ON users (external_id);

CREATE TABLE oidc_logins (
    state_hash   TEXT    PRIMARY KEY,
    browser_hash TEXT    NOT NULL,
    next         TEXT    NOT NULL,
    client_address TEXT,
    created_at   BIGINT  NOT NULL
);

CREATE INDEX oidc_logins_by_time ON oidc_logins (created_at);
CREATE INDEX oidc_logins_by_address ON oidc_logins (client_address);
