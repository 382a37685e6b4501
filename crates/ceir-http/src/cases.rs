//! Citizens' cases: a lost or stolen phone reported without an account (`/api/v1/public/cases`),
//! followed with the case's tracking code and a one-time code sent to the reporter's contact;
//! and the staff's view of the reports (`/api/v1/cases`).
//!
//! One-time codes leave the node through the [`Outbox`], a spool file that a mail or SMS relay
//! reads. Neither the codes nor the contacts are ever logged.

use crate::api::{rfc3339, ApiJson};
use crate::audit::{record_personal_read, ReqId};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::{websec, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ceir_domain::audit::{AuditContext, ObjectRef};
use ceir_domain::authz::{sees_contact, Actor, Capability, OrgKind, Role};
use ceir_domain::cases::{CaseCode, CaseKind, CaseState, Contact, OneTimeCode, OTP_TTL_MS};
use ceir_domain::scope::ScopeSet;
use ceir_domain::{ErrorCode, Imei, Timestamp};
use ceir_store::cases::{Case, NewCase, OtpIssue};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The header that carries a citizen's one-time code.
pub const OTP_HEADER: &str = "x-one-time-code";

/// Longest description a reporter may give, in characters.
pub const MAX_DESCRIPTION: usize = 2000;

/// Most cases one staff request lists.
pub const MAX_PAGE: u32 = 500;

/// The delivery interface for one-time codes: each message is appended as one JSON line to
/// `<dir>/outbox.jsonl` and flushed to disk before the request is answered, for a relay (mail or
/// SMS gateway) to pick up and send.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    /// Lines from concurrent requests are written whole, one after the other.
    write: tokio::sync::Mutex<()>,
}

/// One line of the outbox file.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub to: String,
    /// "email" or "sms".
    pub channel: String,
    pub body: String,
    /// When the node queued it (RFC 3339).
    pub at: String,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Outbox {
        Outbox {
            dir: dir.into(),
            write: tokio::sync::Mutex::new(()),
        }
    }
    /// The spool file relays read.
    pub fn file(&self) -> PathBuf {
        self.dir.join("outbox.jsonl")
    }
    /// Appends a message and syncs it to disk.
    pub async fn send(&self, to: &Contact, body: String, at: Timestamp) -> std::io::Result<()> {
        let msg = OutboxMessage {
            to: to.to_string(),
            channel: to.channel().as_str().into(),
            body,
            at: rfc3339(at),
        };
        let mut line = serde_json::to_vec(&msg).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let dir = self.dir.clone();
        let file = self.file();
        let _one_writer = self.write.lock().await;
        tokio::task::spawn_blocking(move || append(&dir, &file, &line))
            .await
            .map_err(std::io::Error::other)?
    }
}

fn append(dir: &FsPath, file: &FsPath, line: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(line)?;
    // The code must survive a crash once the citizen is told it was sent.
    f.sync_all()
}

/// Who files a case: a citizen, who has no account. Holds no scope, so it can do nothing but be
/// named in the audit log.
pub fn citizen() -> Actor {
    Actor {
        org: "public".into(),
        org_kind: OrgKind::System,
        user: "citizen".into(),
        role: Role::Viewer,
        scopes: ScopeSet::EMPTY,
    }
}

/// A citizen's report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// 15-digit IMEI (dial *#06# or look on the box); the check digit is verified.
    pub imei: String,
    /// "lost" or "stolen".
    pub kind: String,
    /// An e-mail address, or a phone number with + and the country code, where one-time codes
    /// are sent.
    pub contact: String,
    /// What happened, in the reporter's words.
    pub description: Option<String>,
}

/// A filed case, as its reporter sees it on filing.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFiled {
    /// The tracking code: keep it to follow the case.
    pub code: String,
    pub state: String,
    /// The contact, masked, as a reminder of where codes will be sent.
    pub contact: String,
}

/// Where a one-time code went.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpSent {
    /// The contact, masked.
    pub sent_to: String,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

