//! Authentication by API token, OAuth2 access token or browser session, and the one capability
//! check every route goes through.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ceir_domain::authz::{Actor, Capability};
use ceir_domain::ErrorCode;
use std::sync::Arc;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl Caller {
    /// The single authorization gate: does this caller hold `cap`?
    pub fn require(&self, cap: Capability) -> Result<&Actor, ApiError> {
        if self.0.can(cap) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "{} ({}, role {}) lacks the capability {}",
                    self.0.org,
                    self.0.org_kind,
                    self.0.role.as_str(),
                    cap.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            // No token: a browser session, if the request carries one.
            return match crate::websec::session_cookie(&parts.headers) {
                Some(secret) => session_caller(parts, state, secret).await,
                None => Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "sign in, or give an API token: Authorization: Bearer ceir_…",
                )),
            };
        };
        let header = header.to_str().map_err(|_| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "an API token is required: Authorization: Bearer ceir_…",
            )
        })?;
        let secret = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "use the Bearer scheme: Authorization: Bearer ceir_…",
                )
            })?
            .trim();
        if ceir_domain::credential::recognise(secret)
            == Some(ceir_domain::credential::SecretKind::AccessToken)
        {
            return match state.machine.resolve(state, secret).await? {
                Some(c) => Ok(Caller(c.actor.clone())),
                None => Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "the access token is unknown, expired or revoked",
                )),
            };
        }
        let now = state.registry.clock().now();
        match state.registry.store().authenticate(secret, now).await? {
            Some(t) => Ok(Caller(t.actor())),
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "the API token is unknown, expired or revoked",
            )),
        }
    }
}

/// A signed-in person. A cookie is sent by the browser on its own, so changes made with it must
/// also prove they come from this site's pages (see [`crate::websec::check_csrf`]).
async fn session_caller(
    parts: &Parts,
    state: &Arc<AppState>,
    secret: &str,
) -> Result<Caller, ApiError> {
    let now = state.registry.clock().now();
    let cfg = &state.sign_in.config;
    let Some(session) = state
        .registry
        .store()
        .session(secret, now, cfg.session_idle_ms)
        .await?
    else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "the session has ended or expired; sign in again",
        ));
    };
    crate::websec::check_csrf(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &session.csrf_token,
        cfg.public_origin.as_deref(),
        cfg.tls,
    )?;
    Ok(Caller(session.user.actor()))
}
