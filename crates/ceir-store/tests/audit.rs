//! The audit log on both engines: changes and their records commit together, concurrent
//! appenders keep one chain, and tampering with the stored rows (edit, delete, insert, truncate)
//! is found and named by verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::{
    AuditAction, AuditBreak, AuditContext, AuditEntry, AuditHead, AuditRecord, ObjectRef,
    RequestId, Verifier,
};
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::lists::{Country, EntryMeta, ListKind, NewEntry, Reason, Subject};
use ceir_domain::{Imei, Imsi, Timestamp};
use ceir_store::{AuditFilter, AuditStore, ListChange, Organisation, SqlStore, Store};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

const T0: Timestamp = Timestamp(1_790_000_000_000);

/// A second, unchecked way into the database: what an attacker with write access has.
enum Raw {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Raw {
    async fn exec(&self, sql: &str) -> u64 {
        match self {
            Raw::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new().filename(path),
                )
                .await
                .unwrap();
                let n = sqlx::query(sql)
                    .execute(&pool)
                    .await
                    .unwrap()
                    .rows_affected();
                pool.close().await;
                n
            }
            Raw::Postgres(schema) => {
                use std::str::FromStr;
                let opts =
                    sqlx::postgres::PgConnectOptions::from_str(&ceir_store::testkit::pg_url())
                        .unwrap()
                        .options([("search_path", schema.as_str())]);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await
                    .unwrap();
                let n = sqlx::query(sql)
                    .execute(&pool)
                    .await
                    .unwrap()
                    .rows_affected();
                pool.close().await;
                n
            }
        }
    }

    /// Puts a record back exactly as it was.
    async fn insert(&self, r: &AuditRecord) {
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        self.exec(&format!(
            "INSERT INTO audit_log (seq, at, actor_org, actor_kind, actor_user, actor_role, action, object, request_id, detail, prev_hash, hash) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            r.seq,
            r.at.0,
            q(&r.actor_org),
            q(&r.actor_kind),
            q(&r.actor_user),
            q(&r.actor_role),
            q(&r.action),
            q(&r.object),
            r.request_id.as_deref().map(q).unwrap_or_else(|| "NULL".into()),
            q(&r.detail),
            q(&r.prev_hash),
            q(&r.hash),
        ))
        .await;
    }
}

fn officer(org: &str, kind: OrgKind) -> Actor {
    Actor {
        org: org.into(),
        org_kind: kind,
        user: format!("{org}-officer"),
        role: Role::Officer,
        scopes: ceir_domain::scope::ScopeSet::ALL,
    }
}

fn in_request(actor: Actor, id: &str) -> AuditContext {
    AuditContext::request(actor, RequestId::parse(id))
}

fn block(imei: Imei) -> ListChange {
    ListChange::Add(
        NewEntry::new(
            ListKind::Blocked,
            Subject::Imei(imei),
            EntryMeta {
                reason: Reason::Stolen,
                reference: None,
                country: Country::AZ,
                expires_at: None,
                note: None,
            },
            T0,
        )
        .unwrap(),
    )
}

fn nth_imei(n: u64) -> Imei {
    Imei::from_body(35_000_000_000_000 + n).unwrap()
}

async fn verify(s: &dyn Store) -> Result<AuditHead, AuditBreak> {
    let mut v = Verifier::new();
    let mut broken = None;
    let head = s
        .audit_scan(&AuditFilter::default(), &mut |r| match v.push(&r) {
            Ok(()) => ControlFlow::Continue(()),
            Err(b) => {
                broken = Some(b);
                ControlFlow::Break(())
            }
        })
        .await
        .unwrap();
    match broken {
        Some(b) => Err(b),
        None => v.finish(&head),
    }
}

async fn all(s: &dyn Store) -> Vec<AuditRecord> {
    s.audit_page(&AuditFilter::default(), 0, 10_000)
        .await
        .unwrap()
}

