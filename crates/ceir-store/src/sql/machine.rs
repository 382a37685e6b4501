//! [`MachineStore`] on SQLite and PostgreSQL: scoped API tokens, OAuth2 clients, access tokens.

use super::{corrupt, hash_secret, new_id, new_secret, parse_org, Pool, SqlStore};
use crate::machine::{AccessGrant, ClientCheck, ClientInfo, MachineStore, NewToken, TokenListing};
use crate::{Organisation, Result, StoreError, TokenInfo};
use ceir_domain::audit::{AuditAction, AuditContext, AuditEntry, ObjectRef};
use ceir_domain::authz::Role;
use ceir_domain::credential::{self, SecretKind};
use ceir_domain::scope::ScopeSet;
use ceir_domain::Timestamp;

const CLIENT_COLS: &str =
    "c.id, c.name, c.role, c.scopes, c.created_at, c.revoked_at, o.id, o.name, o.kind, o.country";

type ClientRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
);

fn client_of(r: ClientRow) -> Result<ClientInfo> {
    let (id, name, role, scopes, created_at, revoked_at, oid, oname, okind, ocountry) = r;
    Ok(ClientInfo {
        id,
        org: parse_org(oid, oname, okind, ocountry)?,
        name,
        role: Role::parse(&role).ok_or_else(|| corrupt("client role", &role))?,
        scopes: ScopeSet::parse(&scopes).map_err(|e| corrupt("client scopes", e))?,
        created_at: Timestamp(created_at),
        revoked_at: revoked_at.map(Timestamp),
    })
}

/// Equal in time independent of where the inputs differ (both are hex digests of equal length).
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl SqlStore {
    async fn require_org(&self, org: &str) -> Result<Organisation> {
        use crate::Store;
        self.organisation(org)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {org:?}")))
    }
}

