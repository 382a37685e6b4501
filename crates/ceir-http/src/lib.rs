//! ceir's HTTP layer: the N5g-eir service, the REST API and its OpenAPI document, metrics.
//!
//! Thin by design: handlers parse wire types into domain types, call the registry, and map errors
//! to problem+json in one place ([`problem::http_status`]).

pub mod api;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod credentials;
pub mod eir;
pub mod explain;
pub mod metrics;
pub mod oauth;
pub mod oidc;
pub mod operator_lists;
pub mod problem;
pub mod public;
pub mod server;
pub mod signin;
pub mod websec;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ceir_domain::lists::Country;
use ceir_domain::ErrorCode;
use ceir_eir::Registry;
use problem::ApiError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use utoipa::OpenApi;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub metrics: metrics::Metrics,
    /// This node's country: the default origin of entries made here.
    pub country: Country,
    /// OAuth2 clients, access tokens and whether N5g-eir requires them.
    pub machine: oauth::MachineAuth,
    /// Staff sign-in, sessions, rate limits and single sign-on.
    pub sign_in: signin::SignIn,
    /// Where citizens' one-time codes are queued for delivery; without it they cannot be sent.
    pub outbox: Option<cases::Outbox>,
    /// Classification state and conditions for `explain`; set by the node after start-up
    /// (none: the route answers 404).
    pub classification: arc_swap::ArcSwapOption<explain::ClassificationSource>,
    /// `DIR/lists`, where generated operator lists are published; set once by the server.
    pub lists_root: OnceLock<std::path::PathBuf>,
}

impl AppState {
    /// A node with local sign-in at its default settings, no single sign-on, and N5g-eir open.
    pub fn new(registry: Arc<Registry>, country: Country) -> Arc<AppState> {
        Self::build(
            registry,
            country,
            oauth::MachineAuth::default(),
            signin::SignIn::local(signin::SignInConfig::default()),
        )
    }
    pub fn with_machine(
        registry: Arc<Registry>,
        country: Country,
        machine: oauth::MachineAuth,
    ) -> Arc<AppState> {
        Self::build(
            registry,
            country,
            machine,
            signin::SignIn::local(signin::SignInConfig::default()),
        )
    }
    pub fn with_sign_in(
        registry: Arc<Registry>,
        country: Country,
        sign_in: signin::SignIn,
    ) -> Arc<AppState> {
        Self::build(registry, country, oauth::MachineAuth::default(), sign_in)
    }
    pub fn build(
        registry: Arc<Registry>,
        country: Country,
        machine: oauth::MachineAuth,
        sign_in: signin::SignIn,
    ) -> Arc<AppState> {
        Self::build_with_outbox(registry, country, machine, sign_in, None)
    }
    pub fn build_with_outbox(
        registry: Arc<Registry>,
        country: Country,
        machine: oauth::MachineAuth,
        sign_in: signin::SignIn,
        outbox: Option<cases::Outbox>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            registry,
            metrics: metrics::Metrics::new(),
            country,
            machine,
            sign_in,
            outbox,
            classification: arc_swap::ArcSwapOption::empty(),
            lists_root: OnceLock::new(),
        })
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "ceir REST API", description = "Central Equipment Identity Register: device status, lists with history, the TAC catalog. The 5G EIR service (N5g-eir, TS 29.511) is served beside it at /n5g-eir-eic/v1 and described by 3GPP's own OpenAPI files."),
    paths(public::check, api::get_device, api::get_history, explain::get_explain, api::get_list, api::add_entries, api::remove_entry, api::get_tac, api::get_stats, api::get_operators, audit::list_audit, audit::export_audit, oauth::token, signin::me, cases::report, cases::request_otp, cases::view_own, cases::list_cases, cases::get_case, operator_lists::list_runs, operator_lists::get_manifest, operator_lists::get_signature, operator_lists::get_file),
    components(schemas(public::PublicCheck, problem::Problem, problem::InvalidParam, api::DeviceView, api::EntryView, api::HistoryView, api::EntryPage, api::NewEntryBody, api::AddBody, api::ApplyView, api::ModelView, api::StatsView, api::OperatorView, audit::AuditView, audit::AuditPage, oauth::TokenRequest, oauth::TokenResponse, oauth::TokenError, signin::MeView, cases::ReportBody, cases::CaseFiled, cases::OtpSent, cases::CitizenCaseView, cases::CaseView, cases::CasePage, operator_lists::ListRunView)),
    modifiers(&TokenScheme),
    tags((name = "public", description = "No account needed: the citizen's check before buying a phone, and reporting a lost or stolen one."), (name = "cases", description = "Citizens' reports, for the police, the regulator and embassies."), (name = "devices"), (name = "lists"), (name = "catalog"), (name = "node"), (name = "audit", description = "The tamper-evident audit log: the regulator's oversight."), (name = "operator lists", description = "Generated blocklists, notification and exception lists with their signed manifests: each operator its own, the regulator all."), (name = "oauth2", description = "Access tokens for network functions (client credentials), used on N5g-eir."))
)]
pub struct ApiDoc;

