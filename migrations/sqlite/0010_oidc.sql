-- Single sign-on (OpenID Connect).
--
-- An account created by a sign-in with the identity provider is external: `external_id` is
-- the provider's issuer and the user's `sub` claim (`ISSUER#SUB`), which is what links later
-- sign-ins to it (a username at the provider may change or be reused; the subject may not).
-- Such an account has no password: `password_hash` is empty, and Berth refuses a password
-- sign-in and a password change for it. Local accounts keep NULL.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_by_external_id ON users (external_id);

-- Sign-ins started at the provider and not yet back (`auth/oidc/`): one row per redirect,
-- keyed by the SHA-256 of its `state`, bound to the browser that started it by the SHA-256 of
-- a secret only that browser's cookie holds (the PKCE verifier and the nonce are derived from
-- that secret, so nothing here lets anyone finish the sign-in). A row is taken once (the
-- callback deletes it) and lives a few minutes. Where to go after (`next`), checked as the
-- login form's. `client_address` (who started it, when known) bounds one address's share of
-- the table. Times are Unix milliseconds.
CREATE TABLE oidc_logins (
    state_hash   TEXT    PRIMARY KEY,
    browser_hash TEXT    NOT NULL,
    next         TEXT    NOT NULL,
    client_address TEXT,
    created_at   INTEGER NOT NULL
);

CREATE INDEX oidc_logins_by_time ON oidc_logins (created_at);
CREATE INDEX oidc_logins_by_address ON oidc_logins (client_address);
