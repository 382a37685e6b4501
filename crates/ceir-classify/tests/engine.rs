//! Engine fixtures: grace boundaries, sticky, amnesty, leaving and re-entering a condition,
//! the safety stop, incremental re-runs, and the state store's crash safety.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_classify::{
    classify, Classified, ClassifyError, Input, Observations, StateRow, StateStore,
};
use ceir_domain::classify::{Conditions, ListFlags, Memberships, ModelCatalog};
use ceir_domain::observe::{Day, IdKey, ImeiKey, ImeiNorm, ImeiSeen, RatSet, Triplet};

fn day(s: &str) -> Day {
    Day::parse_iso(s).unwrap()
}

fn t(imei: u64, imsi: &str, month: &str, days: &[u32]) -> Triplet {
    Triplet {
        imei: ImeiKey::body(imei),
        imsi: IdKey::parse(imsi.as_bytes()),
        msisdn: IdKey::NULL,
        operator: 0,
        month: day(month),
        days: days.iter().fold(0, |m, d| m | 1 << (d - 1)),
        rat: RatSet::parse_dirbs(b"006").unwrap(),
    }
}

/// IMEI A has 3 IMSIs (duplicate), B has 1, C has 3 only on early days.
const A: u64 = 35_000_000_000_001;
const B: u64 = 35_000_000_000_002;
const C: u64 = 35_000_000_000_003;
const S: u64 = 35_000_000_000_009; // stolen, never seen

fn batch() -> Vec<Triplet> {
    let mut v = vec![
        t(A, "400010000000001", "2026-10-01", &[20]),
        t(A, "400010000000002", "2026-10-01", &[21]),
        t(A, "400010000000003", "2026-10-01", &[22]),
        t(B, "400010000000001", "2026-10-01", &[20, 21]),
        t(C, "400010000000004", "2026-10-01", &[1]),
        t(C, "400010000000005", "2026-10-01", &[2]),
        t(C, "400010000000006", "2026-10-01", &[3]),
    ];
    v.sort_by_key(|t| (t.imei, t.imsi));
    v
}

fn conditions(extra: &str) -> Conditions {
    Conditions::from_toml(&format!(
        r#"
        {extra}
        [[conditions]]
        label = "duplicate"
        grace_period_days = 7
        blocking = true
        reason = "Duplicate IMEI"
        max_allowed_matching_ratio = 1.0
        amnesty_eligible = true
        dimensions = [{{ module = "duplicate_threshold", parameters = {{ threshold = 3, period_days = 15 }} }}]

        [[conditions]]
        label = "duplicate_sticky"
        grace_period_days = 0
        blocking = false
        sticky = true
        reason = "Duplicate IMEI (informative)"
        max_allowed_matching_ratio = 1.0
        dimensions = [{{ module = "duplicate_threshold", parameters = {{ threshold = 3, period_days = 15 }} }}]

        [[conditions]]
        label = "stolen"
        grace_period_days = 0
        blocking = true
        reason = "Stolen"
        max_allowed_matching_ratio = 1.0
        dimensions = [{{ module = "stolen_list" }}]
        "#
    ))
    .unwrap()
}

fn run(
    conds: &Conditions,
    triplets: &[Triplet],
    previous: Option<Classified>,
    date: &str,
) -> Result<Classified, ClassifyError> {
    let mut m = Memberships::default();
    m.insert(S, ListFlags::STOLEN);
    classify(Input {
        conditions: conds,
        observations: Observations {
            operators: &["op".into()],
            raw_imeis: &[],
            triplets,
            history: &[],
        },
        catalog: &ModelCatalog::default(),
        memberships: &m,
        previous,
        date: day(date),
        analysis_date: day(date),
        safety_check: true,
    })
}

/// (imei, condition, start, end, block date, amnesty), compact for comparisons.
fn rows(c: &Classified) -> Vec<(u64, String, String, String, String, bool)> {
    let d = |x: Option<Day>| x.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    c.rows
        .iter()
        .map(|r: &StateRow| {
            (
                r.imei.body().unwrap(),
                r.condition.clone(),
                r.start.to_string(),
                d(r.end),
                d(r.block_date),
                r.amnesty,
            )
        })
        .collect()
}

