//! The audit log over HTTP (regulator only): a filtered, paged view and a streamed export, plus
//! what handlers need to audit their own actions (the request id and the audit context).

use crate::api::{parse_time, rfc3339};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ceir_domain::audit::{
    AuditAction, AuditContext, AuditEntry, AuditRecord, ObjectRef, RequestId,
};
use ceir_domain::authz::{Actor, Capability};
use ceir_domain::ErrorCode;
use ceir_store::AuditFilter;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The request's id, as the request-id layer assigned it; absent only outside that layer.
#[derive(Debug, Clone)]
pub struct ReqId(pub Option<RequestId>);

impl<S: Send + Sync> FromRequestParts<S> for ReqId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ReqId(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .and_then(RequestId::parse),
        ))
    }
}

/// The request id the request-id layer put in `headers`, for handlers that read headers already.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<RequestId> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
}

impl ReqId {
    /// The audit context of a change or read made by `actor` in this request.
    pub fn context(&self, actor: &Actor) -> AuditContext {
        AuditContext::request(actor.clone(), self.0.clone())
    }
}

/// Records that `actor` was shown personal data held under `object` (the data itself is not
/// copied into the log). Fails closed: if the read cannot be recorded, it is not answered.
pub async fn record_personal_read(
    state: &AppState,
    ctx: &AuditContext,
    object: ObjectRef,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = AuditEntry::new(
        ctx,
        AuditAction::PersonalDataRead,
        object,
        detail.to_string(),
    );
    state
        .registry
        .store()
        .audit_append(&entry, state.registry.clock().now())
        .await?;
    Ok(())
}

/// One audit record. `detail` is the stored JSON text, byte for byte, and the hashes are given, so
/// an export can be re-verified away from the node.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub seq: u64,
    pub at: String,
    /// Milliseconds since the Unix epoch, exactly as hashed.
    pub at_ms: i64,
    pub actor_org: String,
    pub actor_kind: String,
    pub actor_user: String,
    pub actor_role: String,
    /// e.g. list.add, list.remove, token.create, catalog.import, org.upsert, personal_data.read.
    pub action: String,
    /// e.g. imei:352029831234565, list:blocked, token:abc, org:az-police, catalog.
    pub object: String,
    pub request_id: Option<String>,
    /// JSON text: counts and references, never secrets or personal data.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            seq: r.seq,
            at: rfc3339(r.at),
            at_ms: r.at.0,
            actor_org: r.actor_org,
            actor_kind: r.actor_kind,
            actor_user: r.actor_user,
            actor_role: r.actor_role,
            action: r.action,
            object: r.object,
            request_id: r.request_id,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// One page of the audit log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// From this time on: RFC 3339 date-time or yyyy-mm-dd.
    pub since: Option<String>,
    /// Before this time: RFC 3339 date-time or yyyy-mm-dd.
    pub until: Option<String>,
    /// Only this acting organisation.
    pub actor_org: Option<String>,
    /// Only this action, e.g. list.add.
    pub action: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Records per page, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// From this time on: RFC 3339 date-time or yyyy-mm-dd.
    pub since: Option<String>,
    /// Before this time: RFC 3339 date-time or yyyy-mm-dd.
    pub until: Option<String>,
    /// Only this acting organisation.
    pub actor_org: Option<String>,
    /// Only this action, e.g. list.add.
    pub action: Option<String>,
    /// jsonl (default) or csv.
    pub format: Option<String>,
}

