//! Single sign-on end to end against a real OpenID provider (panva/oidc-provider under Node.js,
//! from `tests/oidc/`), which this test starts itself. The whole authorization code flow with
//! PKCE runs through ceir's own routes, with a cookie-keeping HTTP client in the browser's place.
//!
//! Without Node.js or `tests/oidc/node_modules` the test is skipped loudly, unless
//! `CEIR_REQUIRE_OIDC=1` (as `tests/oidc/run.sh` sets in CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::authz::{OrgKind, Role};
use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::{Clock, ManualClock, SystemClock};
use ceir_eir::Registry;
use ceir_http::oidc::{OidcConfig, OidcMapping};
use ceir_http::signin::{SignIn, SignInConfig};
use ceir_store::{testkit, NewUser, OidcIdentity, Organisation, Store};
use serde_json::Value;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const SUBJECT: &str = "alice-sub";
const CLIENT_SECRET: &str = "ceir-test-secret";

/// The provider process, killed when the test ends however it ends.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skip_or_fail(why: &str) -> Option<Provider> {
    if std::env::var("CEIR_REQUIRE_OIDC").is_ok_and(|v| v == "1") {
        panic!("the OpenID provider is required (CEIR_REQUIRE_OIDC=1) but {why}");
    }
    eprintln!("\n*** SKIPPED the OpenID Connect test: {why}. Run tests/oidc/run.sh to install and run it. ***\n");
    None
}

fn start_provider(redirect_uri: &str) -> Option<Provider> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc");
    if !dir.join("node_modules/oidc-provider").is_dir() {
        return skip_or_fail(&format!(
            "{} has no node_modules (run npm ci there)",
            dir.display()
        ));
    }
    let child = Command::new("node")
        .arg("provider.js")
        .current_dir(&dir)
        .env("REDIRECT_URI", redirect_uri)
        .env("CLIENT_ID", "ceir")
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("ACCOUNT", SUBJECT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return skip_or_fail(&format!("node cannot be started ({e})")),
    };
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // Keep reading, so the provider never writes into a closed pipe.
    std::thread::spawn(move || {
        for l in stdout.lines().map_while(Result::ok) {
            eprintln!("provider: {l}");
        }
    });
    let Some(issuer) = line.trim().strip_prefix("ready ") else {
        let _ = child.kill();
        panic!("the provider did not start: {line:?}");
    };
    Some(Provider {
        issuer: issuer.to_owned(),
        child,
    })
}

struct Node {
    base: String,
    clock: ManualClock,
    store: Arc<dyn Store>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
    _provider: Provider,
}

async fn start(mapping: OidcMapping) -> Option<Node> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = start_provider(&format!("{base}/auth/oidc/callback"))?;
    let (store, dir) = testkit::sqlite().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let now = SystemClock.now();
    store
        .upsert_organisation(
            &Organisation {
                id: "regulator".into(),
                name: "Regulator".into(),
                kind: OrgKind::Regulator,
                country: Country::AZ,
            },
            &by(),
            now,
        )
        .await
        .unwrap();
    // ID tokens carry real times: the node's clock starts at the wall clock's.
    let clock = ManualClock::at(now);
    let registry = Arc::new(
        Registry::open(
            store.clone(),
            Arc::new(clock.clone()),
            UnlistedPolicy::Permit,
        )
        .await
        .unwrap(),
    );
    let cfg = SignInConfig {
        oidc: Some(OidcConfig {
            issuer_url: provider.issuer.clone(),
            client_id: "ceir".into(),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_url: format!("{base}/auth/oidc/callback"),
            mapping,
            scopes: vec!["email".into()],
        }),
        ..SignInConfig::default()
    };
    let state = ceir_http::AppState::with_sign_in(registry, Country::AZ, SignIn::new(cfg).unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(ceir_http::server::serve(
        listener,
        ceir_http::router(state),
        None,
        async {
            let _ = rx.await;
        },
    ));
    Some(Node {
        base,
        clock,
        store,
        _stop: tx,
        _dir: dir,
        _provider: provider,
    })
}