/// A case as its reporter sees it: never the contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct CitizenCaseView {
    pub code: String,
    pub imei: String,
    pub kind: String,
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A case as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub code: String,
    pub imei: String,
    pub kind: String,
    pub state: String,
    pub country: String,
    /// In full for roles that may see subscriber data, masked for the others.
    pub contact: String,
    pub contact_masked: bool,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl CaseView {
    fn of(c: &Case, full_contact: bool) -> CaseView {
        CaseView {
            code: c.code.to_string(),
            imei: c.imei.to_string(),
            kind: c.kind.as_str().into(),
            state: c.state.as_str().into(),
            country: c.country.to_string(),
            contact: if full_contact {
                c.contact.to_string()
            } else {
                c.contact.masked()
            },
            contact_masked: !full_contact,
            description: c.description.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CasePage {
    pub cases: Vec<CaseView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// received, confirmed or closed.
    pub state: Option<String>,
    /// At most this many, newest first: 1 to 500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn parse_code(s: &str) -> Result<CaseCode, ApiError> {
    CaseCode::parse(s).map_err(|e| ApiError::param(e.code(), "code", e.to_string()))
}

/// One answer for a missing, malformed, wrong, expired or used code and for an unknown case, so
/// that nobody can learn from it whether a case exists.
fn refused() -> ApiError {
    ApiError::new(
        ErrorCode::OneTimeCodeRefused,
        "the one-time code is missing, wrong, expired or already used; ask for a new one",
    )
}

#[utoipa::path(post, path = "/api/v1/public/cases", tag = "public",
    request_body = ReportBody,
    responses((status = 201, body = CaseFiled, description = "Filed. The IMEI is not blocked by this: the police confirm the report and block the device."),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<Arc<AppState>>,
    rid: ReqId,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<Response, ApiError> {
    let imei = Imei::parse_typed(&body.imei)
        .map_err(|e| ApiError::param(e.code(), "imei", e.to_string()))?;
    let kind = CaseKind::parse(&body.kind)
        .ok_or_else(|| ApiError::param(ErrorCode::InvalidRequest, "kind", "use lost or stolen"))?;
    // The value is not echoed back: it is personal data, and errors are logged.
    let contact = Contact::parse(&body.contact)
        .map_err(|e| ApiError::param(ErrorCode::InvalidRequest, "contact", e.to_string()))?;
    let description = body
        .description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(ApiError::param(
            ErrorCode::InvalidRequest,
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    let case = NewCase {
        imei,
        kind,
        contact,
        country: state.country,
        description,
    };
    let ctx = AuditContext::request(citizen(), rid.0);
    let now = state.registry.clock().now();
    let filed = state.registry.store().create_case(&case, &ctx, now).await?;
    let body = CaseFiled {
        code: filed.code.to_string(),
        state: filed.state.as_str().into(),
        contact: filed.contact.masked(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(post, path = "/api/v1/public/cases/{code}/otp", tag = "public",
    params(("code" = String, Path, description = "The case's tracking code, e.g. AZ-7K3M-Q9XF")),
    responses((status = 202, body = OtpSent, description = "A new code is on its way to the case's contact; it replaces any earlier one."),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Three codes were sent for this case within the hour, or too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This node has no delivery configured", body = Problem, content_type = "application/problem+json")))]
pub async fn request_otp(
    State(state): State<Arc<AppState>>,
    rid: crate::audit::ReqId,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let code = parse_code(&code)?;
    let Some(outbox) = state.outbox.as_ref() else {
        return Err(ApiError::new(
            ErrorCode::DeliveryUnavailable,
            "one-time codes cannot be sent: this node has no delivery configured (outbox_dir)",
        ));
    };
    let otp = {
        use rand::RngCore;
        let mut r = [0u8; 4];
        rand::rngs::OsRng
            .try_fill_bytes(&mut r)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the system's random source failed"))?;
        OneTimeCode::from_random(u32::from_le_bytes(r))
    };
    let now = state.registry.clock().now();
    let store = state.registry.store();
    let by = rid.context(&citizen());
    let case = match store.issue_otp(&code, &otp.digest(&code), &by, now).await? {
        OtpIssue::Issued(case) => case,
        OtpIssue::UnknownCase => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no case has this code; check it on your receipt",
            ))
        }
        OtpIssue::Limited { retry_at } => {
            let secs = ((retry_at.0 - now.0).max(0) + 999) / 1000;
            let secs = secs.max(1);
            let mut r = ApiError::new(
                ErrorCode::RateLimited,
                "three codes were sent for this case within the hour; use the last one or wait",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(r);
        }
    };
    let body = format!(
        "ceir: your code for case {} is {}. It works once, for {} minutes. Nobody from the \
         registry or the police will ask you for it.",
        case.code,
        otp.reveal(),
        OTP_TTL_MS / 60_000
    );
    if let Err(e) = outbox.send(&case.contact, body, now).await {
        // The error's kind only: neither the code nor the contact belongs in a log.
        tracing::error!(kind = ?e.kind(), "the outbox could not be written");
        return Err(ApiError::new(
            ErrorCode::DeliveryUnavailable,
            "the code could not be queued for delivery; try again later",
        ));
    }
    let body = OtpSent {
        sent_to: case.contact.masked(),
        expires_in: OTP_TTL_MS / 1000,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/v1/public/cases/{code}", tag = "public",
    params(("code" = String, Path, description = "The case's tracking code"),
        ("X-One-Time-Code" = String, Header, description = "The six digits sent to the case's contact")),
    responses((status = 200, body = CitizenCaseView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "ONE_TIME_CODE_REFUSED: missing, wrong, expired or used code, or no such case", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn view_own(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CitizenCaseView>, ApiError> {
    let code = parse_code(&code)?;
    let otp = headers
        .get(OTP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(OneTimeCode::parse)
        .ok_or_else(refused)?;
    let now = state.registry.clock().now();
    let case = state
        .registry
        .store()
        .use_otp(&code, &otp.digest(&code), now)
        .await?
        .ok_or_else(refused)?;
    Ok(Json(CitizenCaseView {
        code: case.code.to_string(),
        imei: case.imei.to_string(),
        kind: case.kind.as_str().into(),
        state: case.state.as_str().into(),
        created_at: rfc3339(case.created_at),
        updated_at: rfc3339(case.updated_at),
    }))
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "cases",
    params(CaseQuery),
    responses((status = 200, body = CasePage), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
pub async fn list_cases(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    q: Result<Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let actor = caller.require(Capability::ReadCases)?;
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))?;
    let filter = q
        .state
        .as_deref()
        .map(|s| {
            CaseState::parse(s).ok_or_else(|| {
                ApiError::param(
                    ErrorCode::InvalidRequest,
                    "state",
                    "use received, confirmed or closed",
                )
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::param(
            ErrorCode::InvalidRequest,
            "limit",
            format!("give 1 to {MAX_PAGE}"),
        ));
    }
    let cases = state.registry.store().cases(filter, limit).await?;
    let full = sees_contact(actor);
    if full && !cases.is_empty() {
        let codes: Vec<String> = cases.iter().map(|c| c.code.to_string()).collect();
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::cases(),
            serde_json::json!({"cases": codes, "fields": ["contact"]}),
        )
        .await?;
    }
    Ok(Json(CasePage {
        cases: cases.iter().map(|c| CaseView::of(c, full)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/cases/{code}", tag = "cases",
    params(("code" = String, Path, description = "The case's tracking code")),
    responses((status = 200, body = CaseView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
pub async fn get_case(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(code): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let actor = caller.require(Capability::ReadCases)?;
    let code = parse_code(&code)?;
    let case = state
        .registry
        .store()
        .case(&code)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no case {code}")))?;
    let full = sees_contact(actor);
    if full {
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::case(&case.code),
            serde_json::json!({"fields": ["contact"]}),
        )
        .await?;
    }
    Ok(Json(CaseView::of(&case, full)))
}

/// The public routes, under the public rate limit, and the staff's.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let public = Router::new()
        .route("/api/v1/public/cases", post(report))
        .route("/api/v1/public/cases/{code}", get(view_own))
        .route("/api/v1/public/cases/{code}/otp", post(request_otp))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            websec::limit_public,
        ));
    Router::new()
        .route("/api/v1/cases", get(list_cases))
        .route("/api/v1/cases/{code}", get(get_case))
        .merge(public)
}
