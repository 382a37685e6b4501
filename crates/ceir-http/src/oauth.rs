//! OAuth2 client credentials (RFC 6749 §4.4) for network functions, and the bearer check that
//! N5g-eir makes when the node requires it.
//!
//! Access tokens are random and opaque (`ceir_at_…`), stored as SHA-256. A server looks a token
//! up once, then keeps what it stands for in memory until it expires, so a request carrying a
//! known token costs one lock-free map read and no I/O. See ARCHITECTURE.md for why not JWTs.

use crate::problem::ApiError;
use crate::AppState;
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, Capability};
use ceir_domain::credential::{self, SecretKind};
use ceir_domain::scope::ScopeSet;
use ceir_domain::{ErrorCode, Timestamp};
use ceir_store::machine::ClientCheck;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Failed secrets in a row after which a client id is refused for [`LOCKOUT_MS`].
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT_MS: i64 = 5 * 60 * 1000;
/// Cached tokens past which expired ones are swept before another is added.
const CACHE_SWEEP_AT: usize = 10_000;

/// What a cached access token stands for.
#[derive(Debug)]
pub struct CachedToken {
    pub actor: Actor,
    pub expires_at: Timestamp,
}

#[derive(Debug, Default, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Timestamp>,
}

/// Machine-client settings and state shared by the token endpoint and the bearer checks.
#[derive(Debug)]
pub struct MachineAuth {
    /// N5g-eir answers only requests with an access token carrying `n5g-eir-eic`.
    pub require_eir_oauth: bool,
    /// Lifetime of issued access tokens, in seconds.
    pub access_token_seconds: i64,
    cache: ArcSwap<HashMap<Box<str>, Arc<CachedToken>>>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Default for MachineAuth {
    fn default() -> Self {
        MachineAuth::new(false, 3600)
    }
}

impl MachineAuth {
    pub fn new(require_eir_oauth: bool, access_token_seconds: i64) -> MachineAuth {
        MachineAuth {
            require_eir_oauth,
            access_token_seconds,
            cache: ArcSwap::from_pointee(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// What an access token stands for: from memory when seen before, else from the store
    /// (then remembered until it expires). `None` for unknown, expired or revoked tokens.
    pub async fn resolve(
        &self,
        state: &AppState,
        token: &str,
    ) -> Result<Option<Arc<CachedToken>>, ApiError> {
        let now = state.registry.clock().now();
        if let Some(c) = self.cache.load().get(token) {
            if c.expires_at > now {
                return Ok(Some(c.clone()));
            }
        }
        let Some(grant) = state.registry.store().access_token(token, now).await? else {
            return Ok(None);
        };
        let cached = Arc::new(CachedToken {
            actor: grant.actor(),
            expires_at: grant.expires_at,
        });
        self.cache.rcu(|m| {
            let mut m = HashMap::clone(m);
            if m.len() >= CACHE_SWEEP_AT {
                m.retain(|_, c| c.expires_at > now);
            }
            m.insert(token.into(), cached.clone());
            m
        });
        Ok(Some(cached))
    }

    fn locked(&self, client_id: &str, now: Timestamp) -> Option<i64> {
        let f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        f.get(client_id)
            .and_then(|f| f.locked_until)
            .filter(|u| *u > now)
            .map(|u| (u.0 - now.0 + 999) / 1000)
    }

    fn failed(&self, client_id: &str, now: Timestamp) {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let e = f.entry(client_id.to_owned()).or_default();
        if e.locked_until.is_some_and(|u| u <= now) {
            *e = Failures::default();
        }
        e.count += 1;
        if e.count >= MAX_FAILURES {
            e.locked_until = Some(Timestamp(now.0 + LOCKOUT_MS));
        }
    }

    fn succeeded(&self, client_id: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_id);
    }
}

/// The token endpoint.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/oauth2/token", post(token))
}

/// An error of the token endpoint, as RFC 6749 §5.2 shapes it (not problem+json: OAuth2 clients
/// and TS 29.510's `AccessTokenErr` expect this form).
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// The client tried HTTP Basic: a 401 must then name that scheme.
    basic: bool,
    retry_after: Option<i64>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic: false,
            retry_after: None,
        }
    }
    fn client(description: impl Into<String>, basic: bool) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            basic,
            ..OAuthError::new("invalid_client", description)
        }
    }
}

fn no_store(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = TokenError {
            error: self.error.into(),
            error_description: self.description,
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        no_store(&mut r);
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if self.basic {
                    "Basic realm=\"ceir\""
                } else {
                    "Bearer realm=\"ceir\""
                }),
            );
        }
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> OAuthError {
        OAuthError {
            status: crate::problem::http_status(e.code),
            ..OAuthError::new("server_error", e.detail)
        }
    }
}

/// The credentials a client presented: HTTP Basic (RFC 6749 §2.3.1, each part form-encoded)
/// or `client_id` and `client_secret` in the body, never both.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, String, bool), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => Err(OAuthError::new(
            "invalid_request",
            "authenticate the client one way: HTTP Basic or client_secret, not both",
        )),
        (Some(b), None) => {
            let bad = || OAuthError::client("malformed HTTP Basic credentials", true);
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|_| bad())?;
            let raw = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
            let decode = |s: &str| -> String {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let id = decode(id);
            if form.get("client_id").is_some_and(|f| *f != id) {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client_id in the body differs from the one authenticated",
                ));
            }
            Ok((id, decode(secret), true))
        }
        (None, Some(secret)) => {
            let id = form.get("client_id").ok_or_else(|| {
                OAuthError::new(
                    "invalid_request",
                    "client_id is required with client_secret",
                )
            })?;
            Ok((id.clone(), secret.clone(), false))
        }
        (None, None) => Err(OAuthError::client(
            "client authentication is required (HTTP Basic or client_id and client_secret)",
            false,
        )),
    }
}

