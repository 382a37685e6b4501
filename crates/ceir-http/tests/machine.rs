//! Machine clients over HTTP: scoped and expiring API tokens, and the OAuth2 client-credentials
//! flow to N5g-eir over HTTP/2, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::authz::{OrgKind, Role};
use ceir_domain::lists::Country;
use ceir_domain::scope::{Scope, ScopeSet};
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::{ManualClock, Timestamp};
use ceir_eir::Registry;
use ceir_store::machine::NewToken;
use ceir_store::{testkit, Organisation, Store};
use serde_json::{json, Value};
use std::sync::Arc;

const T0: Timestamp = Timestamp(1_790_000_000_000);
const IMEI: &str = "354237107777773";

struct Node {
    base: String,
    clock: ManualClock,
    store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(store: Arc<dyn Store>, require_oauth: bool) -> Node {
    for (id, kind) in [
        ("az-regulator", OrgKind::Regulator),
        ("az-azercell", OrgKind::Operator),
        ("az-bank", OrgKind::Bank),
    ] {
        store
            .upsert_organisation(
                &Organisation {
                    id: id.into(),
                    name: id.into(),
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
    let machine = ceir_http::oauth::MachineAuth::new(require_oauth, 3600);
    let app = ceir_http::router(ceir_http::AppState::with_machine(
        registry,
        Country::AZ,
        machine,
    ));
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
    }
}

fn h2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

impl Node {
    async fn token(&self, org: &str, role: Role, scopes: ScopeSet, days: Option<i64>) -> String {
        self.store
            .create_scoped_token(
                &NewToken {
                    org,
                    user: "u",
                    role,
                    label: "t",
                    scopes,
                    expires_at: days.map(|d| T0.plus_days(d)),
                },
                &by(),
                T0,
            )
            .await
            .unwrap()
            .1
    }
    async fn client(&self, org: &str, scopes: ScopeSet) -> (String, String) {
        let (c, secret) = self
            .store
            .create_client(org, "amf-1", Role::Officer, scopes, &by(), T0)
            .await
            .unwrap();
        (c.id, secret)
    }
    async fn get(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut q = h2().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            q = q.bearer_auth(t);
        }
        let r = q.send().await.unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        r
    }
    async fn block(&self, token: &str) -> u16 {
        h2().post(format!("{}/api/v1/lists/blocked/entries", self.base))
            .bearer_auth(token)
            .json(&json!({"imei": IMEI, "reason": "fraud"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
    async fn eir(&self, token: Option<&str>) -> reqwest::Response {
        self.get(
            token,
            &format!("/n5g-eir-eic/v1/equipment-status?pei=imei-{IMEI}"),
        )
        .await
    }
    /// POST /oauth2/token with HTTP Basic (`basic`) or the form fields.
    async fn token_request(
        &self,
        id: &str,
        secret: &str,
        basic: bool,
        extra: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let mut q = h2().post(format!("{}/oauth2/token", self.base));
        if basic {
            q = q.basic_auth(id, Some(secret));
        } else {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = q
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.json().await.unwrap())
    }
}

fn www(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn token_scopes_narrow_the_role_and_expired_tokens_are_refused() {
    let (store, _dir) = testkit::sqlite().await.unwrap();
    let n = start(Arc::new(store), false).await;
    let reader = n
        .token(
            "az-regulator",
            Role::Admin,
            ScopeSet::of(&[Scope::ListsRead]),
            Some(1),
        )
        .await;
    let writer = n
        .token("az-regulator", Role::Admin, ScopeSet::REST, Some(1))
        .await;
    let path = format!("/api/v1/devices/{IMEI}");
    assert_eq!(n.get(Some(&reader), &path).await.status(), 200);
    assert_eq!(n.block(&reader).await, 403, "lists:read cannot write");
    assert_eq!(
        n.get(Some(&reader), "/api/v1/tacs/35423710").await.status(),
        403,
        "lists:read is not catalog:read"
    );
    assert_eq!(n.block(&writer).await, 200);
    // A bank viewer with every scope still cannot write: scopes only narrow.
    let bank = n.token("az-bank", Role::Viewer, ScopeSet::REST, None).await;
    assert_eq!(n.block(&bank).await, 403);

    // Expiry by the injected clock.
    n.clock.set(T0.plus_days(1));
    let r = n.get(Some(&reader), &path).await;
    assert_eq!(r.status(), 401);
    assert!(www(&r).starts_with("Bearer"));
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["cause"], "UNAUTHENTICATED");
    assert_eq!(n.get(Some(&bank), &path).await.status(), 200, "no expiry");
}

async fn client_credentials_flow(store: Arc<dyn Store>) {
    let n = start(store, true).await;
    let (id, secret) = n
        .client("az-azercell", ScopeSet::of(&[Scope::N5gEirEic]))
        .await;

    // Without a token: 401 with the challenge naming the scope.
    let r = n.eir(None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(www(&r), "Bearer realm=\"ceir\", scope=\"n5g-eir-eic\"");
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // HTTP Basic client authentication.
    let (code, h, body) = n.token_request(&id, &secret, true, &[]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "n5g-eir-eic");
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("ceir_at_"));
    let r = n.eir(Some(&access)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"status":"WHITELISTED"}"#);
    // Again, now from the cache.
    assert_eq!(n.eir(Some(&access)).await.status(), 200);
    // The token is for N5g-eir only: the REST API refuses it.
    assert_eq!(
        n.get(Some(&access), &format!("/api/v1/devices/{IMEI}"))
            .await
            .status(),
        403
    );

    // Form-field client authentication, with the scope named.
    let (code, _, body) = n
        .token_request(&id, &secret, false, &[("scope", "n5g-eir-eic")])
        .await;
    assert_eq!(code, 200, "{body}");
    // Each issued access token is audited, under the client's organisation, never the token.
    let issued = ceir_store::testkit::audited(n.store.as_ref(), "access_token.issue")
        .await
        .unwrap();
    assert_eq!(issued.len(), 2, "{issued:?}");
    assert!(issued
        .iter()
        .all(|r| r.actor_org == "az-azercell" && r.object == format!("client:{id}")));
    assert!(!format!("{issued:?}").contains(&access));

    // A scope beyond the client's.
    let (code, _, body) = n
        .token_request(&id, &secret, true, &[("scope", "n5g-eir-eic lists:write")])
        .await;
    assert_eq!((code, body["error"].as_str()), (400, Some("invalid_scope")));
    let (code, _, body) = n
        .token_request(&id, &secret, true, &[("scope", "everything")])
        .await;
    assert_eq!((code, body["error"].as_str()), (400, Some("invalid_scope")));

    // A token without n5g-eir-eic: 403 insufficient_scope.
    let (rid, rsecret) = n
        .client("az-azercell", ScopeSet::of(&[Scope::ListsRead]))
        .await;
    let (code, _, body) = n.token_request(&rid, &rsecret, true, &[]).await;
    assert_eq!(code, 200, "{body}");
    let reader = body["access_token"].as_str().unwrap().to_owned();
    let r = n.eir(Some(&reader)).await;
    assert_eq!(r.status(), 403);
    assert!(
        www(&r).contains("error=\"insufficient_scope\""),
        "{}",
        www(&r)
    );
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["cause"], "FORBIDDEN");
    // ...but it reads the REST API as its operator may.
    assert_eq!(
        n.get(Some(&reader), &format!("/api/v1/devices/{IMEI}"))
            .await
            .status(),
        200
    );
    assert_eq!(n.block(&reader).await, 403);

    // The scope is not enough if the organisation may not check equipment (a bank).
    let (bid, bsecret) = n.client("az-bank", ScopeSet::of(&[Scope::N5gEirEic])).await;
    let (code, _, body) = n.token_request(&bid, &bsecret, true, &[]).await;
    assert_eq!(code, 200, "{body}");
    let bank = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(n.eir(Some(&bank)).await.status(), 403);

    // Bad secret, unknown client, bad grant type, no credentials.
    let (code, h, body) = n.token_request(&id, &rsecret, true, &[]).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(h["www-authenticate"], "Basic realm=\"ceir\"");
    let (code, _, body) = n.token_request("nobody", &secret, false, &[]).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = h2()
        .post(format!("{}/oauth2/token", n.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    let r = h2()
        .post(format!("{}/oauth2/token", n.base))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h2()
        .post(format!("{}/oauth2/token", n.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "two ways of client authentication");

    // An unknown or garbled bearer token.
    let r = n.eir(Some("ceir_at_nonsense")).await;
    assert_eq!(r.status(), 401);
    assert!(www(&r).contains("error=\"invalid_token\""));
    let mut forged = access.clone();
    forged.replace_range(8..9, if &access[8..9] == "a" { "b" } else { "a" });
    assert_eq!(n.eir(Some(&forged)).await.status(), 401);

    // Access tokens expire (the cached one too).
    n.clock.advance_ms(3_600_000);
    let r = n.eir(Some(&access)).await;
    assert_eq!(r.status(), 401);
    let (code, _, body) = n.token_request(&id, &secret, true, &[]).await;
    assert_eq!(code, 200, "{body}");
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(n.eir(Some(&fresh)).await.status(), 200);
}

#[tokio::test]
async fn client_credentials_to_n5g_eir_over_http2_sqlite() {
    let (store, _dir) = testkit::sqlite().await.unwrap();
    client_credentials_flow(Arc::new(store)).await;
}

#[tokio::test]
async fn client_credentials_to_n5g_eir_over_http2_postgres() {
    let Some((store, schema)) = testkit::postgres("http_oauth").await else {
        return;
    };
    let store = Arc::new(store);
    client_credentials_flow(store.clone()).await;
    // The node is dropped with the flow; the store outlives it here only for clean-up.
    if let Ok(s) = Arc::try_unwrap(store) {
        testkit::drop_postgres(s, &schema).await;
    }
}

/// Guessing a client's secret is stopped after a few tries, and the right secret waits too.
#[tokio::test]
async fn token_endpoint_locks_a_client_after_repeated_failures() {
    let (store, _dir) = testkit::sqlite().await.unwrap();
    let n = start(Arc::new(store), true).await;
    let (id, secret) = n
        .client("az-azercell", ScopeSet::of(&[Scope::N5gEirEic]))
        .await;
    for _ in 0..ceir_http::oauth::MAX_FAILURES {
        let (code, _, _) = n.token_request(&id, "ceir_cs_guess", true, &[]).await;
        assert_eq!(code, 401);
    }
    let (code, h, body) = n.token_request(&id, &secret, true, &[]).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (429, Some("invalid_client"))
    );
    assert_eq!(h["retry-after"], "300");
    // Another client is not affected.
    let (id2, secret2) = n
        .client("az-azercell", ScopeSet::of(&[Scope::N5gEirEic]))
        .await;
    assert_eq!(n.token_request(&id2, &secret2, false, &[]).await.0, 200);
    // After the lockout, the right secret works again.
    n.clock.advance_ms(ceir_http::oauth::LOCKOUT_MS);
    assert_eq!(n.token_request(&id, &secret, true, &[]).await.0, 200);
}

/// With OAuth off (the default), N5g-eir stays open, as conformance runs and benchmarks expect.
#[tokio::test]
async fn n5g_eir_is_open_unless_required() {
    let (store, _dir) = testkit::sqlite().await.unwrap();
    let n = start(Arc::new(store), false).await;
    assert_eq!(n.eir(None).await.status(), 200);
    assert_eq!(n.eir(Some("ceir_at_nonsense")).await.status(), 200);
}

/// Who the test acts as, for the audit record every change writes.
fn by() -> ceir_domain::audit::AuditContext {
    ceir_domain::audit::AuditContext::local(ceir_domain::authz::Actor::system("test"))
}
