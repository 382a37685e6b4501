-- ceir registry schema. One file serves SQLite and PostgreSQL: only BIGINT and TEXT columns,
-- no engine-specific types, identity columns or functions.

-- The change feed's position. Every write transaction takes this row's lock first, so sequence
-- numbers are handed out in commit order and a follower reading "seq > last" never misses a row.
CREATE TABLE feed_counter (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO feed_counter (id, seq) VALUES (1, 0);

-- Current entries of every list. subject: IMEI body (14 digits) or TAC; imsi: IMSI key for
-- exceptions, 0 otherwise. One entry per organisation, so a police block and a regulator's
-- counterfeit block of the same IMEI are lifted separately.
CREATE TABLE list_entry (
    list TEXT NOT NULL,
    subject BIGINT NOT NULL,
    imsi BIGINT NOT NULL,
    org TEXT NOT NULL,
    reason TEXT NOT NULL,
    reference TEXT,
    country TEXT NOT NULL,
    note TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    seq BIGINT NOT NULL,
    PRIMARY KEY (list, subject, imsi, org)
);
CREATE INDEX list_entry_subject ON list_entry (subject);
CREATE INDEX list_entry_expiry ON list_entry (expires_at) WHERE expires_at IS NOT NULL;

-- The history of every change, which is also the ordered change feed that in-memory indexes,
-- the audit chain and federation follow. state_after is the subject's state once the change is
-- applied: list flag bits for IMEIs, 1/0 for a pair or a barred TAC.
CREATE TABLE list_history (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    list TEXT NOT NULL,
    subject BIGINT NOT NULL,
    imsi BIGINT NOT NULL,
    org TEXT NOT NULL,
    actor_org TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    reason TEXT NOT NULL,
    reference TEXT,
    country TEXT NOT NULL,
    note TEXT,
    expires_at BIGINT,
    state_after BIGINT NOT NULL
);
CREATE INDEX list_history_subject ON list_history (subject, seq);

-- The TAC catalog (device models), replaced whole by each import.
CREATE TABLE tac_model (
    tac BIGINT PRIMARY KEY,
    brand TEXT NOT NULL,
    model TEXT NOT NULL,
    marketing_name TEXT,
    manufacturer TEXT,
    device_type TEXT,
    os TEXT,
    bands TEXT,
    radio_interface TEXT,
    allocation_date TEXT,
    radios BIGINT NOT NULL
);

CREATE TABLE tac_import (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    models BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    actor TEXT NOT NULL
);

CREATE TABLE organisation (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Secrets are stored as SHA-256 of a 160-bit random secret: enough against offline guessing,
-- cheap enough to check on every request.
CREATE TABLE api_token (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL REFERENCES organisation (id),
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Mobile networks by MCC-MNC, for routing and for the demo's operators of both countries.
CREATE TABLE operator (
    plmn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL
);
