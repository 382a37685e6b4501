//! The HTTP surface end to end: a real server on a loopback port, spoken to over HTTP/2 (prior
//! knowledge) and HTTP/1.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{grants, Actor, Capability, OrgKind, Role};
use ceir_domain::lists::{Country, ListKind};
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::{Clock, ManualClock, Timestamp};
use ceir_eir::Registry;
use ceir_store::{testkit, Organisation, SqlStore, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const T0: Timestamp = Timestamp(1_790_000_000_000);

struct Node {
    base: String,
    clock: ManualClock,
    registry: Arc<Registry>,
    tokens: HashMap<(OrgKind, Role), String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
    /// DIR/lists with one published run, signed by `lists_key()`.
    _lists: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn org_id(kind: OrgKind) -> String {
    format!("org-{}", kind.as_str())
}

async fn seed(store: &dyn Store) -> HashMap<(OrgKind, Role), String> {
    let mut tokens = HashMap::new();
    let by = AuditContext::local(Actor::system("test-seed"));
    for kind in OrgKind::ALL {
        let o = Organisation {
            id: org_id(kind),
            name: kind.as_str().into(),
            kind,
            country: Country::AZ,
        };
        store.upsert_organisation(&o, &by, T0).await.unwrap();
        for role in Role::ALL {
            let (_, secret) = store
                .create_token(
                    &o.id,
                    &format!("{}-{}", kind.as_str(), role.as_str()),
                    role,
                    "test",
                    None,
                    &by,
                    T0,
                )
                .await
                .unwrap();
            tokens.insert((kind, role), secret);
        }
    }
    tokens
}

async fn start(
    store: Arc<dyn Store>,
    policy: UnlistedPolicy,
    dir: Option<tempfile::TempDir>,
    seed_tokens: bool,
) -> Node {
    let tokens = if seed_tokens {
        seed(store.as_ref()).await
    } else {
        HashMap::new()
    };
    let clock = ManualClock::at(T0);
    let registry = Arc::new(
        Registry::open(store, Arc::new(clock.clone()), policy)
            .await
            .unwrap(),
    );
    // Roomier than a citizen's limit: the matrix alone sends a hundred public requests.
    let sign_in = ceir_http::signin::SignIn::local(ceir_http::signin::SignInConfig {
        public_rate: ceir_http::websec::RateLimit {
            per_minute: 6000,
            burst: 6000,
        },
        ..Default::default()
    });
    let state = ceir_http::AppState::with_sign_in(registry.clone(), Country::AZ, sign_in);
    // Classification for `explain`: one condition over the stolen list, no observations.
    static NODES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let classification = std::env::temp_dir().join(format!(
        "ceir-http-classification-{}-{}",
        std::process::id(),
        NODES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let conditions = ceir_domain::classify::Conditions::from_toml(
        "[[conditions]]\nlabel = \"stolen\"\nreason = \"Stolen\"\nblocking = true\ndimensions = [{ module = \"stolen_list\" }]",
    )
    .unwrap();
    state.classification.store(Some(Arc::new(
        ceir_http::explain::ClassificationSource::new(classification, conditions, None),
    )));
    let lists = publish_lists();
    state.lists_root.set(lists.path().to_owned()).unwrap();
    let app = ceir_http::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(ceir_http::server::serve(listener, app, None, async {
        let _ = rx.await;
    }));
    let (_ftx, frx) = tokio::sync::watch::channel(false);
    tokio::spawn(
        registry
            .clone()
            .follow(Duration::from_secs(3600), frx.clone()),
    );
    std::mem::forget(_ftx);
    Node {
        base,
        clock,
        registry,
        tokens,
        stop: Some(tx),
        _dir: dir,
        _lists: lists,
    }
}

fn lists_key() -> ceir_lists::NodeKey {
    ceir_lists::NodeKey::from_seed([5; 32])
}

/// One run of operator lists: a blocked IMEI for everyone, an exception for azercell.
fn publish_lists() -> tempfile::TempDir {
    use ceir_domain::observe::{Day, IdKey, ImeiNorm, Region};
    let dir = tempfile::tempdir().unwrap();
    let region = Region::default_for("AZ").unwrap();
    let conditions = vec![ceir_lists::Condition {
        label: "stolen_list".into(),
        reason: "stolen".into(),
        blocking: true,
    }];
    let none = std::collections::HashSet::new();
    let pairings = [ceir_lists::Pairing {
        imei: 35_209_900_176_148,
        imsi: IdKey::parse(b"400011234567890"),
        msisdn: IdKey::NULL,
    }];
    let input = ceir_lists::ListInput {
        date: Day::parse_iso("2026-11-02").unwrap(),
        lookback_end: Day::parse_iso("2026-11-02").unwrap(),
        conditions: &conditions,
        triplets: &[],
        triplet_operators: &[],
        raw_imeis: &[],
        pairings: &pairings,
        golden: &none,
        barred: &none,
        barred_tacs: &std::collections::HashSet::new(),
        region: &region,
        config: &ceir_lists::ListConfig::default(),
    };
    let imei = ImeiNorm::Body(35_209_983_123_456);
    let rows = [ceir_lists::Row {
        imei: &imei,
        condition: "stolen_list",
        end: None,
        block_date: Day::parse_iso("2026-11-01"),
        amnesty: false,
    }];
    let lists = ceir_lists::compute(&input, rows).unwrap();
    let meta = ceir_lists::PublishMeta {
        country: "AZ".into(),
        classification_run: Some(1),
        full_base: false,
    };
    ceir_lists::publish(dir.path(), &lists, &lists_key(), &meta).unwrap();
    dir
}

async fn sqlite_node(policy: UnlistedPolicy) -> Node {
    let (store, dir) = testkit::sqlite().await.unwrap();
    start(Arc::new(store), policy, Some(dir), true).await
}

fn h2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

fn h1() -> reqwest::Client {
    reqwest::Client::builder().http1_only().build().unwrap()
}

impl Node {
    fn token(&self, kind: OrgKind, role: Role) -> &str {
        &self.tokens[&(kind, role)]
    }
    fn regulator(&self) -> &str {
        self.token(OrgKind::Regulator, Role::Admin)
    }
    async fn eir(&self, query: &str) -> (u16, Value) {
        let r = h2()
            .get(format!(
                "{}/n5g-eir-eic/v1/equipment-status?{query}",
                self.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            assert_eq!(ct, "application/json");
        } else {
            assert_eq!(ct, "application/problem+json");
        }
        (status, body)
    }
    async fn status_of(&self, imei: &str) -> String {
        let (code, body) = self.eir(&format!("pei=imei-{imei}")).await;
        if code == 404 {
            return body["cause"].as_str().unwrap().to_owned();
        }
        body["status"].as_str().unwrap().to_owned()
    }
    async fn post(&self, token: &str, list: &str, body: Value) -> (u16, Value) {
        let r = h1()
            .post(format!("{}/api/v1/lists/{list}/entries", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = h1()
            .delete(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, token: Option<&str>, path: &str) -> (u16, Value) {
        let mut q = h2().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            q = q.bearer_auth(t);
        }
        let r = q.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

const STOLEN: &str = "352029831234565";
const TRACKED: &str = "350761758800422";
const PERMITTED: &str = "350854371002003";
const PAIRED: &str = "867699044242429";
const UNKNOWN: &str = "354237107777773";
/// A well-formed case code that names no case.
const CASE: &str = "AZ-2345-678Q";
const IMSI: &str = "400011234567890";

async fn populate(n: &Node) {
    let police = n.token(OrgKind::LawEnforcement, Role::Officer).to_owned();
    let reg = n.regulator().to_owned();
    let op = n.token(OrgKind::Operator, Role::Officer).to_owned();
    assert_eq!(
        n.post(
            &police,
            "blocked",
            json!({"imei": STOLEN, "reason": "stolen", "reference": "AZ-1"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        n.post(
            &police,
            "tracked",
            json!({"imei": TRACKED, "reason": "investigation"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        n.post(
            &reg,
            "permitted",
            json!({"imei": PERMITTED, "reason": "registered"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        n.post(
            &reg,
            "blocked",
            json!({"imei": PAIRED, "reason": "unregistered"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        n.post(
            &op,
            "exception",
            json!({"imei": PAIRED, "imsi": IMSI, "reason": "paired"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        n.post(
            &reg,
            "barred_tac",
            json!({"tac": "35999901", "reason": "counterfeit"})
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn eir_answers_every_outcome_over_http2() {
    let n = sqlite_node(UnlistedPolicy::Unknown).await;
    populate(&n).await;
    assert_eq!(n.status_of(STOLEN).await, "BLACKLISTED");
    assert_eq!(n.status_of(TRACKED).await, "GREYLISTED");
    assert_eq!(n.status_of(PERMITTED).await, "WHITELISTED");
    assert_eq!(n.status_of(PAIRED).await, "BLACKLISTED");
    assert_eq!(
        n.status_of("359999010000016").await,
        "BLACKLISTED",
        "barred TAC"
    );
    assert_eq!(n.status_of(UNKNOWN).await, "ERROR_EQUIPMENT_UNKNOWN");
    // Phones send a spare 0 in place of the check digit.
    assert_eq!(n.status_of("352029831234560").await, "BLACKLISTED");
    // IMEISV carries the same IMEI.
    let (code, body) = n.eir("pei=imeisv-3520298312345601").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("BLACKLISTED")));
    // The paired subscriber gets through; any other subscriber does not.
    let (_, b) = n.eir(&format!("pei=imei-{PAIRED}&supi=imsi-{IMSI}")).await;
    assert_eq!(b["status"], "WHITELISTED");
    let (_, b) = n
        .eir(&format!(
            "pei=imei-{PAIRED}&supi=imsi-400029999999999&gpsi=msisdn-994501234567"
        ))
        .await;
    assert_eq!(b["status"], "BLACKLISTED");
    // A MAC-based PEI names no IMEI: the unlisted answer.
    let (code, b) = n.eir("pei=mac-00-1a-2b-3c-4d-5e").await;
    assert_eq!(
        (code, b["cause"].as_str()),
        (404, Some("ERROR_EQUIPMENT_UNKNOWN"))
    );
}

#[tokio::test]
async fn eir_refuses_what_it_cannot_interpret() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let (code, b) = n.eir("pei=imei-12345").await;
    assert_eq!(
        (
            code,
            b["cause"].as_str(),
            b["invalidParams"][0]["param"].as_str()
        ),
        (400, Some("MANDATORY_QUERY_PARAM_INCORRECT"), Some("pei"))
    );
    let (code, b) = n.eir("supi=imsi-400011234567890").await;
    assert_eq!(
        (code, b["cause"].as_str()),
        (400, Some("MANDATORY_QUERY_PARAM_MISSING"))
    );
    let (code, b) = n.eir(&format!("pei=imei-{UNKNOWN}&supi=imsi-12x")).await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("supi"))
    );
    let (code, b) = n
        .eir(&format!("pei=imei-{UNKNOWN}&supported-features=xyz"))
        .await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("supported-features"))
    );
    let (code, _) = n
        .eir(&format!("pei=imei-{UNKNOWN}&supported-features=1F"))
        .await;
    assert_eq!(code, 200);
    let long = "a".repeat(5000);
    let r = h2()
        .get(format!(
            "{}/n5g-eir-eic/v1/equipment-status?pei={long}",
            n.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 414);
    // Permissive mode: devices on no list are allowed.
    assert_eq!(n.status_of(UNKNOWN).await, "WHITELISTED");
    // Percent-encoded queries are decoded.
    let (code, _) = n.eir(&format!("pei=imei%2D{UNKNOWN}")).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_change_is_visible_to_the_next_request_and_lifting_keeps_history() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let police = n.token(OrgKind::LawEnforcement, Role::Officer).to_owned();
    assert_eq!(n.status_of(UNKNOWN).await, "WHITELISTED");
    let (code, b) = n
        .post(
            &police,
            "blocked",
            json!({"imei": UNKNOWN, "reason": "stolen", "reference": "AZ-POL-9"}),
        )
        .await;
    assert_eq!((code, b["added"].as_u64()), (200, Some(1)));
    assert_eq!(n.status_of(UNKNOWN).await, "BLACKLISTED");
    // Someone else's police may not lift it; the regulator may.
    let mut other = police.clone();
    other.push('x');
    assert_eq!(
        n.delete(&other, &format!("/api/v1/lists/blocked/entries/{UNKNOWN}"))
            .await
            .0,
        401
    );
    let (code, b) = n
        .delete(
            n.token(OrgKind::Bank, Role::Admin),
            &format!("/api/v1/lists/blocked/entries/{UNKNOWN}"),
        )
        .await;
    assert_eq!((code, b["cause"].as_str()), (403, Some("FORBIDDEN")));
    let (code, b) = n
        .delete(
            n.regulator(),
            &format!("/api/v1/lists/blocked/entries/{UNKNOWN}?note=found"),
        )
        .await;
    assert_eq!((code, b["removed"].as_u64()), (200, Some(1)));
    assert_eq!(n.status_of(UNKNOWN).await, "WHITELISTED");
    let (code, h) = n
        .get(
            Some(n.regulator()),
            &format!("/api/v1/devices/{UNKNOWN}/history"),
        )
        .await;
    assert_eq!(code, 200);
    let actions: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["add", "remove"]);
    assert_eq!(h[1]["actor_org"], "org-regulator");
    assert_eq!(h[1]["note"], "found");
}

#[tokio::test]
async fn rest_errors_are_problems_with_the_field_named() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let reg = n.regulator().to_owned();
    let (code, b) = n
        .post(
            &reg,
            "blocked",
            json!({"imei": "352029831234560", "reason": "stolen"}),
        )
        .await;
    assert_eq!((code, b["cause"].as_str()), (400, Some("IMEI_CHECK_DIGIT")));
    assert!(b["detail"].as_str().unwrap().contains("expected 5"), "{b}");
    let (code, b) = n.post(&reg, "blocked", json!({"entries": [{"imei": STOLEN, "reason": "stolen"}, {"imei": TRACKED, "reason": "registered"}]})).await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("entries[1].entry"))
    );
    assert_eq!(
        n.status_of(STOLEN).await,
        "WHITELISTED",
        "nothing of a refused batch is applied"
    );
    let (code, b) = n
        .post(
            &reg,
            "nonsense",
            json!({"imei": STOLEN, "reason": "stolen"}),
        )
        .await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("list"))
    );
    let (code, b) = n
        .post(
            &reg,
            "blocked",
            json!({"imei": STOLEN, "reason": "stolen", "expires_at": "tomorrow"}),
        )
        .await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("expires_at"))
    );
    let r = h1()
        .post(format!("{}/api/v1/lists/blocked/entries", n.base))
        .bearer_auth(&reg)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let (code, b) = n.get(Some(&reg), "/api/v1/nowhere").await;
    assert_eq!((code, b["cause"].as_str()), (404, Some("NOT_FOUND")));
    let (code, _) = n.get(Some(&reg), "/api/v1/tacs/1234567").await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn expiry_lifts_entries_when_the_clock_passes() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let police = n.token(OrgKind::LawEnforcement, Role::Officer).to_owned();
    let (code, _) = n
        .post(
            &police,
            "tracked",
            json!({"imei": TRACKED, "reason": "investigation", "expires_at": "2026-10-01"}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(n.status_of(TRACKED).await, "GREYLISTED");
    n.clock.set(Timestamp(1_790_000_000_000 + 86_400_000 * 5)); // 2026-09-26
    assert_eq!(n.registry.sweep_expired().await.unwrap(), 0);
    n.clock.set(Timestamp(1_790_000_000_000 + 86_400_000 * 10));
    assert_eq!(n.registry.sweep_expired().await.unwrap(), 1);
    assert_eq!(n.status_of(TRACKED).await, "WHITELISTED");
    // An expiry in the past is refused.
    let (code, _) = n
        .post(
            &police,
            "tracked",
            json!({"imei": TRACKED, "reason": "investigation", "expires_at": "2026-01-01"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(n.clock.now() > T0);
}

#[tokio::test]
async fn served_documents_and_probes() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let (code, doc) = n.get(None, "/openapi.json").await;
    assert_eq!(code, 200);
    assert!(doc["paths"]["/api/v1/devices/{imei}"].is_object());
    let (code, h) = n.get(None, "/healthz").await;
    assert_eq!((code, h["status"].as_str()), (200, Some("ok")));
    n.status_of(UNKNOWN).await;
    let r = h1()
        .get(format!("{}/metrics", n.base))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("ceir_eir_requests_total{status=\"WHITELISTED\"} 1"),
        "{text}"
    );
    let r = h1()
        .get(format!("{}/healthz", n.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = h1()
        .get(format!("{}/healthz", n.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-request-id"));
}

/// Every route against every organisation kind and role, and without a token.
#[tokio::test]
async fn authorization_matrix_covers_every_route() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    populate(&n).await;
    // (method, concrete path, OpenAPI path, capability, body)
    let routes: Vec<(&str, String, &str, Capability, Option<Value>)> = vec![
        (
            "GET",
            format!("/api/v1/devices/{STOLEN}"),
            "/api/v1/devices/{imei}",
            Capability::ReadLists,
            None,
        ),
        (
            "GET",
            format!("/api/v1/devices/{STOLEN}/history"),
            "/api/v1/devices/{imei}/history",
            Capability::ReadLists,
            None,
        ),
        (
            "GET",
            format!("/api/v1/devices/{STOLEN}/explain"),
            "/api/v1/devices/{imei}/explain",
            Capability::ReadClassification,
            None,
        ),
        (
            "GET",
            "/api/v1/lists/blocked".into(),
            "/api/v1/lists/{list}",
            Capability::ReadLists,
            None,
        ),
        (
            "GET",
            "/api/v1/tacs/35999901".into(),
            "/api/v1/tacs/{tac}",
            Capability::ReadCatalog,
            None,
        ),
        (
            "GET",
            "/api/v1/stats".into(),
            "/api/v1/stats",
            Capability::ReadLists,
            None,
        ),
        (
            "GET",
            "/api/v1/operators".into(),
            "/api/v1/operators",
            Capability::ReadLists,
            None,
        ),
        (
            "GET",
            "/api/v1/audit?action=list.add".into(),
            "/api/v1/audit",
            Capability::ReadAudit,
            None,
        ),
        (
            "GET",
            "/api/v1/audit/export?format=csv".into(),
            "/api/v1/audit/export",
            Capability::ReadAudit,
            None,
        ),
        (
            "GET",
            "/api/v1/cases?state=received".into(),
            "/api/v1/cases",
            Capability::ReadCases,
            None,
        ),
        (
            "GET",
            format!("/api/v1/cases/{CASE}"),
            "/api/v1/cases/{code}",
            Capability::ReadCases,
            None,
        ),
        (
            "GET",
            "/api/v1/operator-lists/runs".into(),
            "/api/v1/operator-lists/runs",
            Capability::DownloadOperatorLists,
            None,
        ),
        (
            "GET",
            "/api/v1/operator-lists/runs/current/manifest".into(),
            "/api/v1/operator-lists/runs/{run}/manifest",
            Capability::DownloadOperatorLists,
            None,
        ),
        (
            "GET",
            "/api/v1/operator-lists/runs/1/signature".into(),
            "/api/v1/operator-lists/runs/{run}/signature",
            Capability::DownloadOperatorLists,
            None,
        ),
        // The operator organisation runs azercell's network (bound below).
        (
            "GET",
            "/api/v1/operator-lists/runs/current/files/azercell/exceptions.csv".into(),
            "/api/v1/operator-lists/runs/{run}/files/{operator}/{file}",
            Capability::DownloadOperatorLists,
            None,
        ),
        (
            "GET",
            "/api/v1/operator-lists/runs/1/files/azercell/manifest.json".into(),
            "/api/v1/operator-lists/runs/{run}/files/{operator}/{file}",
            Capability::DownloadOperatorLists,
            None,
        ),
    ];
    // The run's manifest and signature name every operator's files and row counts: operators,
    // though they may download lists, get their own manifest instead (a file route above).
    let not_for_operators = [
        "/api/v1/operator-lists/runs/{run}/manifest",
        "/api/v1/operator-lists/runs/{run}/signature",
    ];
    bind_azercell(&n, Some(&org_id(OrgKind::Operator))).await;
    let mut writes: Vec<(&str, String, &str, Capability, Option<Value>)> = Vec::new();
    for list in ListKind::ALL {
        let body = match list {
            ListKind::Exception => json!({"imei": UNKNOWN, "imsi": IMSI, "reason": "paired"}),
            ListKind::BarredTac => json!({"tac": "35000001", "reason": "counterfeit"}),
            ListKind::Permitted => json!({"imei": UNKNOWN, "reason": "registered"}),
            _ => json!({"imei": UNKNOWN, "reason": "fraud"}),
        };
        writes.push((
            "POST",
            format!("/api/v1/lists/{list}/entries"),
            "/api/v1/lists/{list}/entries",
            Capability::to_change(list),
            Some(body),
        ));
        let id = if list == ListKind::BarredTac {
            "35000001".to_owned()
        } else {
            UNKNOWN.to_owned()
        };
        let q = if list == ListKind::Exception {
            format!("?imsi={IMSI}")
        } else {
            String::new()
        };
        writes.push((
            "DELETE",
            format!("/api/v1/lists/{list}/entries/{id}{q}"),
            "/api/v1/lists/{list}/entries/{id}",
            Capability::to_change(list),
            None,
        ));
    }
    // The matrix names every path of the OpenAPI document.
    let doc = ceir_http::ApiDoc::openapi_json();
    let documented: std::collections::BTreeSet<String> =
        doc["paths"].as_object().unwrap().keys().cloned().collect();
    let mut covered: std::collections::BTreeSet<String> = routes
        .iter()
        .chain(writes.iter())
        .map(|r| r.2.to_owned())
        .collect();
    // Public routes: the same answer with any token or none. This node has no outbox, so a
    // one-time code cannot be sent (503); without a code, a case cannot be viewed (401).
    let report = json!({"imei": STOLEN, "kind": "stolen", "contact": "a@mail.az"});
    let public: [(&str, String, &str, u16, Option<Value>); 4] = [
        (
            "GET",
            format!("/api/v1/public/check/{STOLEN}"),
            "/api/v1/public/check/{imei}",
            200,
            None,
        ),
        (
            "POST",
            "/api/v1/public/cases".into(),
            "/api/v1/public/cases",
            201,
            Some(report),
        ),
        (
            "POST",
            format!("/api/v1/public/cases/{CASE}/otp"),
            "/api/v1/public/cases/{code}/otp",
            503,
            None,
        ),
        (
            "GET",
            format!("/api/v1/public/cases/{CASE}"),
            "/api/v1/public/cases/{code}",
            401,
            None,
        ),
    ];
    for (method, path, doc_path, expected, body) in &public {
        covered.insert((*doc_path).to_owned());
        let call = |token: Option<&str>| {
            let url = format!("{}{path}", n.base);
            let mut q = if *method == "POST" {
                h1().post(url)
            } else {
                h1().get(url)
            };
            if let Some(t) = token {
                q = q.bearer_auth(t);
            }
            if let Some(b) = body {
                q = q.json(b);
            }
            q.send()
        };
        let code = call(None).await.unwrap().status().as_u16();
        assert_eq!(code, *expected, "{method} {path} without a token");
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                let code = call(Some(n.token(kind, role)))
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert_eq!(code, *expected, "{method} {path} as {kind}/{role:?}");
            }
        }
    }
    // The token endpoint authenticates clients, not bearers: any API token, or none, gets 401.
    covered.insert("/oauth2/token".to_owned());
    let mut bearers: Vec<Option<&str>> = vec![None];
    for kind in OrgKind::ALL {
        for role in Role::ALL {
            bearers.push(Some(n.token(kind, role)));
        }
    }
    for bearer in bearers {
        let mut q = h1()
            .post(format!("{}/oauth2/token", n.base))
            .form(&[("grant_type", "client_credentials")]);
        if let Some(t) = bearer {
            q = q.bearer_auth(t);
        }
        let r = q.send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            401,
            "/oauth2/token, bearer: {}",
            bearer.is_some()
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // Any signed-in caller, whatever their capabilities: 401 without credentials, else 200.
    for (path, doc_path) in [("/auth/me", "/auth/me")] {
        covered.insert(doc_path.to_owned());
        assert_eq!(n.get(None, path).await.0, 401, "{path} without a token");
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                assert_eq!(
                    n.get(Some(n.token(kind, role)), path).await.0,
                    200,
                    "{path} as {kind}/{role:?}"
                );
            }
        }
    }
    assert_eq!(
        documented, covered,
        "every documented route is in the matrix"
    );

    // Routes outside the OpenAPI document: pages, sign-in, probes and N5g-eir (3GPP's document
    // describes it). (method, route as registered, concrete path, answers without credentials,
    // answers with any role's token.) Sign-in routes share one rate limit per client address,
    // so 429 is an acceptable answer there; a token must never change their outcome.
    let eir = format!("/n5g-eir-eic/v1/equipment-status?pei=imei-{STOLEN}");
    let page = |p: &'static str| ("GET", p, p.to_owned(), vec![200u16], vec![200u16]);
    let undocumented: Vec<Undocumented> = vec![
        page("/"),
        page("/check"),
        page("/static/check.js"),
        page("/static/check.css"),
        page("/login"),
        page("/static/login.js"),
        page("/openapi.json"),
        page("/healthz"),
        page("/metrics"),
        (
            "POST",
            "/auth/login",
            "/auth/login".into(),
            vec![401],
            vec![401, 429],
        ),
        (
            "POST",
            "/auth/logout",
            "/auth/logout".into(),
            vec![401],
            vec![204],
        ),
        // Single sign-on is not configured on this node.
        (
            "GET",
            "/auth/oidc/login",
            "/auth/oidc/login".into(),
            vec![404],
            vec![404, 429],
        ),
        (
            "GET",
            "/auth/oidc/callback",
            "/auth/oidc/callback?state=x&code=y".into(),
            vec![404],
            vec![404],
        ),
        // Open unless `eir_require_oauth` is set (tests/machine.rs covers that mode).
        (
            "GET",
            "/n5g-eir-eic/v1/equipment-status",
            eir,
            vec![200],
            vec![200],
        ),
    ];
    let registered = registered_routes();
    let known: std::collections::BTreeSet<String> = documented
        .iter()
        .cloned()
        .chain(undocumented.iter().map(|r| r.1.to_owned()))
        .collect();
    assert_eq!(
        registered, known,
        "every route the router registers is in the matrix, documented or not"
    );
    let call = |method: &str, path: &str, token: Option<String>| {
        let url = format!("{}{path}", n.base);
        let mut q = if method == "GET" {
            h1().get(url)
        } else {
            h1().post(url)
                .json(&json!({"username": "nobody", "password": "not-the-password"}))
        };
        if let Some(t) = token {
            q = q.bearer_auth(t);
        }
        q.send()
    };
    // Without credentials first, while the sign-in rate limit has room.
    for (method, _, path, anonymous, _) in &undocumented {
        let code = call(method, path, None).await.unwrap().status().as_u16();
        assert!(
            anonymous.contains(&code),
            "{method} {path} without credentials: {code}"
        );
    }
    for (method, _, path, _, with_token) in &undocumented {
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                let code = call(method, path, Some(n.token(kind, role).to_owned()))
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert!(
                    with_token.contains(&code),
                    "{method} {path} as {kind}/{role:?}: {code}"
                );
            }
        }
    }

    let send = |method: &str, path: &str, token: Option<&str>, body: Option<&Value>| {
        let url = format!("{}{path}", n.base);
        let mut q = match method {
            "GET" => h1().get(url),
            "POST" => h1().post(url),
            _ => h1().delete(url),
        };
        if let Some(t) = token {
            q = q.bearer_auth(t);
        }
        if let Some(b) = body {
            q = q.json(b);
        }
        q.send()
    };
    let mut checked = 0;
    for (method, path, doc_path, cap, body) in routes.iter().chain(writes.iter()) {
        let code = send(method, path, None, body.as_ref())
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(code, 401, "{method} {path} without a token");
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                let token = n.token(kind, role).to_owned();
                let code = send(method, path, Some(&token), body.as_ref())
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                let allowed = grants(kind, role, *cap)
                    && !(kind == OrgKind::Operator && not_for_operators.contains(doc_path));
                if allowed {
                    assert!(
                        code != 401 && code != 403,
                        "{method} {path} as {kind}/{role:?}: {code}, expected allowed"
                    );
                    // Undo a write so the next role meets the same state.
                    if *method == "POST" {
                        let id = if path.contains("barred_tac") {
                            "35000001"
                        } else {
                            UNKNOWN
                        };
                        let q = if path.contains("exception") {
                            format!("?imsi={IMSI}")
                        } else {
                            String::new()
                        };
                        let code = send("DELETE", &format!("{path}/{id}{q}"), Some(&token), None)
                            .await
                            .unwrap()
                            .status()
                            .as_u16();
                        assert_eq!(code, 200, "undo {path} as {kind}/{role:?}");
                    }
                } else {
                    assert_eq!(code, 403, "{method} {path} as {kind}/{role:?}");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        (routes.len() + writes.len()) * OrgKind::ALL.len() * Role::ALL.len()
    );
}

async fn bind_azercell(n: &Node, org: Option<&str>) {
    let op = ceir_store::Operator {
        plmn: "400-01".into(),
        name: "Azercell".into(),
        country: Country::AZ,
        org: org.map(String::from),
    };
    n.registry
        .store()
        .upsert_operator(&op, &AuditContext::local(Actor::system("test")), T0)
        .await
        .unwrap();
}

/// Operators download their own networks' lists and their own signed manifest, nothing else;
/// the regulator everything; what is served is what was signed, and verifies as downloaded.
#[tokio::test]
async fn operator_lists_go_to_their_operator_only() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    let op = n.token(OrgKind::Operator, Role::Viewer).to_owned();
    let reg = n.regulator().to_owned();
    let file = |o: &str, f: &str| format!("/api/v1/operator-lists/runs/current/files/{o}/{f}");
    let get = |token: &str, path: String| {
        h2().get(format!("{}{path}", n.base))
            .bearer_auth(token.to_owned())
            .send()
    };
    // Not bound to any network yet: no operator's files.
    let r = get(&op, file("azercell", "blocklist.csv")).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    bind_azercell(&n, Some(&org_id(OrgKind::Operator))).await;
    let r = get(&op, file("azercell", "exceptions.csv")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"exceptions.csv\""
    );
    let exceptions = r.bytes().await.unwrap();
    assert_eq!(
        &exceptions[..],
        b"imei,imsi,msisdn\r\n35209900176148,400011234567890,\r\n"
    );
    let r = get(&op, file("bakcell", "blocklist.csv")).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("Bakcell only"),
        "{p}"
    );
    // Nor bakcell's manifest, nor the run's, which names every operator's files.
    let r = get(&op, file("bakcell", "manifest.json")).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    for what in ["manifest", "signature"] {
        let r = get(&op, format!("/api/v1/operator-lists/runs/current/{what}"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{what}");
        let p: Value = r.json().await.unwrap();
        assert!(
            p["detail"].as_str().unwrap().contains("download your own"),
            "{p}"
        );
    }

    // The operator downloads its own manifest, its signature and every file it lists, saves
    // each under the name it is served with, and verifies them with the node's public key.
    let saved = tempfile::tempdir().unwrap();
    let save = |r: reqwest::Response| async {
        assert_eq!(r.status().as_u16(), 200, "{}", r.url());
        let name = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .strip_prefix("attachment; filename=\"")
            .unwrap()
            .trim_end_matches('"')
            .to_owned();
        let bytes = r.bytes().await.unwrap();
        std::fs::write(saved.path().join(&name), &bytes).unwrap();
        (name, bytes)
    };
    let (name, manifest) = save(get(&op, file("azercell", "manifest.json")).await.unwrap()).await;
    assert_eq!(name, "manifest.json");
    save(
        get(&op, file("azercell", "manifest.json.sig"))
            .await
            .unwrap(),
    )
    .await;
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["operator"], "azercell");
    assert_eq!(m["operators"].as_array().unwrap().len(), 1);
    let own: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(own.contains(&"blocklist.csv".to_owned()), "{own:?}");
    for f in &own {
        save(get(&op, file("azercell", f)).await.unwrap()).await;
    }
    let v = ceir_lists::verify(saved.path(), &lists_key().public(), Some("azercell")).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.files_checked, own.len());

    // Only files the manifest names, whoever asks.
    for path in [
        file("azercell", "..%2Fmanifest.json"),
        file("azercell", "missing.csv"),
        file("nobody", "blocklist.csv"),
        "/api/v1/operator-lists/runs/7/manifest".into(),
    ] {
        let r = get(&reg, path.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let r = get(&reg, "/api/v1/operator-lists/runs/x/manifest".into())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The regulator: the run's manifest and every operator's files; each matches it.
    let manifest = get(&reg, "/api/v1/operator-lists/runs/current/manifest".into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let sig = get(&reg, "/api/v1/operator-lists/runs/1/signature".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut sig_bytes = [0u8; 64];
    for (i, b) in sig_bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&sig.trim()[2 * i..2 * i + 2], 16).unwrap();
    }
    assert!(lists_key().public().verify(&manifest, &sig_bytes));
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let bakcell = get(&reg, file("bakcell", "blocklist.csv")).await.unwrap();
    assert_eq!(bakcell.status().as_u16(), 200);
    let body = bakcell.bytes().await.unwrap();
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "bakcell/blocklist.csv")
        .unwrap();
    assert_eq!(entry["bytes"], body.len());
    assert_eq!(entry["rows"], 1);
    let runs: Value = get(&reg, "/api/v1/operator-lists/runs".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs[0]["run"], 1);
    assert_eq!(runs[0]["current"], true);
}

/// Two server processes sharing one PostgreSQL: a change made through one is answered by the
/// other once its feed follower wakes (NOTIFY), without restarting anything.
#[tokio::test]
async fn postgres_nodes_share_changes() {
    let Some((store_a, schema)) = testkit::postgres("http_share").await else {
        return;
    };
    let store_b = testkit::postgres_again(&schema).await.unwrap();
    let a = start(Arc::new(store_a), UnlistedPolicy::Permit, None, true).await;
    let b = start(Arc::new(store_b), UnlistedPolicy::Permit, None, false).await;
    assert_eq!(b.status_of(STOLEN).await, "WHITELISTED");
    let police = a.token(OrgKind::LawEnforcement, Role::Officer).to_owned();
    let started = std::time::Instant::now();
    assert_eq!(
        a.post(
            &police,
            "blocked",
            json!({"imei": STOLEN, "reason": "stolen"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        a.status_of(STOLEN).await,
        "BLACKLISTED",
        "the writing node answers at once"
    );
    let mut seen = String::new();
    while started.elapsed() < Duration::from_secs(5) {
        seen = b.status_of(STOLEN).await;
        if seen == "BLACKLISTED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, "BLACKLISTED", "the other node follows the feed");
    eprintln!("cross-node visibility after {:?}", started.elapsed());
    drop((a, b));
    let _ = SqlStore::drop_schema(&testkit::pg_url(), &schema).await;
}

#[tokio::test]
async fn public_check_tells_a_buyer_only_what_they_need() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    populate(&n).await;
    let (code, b) = n.get(None, &format!("/api/v1/public/check/{STOLEN}")).await;
    assert_eq!(code, 200);
    assert_eq!(
        (b["verdict"].as_str(), b["reasons"][0].as_str()),
        (Some("blocked"), Some("stolen"))
    );
    assert!(
        b.get("reference").is_none() && !b.to_string().contains("AZ-1"),
        "no references: {b}"
    );
    // Tracking is never revealed.
    let (_, b) = n
        .get(None, &format!("/api/v1/public/check/{TRACKED}"))
        .await;
    assert_eq!(b["verdict"], "clear");
    assert_eq!(b["reasons"], json!([]));
    let (_, b) = n
        .get(None, &format!("/api/v1/public/check/{PERMITTED}"))
        .await;
    assert_eq!(
        (b["verdict"].as_str(), b["registered"].as_bool()),
        (Some("clear"), Some(true))
    );
    let (_, b) = n.get(None, "/api/v1/public/check/359999010000016").await;
    assert_eq!(b["reasons"], json!(["counterfeit"]));
    let (code, b) = n.get(None, "/api/v1/public/check/352029831234560").await;
    assert_eq!((code, b["cause"].as_str()), (400, Some("IMEI_CHECK_DIGIT")));
    let r = h1().get(format!("{}/", n.base)).send().await.unwrap();
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Check a phone before you buy it"));
}

/// IMSIs are personal data: in full for the regulator's and police's staff and for the operator
/// whose network they belong to; masked to the home network for everyone else. Paging cursors
/// never carry them.
#[tokio::test]
async fn subscriber_identifiers_only_for_those_who_need_them() {
    let n = sqlite_node(UnlistedPolicy::Unknown).await;
    populate(&n).await;
    let store = n.registry.store();
    let bind = |org: Option<&str>| ceir_store::Operator {
        plmn: "400-01".into(),
        name: "Azercell".into(),
        country: Country::AZ,
        org: org.map(String::from),
    };
    store
        .upsert_operator(
            &bind(Some(&org_id(OrgKind::Operator))),
            &AuditContext::local(Actor::system("test")),
            T0,
        )
        .await
        .unwrap();
    let masked = "40001**********";
    let imsi_seen = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["imsi"].as_str().map(String::from))
            .collect()
    };
    for kind in OrgKind::ALL {
        for role in Role::ALL {
            let (status, v) = n
                .get(
                    Some(n.token(kind, role)),
                    &format!("/api/v1/devices/{PAIRED}"),
                )
                .await;
            assert_eq!(status, 200);
            let full = role != Role::Viewer
                && matches!(
                    kind,
                    OrgKind::Regulator
                        | OrgKind::LawEnforcement
                        | OrgKind::Operator
                        | OrgKind::System
                );
            let want = if full { IMSI } else { masked };
            assert_eq!(imsi_seen(&v), vec![want.to_string()], "{kind:?}/{role:?}");
            let (_, h) = n
                .get(
                    Some(n.token(kind, role)),
                    &format!("/api/v1/devices/{PAIRED}/history"),
                )
                .await;
            let in_history: Vec<&str> = h
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["imsi"].as_str())
                .collect();
            assert_eq!(in_history, vec![want], "{kind:?}/{role:?} history");
        }
    }
    // The same operator, once the network is not its own, sees the mask.
    store
        .upsert_operator(&bind(None), &AuditContext::local(Actor::system("test")), T0)
        .await
        .unwrap();
    let op = n.token(OrgKind::Operator, Role::Admin);
    let (_, v) = n.get(Some(op), &format!("/api/v1/devices/{PAIRED}")).await;
    assert_eq!(imsi_seen(&v), vec![masked.to_string()]);
    let (_, page) = n.get(Some(op), "/api/v1/lists/exception?limit=1").await;
    assert_eq!(page["items"][0]["imsi"], masked);
    let next = page["next"].as_str().unwrap();
    assert!(!next.contains("1234567890"), "cursor {next} leaks the IMSI");
    // Binding and unbinding the network are changes of who sees whom: both audited.
    let bound = ceir_store::testkit::audited(store.as_ref(), "operator.upsert")
        .await
        .unwrap();
    assert_eq!(bound.len(), 2, "{bound:?}");
    assert!(bound.iter().all(|r| r.object == "network:400-01"));
}

/// Changes are audited with the caller and the request id, reads of IMSIs are audited, and the
/// regulator reads and exports the log.
#[tokio::test]
async fn the_audit_log_records_changes_and_personal_reads() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    populate(&n).await;
    let police = n.token(OrgKind::LawEnforcement, Role::Officer).to_owned();
    let r = h1()
        .post(format!("{}/api/v1/lists/blocked/entries", n.base))
        .bearer_auth(&police)
        .header("x-request-id", "case-77-block")
        .json(&json!({"imei": UNKNOWN, "reason": "stolen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A police officer looks at a device with an exception pair: the IMSI is shown in full, so
    // the read is recorded.
    let r = h1()
        .get(format!("{}/api/v1/devices/{PAIRED}", n.base))
        .bearer_auth(&police)
        .header("x-request-id", "police-look-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A bank sees the pair's IMSI masked, and a device without pairs shows none: neither reveals
    // personal data, so neither is recorded.
    let bank = n.token(OrgKind::Bank, Role::Viewer).to_owned();
    for imei in [PAIRED, STOLEN] {
        assert_eq!(
            n.get(Some(&bank), &format!("/api/v1/devices/{imei}"))
                .await
                .0,
            200
        );
    }

    let (code, page) = n
        .get(
            Some(n.regulator()),
            "/api/v1/audit?action=list.add&limit=1000",
        )
        .await;
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "six populate adds and one more: {page}");
    let last = items.last().unwrap();
    assert_eq!(last["request_id"], "case-77-block");
    assert_eq!(last["actor_org"], "org-law_enforcement");
    assert_eq!(last["actor_user"], "law_enforcement-officer");
    assert_eq!(last["object"], format!("imei:{UNKNOWN}"));

    let (_, page) = n
        .get(
            Some(n.regulator()),
            "/api/v1/audit?action=personal_data.read",
        )
        .await;
    let reads = page["items"].as_array().unwrap();
    assert_eq!(reads.len(), 1, "{page}");
    assert_eq!(reads[0]["actor_org"], "org-law_enforcement");
    assert_eq!(reads[0]["request_id"], "police-look-1");
    assert_eq!(reads[0]["object"], format!("imei:{PAIRED}"));
    assert!(
        !page.to_string().contains(IMSI),
        "no IMSI in the log: {page}"
    );

    // Paging and filters.
    let (_, p1) = n.get(Some(n.regulator()), "/api/v1/audit?limit=3").await;
    let next = p1["next"].as_str().unwrap().to_owned();
    let (_, p2) = n
        .get(
            Some(n.regulator()),
            &format!("/api/v1/audit?limit=3&after={next}"),
        )
        .await;
    assert_eq!(p2["items"][0]["seq"].as_u64().unwrap(), 4);
    let (code, b) = n
        .get(Some(n.regulator()), "/api/v1/audit?action=list.nothing")
        .await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("action"))
    );
    let (code, _) = n
        .get(Some(n.regulator()), "/api/v1/audit?since=yesterday")
        .await;
    assert_eq!(code, 400);
    let (code, b) = n.get(Some(n.regulator()), "/api/v1/audit?limit=1001").await;
    assert_eq!(
        (code, b["invalidParams"][0]["param"].as_str()),
        (400, Some("limit"))
    );

    // Exports: JSON Lines carrying the chain, and CSV.
    let r = h2()
        .get(format!("{}/api/v1/audit/export", n.base))
        .bearer_auth(n.regulator())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total = n.registry.store().audit_head().await.unwrap().seq;
    assert_eq!(lines.len() as u64, total);
    for w in lines.windows(2) {
        assert_eq!(
            w[1]["prev_hash"], w[0]["hash"],
            "the export carries the chain"
        );
    }
    let r = h1()
        .get(format!(
            "{}/api/v1/audit/export?format=csv&actor_org=org-law_enforcement&action=personal_data.read",
            n.base
        ))
        .bearer_auth(n.regulator())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("seq,at,at_ms,actor_org"), "{csv}");
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].contains("personal_data.read"), "{csv}");
    // Only the regulator.
    let (code, _) = n
        .get(
            Some(n.token(OrgKind::LawEnforcement, Role::Admin)),
            "/api/v1/audit",
        )
        .await;
    assert_eq!(code, 403);
}

/// A route outside the OpenAPI document: method, route as registered, concrete path, the answers
/// allowed without credentials and with any role's token.
type Undocumented = (&'static str, &'static str, String, Vec<u16>, Vec<u16>);

/// Every path the HTTP layer registers, read from its source: `.route("…"` in any module, and the
/// N5g-eir route, built from `eir::BASE`.
fn registered_routes() -> std::collections::BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = std::collections::BTreeSet::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = rest[i + ".route(".len()..].trim_start();
            if let Some(lit) = rest.strip_prefix('"') {
                out.insert(lit[..lit.find('"').unwrap()].to_owned());
            } else if rest.starts_with("&format!(\"{}/equipment-status\", eir::BASE)") {
                out.insert(format!("{}/equipment-status", ceir_http::eir::BASE));
            } else {
                panic!(
                    "a route this test cannot read: {}",
                    &rest[..40.min(rest.len())]
                );
            }
        }
    }
    out
}

/// `explain`: the same measures as `ceir explain`; subscriber rows only for those who may read
/// subscriber data, nothing for citizens' banks and vendors.
#[tokio::test]
async fn explain_shows_conditions_and_lists_to_those_allowed() {
    let n = sqlite_node(UnlistedPolicy::Permit).await;
    populate(&n).await;
    let get = |kind, role| {
        let token = n.token(kind, role).to_owned();
        let url = format!("{}/api/v1/devices/{STOLEN}/explain", n.base);
        async move { h1().get(url).bearer_auth(token).send().await.unwrap() }
    };
    let r = get(OrgKind::Regulator, Role::Admin).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["lists"], json!(["stolen/lost"]));
    assert_eq!(v["conditions"][0]["label"], "stolen");
    assert_eq!(v["conditions"][0]["matches"], true);
    assert_eq!(
        v["conditions"][0]["dimensions"][0]["explanation"],
        "on the blocked list as stolen or lost: yes"
    );
    assert_eq!(v["subscribers"], json!([]));
    let r = get(OrgKind::Operator, Role::Viewer).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("subscribers").is_none(), "{v}");
    assert_eq!(get(OrgKind::Bank, Role::Admin).await.status().as_u16(), 403);
    assert_eq!(
        get(OrgKind::Manufacturer, Role::Admin)
            .await
            .status()
            .as_u16(),
        403
    );
}