/// The token request's form fields (RFC 6749 §4.4.2), for the OpenAPI document; the handler reads
/// the form itself to refuse repeated fields.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    pub grant_type: String,
    /// Space-separated scopes within the client's; all of them when absent.
    pub scope: Option<String>,
    /// With `client_secret`, instead of HTTP Basic.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub scope: String,
}

/// A token endpoint error (RFC 6749 §5.2).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenError {
    /// invalid_request, invalid_client, unsupported_grant_type, invalid_scope or server_error.
    pub error: String,
    pub error_description: String,
}

/// `POST /oauth2/token`: `grant_type=client_credentials`, optional `scope`.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("client" = [])),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = TokenError),
        (status = 401, body = TokenError, description = "invalid_client"),
        (status = 429, body = TokenError, description = "too many wrong secrets for this client")))]
pub async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match issue(&state, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn issue(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let mut form = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if form
            .insert(k.clone().into_owned(), v.into_owned())
            .is_some()
        {
            return Err(OAuthError::new(
                "invalid_request",
                format!("{k} is given more than once"),
            ));
        }
    }
    match form.get("grant_type").map(String::as_str) {
        None => return Err(OAuthError::new("invalid_request", "grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "only grant_type=client_credentials is offered",
            ))
        }
    }
    let (client_id, secret, basic) = client_credentials(headers, &form)?;
    let m = &state.machine;
    let now = state.registry.clock().now();
    if let Some(wait) = m.locked(&client_id, now) {
        return Err(OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(wait),
            ..OAuthError::client(
                format!("too many failed attempts for this client; retry in {wait} s"),
                basic,
            )
        });
    }
    let client = match state
        .registry
        .store()
        .verify_client(&client_id, &secret)
        .await
        .map_err(ApiError::from)?
    {
        ClientCheck::Valid(c) => c,
        ClientCheck::BadSecret => {
            m.failed(&client_id, now);
            tracing::warn!(client_id = %client_id, "token request with a wrong client secret");
            return Err(OAuthError::client("unknown client or wrong secret", basic));
        }
        ClientCheck::Unknown => {
            return Err(OAuthError::client("unknown client or wrong secret", basic))
        }
    };
    m.succeeded(&client_id);
    let scopes = match form.get("scope") {
        None => client.scopes,
        Some(s) => {
            let asked =
                ScopeSet::parse(s).map_err(|e| OAuthError::new("invalid_scope", e.to_string()))?;
            if asked.is_empty() || !asked.is_subset_of(client.scopes) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("this client may ask for: {}", client.scopes),
                ));
            }
            asked
        }
    };
    let expires_at = Timestamp(now.0 + m.access_token_seconds * 1000);
    let token = state
        .registry
        .store()
        .issue_access_token(
            &client.id,
            scopes,
            expires_at,
            &AuditContext::request(
                Actor {
                    org: client.org.id.clone(),
                    org_kind: client.org.kind,
                    user: format!("client:{}", client.id),
                    role: client.role,
                    scopes,
                },
                crate::audit::request_id(headers),
            ),
            now,
        )
        .await
        .map_err(ApiError::from)?;
    tracing::info!(client_id = %client.id, org = %client.org.id, scope = %scopes, "access token issued");
    let mut r = axum::Json(TokenResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: m.access_token_seconds,
        scope: scopes.to_string(),
    })
    .into_response();
    no_store(&mut r);
    Ok(r)
}

/// Proof that an N5g-eir request carries an access token that may check equipment. Rejections
/// are TS 29.500 problems with RFC 6750's `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy)]
pub struct EirBearer;

fn challenge(code: ErrorCode, detail: &str, header_value: &'static str) -> Response {
    let mut r = ApiError::new(code, detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(header_value),
    );
    r
}

impl FromRequestParts<Arc<AppState>> for EirBearer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                challenge(
                    ErrorCode::Unauthenticated,
                    "an OAuth2 access token with scope n5g-eir-eic is required (POST /oauth2/token)",
                    "Bearer realm=\"ceir\", scope=\"n5g-eir-eic\"",
                )
            })?;
        let invalid = || {
            challenge(
                ErrorCode::Unauthenticated,
                "the access token is unknown, expired or revoked",
                "Bearer realm=\"ceir\", error=\"invalid_token\"",
            )
        };
        if credential::recognise(token) != Some(SecretKind::AccessToken) {
            return Err(invalid());
        }
        let cached = state
            .machine
            .resolve(state, token)
            .await
            .map_err(IntoResponse::into_response)?
            .ok_or_else(invalid)?;
        if cached.actor.can(Capability::CheckEquipment) {
            Ok(EirBearer)
        } else {
            Err(challenge(
                ErrorCode::Forbidden,
                "the access token does not allow N5g-eir (scope n5g-eir-eic, for an operator or the regulator)",
                "Bearer realm=\"ceir\", error=\"insufficient_scope\", scope=\"n5g-eir-eic\"",
            ))
        }
    }
}
