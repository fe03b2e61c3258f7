-- Scriptlets: named documents whose text lives in numbered, immutable revisions.
CREATE TABLE scriptlets (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- One saved text of a scriptlet; `number` counts from 1 per scriptlet. Never updated.
CREATE TABLE scriptlet_revisions (
    scriptlet_id BIGINT NOT NULL REFERENCES scriptlets (id),
    number       BIGINT NOT NULL,
    source       TEXT   NOT NULL,
    message      TEXT   NOT NULL,
    author       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scriptlet_id, number)
);

-- Connections to Incus clusters, configured by an admin. The client key stays in the server:
-- no API or page returns it. Trust: exactly one of server_cert, server_ca, server_fingerprint
-- for HTTPS; none for a unix socket.
CREATE TABLE connections (
    name               TEXT   PRIMARY KEY,
    remote             TEXT   NOT NULL,
    client_cert        TEXT,
    client_key         TEXT,
    server_cert        TEXT,
    server_ca          TEXT,
    server_fingerprint TEXT,
    created_by         TEXT   NOT NULL,
    created_at         BIGINT NOT NULL
);