/// A browser: follows redirects one by one, keeps the provider's cookies in reqwest's jar and
/// ceir's `__Host-` cookies itself (a jar may refuse Secure cookies over plain http, which
/// browsers accept on loopback).
struct Browser {
    http: reqwest::Client,
    ceir: HashMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            ceir: HashMap::new(),
        }
    }

    async fn get(&mut self, base: &str, url: &str) -> reqwest::Response {
        let mut q = self.http.get(url);
        if url.starts_with(base) && !self.ceir.is_empty() {
            let cookie: Vec<String> = self.ceir.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q = q.header("cookie", cookie.join("; "));
        }
        let r = q.send().await.unwrap();
        if url.starts_with(base) {
            for v in r.headers().get_all("set-cookie") {
                let v = v.to_str().unwrap();
                let (kv, _) = v.split_once(';').unwrap_or((v, ""));
                let (k, val) = kv.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.ceir.remove(k);
                } else {
                    self.ceir.insert(k.to_owned(), val.to_owned());
                }
            }
        }
        r
    }

    /// Follows the provider's redirects from `url` until it sends the browser back to ceir's
    /// callback, and returns that URL.
    async fn until_callback(&mut self, base: &str, url: &str) -> String {
        let mut url = url.to_owned();
        let callback = format!("{base}/auth/oidc/callback?");
        for _ in 0..20 {
            let r = self.get(base, &url).await;
            assert!(r.status().is_redirection(), "{url}: {}", r.status());
            let loc = r.headers()["location"].to_str().unwrap().to_owned();
            let next = r.url().join(&loc).unwrap().to_string();
            if next.starts_with(&callback) {
                return next;
            }
            url = next;
        }
        panic!("too many redirects from {url}");
    }

    /// The whole flow from ceir's SSO button; returns where ceir sends the browser at the end.
    async fn sign_in(&mut self, base: &str) -> String {
        let r = self.get(base, &format!("{base}/auth/oidc/login")).await;
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        let callback = self.until_callback(base, &to).await;
        let r = self.get(base, &callback).await;
        assert_eq!(r.status(), 303);
        r.headers()["location"].to_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn sso_signs_a_provisioned_user_in_through_a_real_provider() {
    let Some(n) = start(OidcMapping::Subject).await else {
        return;
    };
    let issuer = n._provider.issuer.clone();
    n.store
        .create_user(
            &NewUser {
                org: "regulator".into(),
                name: "alice".into(),
                display_name: "Alice Aliyeva".into(),
                role: Role::Officer,
                email: None,
                password_hash: None,
                totp_secret: None,
                oidc: Some(OidcIdentity {
                    issuer: issuer.clone(),
                    subject: SUBJECT.into(),
                }),
            },
            &by(),
            SystemClock.now(),
        )
        .await
        .unwrap();

    // The login page offers single sign-on.
    let mut b = Browser::new();
    let page = b.get(&n.base, &format!("{}/login", n.base)).await;
    assert!(page.text().await.unwrap().contains("/auth/oidc/login"));

    // ceir sends the browser to the provider with PKCE (S256), state and nonce.
    let r = b.get(&n.base, &format!("{}/auth/oidc/login", n.base)).await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{issuer}/auth?")), "{to}");
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "response_type=code",
        "scope=openid",
    ] {
        assert!(to.contains(p), "{p} in {to}");
    }
    assert!(b.ceir.contains_key("__Host-ceir_oidc"));
    // The provider signs the test person in and sends the browser back with a code; ceir
    // exchanges it, validates the ID token, opens a session and goes home.
    let callback = b.until_callback(&n.base, &to).await;
    assert!(callback.contains("code="), "{callback}");
    let r = b.get(&n.base, &callback).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    assert!(
        !b.ceir.contains_key("__Host-ceir_oidc"),
        "pending sign-in cleared"
    );
    assert!(b.ceir.contains_key("__Host-ceir_session"));
    let me: Value = b
        .get(&n.base, &format!("{}/auth/me", n.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"], "alice");
    assert_eq!(me["org"], "regulator");
    assert_eq!(me["role"], "officer");
    assert_eq!(me["displayName"], "Alice Aliyeva");
    assert!(me["csrfToken"].as_str().is_some_and(|t| t.len() >= 32));

    // A callback whose state is not this browser's pending one is refused.
    let mut b2 = Browser::new();
    let r = b2
        .get(&n.base, &format!("{}/auth/oidc/login", n.base))
        .await;
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let callback = b2.until_callback(&n.base, &to).await;
    let forged = callback.replace("state=", "state=x");
    let r = b2.get(&n.base, &forged).await;
    assert_eq!(r.headers()["location"], "/login?failed");
    assert!(!b2.ceir.contains_key("__Host-ceir_session"));

    // The ID token's expiry is judged by the node's clock: an hour and more later, it is stale.
    let mut b3 = Browser::new();
    n.clock.advance_ms(2 * 3_600_000);
    assert_eq!(b3.sign_in(&n.base).await, "/login?failed");
    assert!(!b3.ceir.contains_key("__Host-ceir_session"));
    n.clock.advance_ms(-2 * 3_600_000);

    // A disabled user cannot sign in, though the provider still vouches for them.
    n.store
        .disable_user("regulator", "alice", &by(), SystemClock.now())
        .await
        .unwrap();
    let mut b4 = Browser::new();
    assert_eq!(b4.sign_in(&n.base).await, "/login?failed");
    assert!(!b4.ceir.contains_key("__Host-ceir_session"));
}

#[tokio::test]
async fn sso_by_email_needs_a_provisioned_user() {
    let Some(n) = start(OidcMapping::Email).await else {
        return;
    };
    // Nobody provisioned: the provider's word alone grants nothing.
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&n.base).await, "/login?failed");
    assert!(!b.ceir.contains_key("__Host-ceir_session"));

    n.store
        .create_user(
            &NewUser {
                org: "regulator".into(),
                name: "alice".into(),
                display_name: "Alice".into(),
                role: Role::Viewer,
                email: Some("alice@regulator.example".into()),
                password_hash: None,
                totp_secret: None,
                oidc: None,
            },
            &by(),
            SystemClock.now(),
        )
        .await
        .unwrap();
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&n.base).await, "/");
    let me: Value = b
        .get(&n.base, &format!("{}/auth/me", n.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str()),
        (Some("alice"), Some("viewer"))
    );
}

/// Who the test acts as, for the audit record every change writes.
fn by() -> ceir_domain::audit::AuditContext {
    ceir_domain::audit::AuditContext::local(ceir_domain::authz::Actor::system("test"))
}
