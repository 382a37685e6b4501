//! Single sign-on through OpenID Connect: the authorization code flow with PKCE (S256), state and
//! nonce, and a fully validated ID token (signature by the provider's JWKS, issuer, audience,
//! expiry by the node's clock, nonce).
//!
//! A signed-in identity only ever maps to a user provisioned beforehand, by its issuer and
//! subject or by an e-mail address the provider says it verified. Nobody gains rights by merely
//! holding an account at the identity provider.

use crate::problem::ApiError;
use crate::websec;
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use ceir_domain::{ErrorCode, Timestamp};
use ceir_store::User;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use std::sync::Arc;

/// The cookie that carries a pending sign-in (state, nonce, PKCE verifier) from the redirect to
/// the provider until the callback. Only this browser holds it; it lives ten minutes.
const PENDING_COOKIE: &str = "__Host-ceir_oidc";
const PENDING_MAX_AGE_S: i64 = 600;
/// How long discovery and the provider's keys are trusted before being fetched again.
const METADATA_TTL_MS: i64 = 3_600_000;

/// How a signed-in identity finds its ceir user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcMapping {
    /// By the `iss` and `sub` pair recorded on the user (`ceir user add --oidc-subject`).
    Subject,
    /// By the `email` claim, only when `email_verified` is true, to exactly one enabled user.
    Email,
}

impl OidcMapping {
    pub fn parse(s: &str) -> Option<OidcMapping> {
        match s {
            "subject" => Some(OidcMapping::Subject),
            "email" => Some(OidcMapping::Email),
            _ => None,
        }
    }
}

/// The relying party's registration at the identity provider.
#[derive(Clone)]
pub struct OidcConfig {
    /// The issuer, exactly as the provider's discovery document states it.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// This node's callback, e.g. `https://ceir.example.gov.az/auth/oidc/callback`.
    pub redirect_url: String,
    pub mapping: OidcMapping,
    /// Scopes beyond `openid`.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("mapping", &self.mapping)
            .finish_non_exhaustive()
    }
}

/// The OpenID client: configuration, HTTP client and the provider's cached metadata.
#[derive(Debug)]
pub struct Oidc {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::RwLock<Option<(CoreProviderMetadata, Timestamp)>>,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Result<Oidc, String> {
        let issuer = IssuerUrl::new(config.issuer_url.clone())
            .map_err(|e| format!("oidc issuer_url {:?}: {e}", config.issuer_url))?;
        let redirect = RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| format!("oidc redirect_url {:?}: {e}", config.redirect_url))?;
        // Redirects are refused: the provider's endpoints are followed only as discovered,
        // never to wherever a response points (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the OpenID HTTP client: {e}"))?;
        Ok(Oidc {
            config,
            issuer,
            redirect,
            http,
            metadata: tokio::sync::RwLock::new(None),
        })
    }

    async fn metadata(&self, now: Timestamp) -> Result<CoreProviderMetadata, ApiError> {
        if let Some((m, at)) = &*self.metadata.read().await {
            if now.0.saturating_sub(at.0) < METADATA_TTL_MS {
                return Ok(m.clone());
            }
        }
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "OpenID discovery failed");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the identity provider cannot be reached; try again later",
                )
            })?;
        *self.metadata.write().await = Some((m.clone(), now));
        Ok(m)
    }

    async fn forget_metadata(&self) {
        *self.metadata.write().await = None;
    }

    fn client(
        &self,
        m: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            m,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }
}

/// The single sign-on routes.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/auth/oidc/login", get(login))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            websec::limit_sign_in,
        ))
        .route("/auth/oidc/callback", get(callback))
}

fn oidc(state: &AppState) -> Result<&Oidc, ApiError> {
    state
        .sign_in
        .oidc
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "single sign-on is not configured"))
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => ApiError::new(ErrorCode::Internal, "bad redirect").into_response(),
    }
}

/// Sends the browser to the provider, remembering state, nonce and PKCE verifier in a cookie.
async fn login(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let o = oidc(&state)?;
    let m = o.metadata(state.registry.clock().now()).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = o.client(m);
    let mut req = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in &o.config.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let (url, csrf, nonce) = req.url();
    let pending = format!(
        "{PENDING_COOKIE}={}.{}.{}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={PENDING_MAX_AGE_S}",
        csrf.secret(),
        nonce.secret(),
        verifier.secret()
    );
    let mut res = redirect(url.as_str());
    let v = HeaderValue::from_str(&pending)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "cannot form the sign-in cookie"))?;
    res.headers_mut().insert(header::SET_COOKIE, v);
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn pending(headers: &HeaderMap) -> Option<(String, String, String)> {
    let v = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("__Host-ceir_oidc="))?;
    let mut parts = v.splitn(3, '.');
    Some((
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ))
}

