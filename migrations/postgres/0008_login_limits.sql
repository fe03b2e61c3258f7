-- Sign-in limits, counted where every replica sees them.
-- (PostgreSQL twin of migrations/sqlite/0008_login_limits.sql: the same columns with the same
-- meaning.) One row per limited key: a username or a client address (`scope`), with the
-- attempts reserved in the current window (failures, and sign-ins being verified right now; a
-- success gives its reservation back) and how many requests were refused in it. A sign-in
-- reserves its attempt with one conditional upsert, which locks the row, before its password
-- is verified (`db/login_limits.rs`). Times are Unix milliseconds.
CREATE TABLE login_limits (
    scope        TEXT   NOT NULL CHECK (scope IN ('username', 'address')),
    name         TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    refused      BIGINT NOT NULL,
    PRIMARY KEY (scope, name)
);

-- From this version on, disabling a user revokes their API tokens. Tokens of users disabled
-- before it are revoked here, so that enabling such a user again does not bring them back.
UPDATE api_tokens
SET revoked_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT
WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE disabled = 1);