fn row(
    imei: u64,
    cond: &str,
    start: &str,
    end: &str,
    block: &str,
    amnesty: bool,
) -> (u64, String, String, String, String, bool) {
    (
        imei,
        cond.into(),
        start.into(),
        end.into(),
        block.into(),
        amnesty,
    )
}

#[test]
fn grace_sticky_leaving_and_incremental_reruns() {
    let conds = conditions("");
    let b = batch();
    // 2026-10-15: window 10-01..10-15: C has 3 IMSIs; A's are later. S is stolen, unseen.
    let r1 = run(&conds, &b, None, "2026-10-15").unwrap();
    assert_eq!(r1.run.id, 1);
    assert_eq!(r1.run.imeis_seen, 3);
    assert_eq!(
        rows(&r1),
        vec![
            row(C, "duplicate", "2026-10-15", "-", "2026-10-22", false),
            row(C, "duplicate_sticky", "2026-10-15", "-", "-", false),
            row(S, "stolen", "2026-10-15", "-", "2026-10-15", false),
        ]
    );
    // 2026-10-22: window 10-08..10-22: A matches; C leaves "duplicate" but stays in the sticky one.
    let r2 = run(&conds, &b, Some(r1), "2026-10-22").unwrap();
    assert_eq!(r2.run.id, 2);
    assert_eq!(r2.run.previous, Some(1));
    assert_eq!(
        rows(&r2),
        vec![
            row(A, "duplicate", "2026-10-22", "-", "2026-10-29", false),
            row(A, "duplicate_sticky", "2026-10-22", "-", "-", false),
            row(
                C,
                "duplicate",
                "2026-10-15",
                "2026-10-22",
                "2026-10-22",
                false
            ),
            row(C, "duplicate_sticky", "2026-10-15", "-", "-", false),
            row(S, "stolen", "2026-10-15", "-", "2026-10-15", false),
        ]
    );
    let s = &r2.run.summary[0];
    assert_eq!(
        (s.matched, s.newly_matched, s.no_longer_matching, s.blocking),
        (1, 1, 1, 1)
    );
    // Re-run later, same data: unchanged rows keep their start and block dates.
    let r3 = run(&conds, &b, Some(r2.clone()), "2026-10-25").unwrap();
    assert_eq!(rows(&r3), rows(&r2));
    assert_eq!(r3.run.summary[0].newly_matched, 0);
    // C matches again (new data): a new episode opens, the old one stays as history.
    let mut b2 = b.clone();
    b2.push(t(C, "400010000000007", "2026-10-01", &[24]));
    b2.push(t(C, "400010000000008", "2026-10-01", &[25]));
    b2.push(t(C, "400010000000009", "2026-10-01", &[26]));
    b2.sort_by_key(|t| (t.imei, t.imsi));
    let r4 = run(&conds, &b2, Some(r3), "2026-10-26").unwrap();
    let c_dup: Vec<_> = rows(&r4)
        .into_iter()
        .filter(|r| r.0 == C && r.1 == "duplicate")
        .collect();
    assert_eq!(
        c_dup,
        vec![
            row(
                C,
                "duplicate",
                "2026-10-15",
                "2026-10-22",
                "2026-10-22",
                false
            ),
            row(C, "duplicate", "2026-10-26", "-", "2026-11-02", false),
        ]
    );
}

#[test]
fn grace_period_boundary_is_start_plus_grace() {
    let conds = Conditions::from_toml(
        r#"[[conditions]]
        label = "stolen"
        grace_period_days = 30
        blocking = true
        reason = "Stolen"
        max_allowed_matching_ratio = 1.0
        dimensions = [{ module = "stolen_list" }]"#,
    )
    .unwrap();
    let r = run(&conds, &[], None, "2026-12-31").unwrap();
    assert_eq!(r.rows[0].block_date, Some(day("2027-01-30")));
    // The grace period stays anchored to the first match: a later run keeps the block date.
    let r = run(&conds, &[], Some(r), "2027-01-30").unwrap();
    assert_eq!(r.rows[0].block_date, Some(day("2027-01-30")));
    assert_eq!(r.rows[0].start, day("2026-12-31"));
}