async fn changes_carry_their_record(s: &SqlStore, _raw: &Raw) {
    let police = in_request(officer("az-police", OrgKind::LawEnforcement), "req-1");
    let reg = in_request(officer("regulator", OrgKind::Regulator), "req-2");
    s.upsert_organisation(
        &Organisation {
            id: "az-police".into(),
            name: "Police".into(),
            kind: OrgKind::LawEnforcement,
            country: Country::AZ,
        },
        &reg,
        T0,
    )
    .await
    .unwrap();
    let r = s
        .apply(
            &[block(nth_imei(1)), block(nth_imei(2))],
            &police,
            T0,
            false,
        )
        .await
        .unwrap();
    // A refused batch leaves no record: the change and its record are one transaction.
    let refused = ListChange::Remove {
        list: ListKind::Blocked,
        subject: Subject::Imei(nth_imei(3)),
        owner: None,
        note: None,
    };
    assert!(s.apply(&[refused], &reg, T0, false).await.is_err());
    let pair = ListChange::Add(
        NewEntry::new(
            ListKind::Exception,
            Subject::Pair(nth_imei(1), Imsi::parse("400011234567890").unwrap()),
            EntryMeta {
                reason: Reason::Paired,
                reference: None,
                country: Country::AZ,
                expires_at: None,
                note: None,
            },
            T0,
        )
        .unwrap(),
    );
    s.apply(&[pair], &reg, T0, false).await.unwrap();
    let (token, secret) = s
        .create_token(
            "az-police",
            "officer-7",
            Role::Viewer,
            "laptop",
            None,
            &reg,
            T0,
        )
        .await
        .unwrap();
    s.revoke_token(&token, &reg, T0).await.unwrap();

    let log = all(s).await;
    let got: Vec<(&str, &str, Option<&str>)> = log
        .iter()
        .map(|r| {
            (
                r.action.as_str(),
                r.object.as_str(),
                r.request_id.as_deref(),
            )
        })
        .collect();
    let token_obj = format!("token:{token}");
    let pair_obj = format!("imei:{}", nth_imei(1));
    assert_eq!(
        got,
        vec![
            ("org.upsert", "org:az-police", Some("req-2")),
            ("list.add", "list:blocked", Some("req-1")),
            ("list.add", pair_obj.as_str(), Some("req-2")),
            ("token.create", token_obj.as_str(), Some("req-2")),
            ("token.revoke", token_obj.as_str(), Some("req-2")),
        ]
    );
    assert_eq!(log[1].actor_org, "az-police");
    assert_eq!(log[1].actor_kind, "law_enforcement");
    assert_eq!(log[1].actor_user, "az-police-officer");
    let detail: serde_json::Value = serde_json::from_str(&log[1].detail).unwrap();
    assert_eq!(detail["added"], 2);
    assert_eq!(detail["feed"], serde_json::json!([1, r.last_seq]));
    // Neither the IMSI nor the token secret (or its hash) is copied into the log.
    let text = format!("{log:?}");
    assert!(!text.contains("400011234567890"), "{text}");
    let secret_part = secret.rsplit('_').next().unwrap();
    assert!(!text.contains(secret_part), "{text}");
    assert_eq!(verify(s).await.unwrap().seq, 5);
}

