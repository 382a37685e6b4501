//! Credentials of machine clients: scoped API tokens, OAuth2 clients (RFC 6749 §4.4) and the
//! access tokens issued to them. Every secret is stored as its SHA-256 only.

use crate::{Organisation, Result, TokenInfo};
use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, Role};
use ceir_domain::scope::ScopeSet;
use ceir_domain::Timestamp;

/// What an API token is made of; the secret is chosen by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken<'a> {
    pub org: &'a str,
    pub user: &'a str,
    pub role: Role,
    pub label: &'a str,
    pub scopes: ScopeSet,
    pub expires_at: Option<Timestamp>,
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenListing {
    pub token: TokenInfo,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A registered OAuth2 client (a network function), without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The public `client_id`.
    pub id: String,
    pub org: Organisation,
    pub name: String,
    pub role: Role,
    /// The most the client may ask for.
    pub scopes: ScopeSet,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// The outcome of presenting a client's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCheck {
    /// No active client has this id.
    Unknown,
    /// The client exists and is active, but the secret is wrong.
    BadSecret,
    Valid(ClientInfo),
}

/// What a valid access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub client: ClientInfo,
    /// The scopes granted to this token: a subset of the client's.
    pub scopes: ScopeSet,
    pub expires_at: Timestamp,
}

impl AccessGrant {
    /// The actor the token's bearer acts as: the client, in its organisation, with its role,
    /// narrowed to the token's scopes.
    pub fn actor(&self) -> Actor {
        Actor {
            org: self.client.org.id.clone(),
            org_kind: self.client.org.kind,
            user: format!("client:{}", self.client.id),
            role: self.client.role,
            scopes: self.scopes,
        }
    }
}

/// The store's side of machine credentials. A supertrait of [`crate::Store`], so every store
/// handle offers it.
#[async_trait::async_trait]
pub trait MachineStore: Send + Sync {
    /// Creates an API token with the given scopes; returns its id and the secret, shown once.
    async fn create_scoped_token(
        &self,
        token: &NewToken<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<(String, String)>;
    /// API tokens, newest first, optionally of one organisation.
    async fn tokens(&self, org: Option<&str>) -> Result<Vec<TokenListing>>;

    /// Registers an OAuth2 client; returns it and its secret, shown once.
    async fn create_client(
        &self,
        org: &str,
        name: &str,
        role: Role,
        scopes: ScopeSet,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<(ClientInfo, String)>;
    /// Registered clients, active and revoked, oldest first.
    async fn clients(&self) -> Result<Vec<ClientInfo>>;
    /// Revokes a client and deletes the access tokens issued to it.
    async fn revoke_client(&self, id: &str, by: &AuditContext, now: Timestamp) -> Result<()>;
    /// Checks a client's id and secret.
    async fn verify_client(&self, id: &str, secret: &str) -> Result<ClientCheck>;
    /// Issues an access token to an active client; returns the token, shown once. Tokens that
    /// have expired by `now` are deleted on the way.
    async fn issue_access_token(
        &self,
        client_id: &str,
        scopes: ScopeSet,
        expires_at: Timestamp,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<String>;
    /// What an access token stands for, if it is known, unexpired and its client active.
    async fn access_token(&self, token: &str, now: Timestamp) -> Result<Option<AccessGrant>>;
}
