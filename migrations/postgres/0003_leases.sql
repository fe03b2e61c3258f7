-- Leases: at most one holder of a named piece of work at a time across replicas (an executor
-- per plan). A holder renews before `expires_at` (Unix ms); once it has passed, another replica
-- may take the lease, and `generation` grows, so a holder that lost it can tell (fencing).
CREATE TABLE leases (
    name        TEXT   PRIMARY KEY,
    holder      TEXT   NOT NULL,
    generation  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
