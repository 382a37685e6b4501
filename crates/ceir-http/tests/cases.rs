//! Citizens' cases end to end: a real server, the outbox file a relay would read, and the staff's
//! view with its audit records; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::cases::CaseCode;
use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::{ManualClock, Timestamp};
use ceir_eir::Registry;
use ceir_http::cases::{Outbox, OutboxMessage};
use ceir_http::signin::{SignIn, SignInConfig};
use ceir_http::websec::RateLimit;
use ceir_store::{testkit, AuditFilter, Organisation, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

const T0: Timestamp = Timestamp(1_790_000_000_000);
const IMEI: &str = "352029831234565";
const EMAIL: &str = "aysel.mammadova@mail.az";
const PHONE: &str = "+994501234567";

struct Node {
    base: String,
    clock: ManualClock,
    store: Arc<dyn Store>,
    tokens: HashMap<(OrgKind, Role), String>,
    outbox: Option<PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start(store: Arc<dyn Store>, mut dirs: Vec<tempfile::TempDir>, outbox: bool) -> Node {
    let by = AuditContext::local(Actor::system("test-seed"));
    let mut tokens = HashMap::new();
    for kind in [
        OrgKind::Regulator,
        OrgKind::LawEnforcement,
        OrgKind::Embassy,
        OrgKind::Bank,
    ] {
        let o = Organisation {
            id: format!("org-{}", kind.as_str()),
            name: kind.as_str().into(),
            kind,
            country: Country::AZ,
        };
        store.upsert_organisation(&o, &by, T0).await.unwrap();
        for role in Role::ALL {
            let (_, secret) = store
                .create_token(&o.id, role.as_str(), role, "test", None, &by, T0)
                .await
                .unwrap();
            tokens.insert((kind, role), secret);
        }
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
    let spool = if outbox {
        let d = tempfile::tempdir().unwrap();
        // A directory the node must create itself.
        let p = d.path().join("outbox");
        dirs.push(d);
        Some(p)
    } else {
        None
    };
    let sign_in = SignIn::local(SignInConfig {
        public_rate: RateLimit {
            per_minute: 6000,
            burst: 6000,
        },
        ..SignInConfig::default()
    });
    let state = ceir_http::AppState::build_with_outbox(
        registry,
        Country::AZ,
        ceir_http::oauth::MachineAuth::default(),
        sign_in,
        spool.clone().map(Outbox::new),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(ceir_http::server::serve(
        listener,
        ceir_http::router(state),
        None,
        async {
            let _ = rx.await;
        },
    ));
    Node {
        base,
        clock,
        store,
        tokens,
        outbox: spool,
        stop: Some(tx),
        _dirs: dirs,
    }
}

async fn sqlite(outbox: bool) -> Node {
    let (s, d) = testkit::sqlite().await.unwrap();
    start(Arc::new(s), vec![d], outbox).await
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Node {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        otp: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let c = reqwest::Client::new();
        let url = format!("{}{path}", self.base);
        let mut q = if method == "POST" {
            c.post(url)
        } else {
            c.get(url)
        };
        if let Some(t) = token {
            q = q.bearer_auth(t);
        }
        if let Some(o) = otp {
            q = q.header("X-One-Time-Code", o);
        }
        if let Some(b) = body {
            q = q.json(&b);
        }
        let r = q.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        if status >= 400 {
            assert_eq!(headers["content-type"], "application/problem+json");
        }
        Reply {
            status,
            headers,
            body: r.json().await.unwrap_or(Value::Null),
        }
    }
    async fn report(&self, contact: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/v1/public/cases",
                None,
                None,
                Some(json!({"imei": IMEI, "kind": "stolen", "contact": contact, "description": "taken on the metro"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }
    async fn ask_code(&self, case: &str) -> Reply {
        self.call(
            "POST",
            &format!("/api/v1/public/cases/{case}/otp"),
            None,
            None,
            None,
        )
        .await
    }
    async fn view(&self, case: &str, otp: Option<&str>) -> Reply {
        self.call(
            "GET",
            &format!("/api/v1/public/cases/{case}"),
            None,
            otp,
            None,
        )
        .await
    }
    /// Every message the relay would find.
    fn outbox(&self) -> Vec<OutboxMessage> {
        let file = self.outbox.as_ref().unwrap().join("outbox.jsonl");
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    /// The code in the newest message.
    fn last_code(&self) -> String {
        let m = self.outbox().pop().unwrap();
        let digits: Vec<&str> = m
            .body
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| w.len() == 6)
            .collect();
        assert_eq!(digits.len(), 1, "{}", m.body);
        digits[0].to_owned()
    }
    async fn audit_text(&self) -> String {
        let page = self
            .store
            .audit_page(&AuditFilter::default(), 0, 1000)
            .await
            .unwrap();
        page.iter()
            .map(|r| format!("{} {} {} {}\n", r.action, r.object, r.actor_user, r.detail))
            .collect()
    }
}

fn wrong_of(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Report, ask for a code, read it from the outbox, view the case; the code works once; five
/// wrong guesses kill a code; three codes an hour.
async fn citizen_flow(n: &Node) {
    let case = n.report(EMAIL).await;
    let code = CaseCode::parse(&case).unwrap();
    assert_eq!(code.country(), Country::AZ);
    // A report blocks nothing: the police confirm it and block through the lists.
    let r = n
        .call(
            "GET",
            &format!("/api/v1/public/check/{IMEI}"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.body["verdict"], "clear");

    let r = n.ask_code(&case).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["sent_to"], "a***@m***.az");
    let msgs = n.outbox();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].to, EMAIL);
    assert_eq!(msgs[0].channel, "email");
    assert!(msgs[0].body.contains(&case));
    let otp = n.last_code();

    assert_eq!(n.view(&case, None).await.status, 401, "no code");
    let r = n.view(&case, Some(&otp)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["code"], case.as_str());
    assert_eq!(r.body["imei"], IMEI);
    assert_eq!(r.body["kind"], "stolen");
    assert_eq!(r.body["state"], "received");
    assert!(r.body.get("contact").is_none());
    assert!(!r.body.to_string().contains("aysel"));
    let r = n.view(&case, Some(&otp)).await;
    assert_eq!(r.status, 401, "a code works once");
    assert_eq!(r.body["cause"], "ONE_TIME_CODE_REFUSED");

    // A second code; five wrong guesses, then the right one is refused too.
    assert_eq!(n.ask_code(&case).await.status, 202);
    let otp = n.last_code();
    for _ in 0..5 {
        let r = n.view(&case, Some(&wrong_of(&otp))).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["cause"], "ONE_TIME_CODE_REFUSED");
    }
    assert_eq!(n.view(&case, Some(&otp)).await.status, 401, "dead after 5");

    // A third code works, lower case and without dashes too.
    assert_eq!(n.ask_code(&case).await.status, 202);
    let otp = n.last_code();
    let loose = case.replace('-', "").to_ascii_lowercase();
    assert_eq!(n.view(&loose, Some(&otp)).await.status, 200);

    // The fourth within the hour is refused, and says when to come back.
    let r = n.ask_code(&case).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["cause"], "RATE_LIMITED");
    assert_eq!(r.headers["retry-after"], "3600");
    assert_eq!(n.outbox().len(), 3);
    n.clock.advance_ms(3_600_000);
    assert_eq!(n.ask_code(&case).await.status, 202);
    // Expiry: ten minutes.
    let otp = n.last_code();
    n.clock.advance_ms(10 * 60_000);
    assert_eq!(n.view(&case, Some(&otp)).await.status, 401, "expired");

    // Every code sent is audited (without the code or the contact).
    let sent = ceir_store::testkit::audited(n.store.as_ref(), "case.otp_send")
        .await
        .unwrap();
    assert_eq!(sent.len(), n.outbox().len());
    assert!(sent
        .iter()
        .all(|r| r.object.starts_with("case:") && r.detail == "{}"));

    // Phones get an SMS.
    let sms = n.report(PHONE).await;
    let r = n.ask_code(&sms).await;
    assert_eq!(r.body["sent_to"], "+99450*****67");
    let m = n.outbox().pop().unwrap();
    assert_eq!((m.to.as_str(), m.channel.as_str()), (PHONE, "sms"));
}

/// A well-formed code that names no case gets the very answer a wrong code gets.
async fn unknown_case_answers_like_a_wrong_code(n: &Node) {
    let case = n.report(EMAIL).await;
    assert_eq!(n.ask_code(&case).await.status, 202);
    let otp = n.last_code();
    let wrong = n.view(&case, Some(&wrong_of(&otp))).await;
    let unknown = CaseCode::from_random(Country::AZ, [3, 1, 4, 1, 5, 9, 2]).to_string();
    assert_ne!(unknown, case);
    let other = n.view(&unknown, Some(&otp)).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(other.status, wrong.status);
    assert_eq!(other.body, wrong.body);
    assert_eq!(
        other.headers.get("www-authenticate"),
        wrong.headers.get("www-authenticate")
    );
    let none = n.view(&unknown, None).await;
    assert_eq!(none.body, wrong.body);
    // A typo is caught by the check character before anything is looked up.
    let mut typo = unknown.into_bytes();
    typo[4] = if typo[4] == b'X' { b'Y' } else { b'X' };
    let r = n.view(&String::from_utf8(typo).unwrap(), Some(&otp)).await;
    assert_eq!(r.status, 400);
}

/// Staff: the police officer sees the contact (and the read is audited); an embassy, a police
/// viewer see it masked; a bank cannot read cases; the audit log never holds the contact.
async fn staff_views(n: &Node) {
    let case = n.report(EMAIL).await;
    n.clock.advance_ms(1000);
    let sms = n.report(PHONE).await;
    let police = &n.tokens[&(OrgKind::LawEnforcement, Role::Officer)];
    let before = n
        .store
        .audit_page(
            &AuditFilter {
                action: Some("personal_data.read".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap()
        .len();
    let r = n
        .call(
            "GET",
            &format!("/api/v1/cases/{case}"),
            Some(police),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["contact"], EMAIL);
    assert_eq!(r.body["contact_masked"], false);
    assert_eq!(r.body["description"], "taken on the metro");
    let reads = n
        .store
        .audit_page(
            &AuditFilter {
                action: Some("personal_data.read".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(reads.len(), before + 1);
    let last = reads.last().unwrap();
    assert_eq!(last.object, format!("case:{case}"));
    assert_eq!(last.actor_org, "org-law_enforcement");

    let r = n
        .call(
            "GET",
            "/api/v1/cases?state=received",
            Some(police),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let listed: Vec<&str> = r.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![PHONE, EMAIL]);

    for (kind, role) in [
        (OrgKind::Embassy, Role::Admin),
        (OrgKind::LawEnforcement, Role::Viewer),
        (OrgKind::Regulator, Role::Viewer),
    ] {
        let t = &n.tokens[&(kind, role)];
        let count = n.audit_text().await.lines().count();
        let r = n
            .call("GET", &format!("/api/v1/cases/{sms}"), Some(t), None, None)
            .await;
        assert_eq!(r.status, 200, "{kind}/{role:?}");
        assert_eq!(r.body["contact"], "+99450*****67");
        assert_eq!(r.body["contact_masked"], true);
        let r = n.call("GET", "/api/v1/cases", Some(t), None, None).await;
        assert_eq!(r.status, 200);
        assert!(!r.body.to_string().contains("aysel"));
        assert!(!r.body.to_string().contains(PHONE));
        assert_eq!(
            n.audit_text().await.lines().count(),
            count,
            "a masked read records nothing"
        );
    }
    for role in Role::ALL {
        let t = &n.tokens[&(OrgKind::Bank, role)];
        let r = n
            .call("GET", &format!("/api/v1/cases/{case}"), Some(t), None, None)
            .await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(
        n.call("GET", "/api/v1/cases", None, None, None)
            .await
            .status,
        401
    );
    let r = n
        .call("GET", "/api/v1/cases?state=lost", Some(police), None, None)
        .await;
    assert_eq!(r.status, 400);
    let unknown = CaseCode::from_random(Country::AZ, [0; 7]);
    let r = n
        .call(
            "GET",
            &format!("/api/v1/cases/{unknown}"),
            Some(police),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // Filing is audited; the contact is nowhere in the log.
    let log = n.audit_text().await;
    assert!(
        log.contains(&format!("case.create case:{case} citizen")),
        "{log}"
    );
    assert!(
        log.contains(&format!("case.create case:{sms} citizen")),
        "{log}"
    );
    for secret in ["aysel", "mail.az", "501234567", "metro"] {
        assert!(!log.contains(secret), "{secret} in the audit log:\n{log}");
    }
}

/// Bad reports are refused with the field named, and nothing is filed.
async fn bad_reports(n: &Node) {
    for (body, field) in [
        (
            json!({"imei": "352029831234566", "kind": "stolen", "contact": EMAIL}),
            "imei",
        ),
        (
            json!({"imei": IMEI, "kind": "broken", "contact": EMAIL}),
            "kind",
        ),
        (
            json!({"imei": IMEI, "kind": "lost", "contact": "0501234567"}),
            "contact",
        ),
        (
            json!({"imei": IMEI, "kind": "lost", "contact": EMAIL, "description": "x".repeat(2001)}),
            "description",
        ),
    ] {
        let r = n
            .call("POST", "/api/v1/public/cases", None, None, Some(body))
            .await;
        assert_eq!(r.status, 400, "{field}");
        assert_eq!(r.body["invalidParams"][0]["param"], field);
        assert!(!r.body.to_string().contains("0501234567"));
    }
    let police = &n.tokens[&(OrgKind::LawEnforcement, Role::Officer)];
    let r = n
        .call("GET", "/api/v1/cases", Some(police), None, None)
        .await;
    assert_eq!(r.body["cases"], json!([]));
}

#[tokio::test]
async fn without_an_outbox_codes_are_not_sent() {
    let n = sqlite(false).await;
    let case = n.report(EMAIL).await;
    let r = n.ask_code(&case).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["cause"], "DELIVERY_UNAVAILABLE");
    // An unknown case is told apart here (a code must reach someone); the code space keeps
    // guessing hopeless under the public rate limit.
    let unknown = CaseCode::from_random(Country::AZ, [0; 7]);
    let n = sqlite(true).await;
    assert_eq!(n.ask_code(&unknown.to_string()).await.status, 404);
}

macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let n = super::sqlite(true).await;
                    super::$name(&n).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((s, _schema)) = ceir_store::testkit::postgres(stringify!($name)).await else { return };
                    let n = super::start(std::sync::Arc::new(s), Vec::new(), true).await;
                    super::$name(&n).await;
                }
            )*
        }
    };
}

both_engines!(
    citizen_flow,
    unknown_case_answers_like_a_wrong_code,
    staff_views,
    bad_reports
);
