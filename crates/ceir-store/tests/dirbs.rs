//! The bulk methods for DIRBS list imports and classification, and the golden list, on SQLite and
//! PostgreSQL alike; every test ends with the integrity check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::lists::{Country, EntryMeta, GoldenImei, ListKind, NewEntry, Reason, Subject};
use ceir_domain::{Imei, Imsi, PairingMsisdn, Tac, Timestamp};
use ceir_store::{
    testkit, DirbsListImport, DirbsListStore, DirbsRow, ExceptionPairing, GoldenReport, ListChange,
    SqlStore, Store, StoreError,
};

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

fn row(subject: Subject, msisdn: Option<&str>, fields: &str) -> DirbsRow {
    DirbsRow {
        subject,
        msisdn: msisdn.map(|m| PairingMsisdn::parse(m).unwrap()),
        fields: fields.into(),
    }
}

fn paired(list: ListKind, subject: Subject) -> ListChange {
    let mut c = add(list, subject, Reason::Paired);
    if let ListChange::Add(e) = &mut c {
        e.meta.reference = Some("pairing".into());
    }
    c
}

async fn dirbs_rows_are_applied_with_their_entries_all_or_nothing(s: &SqlStore) {
    let reg = actor("az-regulator", OrgKind::Regulator);
    let a = imei("490154203237518");
    let b = imei("356938035643809");
    let imsi = Imsi::parse("400011234567890").unwrap();
    let pair = Subject::Pair(a, imsi);
    let rows = [
        row(pair, Some("994501234567"), "{}"),
        row(pair, Some("0994501234568"), "{}"),
    ];
    let changes = [paired(ListKind::Exception, pair)];
    let r = s
        .apply_dirbs_list(
            &DirbsListImport {
                list: "pairing",
                kind: ListKind::Exception,
                changes: &changes,
                upsert: &rows,
                delete: &[],
            },
            &reg,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(r.added, 1);
    let kept = s
        .dirbs_rows("pairing", ListKind::Exception, "az-regulator")
        .await
        .unwrap();
    // Sorted by subject, IMSI and MSISDN text.
    assert_eq!(kept, vec![rows[1].clone(), rows[0].clone()]);
    assert!(s
        .dirbs_rows("pairing", ListKind::Exception, "az-police")
        .await
        .unwrap()
        .is_empty());
    let records = testkit::audited(s, "list.add").await.unwrap();
    assert!(
        records[0]
            .detail
            .contains(r#""dirbs_list":{"list":"pairing","rows_removed":0,"rows_written":2}"#),
        "{}",
        records[0].detail
    );
    // Rows alone (a pending stolen report lists nothing): written, and audited as a change.
    let pending = [row(Subject::Imei(b), None, r#"{"status":"pending"}"#)];
    let r = s
        .apply_dirbs_list(
            &DirbsListImport {
                list: "stolen",
                kind: ListKind::Blocked,
                changes: &[],
                upsert: &pending,
                delete: &[],
            },
            &reg,
            T0,
        )
        .await
        .unwrap();
    assert_eq!((r.added, r.removed), (0, 0));
    assert_eq!(
        s.dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap(),
        pending
    );
    let records = testkit::audited(s, "list.change").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].object, "list:blocked");
    // A new value replaces the old; a removal deletes by subject and MSISDN.
    let confirmed = [row(Subject::Imei(b), None, r#"{"status":"blacklist"}"#)];
    let gone = [(pair, Some(PairingMsisdn::parse("0994501234568").unwrap()))];
    s.apply_dirbs_list(
        &DirbsListImport {
            list: "stolen",
            kind: ListKind::Blocked,
            changes: &[add(ListKind::Blocked, Subject::Imei(b), Reason::Stolen)],
            upsert: &confirmed,
            delete: &[],
        },
        &reg,
        T0,
    )
    .await
    .unwrap();
    s.apply_dirbs_list(
        &DirbsListImport {
            list: "pairing",
            kind: ListKind::Exception,
            changes: &[],
            upsert: &[],
            delete: &gone,
        },
        &reg,
        T0,
    )
    .await
    .unwrap();
    assert_eq!(
        s.dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap(),
        confirmed
    );
    assert_eq!(
        s.dirbs_rows("pairing", ListKind::Exception, "az-regulator")
            .await
            .unwrap(),
        vec![rows[0].clone()]
    );
    // A registry change that breaks a rule refuses the rows with it.
    let feed = s.feed_position().await.unwrap();
    let e = s
        .apply_dirbs_list(
            &DirbsListImport {
                list: "stolen",
                kind: ListKind::Blocked,
                changes: &[ListChange::Remove {
                    list: ListKind::Blocked,
                    subject: Subject::Imei(a),
                    owner: Some("az-regulator".into()),
                    note: None,
                }],
                upsert: &[row(Subject::Imei(a), None, "{}")],
                delete: &[(Subject::Imei(b), None)],
            },
            &reg,
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotListed { .. }), "{e:?}");
    assert_eq!(s.feed_position().await.unwrap(), feed);
    assert_eq!(
        s.dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap(),
        confirmed
    );
    // Who may not change the list may not change its rows either.
    let op = actor("azercell", OrgKind::Operator);
    let e = s
        .apply_dirbs_list(
            &DirbsListImport {
                list: "stolen",
                kind: ListKind::Blocked,
                changes: &[],
                upsert: &[row(Subject::Imei(a), None, "{}")],
                delete: &[],
            },
            &op,
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Rule { .. }), "{e:?}");
    assert!(s
        .dirbs_rows("stolen", ListKind::Blocked, "azercell")
        .await
        .unwrap()
        .is_empty());
}

async fn exception_pairings_carry_the_pairing_lists_msisdns(s: &SqlStore) {
    let reg = actor("az-regulator", OrgKind::Regulator);
    let operator = actor("azercell", OrgKind::Operator);
    let a = imei("490154203237518");
    let b = imei("356938035643809");
    let s1 = Imsi::parse("400011234567890").unwrap();
    let s2 = Imsi::parse("400021234567891").unwrap();
    // The regulator's pairing list: A with s1 under two MSISDNs; B with s2 kept without one.
    let rows = [
        row(Subject::Pair(a, s1), Some("994501234567"), "{}"),
        row(Subject::Pair(a, s1), Some("994501234568"), "{}"),
        row(Subject::Pair(b, s2), None, "{}"),
    ];
    s.apply_dirbs_list(
        &DirbsListImport {
            list: "pairing",
            kind: ListKind::Exception,
            changes: &[
                paired(ListKind::Exception, Subject::Pair(a, s1)),
                paired(ListKind::Exception, Subject::Pair(b, s2)),
            ],
            upsert: &rows,
            delete: &[],
        },
        &reg,
        T0,
    )
    .await
    .unwrap();
    // An operator pairs A with s2 by hand, and B with s2 too: no MSISDN of theirs.
    s.apply(
        &[
            add(ListKind::Exception, Subject::Pair(a, s2), Reason::Paired),
            add(ListKind::Exception, Subject::Pair(b, s2), Reason::Paired),
        ],
        &operator,
        T0,
        false,
    )
    .await
    .unwrap();
    let got: Vec<(Imei, Imsi, Option<String>)> = s
        .exception_pairings()
        .await
        .unwrap()
        .into_iter()
        .map(|p: ExceptionPairing| (p.imei, p.imsi, p.msisdn.map(|m| m.to_string())))
        .collect();
    let mut want = vec![
        (a, s1, Some("994501234567".to_owned())),
        (a, s1, Some("994501234568".to_owned())),
        (a, s2, None),
        (b, s2, None),
    ];
    want.sort();
    assert_eq!(got, want);
}

ceir_store::both_engines!(
    list_subjects_and_sources,
    golden_list_replace_and_read,
    dirbs_rows_are_applied_with_their_entries_all_or_nothing,
    exception_pairings_carry_the_pairing_lists_msisdns,
);

/// Migration 0009 on a store holding entries imported from DIRBS lists before it: they become
/// the lists' kept rows (without values, pairings without MSISDN); entries made otherwise do not.
mod migration_0009 {
    use super::*;
    use std::path::Path;

    /// The migrations before 0009, in a directory of their own.
    fn before_0009() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for e in std::fs::read_dir(src).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.as_str() < "0009" {
                std::fs::copy(&p, dir.path().join(name)).unwrap();
            }
        }
        dir
    }

    const ENTRIES: &str = "INSERT INTO list_entry (list, subject, imsi, org, reason, reference, \
        country, note, created_by, created_at, expires_at, seq) VALUES \
        ('blocked', 35693803564380, 0, 'az-regulator', 'stolen', 'stolen', 'AZ', 'reported 2026-09-01', 'u', 1, NULL, 1), \
        ('blocked', 49015420323751, 0, 'az-police', 'stolen', 'AZ-POL-1', 'AZ', NULL, 'u', 1, NULL, 2), \
        ('exception', 35693803564380, 17288509837207250, 'az-regulator', 'paired', 'pairing', 'AZ', NULL, 'u', 1, NULL, 3), \
        ('tracked', 49015420323751, 0, 'az-regulator', 'investigation', 'monitoring', 'AZ', NULL, 'u', 1, NULL, 4)";

    async fn check(s: &SqlStore) {
        let stolen = s
            .dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        assert_eq!(
            stolen,
            vec![row(Subject::Imei(imei("356938035643809")), None, "{}")]
        );
        assert!(s
            .dirbs_rows("stolen", ListKind::Blocked, "az-police")
            .await
            .unwrap()
            .is_empty());
        let pairing = s
            .dirbs_rows("pairing", ListKind::Exception, "az-regulator")
            .await
            .unwrap();
        let pair = Subject::Pair(
            imei("356938035643809"),
            Imsi::parse("400011234567890").unwrap(),
        );
        assert_eq!(pairing, vec![row(pair, None, "{}")]);
        assert_eq!(
            s.dirbs_rows("monitoring", ListKind::Tracked, "az-regulator")
                .await
                .unwrap()
                .len(),
            1
        );
        let p = s.exception_pairings().await.unwrap();
        assert_eq!((p.len(), p[0].msisdn.clone()), (1, None));
    }

    #[tokio::test]
    async fn sqlite() {
        assert_eq!(
            Imsi::parse("400011234567890").unwrap().key(),
            17_288_509_837_207_250
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ceir.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let old = before_0009();
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::query(ENTRIES).execute(&pool).await.unwrap();
        pool.close().await;
        let s = SqlStore::open(&ceir_store::StoreConfig::Sqlite { path })
            .await
            .unwrap();
        check(&s).await;
    }

    #[tokio::test]
    async fn postgres() {
        let schema = testkit::schema_name("migration_0009");
        let url = testkit::pg_url();
        // The store's own way to a fresh schema, then the old migrations in it.
        let Some((fresh, probe)) = testkit::postgres("migration_0009_probe").await else {
            return;
        };
        testkit::drop_postgres(fresh, &probe).await;
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.options([("search_path", schema.as_str())]))
            .await
            .unwrap();
        let old = before_0009();
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::query(ENTRIES).execute(&pool).await.unwrap();
        pool.close().await;
        let s = testkit::postgres_again(&schema).await.unwrap();
        check(&s).await;
        testkit::drop_postgres(s, &schema).await;
    }
}
