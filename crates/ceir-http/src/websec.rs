//! Web security for browsers and public clients: security headers, CSRF and origin checks for
//! cookie sessions, and per-client rate limits.
//!
//! None of this runs on the N5g-eir path, which serves network functions, not browsers, and is
//! benchmarked: the router applies these layers to the REST and page routes only.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ceir_domain::ErrorCode;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// The session cookie. `__Host-` binds it to this exact origin: it must be Secure, have
/// `Path=/` and no `Domain`, so a sibling subdomain cannot set or shadow it.
pub const SESSION_COOKIE: &str = "__Host-ceir_session";
/// The CSRF token header that unsafe cookie-authenticated requests must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `script-src 'self'` and no `unsafe-inline`: the pages load their scripts and styles from
/// files, so an injected inline script cannot run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The peer's address, attached by the listener to requests outside the N5g-eir path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Requests per minute and burst per client, for one class of route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// One keyed limiter (by client IP address).
#[derive(Debug)]
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
}

/// Beyond this many tracked clients, those whose buckets are full again are forgotten.
const MAX_TRACKED_CLIENTS: usize = 100_000;

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(per_minute);
        Limiter {
            inner: governor::RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    /// `Ok` if the client may go on, or how many seconds it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.inner.len() > MAX_TRACKED_CLIENTS {
            self.inner.retain_recent();
        }
        self.inner.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn too_many(retry_after_s: u64) -> Response {
    let mut r = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests from this address; retry in {retry_after_s} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Rate limit for the public API (the citizen's check).
pub async fn limit_public(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    match state.sign_in.public_limiter.check(client_ip(&req)) {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(wait),
    }
}

/// Rate limit for sign-in, before any password is hashed.
pub async fn limit_sign_in(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    match state.sign_in.login_limiter.check(client_ip(&req)) {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(wait),
    }
}

/// The session cookie's secret, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then_some(v)
        })
}

/// `Set-Cookie` for a new session.
pub fn session_set_cookie(secret: &str, max_age_s: i64) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_s}"
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn session_clear_cookie() -> &'static str {
    "__Host-ceir_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
}

/// `scheme://host[:port]` of an Origin or Referer value.
fn origin_of(v: &str) -> Option<&str> {
    let (scheme, rest) = v.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    v.get(..scheme.len() + 3 + end)
}

/// Does the request's Origin (or, lacking one, Referer) name this site? `None` when the request
/// carries neither, which browsers do not do for cross-site form posts or fetches.
///
/// This site is the configured public origin, or else the origin the request addressed (its
/// Host, with `https` when TLS is on or the public origin says so).
pub fn same_origin(
    headers: &HeaderMap,
    host: Option<&str>,
    public_origin: Option<&str>,
    tls: bool,
) -> Option<bool> {
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())?;
    let Some(claimed) = origin_of(claimed) else {
        // "null" (sandboxed or privacy-sensitive contexts) and anything unparsable.
        return Some(false);
    };
    if let Some(p) = public_origin {
        return Some(claimed.eq_ignore_ascii_case(p.trim_end_matches('/')));
    }
    let Some(host) = host else {
        return Some(false);
    };
    let (scheme, rest) = claimed.split_once("://")?;
    Some(rest.eq_ignore_ascii_case(host) && (scheme == "https" || !tls))
}

/// The host a request addressed: its Host header, or the HTTP/2 `:authority`.
pub fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// The CSRF defence for a cookie-authenticated request with an unsafe method: the session's
/// synchronizer token in `X-CSRF-Token`, and an Origin of this site if the browser sent one.
/// Bearer-token requests never come here: a token is not an ambient credential.
pub fn check_csrf(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    csrf_token: &str,
    public_origin: Option<&str>,
    tls: bool,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq::constant_time_eq(sent, csrf_token.as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::CsrfRejected,
            "a change made with a session cookie must carry the session's X-CSRF-Token",
        ));
    }
    if same_origin(headers, request_host(uri, headers), public_origin, tls) == Some(false) {
        return Err(ApiError::new(
            ErrorCode::CsrfRejected,
            "the request comes from another site",
        ));
    }
    Ok(())
}

/// Security headers on every page and API response (not on N5g-eir). Responses to requests that
/// carry credentials, or that set a cookie, are never stored by caches.
pub async fn security_headers(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let authenticated = req.headers().contains_key(header::AUTHORIZATION)
        || session_cookie(req.headers()).is_some();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: under it Chromium sends `Origin: null` with a same-site form post,
        // which the sign-in's Origin check must refuse. `same-origin` still sends nothing to
        // other sites (URLs here hold IMEIs and case codes).
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in defaults {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    if authenticated || h.contains_key(header::SET_COOKIE) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.sign_in.config.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origins_are_compared_with_the_site() {
        let host = Some("127.0.0.1:8080");
        let h = headers(&[("origin", "http://127.0.0.1:8080")]);
        assert_eq!(same_origin(&h, host, None, false), Some(true));
        assert_eq!(
            same_origin(&h, host, None, true),
            Some(false),
            "TLS wants https"
        );
        let h = headers(&[("origin", "http://evil.example")]);
        assert_eq!(same_origin(&h, host, None, false), Some(false));
        let h = headers(&[("referer", "https://ceir.gov.az/login?x")]);
        let public = Some("https://ceir.gov.az/");
        assert_eq!(same_origin(&h, host, public, true), Some(true));
        let h = headers(&[("origin", "null")]);
        assert_eq!(same_origin(&h, host, None, false), Some(false));
        assert_eq!(same_origin(&headers(&[]), host, None, false), None);
    }

    #[test]
    fn csrf_needs_the_token_and_this_origin() {
        let ok = headers(&[
            ("host", "h:1"),
            ("origin", "http://h:1"),
            ("x-csrf-token", "tok"),
        ]);
        let uri = Uri::from_static("/api/v1/lists/blocked/entries");
        assert!(check_csrf(&Method::POST, &uri, &ok, "tok", None, false).is_ok());
        assert!(check_csrf(&Method::DELETE, &uri, &ok, "other", None, false).is_err());
        let no_token = headers(&[("host", "h:1"), ("origin", "http://h:1")]);
        assert!(check_csrf(&Method::POST, &uri, &no_token, "tok", None, false).is_err());
        assert!(check_csrf(&Method::GET, &uri, &no_token, "tok", None, false).is_ok());
        let foreign = headers(&[
            ("host", "h:1"),
            ("origin", "http://x:1"),
            ("x-csrf-token", "tok"),
        ]);
        let e = check_csrf(&Method::POST, &uri, &foreign, "tok", None, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::CsrfRejected);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; __Host-ceir_session=s3cret; b=2")]);
        assert_eq!(session_cookie(&h), Some("s3cret"));
        assert_eq!(
            session_cookie(&headers(&[("cookie", "ceir_session=x")])),
            None
        );
        assert!(session_set_cookie("s", 60).contains("Secure; HttpOnly; SameSite=Lax"));
    }

    #[test]
    fn a_client_over_its_burst_waits() {
        let l = Limiter::new(RateLimit {
            per_minute: 60,
            burst: 2,
        });
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        assert_eq!(l.check(a), Err(1));
        assert!(l.check(b).is_ok(), "clients are limited separately");
    }
}
