//! Staff accounts and browser sessions: the [`AccountStore`] part of the store.
//!
//! The store keeps what is needed to decide a sign-in (password hash, TOTP secret, failed
//! attempts, lock) but decides nothing about credentials itself: hashing and code checks live in
//! `ceir-http`, which is the only place that sees a password.

use crate::{Organisation, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, Role};
use ceir_domain::Timestamp;

/// An identity asserted by an OpenID provider: unique per issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
}

/// A person who may sign in, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub org: Organisation,
    /// The sign-in name, unique within the organisation.
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub email: Option<String>,
    /// argon2id PHC string; `None` for SSO-only accounts.
    pub password_hash: Option<String>,
    /// Base32 TOTP secret; `None` when the account has no second factor.
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub oidc: Option<OidcIdentity>,
    pub failed_attempts: u32,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
}

// Hand-written so that a stray `{:?}` can never print a password hash or a TOTP secret.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("org", &self.org.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password", &self.password_hash.is_some())
            .field("totp", &self.totp_secret.is_some())
            .field("oidc", &self.oidc.is_some())
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

impl User {
    /// Who this user acts as: their organisation, name and role.
    pub fn actor(&self) -> Actor {
        Actor {
            org: self.org.id.clone(),
            org_kind: self.org.kind,
            user: self.name.clone(),
            role: self.role,
            // A person signed in acts with every scope; their role alone limits them.
            scopes: ceir_domain::scope::ScopeSet::ALL,
        }
    }
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// A user to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub org: String,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub oidc: Option<OidcIdentity>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("org", &self.org)
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A live browser session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// The synchronizer token that unsafe cookie-authenticated requests must echo.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A session just opened: the cookie secret is returned once and stored only as its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedSession {
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Staff accounts and their sessions.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user in an existing organisation; the name must be new there.
    async fn create_user(&self, user: &NewUser, by: &AuditContext, now: Timestamp) -> Result<User>;
    async fn user(&self, id: &str) -> Result<Option<User>>;
    /// Users with this sign-in name, in one organisation or in all of them.
    async fn users_named(&self, org: Option<&str>, name: &str) -> Result<Vec<User>>;
    /// Every user, by organisation and name.
    async fn users(&self) -> Result<Vec<User>>;
    async fn user_by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<User>>;
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>>;
    /// Disables a user and ends their sessions. The row stays, so history keeps its meaning.
    async fn disable_user(
        &self,
        org: &str,
        name: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<()>;
    /// Counts a failed sign-in; the `max_failures`-th in a row locks the account until
    /// `now + lock_ms` and starts the count again. Returns whether the account is now locked.
    async fn record_failed_sign_in(
        &self,
        user_id: &str,
        now: Timestamp,
        max_failures: u32,
        lock_ms: i64,
    ) -> Result<bool>;
    /// Records a successful sign-in: clears the failure count and, with a TOTP step, accepts it
    /// only if it is later than every step accepted before. `false` means the step was already
    /// used (a replayed code) and nothing was changed.
    async fn record_sign_in(&self, user_id: &str, totp_step: Option<i64>) -> Result<bool>;
    /// Opens a session for `user_id`; `by` names the user signing in, for the audit record.
    async fn open_session(
        &self,
        user_id: &str,
        by: &AuditContext,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<OpenedSession>;
    /// The session a cookie secret belongs to, if it has not expired, has been used within
    /// `idle_ms`, and its user is enabled. Marks it as seen.
    async fn session(&self, secret: &str, now: Timestamp, idle_ms: i64) -> Result<Option<Session>>;
    async fn end_session(&self, secret: &str, by: &AuditContext, now: Timestamp) -> Result<()>;
}
