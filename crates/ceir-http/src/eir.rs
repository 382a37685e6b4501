//! N5g-eir `EquipmentIdentityCheck` (3GPP TS 29.511): `GET /n5g-eir-eic/v1/equipment-status`.
//!
//! The hot path: parse the query by hand (no serde, no allocation for well-formed input), ask the
//! in-memory index, answer with a static body.

use crate::problem::ApiError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ceir_domain::status::{Basis, EquipmentStatus};
use ceir_domain::{ErrorCode, Pei, Supi};
use std::borrow::Cow;
use std::sync::Arc;

pub const BASE: &str = "/n5g-eir-eic/v1";

/// The longest query we interpret; longer ones get 414, as the API allows.
const MAX_QUERY: usize = 2048;

fn body_of(s: EquipmentStatus) -> &'static [u8] {
    match s {
        EquipmentStatus::Permitted => br#"{"status":"WHITELISTED"}"#,
        EquipmentStatus::Tracked => br#"{"status":"GREYLISTED"}"#,
        EquipmentStatus::Blocked => br#"{"status":"BLACKLISTED"}"#,
    }
}

#[derive(Default)]
struct EirQuery<'a> {
    pei: Option<Cow<'a, str>>,
    supi: Option<Cow<'a, str>>,
    features: Option<Cow<'a, str>>,
}

fn parse_query(q: &str) -> EirQuery<'_> {
    let mut out = EirQuery::default();
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match k.as_ref() {
            "pei" => out.pei = Some(v),
            "supi" => out.supi = Some(v),
            "supported-features" => out.features = Some(v),
            // The GPSI plays no part in the decision, and TS 29.571 lets it be any string.
            _ => {}
        }
    }
    out
}

/// The same, for a node that requires an OAuth2 access token with scope `n5g-eir-eic`.
pub async fn equipment_status_oauth(
    _: crate::oauth::EirBearer,
    state: State<Arc<AppState>>,
    q: RawQuery,
) -> Response {
    equipment_status(state, q).await
}

pub async fn equipment_status(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    if q.len() > MAX_QUERY {
        let mut e = ApiError::new(
            ErrorCode::InvalidQueryParam,
            format!("the query is longer than {MAX_QUERY} bytes"),
        );
        e.code = ErrorCode::InvalidQueryParam;
        let mut r = e.into_response();
        *r.status_mut() = StatusCode::URI_TOO_LONG;
        return r;
    }
    let q = parse_query(&q);
    let Some(pei) = q.pei else {
        return ApiError::param(
            ErrorCode::MandatoryQueryParamMissing,
            "pei",
            "pei is required",
        )
        .into_response();
    };
    let pei = match Pei::parse(&pei) {
        Ok(p) => p,
        Err(e) => {
            return ApiError::param(
                ErrorCode::MandatoryQueryParamIncorrect,
                "pei",
                e.to_string(),
            )
            .into_response()
        }
    };
    let imsi = match q
        .supi
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Supi::parse)
        .transpose()
    {
        Ok(s) => s.and_then(|s| s.imsi()),
        Err(e) => {
            return ApiError::param(ErrorCode::InvalidQueryParam, "supi", e.to_string())
                .into_response()
        }
    };
    if let Some(f) = q.features.as_deref() {
        if !f.bytes().all(|b| b.is_ascii_hexdigit()) {
            return ApiError::param(
                ErrorCode::InvalidQueryParam,
                "supported-features",
                "must be hexadecimal digits",
            )
            .into_response();
        }
    }
    let (status, basis) = match pei.imei() {
        Some(imei) => state.registry.check(imei, imsi),
        // MAC and EUI-64 PEIs carry no IMEI, so no IMEI list can name them.
        None => ceir_domain::status::decide(Default::default(), state.registry.policy()),
    };
    state.metrics.eir(status, basis);
    match status {
        Some(s) => {
            let mut r = Response::new(Body::from(body_of(s)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        None => {
            debug_assert!(matches!(basis, Basis::Unlisted(_)));
            ApiError::new(
                ErrorCode::EquipmentUnknown,
                "the equipment is on no list of this node",
            )
            .into_response()
        }
    }
}
