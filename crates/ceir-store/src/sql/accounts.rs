//! [`AccountStore`] for both engines, written once through `on_pool!` like the rest of `sql.rs`.

use super::{corrupt, hash_secret, parse_org, Pool, SqlStore};
use crate::accounts::{AccountStore, NewUser, OidcIdentity, OpenedSession, Session, User};
use crate::{Result, StoreError};
use ceir_domain::audit::{AuditAction, AuditContext, AuditEntry, ObjectRef};
use ceir_domain::authz::Role;
use ceir_domain::Timestamp;

const USER_SELECT: &str = "SELECT u.id, u.name, u.display_name, u.role, u.email, u.password_hash, \
     u.totp_secret, u.totp_last_step, u.oidc_issuer, u.oidc_subject, u.failed_attempts, \
     u.locked_until, u.created_at, u.disabled_at, \
     o.id AS org_id, o.name AS org_name, o.kind AS org_kind, o.country AS org_country \
     FROM app_user u JOIN organisation o ON o.id = u.org";

/// Touching `last_seen` on every request would turn every read into a write; a minute's
/// precision is plenty for an idle timeout counted in minutes or hours.
const SEEN_PRECISION_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    name: String,
    display_name: String,
    role: String,
    email: Option<String>,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    oidc_issuer: Option<String>,
    oidc_subject: Option<String>,
    failed_attempts: i64,
    locked_until: Option<i64>,
    created_at: i64,
    disabled_at: Option<i64>,
    org_id: String,
    org_name: String,
    org_kind: String,
    org_country: String,
}

impl UserRow {
    fn into_user(self) -> Result<User> {
        Ok(User {
            org: parse_org(self.org_id, self.org_name, self.org_kind, self.org_country)?,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?,
            id: self.id,
            name: self.name,
            display_name: self.display_name,
            email: self.email,
            password_hash: self.password_hash,
            totp_secret: self.totp_secret,
            totp_last_step: self.totp_last_step,
            oidc: match (self.oidc_issuer, self.oidc_subject) {
                (Some(issuer), Some(subject)) => Some(OidcIdentity { issuer, subject }),
                _ => None,
            },
            failed_attempts: u32::try_from(self.failed_attempts).unwrap_or(u32::MAX),
            locked_until: self.locked_until.map(Timestamp),
            created_at: Timestamp(self.created_at),
            disabled_at: self.disabled_at.map(Timestamp),
        })
    }
}

fn random(len: usize) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

impl SqlStore {
    async fn users_where(&self, clause: &str, binds: &[&str]) -> Result<Vec<User>> {
        let sql = format!("{USER_SELECT} WHERE {clause} ORDER BY o.id, u.name");
        let rows: Vec<UserRow> = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as::<_, UserRow>(&sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_all(p).await?
        });
        rows.into_iter().map(UserRow::into_user).collect()
    }
}

