-- The golden list (DIRBS): IMEIs that must never be blocked. Kept as DIRBS keeps them, the MD5 of
-- the normalised IMEI in hex, so that a list supplied pre-hashed works the same; imei holds the
-- normalised IMEI when the list gave it in clear. Replaced whole by each import.
CREATE TABLE golden_imei (
    hashed_imei TEXT PRIMARY KEY,
    imei TEXT,
    org TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
