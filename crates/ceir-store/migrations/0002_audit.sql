-- The tamper-evident audit log: one row per audited action, hash-chained
-- (hash = SHA-256(prev_hash || canonical record), see ceir-domain's audit.rs).
-- Hashes are lowercase hex. request_id is absent for the command line and the node's sweeps.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_org TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    request_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The chain's head: the last record's seq and hash, updated in the same transaction as every
-- append. Its row lock also serialises appenders, so chain order is commit order. Deleting the
-- newest records leaves the head pointing past the log's end, which verification reports.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
