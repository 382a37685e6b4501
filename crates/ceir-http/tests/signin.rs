//! Staff sign-in and web security end to end: local accounts, sessions, CSRF, lockout, TOTP,
//! security headers and rate limits, against a real server on a loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::authz::{grants, Capability, OrgKind, Role};
use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::{ManualClock, Timestamp};
use ceir_eir::Registry;
use ceir_http::credentials;
use ceir_http::signin::{SignIn, SignInConfig};
use ceir_http::websec::RateLimit;
use ceir_store::{testkit, NewUser, Organisation, Store};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::sync::Arc;

const T0: Timestamp = Timestamp(1_790_000_000_000);
const PASSWORD: &str = "a long enough password";
const UNKNOWN: &str = "354237107777773";
const MINUTE: i64 = 60_000;

struct Node {
    base: String,
    clock: ManualClock,
    store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn roomy() -> SignInConfig {
    SignInConfig {
        public_rate: RateLimit {
            per_minute: 10_000,
            burst: 10_000,
        },
        login_rate: RateLimit {
            per_minute: 10_000,
            burst: 10_000,
        },
        ..SignInConfig::default()
    }
}

async fn start(cfg: SignInConfig) -> Node {
    let (store, dir) = testkit::sqlite().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    for kind in OrgKind::ALL {
        store
            .upsert_organisation(
                &Organisation {
                    id: org_id(kind),
                    name: kind.as_str().into(),
                    kind,
                    country: Country::AZ,
                },
                &by(),
                T0,
            )
            .await
            .unwrap();
    }
    let clock = ManualClock::at(T0);
    let registry = Arc::new(
        Registry::open(
            store.clone(),
            Arc::new(clock.clone()),
            UnlistedPolicy::Permit,
        )
        .await
        .unwrap(),
    );
    let state = ceir_http::AppState::with_sign_in(registry, Country::AZ, SignIn::local(cfg));
    let app = ceir_http::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(ceir_http::server::serve(listener, app, None, async {
        let _ = rx.await;
    }));
    Node {
        base,
        clock,
        store,
        stop: Some(tx),
        _dir: dir,
    }
}

fn org_id(kind: OrgKind) -> String {
    format!("org-{}", kind.as_str())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in browser: its session cookie and CSRF token.
#[derive(Debug, Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-ceir_session=") && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

impl Node {
    async fn user(&self, kind: OrgKind, name: &str, role: Role, totp: Option<&str>) {
        self.store
            .create_user(
                &NewUser {
                    org: org_id(kind),
                    name: name.into(),
                    display_name: name.to_uppercase(),
                    role,
                    email: None,
                    password_hash: Some(credentials::hash_password(PASSWORD).unwrap()),
                    totp_secret: totp.map(Into::into),
                    oidc: None,
                },
                &by(),
                T0,
            )
            .await
            .unwrap();
    }

    async fn login(&self, body: Value) -> (u16, Value, Option<String>) {
        let r = client()
            .post(format!("{}/auth/login", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let cookie = session_cookie(r.headers());
        (r.status().as_u16(), r.json().await.unwrap(), cookie)
    }

    async fn sign_in(&self, name: &str) -> Session {
        let (code, body, cookie) = self
            .login(json!({"username": name, "password": PASSWORD}))
            .await;
        assert_eq!(code, 200, "{body}");
        Session {
            cookie: cookie.unwrap(),
            csrf: body["csrfToken"].as_str().unwrap().to_owned(),
        }
    }

    /// A request as a browser page of this site would make it.
    fn with(
        &self,
        method: reqwest::Method,
        path: &str,
        s: &Session,
        csrf: bool,
    ) -> reqwest::RequestBuilder {
        self.sent_from(method, path, s, csrf, &self.base)
    }

    fn sent_from(
        &self,
        method: reqwest::Method,
        path: &str,
        s: &Session,
        csrf: bool,
        origin: &str,
    ) -> reqwest::RequestBuilder {
        let mut q = client()
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &s.cookie)
            .header("origin", origin);
        if csrf {
            q = q.header("x-csrf-token", &s.csrf);
        }
        q
    }

    async fn code(&self, q: reqwest::RequestBuilder) -> (u16, Value) {
        let r = q.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_session_signs_in_acts_with_csrf_and_signs_out() {
    let n = start(roomy()).await;
    n.user(OrgKind::LawEnforcement, "aliyev", Role::Officer, None)
        .await;
    let (code, body, cookie) = n
        .login(json!({"username": "aliyev", "password": "wrong password!"}))
        .await;
    assert_eq!(
        (code, body["cause"].as_str()),
        (401, Some("SIGN_IN_FAILED"))
    );
    assert!(cookie.is_none());

    let r = client()
        .post(format!("{}/auth/login", n.base))
        .json(&json!({"username": "aliyev", "password": PASSWORD, "org": "org-law_enforcement"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-ceir_session="), "{set}");
    for attr in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=28800",
    ] {
        assert!(set.split("; ").any(|a| a == attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain"), "__Host- cookies have no Domain");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let me: Value = r.json().await.unwrap();
    assert_eq!(
        (me["org"].as_str(), me["role"].as_str()),
        (Some("org-law_enforcement"), Some("officer"))
    );
    let s = Session {
        cookie: session_cookie_value(&set),
        csrf: me["csrfToken"].as_str().unwrap().to_owned(),
    };

    let (code, me) = n
        .code(n.with(reqwest::Method::GET, "/auth/me", &s, false))
        .await;
    assert_eq!(code, 200);
    assert_eq!(me["user"], "aliyev");
    assert_eq!(me["displayName"], "ALIYEV");
    assert_eq!(me["csrfToken"].as_str(), Some(s.csrf.as_str()));

    // Reads need no CSRF token; changes do, and must come from this site.
    let path = format!("/api/v1/devices/{UNKNOWN}");
    let (code, _) = n.code(n.with(reqwest::Method::GET, &path, &s, false)).await;
    assert_eq!(code, 200);
    let block = json!({"imei": UNKNOWN, "reason": "stolen"});
    let post = |csrf| {
        n.with(
            reqwest::Method::POST,
            "/api/v1/lists/blocked/entries",
            &s,
            csrf,
        )
        .json(&block)
    };
    let (code, body) = n.code(post(false)).await;
    assert_eq!((code, body["cause"].as_str()), (403, Some("CSRF_REJECTED")));
    let foreign = n
        .sent_from(
            reqwest::Method::POST,
            "/api/v1/lists/blocked/entries",
            &s,
            true,
            "https://evil.example",
        )
        .json(&block);
    let (code, body) = n.code(foreign).await;
    assert_eq!((code, body["cause"].as_str()), (403, Some("CSRF_REJECTED")));
    let (code, body) = n.code(post(false).header("x-csrf-token", "guessed")).await;
    assert_eq!((code, body["cause"].as_str()), (403, Some("CSRF_REJECTED")));
    let (code, body) = n.code(post(true)).await;
    assert_eq!(code, 200, "{body}");
    let entries = n
        .store
        .entries_of(ceir_domain::Imei::parse_typed(UNKNOWN).unwrap().body())
        .await
        .unwrap();
    assert_eq!(entries[0].created_by, "aliyev", "the session's user acts");

    // A bearer token is not an ambient credential: no CSRF token needed.
    let (_, token) = n
        .store
        .create_token(
            "org-regulator",
            "robot",
            Role::Officer,
            "t",
            None,
            &by(),
            T0,
        )
        .await
        .unwrap();
    let r = client()
        .delete(format!("{}/api/v1/lists/blocked/entries/{UNKNOWN}", n.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Sign-out is a change too.
    let (code, _) = n
        .code(n.with(reqwest::Method::POST, "/auth/logout", &s, false))
        .await;
    assert_eq!(code, 403);
    let r = n
        .with(reqwest::Method::POST, "/auth/logout", &s, true)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (code, body) = n
        .code(n.with(reqwest::Method::GET, "/auth/me", &s, false))
        .await;
    assert_eq!(
        (code, body["cause"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    // Signing in and out are audited, under the person's own name.
    let store = n.store.as_ref();
    let opened = testkit::audited(store, "session.open").await.unwrap();
    let ended = testkit::audited(store, "session.end").await.unwrap();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(!opened.is_empty());
    assert_eq!(opened.last().unwrap().object, ended[0].object);
    assert_eq!(ended[0].actor_user, opened.last().unwrap().actor_user);
    assert!(ended[0].object.starts_with("user:"), "{:?}", ended[0]);
}

fn session_cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn sessions_end_when_idle_or_old() {
    let n = start(SignInConfig {
        session_ttl_ms: 120 * MINUTE,
        session_idle_ms: 30 * MINUTE,
        ..roomy()
    })
    .await;
    n.user(OrgKind::Bank, "teller", Role::Viewer, None).await;
    let s = n.sign_in("teller").await;
    let me = || n.code(n.with(reqwest::Method::GET, "/auth/me", &s, false));
    for _ in 0..4 {
        n.clock.advance_ms(25 * MINUTE);
        assert_eq!(me().await.0, 200, "used within the idle limit");
    }
    n.clock.advance_ms(25 * MINUTE);
    assert_eq!(me().await.0, 401, "past the absolute lifetime");

    let s = n.sign_in("teller").await;
    n.clock.advance_ms(30 * MINUTE);
    let (code, _) = n
        .code(n.with(reqwest::Method::GET, "/auth/me", &s, false))
        .await;
    assert_eq!(code, 401, "idle too long");
}

#[tokio::test]
async fn guessing_locks_the_account_and_never_tells_who_exists() {
    let n = start(SignInConfig {
        max_failures: 3,
        lockout_ms: 10 * MINUTE,
        ..roomy()
    })
    .await;
    n.user(OrgKind::Regulator, "admin", Role::Admin, None).await;
    let wrong = json!({"username": "admin", "password": "not the password"});
    let right = json!({"username": "admin", "password": PASSWORD});
    let nobody = json!({"username": "nobody", "password": PASSWORD});
    let (_, refused, _) = n.login(wrong.clone()).await;
    for _ in 0..2 {
        n.login(wrong.clone()).await;
    }
    let (code, locked, cookie) = n.login(right.clone()).await;
    assert_eq!(code, 401, "locked even with the right password");
    assert!(cookie.is_none());
    let (code, unknown, _) = n.login(nobody).await;
    assert_eq!(code, 401);
    assert_eq!(
        locked, unknown,
        "a locked account answers like an unknown one"
    );
    assert_eq!(
        refused, unknown,
        "a wrong password answers like an unknown user"
    );

    n.clock.advance_ms(10 * MINUTE - 1);
    assert_eq!(n.login(right.clone()).await.0, 401);
    n.clock.advance_ms(1);
    assert_eq!(n.login(right.clone()).await.0, 200, "the lock lapses");
    // The count started again: two more failures do not lock.
    for _ in 0..2 {
        n.login(wrong.clone()).await;
    }
    assert_eq!(n.login(right).await.0, 200);
}

#[tokio::test]
async fn totp_is_required_and_each_code_works_once() {
    let n = start(roomy()).await;
    let (secret, _) = credentials::new_totp("org-regulator/officer", "ceir").unwrap();
    n.user(OrgKind::Regulator, "officer", Role::Officer, Some(&secret))
        .await;
    let code_at = |t: Timestamp| credentials::totp_code(&secret, t).unwrap();
    let (code, _, _) = n
        .login(json!({"username": "officer", "password": PASSWORD}))
        .await;
    assert_eq!(code, 401, "the second factor is required");
    let (code, _, _) = n
        .login(json!({"username": "officer", "password": "wrong password!", "totp": code_at(T0)}))
        .await;
    assert_eq!(code, 401, "a code does not replace the password");
    let ok = json!({"username": "officer", "password": PASSWORD, "totp": code_at(T0)});
    let (code, _, cookie) = n.login(ok.clone()).await;
    assert_eq!(code, 200);
    assert!(cookie.is_some());
    let (code, _, _) = n.login(ok).await;
    assert_eq!(code, 401, "a code is used once");
    n.clock.advance_ms(30_000);
    let next = json!({"username": "officer", "password": PASSWORD, "totp": code_at(Timestamp(T0.0 + 30_000))});
    assert_eq!(n.login(next).await.0, 200);
}

#[tokio::test]
async fn the_sign_in_page_and_form() {
    let n = start(roomy()).await;
    n.user(OrgKind::Regulator, "admin", Role::Admin, None).await;
    let r = client()
        .get(format!("{}/login", n.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(html.contains("action=\"/auth/login\""));
    assert!(
        !html.contains("/auth/oidc/login"),
        "no SSO button without SSO"
    );
    // Every script is a file: none inline.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count()
    );
    let js = client()
        .get(format!("{}/static/login.js", n.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);

    let form = |pw: &str, origin: &str| {
        client()
            .post(format!("{}/auth/login", n.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .body(format!(
                "org=&username=admin&password={}",
                pw.replace(' ', "+")
            ))
    };
    let r = form(PASSWORD, &n.base).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    assert!(session_cookie(r.headers()).is_some());
    let r = form("wrong password!", &n.base).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?failed");
    // Login CSRF: another site cannot sign a browser in.
    let r = form(PASSWORD, "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(r.headers()).is_none());
}

#[tokio::test]
async fn security_headers_on_pages_and_api_but_not_on_the_eir_path() {
    let n = start(roomy()).await;
    let r = client()
        .get(format!("{}/healthz", n.base))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(
        !h.contains_key("strict-transport-security"),
        "no HSTS without TLS"
    );
    let r = client()
        .get(format!("{}/auth/me", n.base))
        .bearer_auth("ceir_nope_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let r = client()
        .get(format!(
            "{}/n5g-eir-eic/v1/equipment-status?pei=imei-{UNKNOWN}",
            n.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("content-security-policy"));

    let tls = start(SignInConfig {
        tls: true,
        ..roomy()
    })
    .await;
    let r = client()
        .get(format!("{}/healthz", tls.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
}

#[tokio::test]
async fn public_api_and_sign_in_are_rate_limited_per_client() {
    let n = start(SignInConfig {
        public_rate: RateLimit {
            per_minute: 1,
            burst: 3,
        },
        login_rate: RateLimit {
            per_minute: 1,
            burst: 2,
        },
        ..SignInConfig::default()
    })
    .await;
    let check = || {
        client()
            .get(format!("{}/api/v1/public/check/{UNKNOWN}", n.base))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(check().await.unwrap().status(), 200);
    }
    let r = check().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["cause"], "RATE_LIMITED");

    for _ in 0..2 {
        assert_eq!(
            n.login(json!({"username": "x", "password": "y"})).await.0,
            401
        );
    }
    assert_eq!(
        n.login(json!({"username": "x", "password": "y"})).await.0,
        429
    );
    // Other routes and the EIR are not limited.
    for _ in 0..20 {
        let r = client()
            .get(format!(
                "{}/n5g-eir-eic/v1/equipment-status?pei=imei-{UNKNOWN}",
                n.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        client()
            .get(format!("{}/healthz", n.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Sessions go through the same capability gate as tokens: every organisation kind and role,
/// signed in, against a read and a change of each list.
#[tokio::test]
async fn sessions_meet_the_same_capabilities_as_tokens() {
    let n = start(roomy()).await;
    let mut checked = 0;
    for kind in OrgKind::ALL {
        for role in Role::ALL {
            let name = format!("{}-{}", kind.as_str(), role.as_str());
            n.user(kind, &name, role, None).await;
            let s = n.sign_in(&name).await;
            let (code, me) = n
                .code(n.with(reqwest::Method::GET, "/auth/me", &s, false))
                .await;
            assert_eq!((code, me["orgKind"].as_str()), (200, Some(kind.as_str())));
            let (code, _) = n
                .code(n.with(reqwest::Method::GET, "/api/v1/lists/blocked", &s, false))
                .await;
            assert_eq!(code, 200);
            for (list, body, cap) in [
                (
                    "blocked",
                    json!({"imei": UNKNOWN, "reason": "fraud"}),
                    Capability::Block,
                ),
                (
                    "permitted",
                    json!({"imei": UNKNOWN, "reason": "registered"}),
                    Capability::Permit,
                ),
                (
                    "barred_tac",
                    json!({"tac": "35000001", "reason": "counterfeit"}),
                    Capability::BarTac,
                ),
            ] {
                let path = format!("/api/v1/lists/{list}/entries");
                let (code, _) = n
                    .code(n.with(reqwest::Method::POST, &path, &s, true).json(&body))
                    .await;
                if grants(kind, role, cap) {
                    assert_eq!(code, 200, "{list} as {name}");
                    let id = if list == "barred_tac" {
                        "35000001"
                    } else {
                        UNKNOWN
                    };
                    let (code, _) = n
                        .code(n.with(reqwest::Method::DELETE, &format!("{path}/{id}"), &s, true))
                        .await;
                    assert_eq!(code, 200, "undo {list} as {name}");
                } else {
                    assert_eq!(code, 403, "{list} as {name}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, OrgKind::ALL.len() * Role::ALL.len() * 3);
}

/// Who the test acts as, for the audit record every change writes.
fn by() -> ceir_domain::audit::AuditContext {
    ceir_domain::audit::AuditContext::local(ceir_domain::authz::Actor::system("test"))
}
