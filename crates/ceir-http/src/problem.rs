//! Errors as `application/problem+json` (RFC 9457, 3GPP `ProblemDetails`), mapped to HTTP here
//! and nowhere else.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ceir_domain::ErrorCode;
use serde::Serialize;

/// The one mapping from error code to HTTP status.
pub const fn http_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidIdentifier
        | ErrorCode::ImeiCheckDigit
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidInput
        | ErrorCode::MandatoryQueryParamIncorrect
        | ErrorCode::MandatoryQueryParamMissing
        | ErrorCode::InvalidQueryParam => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::EquipmentUnknown => StatusCode::NOT_FOUND,
        ErrorCode::Unauthenticated | ErrorCode::SignInFailed | ErrorCode::OneTimeCodeRefused => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::Forbidden | ErrorCode::NotOwner | ErrorCode::CsrfRejected => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Conflict | ErrorCode::SafetyStop => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::StoreUnavailable | ErrorCode::DeliveryUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// One parameter that was wrong (3GPP `InvalidParam`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvalidParam {
    pub param: String,
    pub reason: String,
}

/// The problem document sent to clients.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable error code (3GPP `cause`).
    pub cause: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub invalid_params: Vec<InvalidParam>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            invalid_params: Vec::new(),
        }
    }
    /// An error about one named parameter.
    pub fn param(code: ErrorCode, param: &str, reason: impl Into<String>) -> ApiError {
        let reason = reason.into();
        ApiError {
            code,
            detail: format!("{param}: {reason}"),
            invalid_params: vec![InvalidParam {
                param: param.to_owned(),
                reason,
            }],
        }
    }
    pub fn problem(&self) -> Problem {
        let status = http_status(self.code);
        Problem {
            kind: format!(
                "https://ceir.dev/problems/{}",
                self.code.as_str().to_ascii_lowercase().replace('_', "-")
            ),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            cause: self.code.as_str().to_owned(),
            invalid_params: self.invalid_params.clone(),
        }
    }
}

impl From<ceir_store::StoreError> for ApiError {
    fn from(e: ceir_store::StoreError) -> ApiError {
        let code = e.code();
        if code == ErrorCode::StoreUnavailable || code == ErrorCode::Internal {
            tracing::error!(error = %e, "store failure");
            return ApiError::new(
                code,
                "the registry store failed; the request id identifies it in the logs",
            );
        }
        ApiError::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = self.problem();
        let status = http_status(self.code);
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ceir\""),
            );
        }
        r
    }
}
