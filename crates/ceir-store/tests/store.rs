//! The store's behaviour, run against SQLite and PostgreSQL alike; every test ends with the
//! integrity check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::catalog::{RadioSet, TacModel};
use ceir_domain::lists::{Country, EntryMeta, ListKind, NewEntry, Reason, Subject};
use ceir_domain::status::ListFlags;
use ceir_domain::{Imei, Imsi, Tac, Timestamp};
use ceir_store::{testkit, Action, CatalogImport, ListChange, SqlStore, Store, StoreError};

const T0: Timestamp = Timestamp(1_790_000_000_000);

fn imei(s: &str) -> Imei {
    Imei::parse_typed(s).unwrap()
}

fn actor(org: &str, kind: OrgKind) -> AuditContext {
    AuditContext::local(Actor {
        org: org.into(),
        org_kind: kind,
        user: format!("{org}-officer"),
        role: Role::Officer,
        scopes: ceir_domain::scope::ScopeSet::ALL,
    })
}

fn police() -> AuditContext {
    actor("az-police", OrgKind::LawEnforcement)
}
fn police2() -> AuditContext {
    actor("uz-police", OrgKind::LawEnforcement)
}
fn regulator() -> AuditContext {
    actor("az-regulator", OrgKind::Regulator)
}

fn add(list: ListKind, subject: Subject, reason: Reason) -> ListChange {
    ListChange::Add(
        NewEntry::new(
            list,
            subject,
            EntryMeta {
                reason,
                reference: Some("REF-1".into()),
                country: Country::AZ,
                expires_at: None,
                note: None,
            },
            T0,
        )
        .unwrap(),
    )
}

fn remove(list: ListKind, subject: Subject, owner: Option<&str>) -> ListChange {
    ListChange::Remove {
        list,
        subject,
        owner: owner.map(Into::into),
        note: Some("returned to owner".into()),
    }
}

const A: &str = "490154203237518";
const B: &str = "356938035643809";