#[test]
fn amnesty_defers_blocking_until_the_amnesty_ends() {
    let amnesty = r#"[amnesty]
        enabled = true
        evaluation_period_end_date = "2026-10-25"
        amnesty_period_end_date = "2026-12-31""#;
    let conds = conditions(amnesty);
    let b = batch();
    // In the evaluation period: matched, no block date, amnesty granted (eligible condition);
    // the stolen condition is not eligible and blocks as usual.
    let r1 = run(&conds, &b, None, "2026-10-22").unwrap();
    let a: Vec<_> = rows(&r1)
        .into_iter()
        .filter(|r| r.0 == A || r.0 == S)
        .collect();
    assert_eq!(
        a,
        vec![
            row(A, "duplicate", "2026-10-22", "-", "-", true),
            row(A, "duplicate_sticky", "2026-10-22", "-", "-", false), // not eligible, informative
            row(S, "stolen", "2026-10-22", "-", "2026-10-22", false),
        ]
    );
    assert_eq!(r1.run.summary[0].blocking, 0);
    // Last day of evaluation: still no block date.
    let r2 = run(&conds, &b, Some(r1), "2026-10-25").unwrap();
    assert_eq!(
        rows(&r2)[0],
        row(A, "duplicate", "2026-10-22", "-", "-", true)
    );
    // In the amnesty period: the block date becomes the amnesty's end, not date + grace.
    let r3 = run(&conds, &b, Some(r2), "2026-10-26").unwrap();
    assert_eq!(
        rows(&r3)[0],
        row(A, "duplicate", "2026-10-22", "-", "2026-12-31", true)
    );
    // A device first matched after the evaluation period gets no amnesty.
    let mut b2 = b.clone();
    for (i, imsi) in ["400010000000011", "400010000000012", "400010000000013"]
        .iter()
        .enumerate()
    {
        b2.push(t(B, imsi, "2026-10-01", &[24 + i as u32]));
    }
    b2.sort_by_key(|t| (t.imei, t.imsi));
    let r4 = run(&conds, &b2, Some(r3), "2026-10-27").unwrap();
    let bdup: Vec<_> = rows(&r4)
        .into_iter()
        .filter(|r| r.0 == B && r.1 == "duplicate")
        .collect();
    assert_eq!(
        bdup,
        vec![row(B, "duplicate", "2026-10-27", "-", "2026-11-03", false)]
    );
}

