//! Staff sign-in with local accounts: the sign-in page, `POST /auth/login`, `POST /auth/logout`
//! and `GET /auth/me`, and the lockout against password guessing.
//!
//! Every refusal answers the same `SIGN_IN_FAILED`, whether the user is unknown, the password or
//! code wrong, or the account locked or disabled, and takes the time of one password check, so
//! the answers do not tell which accounts exist.

use crate::auth::Caller;
use crate::credentials;
use crate::oidc::{Oidc, OidcConfig};
use crate::problem::ApiError;
use crate::websec::{self, Limiter, RateLimit};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use ceir_domain::audit::AuditContext;
use ceir_domain::{ErrorCode, Timestamp};
use ceir_store::User;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How sign-in and sessions behave.
#[derive(Debug, Clone)]
pub struct SignInConfig {
    /// Failed passwords in a row before an account is locked.
    pub max_failures: u32,
    /// How long a lock lasts, in milliseconds.
    pub lockout_ms: i64,
    /// A session's absolute lifetime, in milliseconds.
    pub session_ttl_ms: i64,
    /// A session unused for this long ends, in milliseconds.
    pub session_idle_ms: i64,
    /// Per client address, on `/api/v1/public/*`.
    pub public_rate: RateLimit,
    /// Per client address, on `/auth/login` and `/auth/oidc/login`.
    pub login_rate: RateLimit,
    /// The node is served over TLS: send Strict-Transport-Security and expect https origins.
    pub tls: bool,
    /// The origin browsers see (e.g. `https://ceir.example.gov.az`) when behind a proxy; without
    /// it, an Origin must match the Host the request addressed.
    pub public_origin: Option<String>,
    /// Single sign-on, when configured.
    pub oidc: Option<OidcConfig>,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            max_failures: 5,
            lockout_ms: 15 * 60_000,
            session_ttl_ms: 8 * 3_600_000,
            session_idle_ms: 3_600_000,
            public_rate: RateLimit {
                per_minute: 60,
                burst: 60,
            },
            login_rate: RateLimit {
                per_minute: 10,
                burst: 10,
            },
            tls: false,
            public_origin: None,
            oidc: None,
        }
    }
}

/// Sign-in's run-time state: configuration, rate limiters and the OpenID client.
#[derive(Debug)]
pub struct SignIn {
    pub config: SignInConfig,
    pub public_limiter: Limiter,
    pub login_limiter: Limiter,
    pub oidc: Option<Oidc>,
}

impl SignIn {
    /// With single sign-on when the configuration has it; fails on a malformed OpenID setting.
    pub fn new(config: SignInConfig) -> Result<SignIn, String> {
        let oidc = config.oidc.clone().map(Oidc::new).transpose()?;
        Ok(SignIn {
            oidc,
            ..SignIn::local(config)
        })
    }

    /// Local accounts only, whatever the configuration says about single sign-on.
    pub fn local(config: SignInConfig) -> SignIn {
        SignIn {
            public_limiter: Limiter::new(config.public_rate),
            login_limiter: Limiter::new(config.login_rate),
            config,
            oidc: None,
        }
    }

    /// Opens a session for a user and the response headers that set its cookie.
    pub async fn open_session(
        &self,
        state: &AppState,
        user: &User,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<(ceir_store::OpenedSession, HeaderValue), ApiError> {
        let expires = Timestamp(now.0.saturating_add(self.config.session_ttl_ms));
        let by = AuditContext::request(user.actor(), crate::audit::request_id(headers));
        let opened = state
            .registry
            .store()
            .open_session(&user.id, &by, now, expires)
            .await?;
        let cookie = websec::session_set_cookie(&opened.secret, self.config.session_ttl_ms / 1000);
        let cookie = HeaderValue::from_str(&cookie)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "cannot form the session cookie"))?;
        tracing::info!(org = %user.org.id, user = %user.name, "signed in");
        Ok((opened, cookie))
    }
}

/// The sign-in routes, merged into the main router.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let limited = Router::new().route("/auth/login", post(login)).route_layer(
        middleware::from_fn_with_state(state.clone(), websec::limit_sign_in),
    );
    Router::new()
        .route("/login", get(page))
        .route("/static/login.js", get(script))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .merge(limited)
}

/// What a sign-in form or JSON body carries.
#[derive(Deserialize, Default)]
pub struct LoginBody {
    /// The organisation's id; needed only when the user name exists in several.
    #[serde(default)]
    pub org: Option<String>,
    pub username: String,
    pub password: String,
    /// The six-digit code, for accounts with TOTP.
    #[serde(default)]
    pub totp: Option<String>,
}

// Hand-written so that the password and code can never reach a log.
impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("org", &self.org)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl LoginBody {
    fn from_form(body: &[u8]) -> LoginBody {
        let mut b = LoginBody::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "org" => b.org = Some(v).filter(|s| !s.is_empty()),
                "username" => b.username = v,
                "password" => b.password = v,
                "totp" => b.totp = Some(v).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
        b
    }
}

/// Who is signed in, and the token their page must send with changes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub org: String,
    pub org_kind: String,
    pub user: String,
    pub role: String,
    /// The person's display name (sessions only).
    pub display_name: Option<String>,
    /// Send as `X-CSRF-Token` with every POST, PUT or DELETE made with the session cookie.
    pub csrf_token: Option<String>,
    /// RFC 3339, sessions only.
    pub expires_at: Option<String>,
}

