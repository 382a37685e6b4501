-- Citizens' cases (issue 4, item 1): lost and stolen phones reported without an account, followed
-- by a tracking code and one-time codes sent to the reporter's contact.

-- contact is personal data (an e-mail address or an E.164 number): shown in full only to roles
-- holding read_subscriber_data, never copied into the audit log. imei is the 14-digit body.
CREATE TABLE citizen_case (
    code TEXT PRIMARY KEY,
    imei BIGINT NOT NULL,
    kind TEXT NOT NULL,
    contact TEXT NOT NULL,
    country TEXT NOT NULL,
    description TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX citizen_case_state ON citizen_case (state, created_at);
CREATE INDEX citizen_case_imei ON citizen_case (imei);

-- One row per code sent: the newest (superseded = 0) is the one that works; older rows stay to
-- count sends against the hourly limit. code_hash is SHA-256 over the case code and the digits.
CREATE TABLE case_otp (
    id TEXT PRIMARY KEY,
    case_code TEXT NOT NULL REFERENCES citizen_case (code),
    code_hash TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    used_at BIGINT,
    superseded BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX case_otp_case ON case_otp (case_code, sent_at);
