-- Staff accounts and their browser sessions. Same rules as 0001: BIGINT and TEXT only.

-- A person who signs in, always within one organisation and with one role there. A local
-- account has a password hash (argon2id, PHC string); an SSO account has the OpenID provider's
-- issuer and subject, or an e-mail address the provider vouches for. Never deleted, only disabled,
-- so history that names a user keeps meaning.
CREATE TABLE app_user (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL REFERENCES organisation (id),
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    email TEXT,
    password_hash TEXT,
    totp_secret TEXT,
    -- The last TOTP time step accepted, so one code cannot be replayed within its window.
    totp_last_step BIGINT,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    failed_attempts BIGINT NOT NULL,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    UNIQUE (org, name),
    UNIQUE (oidc_issuer, oidc_subject)
);
CREATE INDEX app_user_name ON app_user (name);
CREATE INDEX app_user_email ON app_user (email);

-- id is the SHA-256 of the cookie's 256-bit random secret: a stolen database does not yield
-- usable cookies, and a slow hash would add nothing against a secret of that size.
CREATE TABLE app_session (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES app_user (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    csrf_token TEXT NOT NULL
);
CREATE INDEX app_session_user ON app_session (user_id);