async fn add_list_and_history(s: &SqlStore) {
    let i = imei(A);
    let r = s
        .apply(
            &[add(ListKind::Blocked, Subject::Imei(i), Reason::Stolen)],
            &police(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!((r.added, r.last_seq), (1, 1));
    assert_eq!(r.updates[0].state_after, u64::from(ListFlags::BLOCKED));
    // Same facts again: nothing changes, no history row.
    let r = s
        .apply(
            &[add(ListKind::Blocked, Subject::Imei(i), Reason::Stolen)],
            &police(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!((r.unchanged, r.last_seq), (1, 1));
    // Another list: the state carries both bits.
    let r = s
        .apply(
            &[add(
                ListKind::Tracked,
                Subject::Imei(i),
                Reason::Investigation,
            )],
            &police(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        r.updates[0].state_after,
        u64::from(ListFlags::BLOCKED | ListFlags::TRACKED)
    );
    let e = s.entries_of(i.body()).await.unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].org, "az-police");
    assert_eq!(e[0].reference.as_deref(), Some("REF-1"));
    let h = s.history_of(i.body()).await.unwrap();
    assert_eq!(
        h.iter().map(|h| h.action).collect::<Vec<_>>(),
        vec![Action::Add, Action::Add]
    );
    assert_eq!(s.feed_position().await.unwrap(), 2);
}

async fn only_owner_or_regulator_lifts(s: &SqlStore) {
    let i = imei(A);
    s.apply(
        &[add(ListKind::Blocked, Subject::Imei(i), Reason::Stolen)],
        &police(),
        T0,
        false,
    )
    .await
    .unwrap();
    let err = s
        .apply(
            &[remove(ListKind::Blocked, Subject::Imei(i), None)],
            &police2(),
            T0,
            false,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Rule { .. }), "{err}");
    assert_eq!(err.code(), ceir_domain::ErrorCode::NotOwner);
    // The second police force blocks too; lifting its own block leaves the first.
    s.apply(
        &[add(ListKind::Blocked, Subject::Imei(i), Reason::Crime)],
        &police2(),
        T0,
        false,
    )
    .await
    .unwrap();
    let r = s
        .apply(
            &[remove(ListKind::Blocked, Subject::Imei(i), None)],
            &police2(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!(r.removed, 1);
    assert_eq!(r.updates[0].state_after, u64::from(ListFlags::BLOCKED));
    // The regulator lifts whatever remains.
    let r = s
        .apply(
            &[remove(ListKind::Blocked, Subject::Imei(i), None)],
            &regulator(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!(r.removed, 1);
    assert_eq!(r.updates[0].state_after, 0);
    assert!(s.entries_of(i.body()).await.unwrap().is_empty());
    let h = s.history_of(i.body()).await.unwrap();
    assert_eq!(h.len(), 4, "removal keeps the history");
    assert_eq!(h[3].actor_org, "az-regulator");
    assert_eq!(h[3].org, "az-police");
    assert_eq!(h[3].note.as_deref(), Some("returned to owner"));
    // Nothing left to lift.
    let err = s
        .apply(
            &[remove(ListKind::Blocked, Subject::Imei(i), None)],
            &regulator(),
            T0,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ceir_domain::ErrorCode::NotFound);
}

async fn batches_are_atomic(s: &SqlStore) {
    let before = s.feed_position().await.unwrap();
    let changes = vec![
        add(ListKind::Blocked, Subject::Imei(imei(A)), Reason::Stolen),
        add(ListKind::Blocked, Subject::Imei(imei(B)), Reason::Lost),
        remove(
            ListKind::Blocked,
            Subject::Imei(imei("012345678901237")),
            None,
        ),
    ];
    let err = s.apply(&changes, &police(), T0, false).await.unwrap_err();
    assert!(err.to_string().starts_with("change 3:"), "{err}");
    assert_eq!(s.feed_position().await.unwrap(), before);
    assert!(s.entries_of(imei(A).body()).await.unwrap().is_empty());
    // Capability: a bank may not block.
    let err = s
        .apply(&changes[..1], &actor("bank", OrgKind::Bank), T0, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("may not change the blocked list"),
        "{err}"
    );
}

async fn large_batch_spans_chunks(s: &SqlStore) {
    let changes: Vec<ListChange> = (0..2500u64)
        .map(|n| {
            add(
                ListKind::Blocked,
                Subject::Imei(Imei::from_body(35_000_000_000_000 + n * 7).unwrap()),
                Reason::Counterfeit,
            )
        })
        .collect();
    let r = s.apply(&changes, &regulator(), T0, true).await.unwrap();
    assert_eq!((r.added, r.updates.len(), r.last_seq), (2500, 2500, 2500));
    let snap = s.snapshot().await.unwrap();
    assert_eq!((snap.seq, snap.flags.len()), (2500, 2500));
    let feed = s.feed_since(2000, 10_000).await.unwrap();
    assert_eq!(feed.len(), 500);
    assert!(feed.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    // A batch that adds and removes the same entry nets out, with both rows in history.
    let one = Subject::Imei(Imei::from_body(35_000_000_000_000).unwrap());
    let r = s
        .apply(
            &[
                remove(ListKind::Blocked, one, None),
                add(ListKind::Blocked, one, Reason::Stolen),
            ],
            &regulator(),
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!((r.removed, r.added), (1, 1));
    assert_eq!(
        s.entries_of(35_000_000_000_000).await.unwrap()[0].reason,
        Reason::Stolen
    );
}

async fn pairs_and_tacs(s: &SqlStore) {
    let op = actor("azercell", OrgKind::Operator);
    let imsi = Imsi::parse("400011234567890").unwrap();
    let tac = Tac::parse("35693803").unwrap();
    s.apply(
        &[add(
            ListKind::Exception,
            Subject::Pair(imei(B), imsi),
            Reason::Paired,
        )],
        &op,
        T0,
        false,
    )
    .await
    .unwrap();
    s.apply(
        &[add(
            ListKind::BarredTac,
            Subject::Tac(tac),
            Reason::Counterfeit,
        )],
        &regulator(),
        T0,
        false,
    )
    .await
    .unwrap();
    let snap = s.snapshot().await.unwrap();
    assert_eq!(snap.pairs, vec![(imei(B).body(), imsi.key())]);
    assert_eq!(snap.barred_tacs, vec![35693803]);
    let e = s.entries_of(imei(B).body()).await.unwrap();
    assert_eq!(e[0].subject, Subject::Pair(imei(B), imsi));
    let r = s
        .apply(
            &[remove(
                ListKind::Exception,
                Subject::Pair(imei(B), imsi),
                None,
            )],
            &op,
            T0,
            true,
        )
        .await
        .unwrap();
    assert_eq!(r.updates[0].state_after, 0);
}

async fn expiry(s: &SqlStore) {
    let mut c = add(
        ListKind::Tracked,
        Subject::Imei(imei(A)),
        Reason::Investigation,
    );
    if let ListChange::Add(e) = &mut c {
        e.meta.expires_at = Some(T0.plus_days(30));
    }
    s.apply(&[c], &police(), T0, false).await.unwrap();
    assert_eq!(s.next_expiry().await.unwrap(), Some(T0.plus_days(30)));
    assert_eq!(s.expire_due(T0.plus_days(29)).await.unwrap().removed, 0);
    let r = s.expire_due(T0.plus_days(30)).await.unwrap();
    assert_eq!((r.removed, r.updates[0].state_after), (1, 0));
    let h = s.history_of(imei(A).body()).await.unwrap();
    assert_eq!(h.last().unwrap().action, Action::Expire);
    assert_eq!(h.last().unwrap().actor_org, "system");
    assert_eq!(s.next_expiry().await.unwrap(), None);
}

fn model(tac: u32) -> TacModel {
    TacModel {
        tac: Tac::from_u32(tac).unwrap(),
        brand: "Brand".into(),
        model: format!("Model {tac}"),
        marketing_name: None,
        manufacturer: None,
        device_type: Some("Smartphone".into()),
        os: None,
        bands: None,
        radio_interface: None,
        allocation_date: None,
        radios: RadioSet::G2 | RadioSet::G4,
    }
}

async fn catalog(s: &SqlStore) {
    let reg = regulator();
    let hundred: Vec<TacModel> = (0..100).map(|n| model(35_000_000 + n)).collect();
    let r = s
        .replace_catalog(
            &hundred,
            &CatalogImport {
                source: "a.txt",
                format: "gsma",
                max_drop: 0.1,
                force: false,
            },
            &reg,
            T0,
        )
        .await
        .unwrap();
    assert_eq!((r.previous, r.models), (0, 100));
    let got = s
        .tac(Tac::from_u32(35_000_007).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, model(35_000_007));
    // The whole catalog in TAC order, as classification loads it.
    let all = s.catalog_models().await.unwrap();
    assert_eq!(all.len(), 100);
    assert_eq!(all[7], model(35_000_007));
    assert!(all.windows(2).all(|w| w[0].tac < w[1].tac));
    // Dropping 20% is refused unless forced; the catalog is untouched.
    let err = s
        .replace_catalog(
            &hundred[..80],
            &CatalogImport {
                source: "b.txt",
                format: "gsma",
                max_drop: 0.1,
                force: false,
            },
            &reg,
            T0,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ceir_domain::ErrorCode::SafetyStop);
    assert_eq!(s.catalog_count().await.unwrap(), 100);
    let r = s
        .replace_catalog(
            &hundred[..80],
            &CatalogImport {
                source: "b.txt",
                format: "gsma",
                max_drop: 0.1,
                force: true,
            },
            &reg,
            T0,
        )
        .await
        .unwrap();
    assert_eq!((r.previous, r.models), (100, 80));
    assert!(s
        .tac(Tac::from_u32(35_000_090).unwrap())
        .await
        .unwrap()
        .is_none());
}

async fn tokens(s: &SqlStore) {
    use ceir_store::Organisation;
    let org = Organisation {
        id: "az-police".into(),
        name: "Police".into(),
        kind: OrgKind::LawEnforcement,
        country: Country::AZ,
    };
    s.upsert_organisation(&org, &regulator(), T0).await.unwrap();
    let (id, secret) = s
        .create_token(
            "az-police",
            "officer1",
            Role::Officer,
            "laptop",
            Some(T0.plus_days(1)),
            &regulator(),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        ceir_domain::credential::recognise(&secret),
        Some(ceir_domain::credential::SecretKind::ApiToken)
    );
    assert!(
        !secret.contains(&id),
        "the public id is not part of the secret"
    );
    let t = s.authenticate(&secret, T0).await.unwrap().unwrap();
    assert_eq!(
        (t.org.kind, t.role, t.user.as_str()),
        (OrgKind::LawEnforcement, Role::Officer, "officer1")
    );
    assert!(
        s.authenticate(&secret, T0.plus_days(1))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(s
        .authenticate(&format!("{secret}x"), T0)
        .await
        .unwrap()
        .is_none());
    assert!(s.authenticate("nonsense", T0).await.unwrap().is_none());
    s.revoke_token(&id, &regulator(), T0).await.unwrap();
    assert!(
        s.authenticate(&secret, T0).await.unwrap().is_none(),
        "revoked"
    );
    assert!(s
        .create_token("nobody", "x", Role::Viewer, "", None, &regulator(), T0)
        .await
        .is_err());
}

async fn list_pages(s: &SqlStore) {
    let changes: Vec<ListChange> = (0..25u64)
        .map(|n| {
            add(
                ListKind::Permitted,
                Subject::Imei(Imei::from_body(86_000_000_000_000 + n).unwrap()),
                Reason::Registered,
            )
        })
        .collect();
    s.apply(&changes, &regulator(), T0, false).await.unwrap();
    // One IMEI paired with 12 IMSIs: many entries share a subject, so pages split inside it.
    let imei = Imei::from_body(86_100_000_000_000).unwrap();
    let pairs: Vec<ListChange> = (0..12u64)
        .map(|n| {
            let imsi = Imsi::parse(&format!("40001{:010}", 1_000 + n)).unwrap();
            add(
                ListKind::Exception,
                Subject::Pair(imei, imsi),
                Reason::Paired,
            )
        })
        .collect();
    s.apply(&pairs, &regulator(), T0, false).await.unwrap();
    for (list, total, page_size) in [(ListKind::Permitted, 25, 10), (ListKind::Exception, 12, 5)] {
        let mut seen = std::collections::HashSet::new();
        let mut after = None;
        loop {
            let page = s.entries(list, after, page_size).await.unwrap();
            for e in &page {
                assert!(seen.insert((e.subject, e.seq)), "{e:?} came twice");
            }
            let Some(last) = page.last() else { break };
            after = Some((ceir_store::subject_key(last.subject).0, last.seq));
            if page.len() < page_size as usize {
                break;
            }
        }
        assert_eq!(seen.len(), total, "{list:?}");
    }
    assert_eq!(
        s.list_counts().await.unwrap(),
        vec![(ListKind::Exception, 12), (ListKind::Permitted, 25)]
    );
}

/// Classification's one-pass read: every entry but the exceptions, with its list and reason,
/// the same on both engines (SQLite reads it through a connection of its own).
async fn memberships_for_classification(s: &SqlStore) {
    let imsi = Imsi::parse("400011234567890").unwrap();
    s.apply(
        &[
            add(ListKind::Blocked, Subject::Imei(imei(A)), Reason::Stolen),
            add(
                ListKind::Blocked,
                Subject::Imei(imei(B)),
                Reason::Counterfeit,
            ),
            add(
                ListKind::Permitted,
                Subject::Imei(imei(B)),
                Reason::Registered,
            ),
            add(
                ListKind::Tracked,
                Subject::Imei(imei(A)),
                Reason::Investigation,
            ),
            add(
                ListKind::BarredTac,
                Subject::Tac(Tac::parse("35693803").unwrap()),
                Reason::Counterfeit,
            ),
            add(
                ListKind::Exception,
                Subject::Pair(imei(B), imsi),
                Reason::Paired,
            ),
        ],
        &regulator(),
        T0,
        false,
    )
    .await
    .unwrap();
    let all = [
        ListKind::Blocked,
        ListKind::Permitted,
        ListKind::Tracked,
        ListKind::BarredTac,
        ListKind::Exception,
    ];
    let mut m = s.memberships(&all).await.unwrap();
    m.sort_by_key(|(l, s, r)| (l.as_str(), *s, r.as_str()));
    assert_eq!(
        m,
        vec![
            (ListKind::BarredTac, 35_693_803, Reason::Counterfeit),
            (ListKind::Blocked, imei(B).body(), Reason::Counterfeit),
            (ListKind::Blocked, imei(A).body(), Reason::Stolen),
            (ListKind::Permitted, imei(B).body(), Reason::Registered),
            (ListKind::Tracked, imei(A).body(), Reason::Investigation),
        ]
    );
    assert_eq!(
        s.memberships(&[ListKind::BarredTac]).await.unwrap(),
        vec![(ListKind::BarredTac, 35_693_803, Reason::Counterfeit)]
    );
    assert!(s
        .memberships(&[ListKind::Exception])
        .await
        .unwrap()
        .is_empty());
}

/// [`Store::memberships_since`] with its whole read drained as it is sent.
async fn since(
    s: &SqlStore,
    lists: &[ListKind],
    mark: Option<ceir_store::FeedMark>,
    max_changes: usize,
) -> (ceir_store::MembershipRead, Vec<ceir_store::Membership>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let drain = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(batch) = rx.recv().await {
            all.extend(batch);
        }
        all
    });
    let read = s
        .memberships_since(lists, mark, max_changes, tx)
        .await
        .unwrap();
    (read, drain.await.unwrap())
}

/// A whole read is sent ascending by subject, across lists, in batches: a registry larger than
/// one batch arrives whole and in order.
async fn memberships_sent_in_subject_order(s: &SqlStore) {
    use ceir_store::MembershipRead;
    let lists = [
        ListKind::Blocked,
        ListKind::Permitted,
        ListKind::Tracked,
        ListKind::BarredTac,
    ];
    let n = 9_000u64;
    let changes: Vec<ListChange> = (0..n)
        .map(|k| {
            let device = Imei::from_body(35_693_803_000_000 + k * 7).unwrap();
            match k % 3 {
                0 => add(
                    ListKind::Permitted,
                    Subject::Imei(device),
                    Reason::Registered,
                ),
                1 => add(ListKind::Blocked, Subject::Imei(device), Reason::Stolen),
                _ => add(
                    ListKind::Tracked,
                    Subject::Imei(device),
                    Reason::Investigation,
                ),
            }
        })
        .chain([
            add(
                ListKind::Blocked,
                Subject::Imei(imei(A)),
                Reason::Counterfeit,
            ),
            add(
                ListKind::Permitted,
                Subject::Imei(imei(A)),
                Reason::Registered,
            ),
            add(
                ListKind::BarredTac,
                Subject::Tac(Tac::parse("35693803").unwrap()),
                Reason::Counterfeit,
            ),
        ])
        .collect();
    s.apply(&changes, &regulator(), T0, false).await.unwrap();
    let (read, rows) = since(s, &lists, None, 0).await;
    assert!(matches!(read, MembershipRead::Whole { head } if head.seq > 0));
    assert_eq!(rows.len() as u64, n + 3);
    assert!(
        rows.windows(2).all(|w| w[0].1 <= w[1].1),
        "ascending by subject"
    );
    let mut collected = s.memberships(&lists).await.unwrap();
    let mut sent = rows;
    collected.sort_by_key(|(l, s, _)| (*s, l.as_str()));
    sent.sort_by_key(|(l, s, _)| (*s, l.as_str()));
    assert_eq!(sent, collected);
}

/// What changed since a feed mark: the subjects touched and their memberships now; whole
/// reads when the mark is unknown, ahead of the store, or too much changed.
async fn memberships_since_a_mark(s: &SqlStore) {
    use ceir_store::{FeedMark, MembershipRead};
    const C: &str = "356938030000286";
    let lists = [
        ListKind::Blocked,
        ListKind::Permitted,
        ListKind::Tracked,
        ListKind::BarredTac,
    ];
    assert_eq!(
        since(s, &lists, None, 10).await,
        (
            MembershipRead::Whole {
                head: FeedMark::default()
            },
            vec![]
        )
    );
    let imsi = Imsi::parse("400011234567890").unwrap();
    s.apply(
        &[
            add(ListKind::Blocked, Subject::Imei(imei(A)), Reason::Stolen),
            add(
                ListKind::Permitted,
                Subject::Imei(imei(B)),
                Reason::Registered,
            ),
            add(
                ListKind::BarredTac,
                Subject::Tac(Tac::parse("35693803").unwrap()),
                Reason::Counterfeit,
            ),
        ],
        &regulator(),
        T0,
        false,
    )
    .await
    .unwrap();
    let (MembershipRead::Whole { head: h1 }, rows) = since(s, &lists, None, 10).await else {
        panic!("no mark: a whole read");
    };
    assert!(h1.seq > 0);
    assert_eq!(rows.len(), 3);
    // Nothing since: no subject, no row.
    assert_eq!(
        since(s, &lists, Some(h1), 10).await,
        (
            MembershipRead::Changes {
                head: h1,
                touched: vec![],
                rows: vec![]
            },
            vec![]
        )
    );
    s.apply(
        &[
            remove(ListKind::Blocked, Subject::Imei(imei(A)), None),
            add(
                ListKind::Tracked,
                Subject::Imei(imei(C)),
                Reason::Investigation,
            ),
            add(
                ListKind::Exception,
                Subject::Pair(imei(B), imsi),
                Reason::Paired,
            ),
        ],
        &regulator(),
        Timestamp(T0.0 + 1),
        false,
    )
    .await
    .unwrap();
    let (
        MembershipRead::Changes {
            head: h2,
            mut touched,
            mut rows,
        },
        _,
    ) = since(s, &lists, Some(h1), 10).await
    else {
        panic!("a known mark: only the changes");
    };
    assert!(h2.seq > h1.seq);
    touched.sort_by_key(|(l, s)| (l.as_str(), *s));
    rows.sort_by_key(|(l, s, _)| (l.as_str(), *s));
    // A is off every list, C tracked; the exception is not a membership.
    assert_eq!(
        touched,
        vec![
            (ListKind::Blocked, imei(A).body()),
            (ListKind::Tracked, imei(C).body())
        ]
    );
    assert_eq!(
        rows,
        vec![(ListKind::Tracked, imei(C).body(), Reason::Investigation)]
    );
    let whole = |(r, rows): (MembershipRead, Vec<_>)| {
        matches!(r, MembershipRead::Whole { head } if head == h2) && rows.len() == 3
    };
    // Too many changes, a mark of another store's history, a mark ahead of this one.
    assert!(whole(since(s, &lists, Some(h1), 1).await));
    let foreign = FeedMark {
        seq: h1.seq,
        at: h1.at + 1,
    };
    assert!(whole(since(s, &lists, Some(foreign), 10).await));
    let ahead = FeedMark {
        seq: h2.seq + 5,
        at: h2.at,
    };
    assert!(whole(since(s, &lists, Some(ahead), 10).await));
    // Changes to lists not asked for do not count against the limit, nor hide the others.
    let mut burst: Vec<ListChange> = (0..5)
        .map(|n| {
            let imsi = Imsi::parse(&format!("40001{:010}", 7_000 + n)).unwrap();
            let device = Imei::from_body(35_693_803_000_100 + n).unwrap();
            add(
                ListKind::Exception,
                Subject::Pair(device, imsi),
                Reason::Paired,
            )
        })
        .collect();
    burst.push(add(
        ListKind::Blocked,
        Subject::Imei(imei(B)),
        Reason::Counterfeit,
    ));
    s.apply(&burst, &regulator(), Timestamp(T0.0 + 2), false)
        .await
        .unwrap();
    let (MembershipRead::Changes { touched, rows, .. }, _) = since(s, &lists, Some(h2), 1).await
    else {
        panic!("one change to these lists: a patch");
    };
    assert_eq!(touched, vec![(ListKind::Blocked, imei(B).body())]);
    let mut rows = rows;
    rows.sort_by_key(|(l, _, _)| l.as_str());
    assert_eq!(
        rows,
        vec![
            (ListKind::Blocked, imei(B).body(), Reason::Counterfeit),
            (ListKind::Permitted, imei(B).body(), Reason::Registered)
        ]
    );
}

ceir_store::both_engines!(
    memberships_for_classification,
    memberships_sent_in_subject_order,
    memberships_since_a_mark,
    add_list_and_history,
    only_owner_or_regulator_lifts,
    batches_are_atomic,
    large_batch_spans_chunks,
    pairs_and_tacs,
    expiry,
    catalog,
    tokens,
    list_pages,
);

#[tokio::test]
async fn postgres_feed_crosses_processes() {
    let Some((a, schema)) = testkit::postgres("feed_crosses").await else {
        return;
    };
    let b = testkit::postgres_again(&schema).await.unwrap();
    let waiter = tokio::spawn(async move {
        let t = std::time::Instant::now();
        b.wait_for_feed(std::time::Duration::from_secs(5)).await;
        (b.feed_since(0, 10).await.unwrap(), t.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    a.apply(
        &[add(
            ListKind::Blocked,
            Subject::Imei(imei(A)),
            Reason::Stolen,
        )],
        &police(),
        T0,
        false,
    )
    .await
    .unwrap();
    let (rows, waited) = waiter.await.unwrap();
    assert_eq!(rows.len(), 1, "the other handle sees the change");
    assert!(
        waited < std::time::Duration::from_secs(5),
        "woken by NOTIFY, not by the timeout"
    );
    testkit::drop_postgres(a, &schema).await;
}