#[async_trait::async_trait]
impl MachineStore for SqlStore {
    async fn create_scoped_token(
        &self,
        t: &NewToken<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<(String, String)> {
        self.require_org(t.org).await?;
        let id = new_id();
        let secret = new_secret(SecretKind::ApiToken)?;
        // Never the secret, nor its hash.
        let detail = serde_json::json!({"org": t.org, "user": t.user, "role": t.role.as_str(), "label": t.label, "scopes": t.scopes.to_string(), "expires_at": t.expires_at.map(|e| e.0)}).to_string();
        let entry = AuditEntry::new(by, AuditAction::TokenCreate, ObjectRef::token(&id), detail);
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO api_token (id, secret_hash, org, user_name, role, label, created_at, expires_at, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(hash_secret(&secret))
            .bind(t.org)
            .bind(t.user)
            .bind(t.role.as_str())
            .bind(t.label)
            .bind(now.0)
            .bind(t.expires_at.map(|e| e.0))
            .bind(t.scopes.to_string())
            .execute(&mut *tx)
            .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok((id, secret))
    }

    async fn tokens(&self, org: Option<&str>) -> Result<Vec<TokenListing>> {
        type R = (
            String,
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            i64,
            String,
            String,
            String,
            String,
            String,
        );
        let rows: Vec<R> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, R>(
                "SELECT t.id, t.user_name, t.role, t.label, t.expires_at, t.revoked_at, t.created_at, t.scopes, o.id, o.name, o.kind, o.country \
                 FROM api_token t JOIN organisation o ON o.id = t.org ORDER BY t.created_at DESC, t.id",
            )
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .filter(|r| org.is_none_or(|o| r.8 == o))
            .map(
                |(
                    id,
                    user,
                    role,
                    label,
                    expires_at,
                    revoked_at,
                    created_at,
                    scopes,
                    oid,
                    oname,
                    okind,
                    ocountry,
                )| {
                    Ok(TokenListing {
                        token: TokenInfo {
                            id,
                            org: parse_org(oid, oname, okind, ocountry)?,
                            user,
                            role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
                            label,
                            expires_at: expires_at.map(Timestamp),
                            scopes: ScopeSet::parse(&scopes)
                                .map_err(|e| corrupt("token scopes", e))?,
                        },
                        created_at: Timestamp(created_at),
                        revoked_at: revoked_at.map(Timestamp),
                    })
                },
            )
            .collect()
    }

    async fn create_client(
        &self,
        org: &str,
        name: &str,
        role: Role,
        scopes: ScopeSet,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<(ClientInfo, String)> {
        let organisation = self.require_org(org).await?;
        let id = new_id();
        let secret = new_secret(SecretKind::ClientSecret)?;
        let detail = serde_json::json!({"org": org, "name": name, "role": role.as_str(), "scopes": scopes.to_string()}).to_string();
        let entry = AuditEntry::new(
            by,
            AuditAction::ClientCreate,
            ObjectRef::client(&id),
            detail,
        );
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO oauth_client (id, secret_hash, org, name, role, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(hash_secret(&secret))
            .bind(org)
            .bind(name)
            .bind(role.as_str())
            .bind(scopes.to_string())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok((
            ClientInfo {
                id,
                org: organisation,
                name: name.to_owned(),
                role,
                scopes,
                created_at: now,
                revoked_at: None,
            },
            secret,
        ))
    }

    async fn clients(&self) -> Result<Vec<ClientInfo>> {
        let rows: Vec<ClientRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, ClientRow>(&format!(
                "SELECT {CLIENT_COLS} FROM oauth_client c JOIN organisation o ON o.id = c.org ORDER BY c.created_at, c.id"
            ))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(client_of).collect()
    }

    async fn revoke_client(&self, id: &str, by: &AuditContext, now: Timestamp) -> Result<()> {
        let entry = AuditEntry::new(by, AuditAction::ClientRevoke, ObjectRef::client(id), "{}");
        let n = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE oauth_client SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.0)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM oauth_access_token WHERE client_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if n > 0 {
                audit_append!(tx, entry, now);
            }
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound(format!("active client {id:?}")));
        }
        Ok(())
    }

    async fn verify_client(&self, id: &str, secret: &str) -> Result<ClientCheck> {
        let row: Option<(String,)> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, (String,)>(
                "SELECT secret_hash FROM oauth_client WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        let Some((stored,)) = row else {
            return Ok(ClientCheck::Unknown);
        };
        if credential::recognise(secret) != Some(SecretKind::ClientSecret)
            || !same_digest(&hash_secret(secret), &stored)
        {
            return Ok(ClientCheck::BadSecret);
        }
        let row: Option<ClientRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, ClientRow>(&format!(
                "SELECT {CLIENT_COLS} FROM oauth_client c JOIN organisation o ON o.id = c.org WHERE c.id = $1 AND c.revoked_at IS NULL"
            ))
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        Ok(match row {
            Some(r) => ClientCheck::Valid(client_of(r)?),
            // Revoked between the two reads.
            None => ClientCheck::Unknown,
        })
    }

    async fn issue_access_token(
        &self,
        client_id: &str,
        scopes: ScopeSet,
        expires_at: Timestamp,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<String> {
        let token = new_secret(SecretKind::AccessToken)?;
        let detail = serde_json::json!({"scopes": scopes.to_string(), "expires_at": expires_at.0})
            .to_string();
        let entry = AuditEntry::new(
            by,
            AuditAction::AccessTokenIssue,
            ObjectRef::client(client_id),
            detail,
        );
        let inserted = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM oauth_access_token WHERE expires_at <= $1")
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            // Only for an active client: the insert selects from it.
            let n = sqlx::query(
                "INSERT INTO oauth_access_token (token_hash, client_id, scopes, issued_at, expires_at) \
                 SELECT $1, id, $2, $3, $4 FROM oauth_client WHERE id = $5 AND revoked_at IS NULL",
            )
            .bind(hash_secret(&token))
            .bind(scopes.to_string())
            .bind(now.0)
            .bind(expires_at.0)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                audit_append!(tx, entry, now);
            }
            tx.commit().await?;
            n
        });
        if inserted == 0 {
            return Err(StoreError::NotFound(format!("active client {client_id:?}")));
        }
        Ok(token)
    }

    async fn access_token(&self, token: &str, now: Timestamp) -> Result<Option<AccessGrant>> {
        if credential::recognise(token) != Some(SecretKind::AccessToken) {
            return Ok(None);
        }
        type R = (
            String,
            i64,
            String,
            String,
            String,
            String,
            i64,
            Option<i64>,
            String,
            String,
            String,
            String,
        );
        let row: Option<R> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, R>(&format!(
                "SELECT a.scopes, a.expires_at, {CLIENT_COLS} FROM oauth_access_token a \
                 JOIN oauth_client c ON c.id = a.client_id JOIN organisation o ON o.id = c.org \
                 WHERE a.token_hash = $1 AND a.expires_at > $2 AND c.revoked_at IS NULL"
            ))
            .bind(hash_secret(token))
            .bind(now.0)
            .fetch_optional(p)
            .await?
        });
        let Some((scopes, expires_at, a, b, c, d, e, f, g, h, i, j)) = row else {
            return Ok(None);
        };
        Ok(Some(AccessGrant {
            scopes: ScopeSet::parse(&scopes).map_err(|e| corrupt("access token scopes", e))?,
            expires_at: Timestamp(expires_at),
            client: client_of((a, b, c, d, e, f, g, h, i, j))?,
        }))
    }
}
