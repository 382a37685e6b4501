//! `ceir token` (scoped, expiring API tokens) and `ceir client` (OAuth2 clients): the commands
//! that hand out machine credentials.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use ceir_domain::authz::{grants, Capability, Role};
use ceir_domain::scope::{Scope, ScopeSet};
use ceir_domain::{Clock, SystemClock, Timestamp};
use ceir_store::machine::NewToken;
use ceir_store::Store;

/// How long a new API token lives.
#[derive(Debug, Clone, clap::Args)]
pub struct Expiry {
    /// Lifetime, e.g. 90d, 12h or 30m (default: token_days of the configuration).
    #[arg(long, value_parser = parse_lifetime, conflicts_with = "no_expiry")]
    pub expires_in: Option<i64>,
    /// Never expires (until revoked). Say so explicitly: long-lived secrets leak.
    #[arg(long)]
    pub no_expiry: bool,
}

/// A lifetime like `90d`, `12h`, `30m` or `45s`, in milliseconds.
pub fn parse_lifetime(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?}: give a number and a unit, e.g. 90d, 12h, 30m or 45s");
    let split = s.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let ms = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1000,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(format!("{s:?}: a lifetime must be positive"));
    }
    n.checked_mul(ms).ok_or_else(bad)
}

impl Expiry {
    fn at(&self, cfg: &Config, now: Timestamp) -> Option<Timestamp> {
        if self.no_expiry {
            return None;
        }
        Some(match self.expires_in {
            Some(ms) => Timestamp(now.0.saturating_add(ms)),
            None => now.plus_days(cfg.token_days),
        })
    }
}

/// Scopes from repeated or comma-separated `--scope` values.
fn scopes(values: &[String]) -> Result<ScopeSet> {
    values
        .iter()
        .try_fold(ScopeSet::EMPTY, |acc, v| Ok(acc.union(ScopeSet::parse(v)?)))
}

/// Scopes that the holder's organisation kind and role can never use: a warning, not an error,
/// since grants may widen later.
fn warn_unusable(kind: ceir_domain::authz::OrgKind, role: Role, s: ScopeSet) {
    for scope in s.iter() {
        let usable = Capability::ALL
            .iter()
            .any(|c| c.scope() == scope && grants(kind, role, *c));
        if !usable {
            eprintln!(
                "warning: a {kind} {} can use no right of scope {scope}",
                role.as_str()
            );
        }
    }
}

fn when(t: Option<Timestamp>) -> String {
    t.map(ceir_http::api::rfc3339)
        .unwrap_or_else(|| "never".into())
}

/// Arguments of `ceir token create`.
#[derive(Debug, clap::Args)]
pub struct TokenCreate {
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub user: String,
    /// admin, officer or viewer.
    #[arg(long, default_value = "officer")]
    pub role: String,
    #[arg(long, default_value = "")]
    pub label: String,
    /// What the token may be used for (repeat, or separate by commas): lists:read, lists:write,
    /// catalog:read, catalog:write. Default: all four, within the role's rights.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub expiry: Expiry,
}

pub async fn create_token(cfg: &Config, store: &dyn Store, a: TokenCreate) -> Result<()> {
    let now = SystemClock.now();
    let role = Role::parse(&a.role).context("role: use admin, officer or viewer")?;
    let mut s = scopes(&a.scopes)?;
    if s.is_empty() {
        s = ScopeSet::REST;
    }
    if s.contains(Scope::N5gEirEic) {
        bail!("n5g-eir-eic is for network functions: register one with `ceir client create` and let it use POST /oauth2/token");
    }
    let org = store.organisation(&a.org).await?.with_context(|| {
        format!(
            "no organisation {:?}; register it with `ceir token org`",
            a.org
        )
    })?;
    warn_unusable(org.kind, role, s);
    let expires_at = a.expiry.at(cfg, now);
    let (id, secret) = store
        .create_scoped_token(
            &NewToken {
                org: &a.org,
                user: &a.user,
                role,
                label: &a.label,
                scopes: s,
                expires_at,
            },
            &by(store).await?,
            now,
        )
        .await?;
    println!(
        "token {id} for {} of {} ({}), scope \"{s}\", expires {}",
        a.user,
        a.org,
        role.as_str(),
        when(expires_at)
    );
    println!("{secret}");
    eprintln!("the secret is shown once; store it safely");
    Ok(())
}