/// Why a callback was refused: logged for the operator, never shown in detail to the browser.
#[derive(Debug)]
struct Refusal(String);

/// The provider sends the browser back here with a code: exchange it, validate the ID token,
/// find the provisioned user, open a session and go home.
async fn callback(
    State(state): State<Arc<AppState>>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let clear = HeaderValue::from_static(
        "__Host-ceir_oidc=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
    );
    let mut res = match finish(&state, q, &headers).await {
        Ok(user) => {
            let now = state.registry.clock().now();
            match state
                .sign_in
                .open_session(&state, &user, &headers, now)
                .await
            {
                Ok((_, cookie)) => {
                    let mut r = redirect("/");
                    r.headers_mut().append(header::SET_COOKIE, cookie);
                    r
                }
                Err(e) => e.into_response(),
            }
        }
        Err(Ok(Refusal(why))) => {
            tracing::warn!(reason = %why, "single sign-on refused");
            redirect("/login?failed")
        }
        Err(Err(e)) => e.into_response(),
    };
    res.headers_mut().append(header::SET_COOKIE, clear);
    res
}

async fn finish(
    state: &AppState,
    q: CallbackQuery,
    headers: &HeaderMap,
) -> Result<User, Result<Refusal, ApiError>> {
    let refuse = |s: String| Err(Ok(Refusal(s)));
    let o = oidc(state).map_err(Err)?;
    if let Some(e) = q.error {
        return refuse(format!("the provider answered {e}"));
    }
    let (Some(code), Some(got_state)) = (q.code, q.state) else {
        return refuse("the callback lacks code or state".into());
    };
    let Some((want_state, nonce, verifier)) = pending(headers) else {
        return refuse("no pending sign-in in this browser (cookie missing or expired)".into());
    };
    if !constant_time_eq::constant_time_eq(got_state.as_bytes(), want_state.as_bytes()) {
        return refuse("state does not match this browser's pending sign-in".into());
    }
    let clock = state.registry.clock().clone();
    let now = clock.now();
    let m = o.metadata(now).await.map_err(Err)?;
    let client = o.client(m);
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Ok(Refusal(format!("the provider has no token endpoint: {e}"))))?;
    let tokens = match exchange
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&o.http)
        .await
    {
        Ok(t) => t,
        Err(e) => return refuse(format!("code exchange failed: {e}")),
    };
    let Some(id_token) = tokens.id_token() else {
        return refuse("the token response has no ID token".into());
    };
    let verifier = client.id_token_verifier().set_time_fn(move || {
        let now = clock.now();
        chrono::DateTime::from_timestamp_millis(now.millis()).unwrap_or_default()
    });
    let claims = match id_token.claims(&verifier, &Nonce::new(nonce)) {
        Ok(c) => c,
        Err(e) => {
            // Perhaps the provider rotated its keys: fetch them afresh next time.
            o.forget_metadata().await;
            return refuse(format!("ID token rejected: {e}"));
        }
    };
    let store = state.registry.store();
    let issuer = claims.issuer().as_str();
    let subject = claims.subject().as_str();
    let user = match o.config.mapping {
        OidcMapping::Subject => store
            .user_by_oidc(issuer, subject)
            .await
            .map_err(|e| Err(e.into()))?,
        OidcMapping::Email => {
            // Providers often keep scope claims out of the ID token when an access token is
            // issued; then they come from the userinfo endpoint, bound to the same subject.
            let (email, verified) = match (claims.email(), claims.email_verified()) {
                (Some(e), v) => (Some(e.as_str().to_owned()), v),
                (None, _) => {
                    let info = match client.user_info(
                        tokens.access_token().clone(),
                        Some(claims.subject().clone()),
                    ) {
                        Ok(req) => req.request_async(&o.http).await,
                        Err(e) => return refuse(format!("no userinfo endpoint: {e}")),
                    };
                    let info: openidconnect::core::CoreUserInfoClaims = match info {
                        Ok(i) => i,
                        Err(e) => return refuse(format!("userinfo failed: {e}")),
                    };
                    (
                        info.email().map(|e| e.as_str().to_owned()),
                        info.email_verified(),
                    )
                }
            };
            let Some(email) = email.filter(|_| verified == Some(true)) else {
                return refuse("the provider vouches for no verified e-mail address".into());
            };
            let mut found: Vec<User> = store
                .users_by_email(&email)
                .await
                .map_err(|e| Err(e.into()))?
                .into_iter()
                .filter(|u| !u.is_disabled())
                .collect();
            if found.len() == 1 {
                found.pop()
            } else {
                None
            }
        }
    };
    match user {
        Some(u) if !u.is_disabled() => Ok(u),
        Some(u) => refuse(format!("user {} of {} is disabled", u.name, u.org.id)),
        None => refuse(format!(
            "no user is provisioned for this identity of {issuer}"
        )),
    }
}