fn failed() -> ApiError {
    ApiError::new(
        ErrorCode::SignInFailed,
        "sign-in failed: wrong organisation, user name, password or code, or the account is locked for a while",
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// Checks the credentials; `Ok` carries the user to open a session for.
async fn authenticate(state: &AppState, body: LoginBody) -> Result<User, ApiError> {
    let store = state.registry.store();
    let cfg = &state.sign_in.config;
    let now = state.registry.clock().now();
    let mut found = store
        .users_named(body.org.as_deref(), &body.username)
        .await?;
    let user = if found.len() == 1 { found.pop() } else { None };
    let password = body.password;
    let usable = user.filter(|u| !u.is_disabled() && !u.is_locked(now));
    let Some((user, hash)) = usable.and_then(|u| u.password_hash.clone().map(|h| (u, h))) else {
        tokio::task::spawn_blocking(move || credentials::spend_verification_time(&password))
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "sign-in check failed"))?;
        tracing::info!(username = %body.username, "sign-in refused: no usable account");
        return Err(failed());
    };
    let ok = tokio::task::spawn_blocking(move || credentials::verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "sign-in check failed"))?;
    let step = match (&user.totp_secret, ok) {
        (_, false) => Err(()),
        (None, true) => Ok(None),
        (Some(secret), true) => body
            .totp
            .as_deref()
            .and_then(|code| credentials::verify_totp(secret, code, now))
            .map(Some)
            .ok_or(()),
    };
    let accepted = match step {
        Ok(step) => store.record_sign_in(&user.id, step).await?,
        Err(()) => false,
    };
    if !accepted {
        let locked = store
            .record_failed_sign_in(&user.id, now, cfg.max_failures, cfg.lockout_ms)
            .await?;
        tracing::info!(org = %user.org.id, user = %user.name, locked, "sign-in refused");
        return Err(failed());
    }
    Ok(user)
}

async fn login(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = is_form(&headers);
    // Login CSRF: a foreign page must not sign a browser into an account of its choosing.
    let host = websec::request_host(&uri, &headers);
    let cfg = &state.sign_in.config;
    if websec::same_origin(&headers, host, cfg.public_origin.as_deref(), cfg.tls) == Some(false) {
        return ApiError::new(ErrorCode::CsrfRejected, "sign-in from another site").into_response();
    }
    let parsed = if form {
        LoginBody::from_form(&body)
    } else {
        match serde_json::from_slice::<LoginBody>(&body) {
            Ok(b) => b,
            Err(e) => {
                return ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("expected {{\"username\", \"password\", \"org\"?, \"totp\"?}}: {e}"),
                )
                .into_response()
            }
        }
    };
    let user = match authenticate(&state, parsed).await {
        Ok(u) => u,
        Err(e) if form && e.code == ErrorCode::SignInFailed => return see_other("/login?failed"),
        Err(e) => return e.into_response(),
    };
    let now = state.registry.clock().now();
    let (opened, cookie) = match state
        .sign_in
        .open_session(&state, &user, &headers, now)
        .await
    {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut res = if form {
        see_other("/")
    } else {
        Json(me_view(
            &user,
            Some((&opened.csrf_token, opened.expires_at)),
        ))
        .into_response()
    };
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    res
}

fn me_view(user: &User, session: Option<(&str, Timestamp)>) -> MeView {
    MeView {
        org: user.org.id.clone(),
        org_kind: user.org.kind.as_str().into(),
        user: user.name.clone(),
        role: user.role.as_str().into(),
        display_name: Some(user.display_name.clone()),
        csrf_token: session.map(|s| s.0.to_owned()),
        expires_at: session.map(|s| crate::api::rfc3339(s.1)),
    }
}

/// Ends the session (a CSRF-checked change, like any other made with the cookie).
async fn logout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = websec::session_cookie(&headers) {
        let by = AuditContext::request(caller.0.clone(), crate::audit::request_id(&headers));
        let now = state.registry.clock().now();
        state.registry.store().end_session(secret, &by, now).await?;
    }
    tracing::info!(org = %caller.0.org, user = %caller.0.user, "signed out");
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(websec::session_clear_cookie()),
    );
    Ok(res)
}

/// Who the caller is: a signed-in person (with the CSRF token for their page) or an API token.
#[utoipa::path(get, path = "/auth/me", tag = "node",
    responses((status = 200, body = MeView), (status = 401, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
pub async fn me(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<MeView>, ApiError> {
    if let (None, Some(secret)) = (
        headers.get(header::AUTHORIZATION),
        websec::session_cookie(&headers),
    ) {
        let now = state.registry.clock().now();
        let cfg = &state.sign_in.config;
        if let Some(s) = state
            .registry
            .store()
            .session(secret, now, cfg.session_idle_ms)
            .await?
        {
            return Ok(Json(me_view(&s.user, Some((&s.csrf_token, s.expires_at)))));
        }
    }
    let a = caller.0;
    Ok(Json(MeView {
        org_kind: a.org_kind.as_str().into(),
        role: a.role.as_str().into(),
        org: a.org,
        user: a.user,
        display_name: None,
        csrf_token: None,
        expires_at: None,
    }))
}

async fn page(State(state): State<Arc<AppState>>) -> Response {
    let html = include_str!("../static/login.html");
    // The single sign-on button appears only where single sign-on is configured.
    let sso = if state.sign_in.oidc.is_some() {
        "<p class=\"sso\"><a href=\"/auth/oidc/login\" data-t=\"sso\">Sign in with the government identity service</a></p>"
    } else {
        ""
    };
    crate::public::asset_owned(html.replace("<!--sso-->", sso), "text/html; charset=utf-8")
}

async fn script() -> Response {
    crate::public::asset_owned(
        include_str!("../static/login.js").to_owned(),
        "text/javascript; charset=utf-8",
    )
}