#[test]
fn safety_stop_halts_and_writes_nothing() {
    let conds = Conditions::from_toml(
        r#"[[conditions]]
        label = "dup"
        blocking = true
        reason = "Duplicate"
        max_allowed_matching_ratio = 0.5
        dimensions = [{ module = "duplicate_threshold", parameters = { threshold = 1, period_days = 30 } }]"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path()).unwrap();
    match run(&conds, &batch(), None, "2026-10-31") {
        Err(ClassifyError::SafetyStop(v)) => {
            assert_eq!(v.len(), 1);
            assert_eq!(
                (v[0].label.as_str(), v[0].matched, v[0].imeis_seen),
                ("dup", 3, 3)
            );
            let msg = ClassifyError::SafetyStop(v).to_string();
            assert!(msg.contains("condition dup matches 3 of 3 IMEIs (1.0000), more than its max_allowed_matching_ratio 0.5"), "{msg}");
        }
        other => panic!("expected a safety stop, got {other:?}"),
    }
    assert!(store.current().unwrap().is_none());
    // Exactly at the ratio passes: 2 of 4 at 0.5 (DIRBS refuses only above).
    let mut b = batch();
    b.retain(|t| t.imei != ImeiKey::body(C));
    b.push(t(C, "", "2026-10-01", &[1]));
    b.push(t(S, "", "2026-10-01", &[1]));
    b.sort_by_key(|t| (t.imei, t.imsi));
    let r = run(&conds, &b, None, "2026-10-31").unwrap();
    assert_eq!(r.run.summary[0].matched, 2);
}

#[test]
fn removed_condition_closes_its_open_rows() {
    let conds = conditions("");
    let r1 = run(&conds, &batch(), None, "2026-10-15").unwrap();
    let only_stolen = Conditions::from_toml(
        r#"[[conditions]]
        label = "stolen"
        blocking = true
        reason = "Stolen"
        max_allowed_matching_ratio = 1.0
        dimensions = [{ module = "stolen_list" }]"#,
    )
    .unwrap();
    let r2 = run(&only_stolen, &batch(), Some(r1), "2026-10-16").unwrap();
    let c: Vec<_> = rows(&r2).into_iter().filter(|r| r.0 == C).collect();
    assert_eq!(
        c,
        vec![
            row(
                C,
                "duplicate",
                "2026-10-15",
                "2026-10-16",
                "2026-10-22",
                false
            ),
            row(
                C,
                "duplicate_sticky",
                "2026-10-15",
                "2026-10-16",
                "-",
                false
            ),
        ]
    );
}

#[test]
fn state_store_round_trips_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path()).unwrap();
    let conds = conditions("");
    let mut r1 = run(&conds, &batch(), None, "2026-10-15").unwrap();
    // A malformed IMEI row too.
    r1.rows.push(StateRow {
        imei: ImeiNorm::Raw("12AB".into()),
        condition: "stolen".into(),
        start: day("2026-10-01"),
        end: Some(day("2026-10-02")),
        block_date: None,
        amnesty: true,
        reason: "x".into(),
    });
    store.commit(&r1).unwrap();
    assert_eq!(store.current().unwrap().as_ref(), Some(&r1));
    assert_eq!(store.current_id().unwrap(), Some(1));
    // A run that does not follow the committed one is refused.
    assert!(store.commit(&r1).is_err());
    // A crash after writing run 2's files but before CURRENT: readers still see run 1; the
    // next commit cleans up and publishes.
    std::fs::write(dir.path().join("run-000002.parquet"), b"partial").unwrap();
    std::fs::write(dir.path().join(".run-000002.json.tmp"), b"partial").unwrap();
    assert_eq!(store.current().unwrap().map(|c| c.run.id), Some(1));
    let r2 = run(&conds, &batch(), store.current().unwrap(), "2026-10-22").unwrap();
    store.commit(&r2).unwrap();
    assert_eq!(store.current().unwrap().as_ref(), Some(&r2));
    assert!(!dir.path().join(".run-000002.json.tmp").exists());
    let c = store.current().unwrap().unwrap();
    assert_eq!(c.rows_of(&ImeiNorm::Body(C)).len(), 2);
    assert_eq!(c.rows_of(&ImeiNorm::Body(B)).len(), 0);
}