/// Parses the filter fields shared by the view, the export and the CLI.
pub fn parse_filter(
    since: Option<&str>,
    until: Option<&str>,
    actor_org: Option<String>,
    action: Option<&str>,
) -> Result<AuditFilter, ApiError> {
    let action = action
        .map(|a| {
            AuditAction::parse(a)
                .map(|a| a.as_str().to_owned())
                .ok_or_else(|| {
                    ApiError::param(
                        ErrorCode::InvalidRequest,
                        "action",
                        format!(
                            "{a:?} is not an audit action; use one of {}",
                            AuditAction::ALL.map(|a| a.as_str()).join(", ")
                        ),
                    )
                })
        })
        .transpose()?;
    Ok(AuditFilter {
        since: since.map(|s| parse_time("since", s)).transpose()?,
        until: until.map(|s| parse_time("until", s)).transpose()?,
        actor_org,
        action,
    })
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn list_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Capability::ReadAudit)?;
    let q = query(q)?;
    let filter = parse_filter(
        q.since.as_deref(),
        q.until.as_deref(),
        q.actor_org.clone(),
        q.action.as_deref(),
    )?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::param(
            ErrorCode::InvalidRequest,
            "limit",
            "give 1 to 1000",
        ));
    }
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<u64>().map_err(|_| {
                ApiError::param(
                    ErrorCode::InvalidRequest,
                    "after",
                    "not a cursor this API gave out",
                )
            })
        })
        .transpose()?
        .unwrap_or(0);
    let rows = state
        .registry
        .store()
        .audit_page(&filter, after, limit)
        .await?;
    let next = if rows.len() == limit as usize {
        rows.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage {
        items: rows.into_iter().map(AuditView::from).collect(),
        next,
    }))
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "jsonl" => Some(ExportFormat::Jsonl),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }
    /// Text that precedes the records (the CSV header).
    pub fn header(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "",
            ExportFormat::Csv => "seq,at,at_ms,actor_org,actor_kind,actor_user,actor_role,action,object,request_id,detail,prev_hash,hash\n",
        }
    }
    /// One record as a line of this format, newline included.
    pub fn line(self, r: AuditRecord) -> String {
        let v = AuditView::from(r);
        match self {
            ExportFormat::Jsonl => {
                let mut s = serde_json::to_string(&v).unwrap_or_default();
                s.push('\n');
                s
            }
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new());
                let seq = v.seq.to_string();
                let at_ms = v.at_ms.to_string();
                let fields: [&str; 13] = [
                    &seq,
                    &v.at,
                    &at_ms,
                    &v.actor_org,
                    &v.actor_kind,
                    &v.actor_user,
                    &v.actor_role,
                    &v.action,
                    &v.object,
                    v.request_id.as_deref().unwrap_or(""),
                    &v.detail,
                    &v.prev_hash,
                    &v.hash,
                ];
                // Writing to memory cannot fail; an empty line would show in the export if it did.
                let _ = w.write_record(fields);
                w.into_inner()
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default()
            }
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
    fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "attachment; filename=\"ceir-audit.jsonl\"",
            ExportFormat::Csv => "attachment; filename=\"ceir-audit.csv\"",
        }
    }
}

/// Records per store round trip while exporting.
const EXPORT_PAGE: u32 = 1000;

#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit",
    params(ExportQuery),
    responses((status = 200, description = "The matching records, oldest first: JSON Lines (one AuditView per line) or CSV", content((String = "application/x-ndjson"), (String = "text/csv"))), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn export_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Capability::ReadAudit)?;
    let q = query(q)?;
    let filter = parse_filter(
        q.since.as_deref(),
        q.until.as_deref(),
        q.actor_org,
        q.action.as_deref(),
    )?;
    let format = match q.format.as_deref() {
        None => ExportFormat::Jsonl,
        Some(f) => ExportFormat::parse(f).ok_or_else(|| {
            ApiError::param(ErrorCode::InvalidRequest, "format", "use jsonl or csv")
        })?,
    };
    // Streamed page by page, so an export of any size holds one page in memory.
    let header = format.header();
    let stream = futures::stream::unfold(
        (state, filter, 0u64, false),
        move |(state, filter, after, done)| async move {
            if done {
                return None;
            }
            match state
                .registry
                .store()
                .audit_page(&filter, after, EXPORT_PAGE)
                .await
            {
                // The CSV header goes out even when nothing matches.
                Ok(rows) if rows.is_empty() && (after > 0 || header.is_empty()) => None,
                Ok(rows) => {
                    let last = rows.last().map(|r| r.seq).unwrap_or(after);
                    let full = rows.len() == EXPORT_PAGE as usize;
                    let mut chunk = String::new();
                    if after == 0 {
                        chunk.push_str(header);
                    }
                    for r in rows {
                        chunk.push_str(&format.line(r));
                    }
                    Some((Ok::<_, std::io::Error>(chunk), (state, filter, last, !full)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed part-way");
                    Some((
                        Err(std::io::Error::other("the audit export failed part-way")),
                        (state, filter, after, true),
                    ))
                }
            }
        },
    );
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(format.file_name()),
    );
    Ok(res)
}

/// The audit routes, merged into the node's router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/audit/export", get(export_audit))
}
