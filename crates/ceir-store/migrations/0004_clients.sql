-- Machine clients (issue 4, item 3): scoped API tokens, OAuth2 clients and their access tokens.

-- Tokens made before scopes existed keep what they could do: the REST API's scopes, narrowed as
-- before by their holder's role.
ALTER TABLE api_token ADD COLUMN scopes TEXT NOT NULL DEFAULT 'lists:read lists:write catalog:read catalog:write subscribers:read audit:read';

-- OAuth2 clients (RFC 6749 §4.4): network functions that call N5g-eir. scopes is the most a
-- client may ask for; secret_hash is SHA-256 of a 178-bit random secret.
CREATE TABLE oauth_client (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL REFERENCES organisation (id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Access tokens issued by POST /oauth2/token, by SHA-256. Servers cache what a token stands for
-- until it expires, so this table is read once per token and process, not once per request.
CREATE TABLE oauth_access_token (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_client (id),
    scopes TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_access_token_expiry ON oauth_access_token (expires_at);
CREATE INDEX oauth_access_token_client ON oauth_access_token (client_id);
