//! What anyone may ask without an account: the citizen's "check before you buy" page and its API.
//!
//! The answer says only what a buyer needs. It never reveals tracking (an investigation must not
//! be tipped off), exceptions, who reported a device, or their references.

use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ceir_domain::lists::{ListKind, Subject};
use ceir_domain::status::{Basis, EquipmentStatus, UnlistedPolicy};
use ceir_domain::Imei;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The public answer about one IMEI.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicCheck {
    pub imei: String,
    /// "blocked" (do not buy) or "clear" (no reports).
    pub verdict: String,
    /// Why it is blocked: stolen, lost, counterfeit, duplicate, fraud, crime, unregistered, invalid_imei or other.
    pub reasons: Vec<String>,
    /// On the register of permitted devices.
    pub registered: bool,
    /// Brand, model and radio technologies, when the TAC is in the catalog.
    pub model: Option<String>,
    /// A known problem with the IMEI itself (test or widely cloned IMEI).
    pub warning: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/public/check/{imei}", tag = "public",
    params(("imei" = String, Path, description = "15-digit IMEI; the check digit is verified")),
    responses((status = 200, body = PublicCheck), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many checks from this address; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn check(
    State(state): State<Arc<AppState>>,
    Path(imei): Path<String>,
) -> Result<Json<PublicCheck>, ApiError> {
    let imei =
        Imei::parse_typed(&imei).map_err(|e| ApiError::param(e.code(), "imei", e.to_string()))?;
    let (status, basis) = state.registry.check(imei, None);
    let store = state.registry.store();
    let mut reasons: Vec<String> = Vec::new();
    let mut registered = false;
    for e in crate::api::device_entries(store.as_ref(), imei).await? {
        match (e.list, e.subject) {
            (ListKind::Blocked, Subject::Imei(i)) if i == imei => {
                reasons.push(e.reason.as_str().into())
            }
            (ListKind::BarredTac, Subject::Tac(t)) if t == imei.tac() => {
                reasons.push(e.reason.as_str().into())
            }
            (ListKind::Permitted, Subject::Imei(i)) if i == imei => registered = true,
            _ => {}
        }
    }
    if basis == Basis::Unlisted(UnlistedPolicy::Block) {
        reasons.push("unregistered".into());
    }
    reasons.sort();
    reasons.dedup();
    let blocked = status == Some(EquipmentStatus::Blocked) && !reasons.is_empty();
    let model = store
        .tac(imei.tac())
        .await?
        .map(|m| format!("{} {} ({})", m.brand, m.model, m.radios));
    Ok(Json(PublicCheck {
        imei: imei.to_string(),
        verdict: if blocked { "blocked" } else { "clear" }.into(),
        reasons: if blocked { reasons } else { Vec::new() },
        registered,
        model,
        warning: ceir_domain::invalid::classify(imei).map(|r| r.description.to_string()),
    }))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    with_page_headers(body.into_response(), content_type)
}

/// A page or script made at request time, with the same headers as the static assets.
pub fn asset_owned(body: String, content_type: &'static str) -> Response {
    with_page_headers(body.into_response(), content_type)
}

fn with_page_headers(mut r: Response, content_type: &'static str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub async fn page() -> Response {
    asset(
        include_str!("../static/check.html"),
        "text/html; charset=utf-8",
    )
}
pub async fn script() -> Response {
    asset(
        include_str!("../static/check.js"),
        "text/javascript; charset=utf-8",
    )
}
pub async fn style() -> Response {
    asset(
        include_str!("../static/check.css"),
        "text/css; charset=utf-8",
    )
}
