//! The bulk methods for DIRBS list imports and classification, and the golden list, on SQLite and
//! PostgreSQL alike; every test ends with the integrity check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::lists::{Country, EntryMeta, GoldenImei, ListKind, NewEntry, Reason, Subject};
use ceir_domain::{Imei, Imsi, Tac, Timestamp};
use ceir_store::{testkit, DirbsListStore, GoldenReport, ListChange, SqlStore, Store, StoreError};

const T0: Timestamp = Timestamp(1_790_000_000_000);

fn actor(org: &str, kind: OrgKind) -> AuditContext {
    AuditContext::local(Actor {
        org: org.into(),
        org_kind: kind,
        user: format!("{org}-officer"),
        role: Role::Officer,
        scopes: ceir_domain::scope::ScopeSet::ALL,
    })
}

fn add(list: ListKind, subject: Subject, reason: Reason) -> ListChange {
    ListChange::Add(
        NewEntry::new(
            list,
            subject,
            EntryMeta {
                reason,
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

fn imei(s: &str) -> Imei {
    Imei::parse_typed(s).unwrap()
}

async fn list_subjects_and_sources(s: &SqlStore) {
    let police = actor("az-police", OrgKind::LawEnforcement);
    let reg = actor("az-regulator", OrgKind::Regulator);
    let a = imei("490154203237518");
    let b = imei("356938035643809");
    let imsi = Imsi::parse("400011234567890").unwrap();
    s.apply(
        &[
            add(ListKind::Blocked, Subject::Imei(a), Reason::Stolen),
            add(ListKind::Blocked, Subject::Imei(b), Reason::Lost),
        ],
        &police,
        T0,
        false,
    )
    .await
    .unwrap();
    s.apply(
        &[
            add(ListKind::Blocked, Subject::Imei(a), Reason::Counterfeit),
            add(ListKind::Exception, Subject::Pair(a, imsi), Reason::Paired),
            add(
                ListKind::BarredTac,
                Subject::Tac(Tac::parse("35693803").unwrap()),
                Reason::NotTypeApproved,
            ),
        ],
        &reg,
        T0,
        false,
    )
    .await
    .unwrap();
    let blocked = s.list_subjects(ListKind::Blocked).await.unwrap();
    // A listed twice (police, regulator), B once; sorted by subject.
    assert_eq!(
        blocked,
        vec![
            (Subject::Imei(b), Reason::Lost),
            (Subject::Imei(a), Reason::Stolen),
            (Subject::Imei(a), Reason::Counterfeit),
        ]
    );
    assert_eq!(
        s.list_subjects(ListKind::Exception).await.unwrap(),
        vec![(Subject::Pair(a, imsi), Reason::Paired)]
    );
    assert_eq!(s.list_subjects(ListKind::BarredTac).await.unwrap().len(), 1);
    assert!(s
        .list_subjects(ListKind::Permitted)
        .await
        .unwrap()
        .is_empty());
    let mine = s.list_source(ListKind::Blocked, "az-police").await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|e| e.org == "az-police"));
    assert_eq!(
        s.list_source(ListKind::Blocked, "az-regulator")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .list_source(ListKind::Blocked, "nobody")
        .await
        .unwrap()
        .is_empty());
}

async fn golden_list_replace_and_read(s: &SqlStore) {
    let reg = actor("az-regulator", OrgKind::Regulator);
    let clear = GoldenImei::from_norm("35693803564380");
    let hashed = GoldenImei {
        hash: "0123456789abcdef0123456789abcdef".into(),
        imei: None,
    };
    let other = GoldenImei::from_norm("49015420323751");
    let dup_without_imei = GoldenImei {
        hash: clear.hash.clone(),
        imei: None,
    };
    let r = s
        .replace_golden(
            &[
                dup_without_imei,
                clear.clone(),
                hashed.clone(),
                other.clone(),
            ],
            "golden.csv",
            &reg,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        GoldenReport {
            previous: 0,
            added: 3,
            removed: 0,
            total: 3
        }
    );
    let mut want = vec![clear.clone(), hashed.clone(), other.clone()];
    want.sort();
    assert_eq!(s.golden_imeis().await.unwrap(), want);
    // The same list again changes nothing.
    let r = s
        .replace_golden(&want, "golden.csv", &reg, T0)
        .await
        .unwrap();
    assert_eq!((r.added, r.removed, r.total), (0, 0, 3));
    assert_eq!(s.golden_imeis().await.unwrap(), want);
    // A smaller list removes the rest.
    let r = s
        .replace_golden(std::slice::from_ref(&hashed), "golden2.csv", &reg, T0)
        .await
        .unwrap();
    assert_eq!((r.previous, r.added, r.removed, r.total), (3, 0, 2, 1));
    assert_eq!(s.golden_imeis().await.unwrap(), vec![hashed]);
    let records = testkit::audited(s, "golden.replace").await.unwrap();
    assert_eq!(records.len(), 3);
    assert!(records[2].detail.contains("golden2.csv"));
    // An operator may not change it, and nothing changes.
    let op = actor("azercell", OrgKind::Operator);
    let e = s.replace_golden(&[], "x.csv", &op, T0).await.unwrap_err();
    assert!(matches!(e, StoreError::Rule { .. }), "{e:?}");
    assert_eq!(s.golden_imeis().await.unwrap().len(), 1);
}

ceir_store::both_engines!(list_subjects_and_sources, golden_list_replace_and_read);
