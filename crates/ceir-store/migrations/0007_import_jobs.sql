-- Import job records (issue 3): one row per data file an import looked at, accepted or refused,
-- with its counts and check results, shown by `ceir import jobs`. For operator data the per-day
-- distinct IMEI/IMSI/MSISDN counts (daily) are the input of later imports' historic checks.

-- period_start/period_end are days since 1970-01-01 (from the file name); checks and daily are
-- JSON documents written by the importer; times are milliseconds since the epoch.
CREATE TABLE import_job (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    operator TEXT,
    period_start BIGINT,
    period_end BIGINT,
    rows_read BIGINT NOT NULL,
    triplets BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    checks TEXT NOT NULL,
    daily TEXT NOT NULL,
    message TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX import_job_kind ON import_job (kind, operator, finished_at);
CREATE INDEX import_job_sha ON import_job (sha256);