pub async fn list_tokens(store: &dyn Store, org: Option<&str>) -> Result<()> {
    let now = SystemClock.now();
    println!(
        "{:<10} {:<16} {:<20} {:<8} {:<22} {:<24} {:<8} scope",
        "id", "org", "user", "role", "label", "expires", "state"
    );
    for t in store.tokens(org).await? {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.token.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        println!(
            "{:<10} {:<16} {:<20} {:<8} {:<22} {:<24} {:<8} {}",
            t.token.id,
            t.token.org.id,
            t.token.user,
            t.token.role.as_str(),
            t.token.label,
            when(t.token.expires_at),
            state,
            t.token.scopes
        );
    }
    Ok(())
}

/// `ceir client …`: OAuth2 clients for network functions.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCmd {
    /// Register a client; its client_id and client_secret are shown once.
    Create {
        /// The organisation it acts for, e.g. an operator.
        #[arg(long)]
        org: String,
        /// A name to know it by, e.g. amf-1.
        #[arg(long)]
        name: String,
        /// The most it may ask for (repeat, or separate by commas), e.g. n5g-eir-eic.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// admin, officer or viewer.
        #[arg(long, default_value = "officer")]
        role: String,
    },
    /// Registered clients (never their secrets).
    List,
    /// Revoke a client; its access tokens stop working within their lifetime in every process
    /// (at once in this node's store).
    Revoke { client_id: String },
}

pub async fn client(store: &dyn Store, cmd: ClientCmd) -> Result<()> {
    let now = SystemClock.now();
    match cmd {
        ClientCmd::Create {
            org,
            name,
            scopes: asked,
            role,
        } => {
            let role = Role::parse(&role).context("role: use admin, officer or viewer")?;
            let s = scopes(&asked)?;
            if s.is_empty() {
                bail!("give at least one --scope, e.g. --scope n5g-eir-eic");
            }
            let o = store.organisation(&org).await?.with_context(|| {
                format!("no organisation {org:?}; register it with `ceir token org`")
            })?;
            warn_unusable(o.kind, role, s);
            let (c, secret) = store
                .create_client(&org, &name, role, s, &by(store).await?, now)
                .await?;
            println!(
                "client {} of {} ({}), scope \"{}\"",
                c.name, c.org.id, c.org.kind, c.scopes
            );
            println!("client_id     {}", c.id);
            println!("client_secret {secret}");
            eprintln!("the secret is shown once; store it safely");
        }
        ClientCmd::List => {
            println!(
                "{:<10} {:<16} {:<20} {:<8} {:<8} scope",
                "client_id", "org", "name", "role", "state"
            );
            for c in store.clients().await? {
                println!(
                    "{:<10} {:<16} {:<20} {:<8} {:<8} {}",
                    c.id,
                    c.org.id,
                    c.name,
                    c.role.as_str(),
                    if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    c.scopes
                );
            }
        }
        ClientCmd::Revoke { client_id } => {
            store
                .revoke_client(&client_id, &by(store).await?, now)
                .await?;
            println!("client {client_id} revoked; its access tokens are deleted");
        }
    }
    Ok(())
}

/// The host's administrator, as the audit record of a credential change names them.
async fn by(store: &dyn Store) -> anyhow::Result<ceir_domain::audit::AuditContext> {
    Ok(ceir_domain::audit::AuditContext::local(
        crate::local_actor(store, None).await?,
    ))
}