/// The parallel engine (chunks cut at IMEI boundaries, cursors over the memberships) decides
/// exactly as evaluating each IMEI on its own with the shipped conditions.
#[test]
fn parallel_engine_agrees_with_one_imei_at_a_time() {
    use ceir_domain::classify::{ImeiFacts, Scratch, TacInfo};
    use ceir_domain::observe::Generations;
    let conds = Conditions::from_toml(include_str!("../../ceir/conditions.toml")).unwrap();
    // A deterministic pseudo-random month: 5,000 IMEIs over 40 TACs, 1 to 14 SIMs each.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut catalog = ModelCatalog::default();
    for i in 0..40u32 {
        if i % 7 != 0 {
            catalog.insert(
                35_000_000 + i,
                TacInfo {
                    name: format!("M{i}"),
                    generations: Generations(if i % 3 == 0 { 1 } else { 7 }),
                    capability_known: true,
                    // Exempted types (the shipped conditions exempt modems), and none at all,
                    // which DIRBS's catalog join leaves out too.
                    device_type: match i % 5 {
                        0 => Some("Modem".into()),
                        1 => None,
                        _ => Some("Smartphone".into()),
                    },
                },
            );
        }
    }
    let rats = ["002", "006", "001|006", ""];
    let mut trips = Vec::new();
    let mut lists = Vec::new();
    for n in 0..5_000u64 {
        let body = (35_000_000 + next() % 40) * 1_000_000 + n;
        let sims = 1 + if next() % 10 == 0 { next() % 14 } else { 0 };
        for s in 0..sims {
            let step = if next() % 2 == 0 { 1 } else { next() % 5 + 1 };
            trips.push(Triplet {
                imei: ImeiKey::body(body),
                imsi: IdKey::parse(format!("40001{:010}", next() % 50_000).as_bytes()),
                msisdn: IdKey::parse(format!("99450{:07}", n * 100 + s * step).as_bytes()),
                operator: (next() % 3 == 0) as u16,
                month: day("2026-10-01"),
                days: (next() as u32 | 1) & 0x7fff_ffff,
                rat: RatSet::parse_dirbs(rats[(next() % 4) as usize].as_bytes()).unwrap(),
            });
        }
        match next() % 20 {
            0 => lists.push((body, ListFlags::STOLEN)),
            1..=5 => lists.push((body, ListFlags::REGISTERED)),
            6 => lists.push((body, ListFlags::MONITORING)),
            7 => lists.push((body, ListFlags::BARRED)),
            _ => {}
        }
    }
    lists.push((35_000_099_000_001, ListFlags::STOLEN)); // never seen
    trips.sort_by_key(|t| (t.imei, t.imsi, t.msisdn, t.operator));
    // Earlier months: 1,500 IMEIs seen only then (some on lists), and some of this month's
    // IMEIs seen before too, with other radio technologies.
    let mut history = Vec::new();
    for n in 0..2_000u64 {
        let body = if n < 1_500 {
            (35_000_000 + next() % 40) * 1_000_000 + 500_000 + n
        } else {
            trips[(next() % trips.len() as u64) as usize]
                .imei
                .as_body()
                .unwrap()
        };
        history.push(ImeiSeen {
            imei: ImeiKey::body(body),
            first_seen: day("2026-06-01").plus((next() % 60) as i32),
            last_seen: day("2026-08-30"),
            rat: RatSet::parse_dirbs(rats[(next() % 4) as usize].as_bytes()).unwrap(),
        });
        if n % 10 == 0 {
            lists.push((body, ListFlags::MONITORING));
        }
    }
    history.sort_by_key(|h| h.imei);
    history.dedup_by_key(|h| h.imei);
    let m = Memberships::from_lists(lists, vec![35_000_003]);
    let obs = Observations {
        operators: &["a".into(), "b".into()],
        raw_imeis: &[],
        triplets: &trips,
        history: &history,
    };
    let date = day("2026-10-31");
    let got = classify(Input {
        conditions: &conds,
        observations: obs,
        catalog: &catalog,
        memberships: &m,
        previous: None,
        date,
        analysis_date: date,
        safety_check: false,
    })
    .unwrap();
    // Every IMEI ever seen counts toward the safety stop's denominator.
    let mut ever: Vec<ImeiKey> = trips.iter().map(|t| t.imei).collect();
    ever.extend(history.iter().map(|h| h.imei));
    ever.sort_unstable();
    ever.dedup();
    assert_eq!(got.run.imeis_seen, ever.len() as u64);
    let mut want: Vec<(u64, String)> = Vec::new();
    let mut scratch = Scratch::default();
    let mut keys = ever.clone();
    keys.push(ImeiKey::body(35_000_099_000_001));
    keys.sort_unstable();
    keys.dedup();
    for k in keys {
        let body = k.as_body().unwrap();
        let f = ImeiFacts {
            imei: k,
            raw: None,
            triplets: obs.of(k),
            earlier: obs.earlier(k),
            model: catalog.get((body / 1_000_000) as u32),
            lists: m.of(k),
        };
        for c in &conds.conditions {
            if c.dimensions
                .iter()
                .all(|d| d.matches(&f, date, &mut scratch))
            {
                want.push((body, c.label.clone()));
            }
        }
    }
    let have: Vec<(u64, String)> = got
        .rows
        .iter()
        .map(|r| (r.imei.body().unwrap(), r.condition.clone()))
        .collect();
    assert_eq!(have, want);
    // Most conditions fire on this data, so the comparison is not between empty sets (malformed
    // and test IMEIs and transient sequences are absent; their fixtures are in ceir-domain).
    let fired: std::collections::BTreeSet<&str> = have.iter().map(|(_, c)| c.as_str()).collect();
    for label in [
        "stolen",
        "barred",
        "barred_tac",
        "gsma_not_found",
        "inconsistent_rat",
        "not_on_registration_list",
        "monitoring",
        "duplicate_mk1",
        "duplicate_daily_avg",
    ] {
        assert!(fired.contains(label), "{label} never fired: {fired:?}");
    }
}
