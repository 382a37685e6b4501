-- The per-day HyperLogLog sketches of each accepted operator data import, kept with its job
-- record (DIRBS's daily_per_mno_hll_sketches, per import): the historic check unites the
-- sketches of every import that saw a day, over the latest days on which a row had an IMEI, an
-- IMSI and an MSISDN (complete_rows > 0). day is days since 1970-01-01; the sketches are their
-- registers in hex, written and read by the importer.
CREATE TABLE import_job_day (
    job_id TEXT NOT NULL,
    operator TEXT NOT NULL,
    day BIGINT NOT NULL,
    complete_rows BIGINT NOT NULL,
    imei_hll TEXT NOT NULL,
    imsi_hll TEXT NOT NULL,
    msisdn_hll TEXT NOT NULL,
    PRIMARY KEY (job_id, day)
);
CREATE INDEX import_job_day_operator ON import_job_day (operator, day);