#[async_trait::async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, user: &NewUser, by: &AuditContext, now: Timestamp) -> Result<User> {
        use crate::Store;
        if self.organisation(&user.org).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {:?}", user.org)));
        }
        if !self
            .users_named(Some(&user.org), &user.name)
            .await?
            .is_empty()
        {
            return Err(StoreError::Conflict(format!(
                "{} already has a user named {:?}",
                user.org, user.name
            )));
        }
        let id = format!("u_{}", random(16).to_ascii_lowercase());
        // The account's shape, never its secrets nor the e-mail address.
        let detail = serde_json::json!({"id": id, "role": user.role.as_str(), "password": user.password_hash.is_some(), "totp": user.totp_secret.is_some(), "oidc": user.oidc.is_some()}).to_string();
        let entry = AuditEntry::new(
            by,
            AuditAction::UserCreate,
            ObjectRef::user(&user.org, &user.name),
            detail,
        );
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO app_user (id, org, name, display_name, role, email, password_hash, totp_secret, \
                 oidc_issuer, oidc_subject, failed_attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)",
            )
            .bind(&id)
            .bind(&user.org)
            .bind(&user.name)
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(&user.totp_secret)
            .bind(user.oidc.as_ref().map(|o| o.issuer.as_str()))
            .bind(user.oidc.as_ref().map(|o| o.subject.as_str()))
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(
                    "a user with this name or OpenID identity already exists".into(),
                ),
                _ => StoreError::Db(e),
            })?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        self.user(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    async fn user(&self, id: &str) -> Result<Option<User>> {
        Ok(self.users_where("u.id = $1", &[id]).await?.pop())
    }

    async fn users_named(&self, org: Option<&str>, name: &str) -> Result<Vec<User>> {
        match org {
            Some(o) => {
                self.users_where("u.org = $1 AND u.name = $2", &[o, name])
                    .await
            }
            None => self.users_where("u.name = $1", &[name]).await,
        }
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.users_where("1 = 1", &[]).await
    }

    async fn user_by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        Ok(self
            .users_where(
                "u.oidc_issuer = $1 AND u.oidc_subject = $2",
                &[issuer, subject],
            )
            .await?
            .pop())
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        self.users_where("u.email = $1", &[email]).await
    }

    async fn disable_user(
        &self,
        org: &str,
        name: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<()> {
        let entry = AuditEntry::new(
            by,
            AuditAction::UserDisable,
            ObjectRef::user(org, name),
            "{}",
        );
        let n = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE app_user SET disabled_at = $1 WHERE org = $2 AND name = $3 AND disabled_at IS NULL")
                .bind(now.0)
                .bind(org)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM app_session WHERE user_id IN (SELECT id FROM app_user WHERE org = $1 AND name = $2)")
                .bind(org)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if n > 0 {
                audit_append!(tx, entry, now);
            }
            tx.commit().await?;
            n
        });
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "enabled user {name:?} of {org}"
            )));
        }
        Ok(())
    }

    async fn record_failed_sign_in(
        &self,
        user_id: &str,
        now: Timestamp,
        max_failures: u32,
        lock_ms: i64,
    ) -> Result<bool> {
        let max = i64::from(max_failures.max(1));
        let until = now.0.saturating_add(lock_ms);
        // One statement, so concurrent guesses cannot slip between a read and a write; every
        // right-hand side sees the row as it was before the update on both engines.
        on_pool!(&self.pool, p => {
            sqlx::query(
                "UPDATE app_user SET \
                 locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN $3 ELSE locked_until END, \
                 failed_attempts = CASE WHEN failed_attempts + 1 >= $2 THEN 0 ELSE failed_attempts + 1 END \
                 WHERE id = $1",
            )
            .bind(user_id)
            .bind(max)
            .bind(until)
            .execute(p)
            .await?;
        });
        Ok(self.user(user_id).await?.is_some_and(|u| u.is_locked(now)))
    }

    async fn record_sign_in(&self, user_id: &str, totp_step: Option<i64>) -> Result<bool> {
        let n = on_pool!(&self.pool, p => {
            match totp_step {
                None => sqlx::query("UPDATE app_user SET failed_attempts = 0 WHERE id = $1")
                    .bind(user_id)
                    .execute(p)
                    .await?
                    .rows_affected(),
                Some(step) => sqlx::query(
                    "UPDATE app_user SET failed_attempts = 0, totp_last_step = $2 \
                     WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
                )
                .bind(user_id)
                .bind(step)
                .execute(p)
                .await?
                .rows_affected(),
            }
        });
        Ok(n == 1)
    }

    async fn open_session(
        &self,
        user_id: &str,
        by: &AuditContext,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<OpenedSession> {
        // 43 alphanumerics carry 256 bits.
        let secret = random(43);
        let csrf_token = random(43);
        let object = ObjectRef::user(&by.actor.org, &by.actor.user);
        let entry = AuditEntry::new(by, AuditAction::SessionOpen, object, "{}");
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO app_session (id, user_id, created_at, expires_at, last_seen, csrf_token) \
                 VALUES ($1, $2, $3, $4, $3, $5)",
            )
            .bind(hash_secret(&secret))
            .bind(user_id)
            .bind(now.0)
            .bind(expires_at.0)
            .bind(&csrf_token)
            .execute(&mut *tx)
            .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok(OpenedSession {
            secret,
            csrf_token,
            expires_at,
        })
    }

    async fn session(&self, secret: &str, now: Timestamp, idle_ms: i64) -> Result<Option<Session>> {
        if secret.is_empty() || secret.len() > 100 {
            return Ok(None);
        }
        let id = hash_secret(secret);
        type R = (String, i64, i64, i64, String);
        let row: Option<R> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, R>(
                "SELECT user_id, created_at, expires_at, last_seen, csrf_token FROM app_session WHERE id = $1",
            )
            .bind(&id)
            .fetch_optional(p)
            .await?
        });
        let Some((user_id, created_at, expires_at, last_seen, csrf_token)) = row else {
            return Ok(None);
        };
        if expires_at <= now.0 || now.0.saturating_sub(last_seen) >= idle_ms {
            // Housekeeping, not a sign-out: nothing to audit.
            on_pool!(&self.pool, p => {
                sqlx::query("DELETE FROM app_session WHERE id = $1")
                    .bind(&id)
                    .execute(p)
                    .await?;
            });
            return Ok(None);
        }
        let Some(user) = self.user(&user_id).await? else {
            return Ok(None);
        };
        if user.is_disabled() {
            return Ok(None);
        }
        if now.0 - last_seen >= SEEN_PRECISION_MS {
            on_pool!(&self.pool, p => {
                sqlx::query("UPDATE app_session SET last_seen = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(&id)
                    .execute(p)
                    .await?;
            });
        }
        Ok(Some(Session {
            user,
            csrf_token,
            created_at: Timestamp(created_at),
            expires_at: Timestamp(expires_at),
        }))
    }

    async fn end_session(&self, secret: &str, by: &AuditContext, now: Timestamp) -> Result<()> {
        let object = ObjectRef::user(&by.actor.org, &by.actor.user);
        let entry = AuditEntry::new(by, AuditAction::SessionEnd, object, "{}");
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("DELETE FROM app_session WHERE id = $1")
                .bind(hash_secret(secret))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                audit_append!(tx, entry, now);
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