impl ApiDoc {
    /// The served document as JSON.
    pub fn openapi_json() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
    }
}

struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ceir API token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    websec::SESSION_COOKIE,
                    "A staff session from POST /auth/login or single sign-on; changes also need X-CSRF-Token.",
                ),
            )),
        );
    }
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id a request carries in logs and in its response: the caller's `x-request-id` if it is
/// sane (at most 64 letters, digits and dashes), otherwise a fresh `<pid hex>-<sequence hex>`,
/// which replaces the caller's in the request so later layers log the same id.
fn assign_request_id(headers: &mut http::HeaderMap) -> HeaderValue {
    if let Some(v) = headers.get(&X_REQUEST_ID) {
        if v.len() <= 64
            && v.as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return v.clone();
        }
    }
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    // At most 8 + 1 + 16 hex digits: formatted on the stack, copied once into the value.
    let mut buf = [0u8; 32];
    let mut w: &mut [u8] = &mut buf;
    let v = match std::io::Write::write_fmt(&mut w, format_args!("{pid:x}-{n:x}")) {
        Ok(()) => {
            let len = 32 - w.len();
            buf.get(..len)
                .and_then(|b| HeaderValue::from_bytes(b).ok())
                .unwrap_or(HeaderValue::from_static("0"))
        }
        Err(_) => HeaderValue::from_static("0"),
    };
    headers.insert(X_REQUEST_ID.clone(), v.clone());
    v
}

/// Gives every request an id (see [`assign_request_id`]) that logs and the response carry.
///
/// A hand-written layer rather than `middleware::from_fn`: this runs on every N5g-eir request,
/// and `from_fn` costs several allocations per request (a boxed future, a boxed clone of the
/// inner service for `Next`) that showed in `bench/eir_h2load.sh`.
#[derive(Debug, Clone, Copy)]
struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;
    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

#[derive(Debug, Clone)]
struct RequestId<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for RequestId<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let id = assign_request_id(req.headers_mut());
        RequestIdFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

#[derive(Debug)]
struct RequestIdFuture<F> {
    inner: F,
    id: Option<HeaderValue>,
}

impl<F, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut res = ready!(Pin::new(&mut this.inner).poll(cx))?;
        if let Some(mut id) = this.id.take() {
            // Never indexed by HPACK: a fresh value per response would otherwise churn the
            // connection's dynamic table (and the encoder's search of it) on every answer.
            id.set_sensitive(true);
            res.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        Poll::Ready(Ok(res))
    }
}

/// Counts REST requests per route and status, and logs them (without query strings, which may
/// carry identifiers).
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    state.metrics.http(&route, status);
    tracing::info!(request_id = %id, %method, route = %route, status, elapsed_us = started.elapsed().as_micros() as u64, "request");
    res
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.registry.store().feed_position().await {
        Ok(seq) => Json(serde_json::json!({
            "status": "ok",
            "store": state.registry.store().backend(),
            "feed_seq": seq,
            "index_seq": state.registry.index().applied_seq(),
        }))
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let idx = state.registry.index();
    state.metrics.gauge("ceir_index_imeis", idx.len() as f64);
    state
        .metrics
        .gauge("ceir_index_seq", idx.applied_seq() as f64);
    state
        .metrics
        .gauge("ceir_index_memory_bytes", idx.memory_bytes() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such resource; see /openapi.json")
}

/// The whole HTTP surface of a node.
pub fn router(state: Arc<AppState>) -> Router {
    let rest = Router::new()
        .route("/api/v1/devices/{imei}", get(api::get_device))
        .route("/api/v1/devices/{imei}/history", get(api::get_history))
        .route("/api/v1/devices/{imei}/explain", get(explain::get_explain))
        .route("/api/v1/lists/{list}", get(api::get_list))
        .route("/api/v1/lists/{list}/entries", post(api::add_entries))
        .route(
            "/api/v1/lists/{list}/entries/{id}",
            delete(api::remove_entry),
        )
        .route("/api/v1/tacs/{tac}", get(api::get_tac))
        .route("/api/v1/stats", get(api::get_stats))
        .route("/api/v1/operators", get(api::get_operators))
        .route(
            "/api/v1/public/check/{imei}",
            get(public::check).layer(middleware::from_fn_with_state(
                state.clone(),
                websec::limit_public,
            )),
        )
        .route("/", get(public::page))
        .route("/check", get(public::page))
        .route("/static/check.js", get(public::script))
        .route("/static/check.css", get(public::style))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .merge(audit::routes())
        .merge(operator_lists::routes())
        .merge(cases::routes(&state))
        .merge(oauth::routes())
        .merge(signin::routes(&state))
        .merge(oidc::routes(&state))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            websec::security_headers,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    // Chosen once here, so the open EIR pays nothing for the option.
    let eir_route = if state.machine.require_eir_oauth {
        get(eir::equipment_status_oauth)
    } else {
        get(eir::equipment_status)
    };
    Router::new()
        .route(&format!("{}/equipment-status", eir::BASE), eir_route)
        .merge(rest)
        .fallback(not_found)
        .layer(RequestIdLayer)
        .with_state(state)
}