async fn filters_and_pages(s: &SqlStore, _raw: &Raw) {
    for n in 0..30u64 {
        let (actor, action) = if n % 3 == 0 {
            (
                officer("bank", OrgKind::Bank),
                AuditAction::PersonalDataRead,
            )
        } else {
            (
                officer("az-police", OrgKind::LawEnforcement),
                AuditAction::ListAdd,
            )
        };
        let e = AuditEntry::new(
            &AuditContext::local(actor),
            action,
            ObjectRef::imei(nth_imei(n)),
            "{}",
        );
        s.audit_append(&e, Timestamp(T0.0 + n as i64 * 1000))
            .await
            .unwrap();
    }
    let f = AuditFilter {
        actor_org: Some("bank".into()),
        ..AuditFilter::default()
    };
    let bank = s.audit_page(&f, 0, 100).await.unwrap();
    assert_eq!(bank.len(), 10);
    assert!(bank.iter().all(|r| r.action == "personal_data.read"));
    let f = AuditFilter {
        action: Some("list.add".into()),
        since: Some(Timestamp(T0.0 + 10_000)),
        until: Some(Timestamp(T0.0 + 20_000)),
        ..AuditFilter::default()
    };
    let seqs: Vec<u64> = s
        .audit_page(&f, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![11, 12, 14, 15, 17, 18, 20]);
    // Paging by seq.
    let p1 = s.audit_page(&AuditFilter::default(), 0, 7).await.unwrap();
    let p2 = s.audit_page(&AuditFilter::default(), 7, 7).await.unwrap();
    assert_eq!(
        (p1.first().unwrap().seq, p1.last().unwrap().seq, p2[0].seq),
        (1, 7, 8)
    );
    let mut scanned = 0;
    s.audit_scan(&f, &mut |_| {
        scanned += 1;
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    assert_eq!(scanned, 7);
    assert_eq!(verify(s).await.unwrap().seq, 30);
}

async fn tampering_is_found_and_named(s: &SqlStore, raw: &Raw) {
    let police = in_request(officer("az-police", OrgKind::LawEnforcement), "r");
    for n in 0..40u64 {
        if n % 2 == 0 {
            s.apply(&[block(nth_imei(n))], &police, T0, false)
                .await
                .unwrap();
        } else {
            let e = AuditEntry::new(
                &police,
                AuditAction::PersonalDataRead,
                ObjectRef::imei(nth_imei(n)),
                "{\"fields\":[\"imsi\"]}",
            );
            s.audit_append(&e, T0).await.unwrap();
        }
    }
    let intact = verify(s).await.unwrap();
    assert_eq!(intact.seq, 40);
    assert_eq!(s.audit_head().await.unwrap(), intact);
    let log = all(s).await;

    // An edited field.
    raw.exec("UPDATE audit_log SET actor_user = 'mallory' WHERE seq = 10")
        .await;
    assert_eq!(verify(s).await, Err(AuditBreak::Edited { seq: 10 }));
    raw.exec(&format!(
        "UPDATE audit_log SET actor_user = '{}' WHERE seq = 10",
        log[9].actor_user
    ))
    .await;
    assert_eq!(verify(s).await, Ok(intact.clone()));

    // An edited hash alone.
    raw.exec(&format!(
        "UPDATE audit_log SET hash = '{}' WHERE seq = 25",
        "ab".repeat(32)
    ))
    .await;
    assert_eq!(verify(s).await, Err(AuditBreak::Edited { seq: 25 }));
    raw.exec(&format!(
        "UPDATE audit_log SET hash = '{}' WHERE seq = 25",
        log[24].hash
    ))
    .await;

    // A deleted middle row.
    assert_eq!(raw.exec("DELETE FROM audit_log WHERE seq = 20").await, 1);
    assert_eq!(
        verify(s).await,
        Err(AuditBreak::Missing { seq: 20, next: 21 })
    );
    raw.insert(&log[19]).await;
    assert_eq!(verify(s).await, Ok(intact.clone()));

    // A row replaced by a forgery whose own hash is right: the next row's link breaks.
    let mut prev = [0u8; 32];
    hex::decode_to_slice(&log[29].prev_hash, &mut prev).unwrap();
    let forged = AuditEntry::new(
        &police,
        AuditAction::ListRemove,
        ObjectRef::imei(nth_imei(29)),
        "{}",
    )
    .seal(30, log[29].at, &prev);
    raw.exec("DELETE FROM audit_log WHERE seq = 30").await;
    raw.insert(&forged).await;
    assert_eq!(verify(s).await, Err(AuditBreak::Relinked { seq: 31 }));
    raw.exec("DELETE FROM audit_log WHERE seq = 30").await;
    raw.insert(&log[29]).await;

    // A forged row appended at the end, correctly chained, without moving the head.
    let mut last = [0u8; 32];
    hex::decode_to_slice(&log[39].hash, &mut last).unwrap();
    let appended = AuditEntry::new(&police, AuditAction::OrgUpsert, ObjectRef::org("x"), "{}")
        .seal(41, T0, &last);
    raw.insert(&appended).await;
    assert_eq!(
        verify(s).await,
        Err(AuditBreak::BeyondHead { seq: 41, head: 40 })
    );
    raw.exec("DELETE FROM audit_log WHERE seq = 41").await;
    assert_eq!(verify(s).await, Ok(intact.clone()));

    // The tail deleted: only the head knows.
    assert_eq!(raw.exec("DELETE FROM audit_log WHERE seq > 37").await, 3);
    let err = verify(s).await.unwrap_err();
    assert_eq!(err, AuditBreak::Truncated { last: 37, head: 40 });
    assert_eq!(err.seq(), 38);
    assert!(err.to_string().contains("38..=40"), "{err}");
}

async fn concurrent_appenders_keep_one_chain(s: &SqlStore, raw: &Raw) {
    // Two more handles on the same database play two more server processes.
    let again = || async {
        Arc::new(match raw {
            Raw::Postgres(schema) => ceir_store::testkit::postgres_again(schema).await.unwrap(),
            Raw::Sqlite(path) => {
                SqlStore::open(&ceir_store::StoreConfig::Sqlite { path: path.clone() })
                    .await
                    .unwrap()
            }
        })
    };
    let this = again().await;
    let other = again().await;
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let store = if t % 2 == 0 {
            this.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let ctx = AuditContext::local(officer(&format!("org-{t}"), OrgKind::Operator));
            for n in 0..15u64 {
                if n % 5 == 0 {
                    let by = AuditContext::local(officer("regulator", OrgKind::Regulator));
                    store
                        .apply(&[block(nth_imei(t * 100 + n))], &by, T0, false)
                        .await
                        .unwrap();
                } else {
                    let e = AuditEntry::new(
                        &ctx,
                        AuditAction::PersonalDataRead,
                        ObjectRef::imei(nth_imei(n)),
                        "{}",
                    );
                    store.audit_append(&e, T0).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(verify(s).await.unwrap().seq, 8 * 15);
    assert_eq!(verify(other.as_ref()).await.unwrap().seq, 8 * 15);
}

macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (s, dir) = ceir_store::testkit::sqlite().await.unwrap();
                    super::$name(&s, &super::Raw::Sqlite(dir.path().join("ceir.db"))).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((s, schema)) = ceir_store::testkit::postgres(stringify!($name)).await else { return };
                    super::$name(&s, &super::Raw::Postgres(schema.clone())).await;
                    ceir_store::testkit::drop_postgres(s, &schema).await;
                }
            )*
        }
    };
}

both_engines!(
    changes_carry_their_record,
    filters_and_pages,
    tampering_is_found_and_named,
    concurrent_appenders_keep_one_chain,
);
