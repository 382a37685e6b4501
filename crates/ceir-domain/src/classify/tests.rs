//! Hand-written fixtures for every dimension, with the expected verdict and explanation.

use super::*;
use crate::observe::{IdKey, RatSet};

fn day(s: &str) -> Day {
    Day::parse_iso(s).unwrap()
}

/// A triplet of `imei` seen on the given days of the month starting `month`.
fn t(
    imei: u64,
    imsi: &str,
    msisdn: &str,
    op: u16,
    month: &str,
    days: &[u32],
    rat: &str,
) -> Triplet {
    Triplet {
        imei: ImeiKey::body(imei),
        imsi: IdKey::parse(imsi.as_bytes()),
        msisdn: IdKey::parse(msisdn.as_bytes()),
        operator: op,
        month: day(month),
        days: days.iter().fold(0, |m, d| m | 1 << (d - 1)),
        rat: RatSet::parse_dirbs(rat.as_bytes()).unwrap(),
    }
}

fn facts<'a>(
    imei: u64,
    triplets: &'a [Triplet],
    model: Option<&'a TacInfo>,
    lists: ListFlags,
) -> ImeiFacts<'a> {
    ImeiFacts {
        imei: ImeiKey::body(imei),
        raw: None,
        triplets,
        earlier: None,
        model,
        lists,
    }
}

fn dim(module: &str, params: &str) -> DimensionSpec {
    let table: toml::Table = toml::from_str(params).unwrap();
    DimensionSpec {
        dimension: Dimension::from_parts(module, &table).unwrap(),
        invert: false,
    }
}

fn run(d: &DimensionSpec, f: &ImeiFacts<'_>, date: &str) -> (bool, String) {
    let m = d.measure(f, day(date), &mut Scratch::default());
    assert_eq!(m.matched, d.matches(f, day(date), &mut Scratch::default()));
    (m.matched, m.explain())
}

const IMEI: u64 = 35_693_803_564_380;

#[test]
fn malformed_imei() {
    let d = dim("malformed_imei", "");
    let trip = [t(IMEI, "400011", "99450", 0, "2026-10-01", &[1], "006")];
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-31"
        ),
        (false, "the IMEI has 14 digits".into())
    );
    let mut raw_trip = trip;
    raw_trip[0].imei = ImeiKey::raw(0);
    let f = ImeiFacts {
        imei: ImeiKey::raw(0),
        raw: Some("35693A0356438"),
        triplets: &raw_trip,
        earlier: None,
        model: None,
        lists: ListFlags::default(),
    };
    assert_eq!(
        run(&d, &f, "2026-10-31"),
        (true, "the IMEI is not 14 digits after normalisation".into())
    );
    // Never seen: not in DIRBS's network_imeis, so not classified.
    let f = ImeiFacts { triplets: &[], ..f };
    assert!(!run(&d, &f, "2026-10-31").0);
}

#[test]
fn is_test_tac() {
    let d = dim("is_test_tac", "");
    let cases: &[(&str, bool)] = &[
        ("00101234000000", true),  // 00 10 12
        ("00101734000000", true),  // 00 10 17
        ("00101834000000", false), // 00 10 18
        ("00100034000000", false), // 00 10 00
        ("00440000000001", true),
        ("00860000000001", true),
        ("00910000000001", true),
        ("00920000000001", false),
        ("01440000000001", false),
        ("35440000000001", false),
    ];
    for &(text, want) in cases {
        let imei = crate::observe::ImeiNorm::parse(text.as_bytes())
            .unwrap()
            .body()
            .unwrap();
        let trip = [t(imei, "400011", "", 0, "2026-10-01", &[1], "")];
        assert_eq!(
            run(
                &d,
                &facts(imei, &trip, None, ListFlags::default()),
                "2026-10-31"
            )
            .0,
            want,
            "{imei:014}"
        );
    }
    // A malformed IMEI whose first 8 characters are digits still counts, as in DIRBS.
    let trip = [t(0, "", "", 0, "2026-10-01", &[1], "")];
    let f = ImeiFacts {
        imei: ImeiKey::raw(0),
        raw: Some("0044123456"),
        triplets: &trip,
        earlier: None,
        model: None,
        lists: ListFlags::default(),
    };
    assert!(run(&d, &f, "2026-10-31").0);
    let f = ImeiFacts {
        raw: Some("0044A23456"),
        ..f
    };
    assert!(!run(&d, &f, "2026-10-31").0);
}

fn model(name: &str, gens: u8, known: bool, device_type: Option<&str>) -> TacInfo {
    TacInfo {
        name: name.into(),
        generations: Generations(gens),
        capability_known: known,
        device_type: device_type.map(Into::into),
    }
}

#[test]
fn gsma_not_found_with_reporting_body_delays() {
    let d = dim("gsma_not_found", "per_rbi_delays = { \"35\" = 10 }");
    // First seen 2026-10-05; RBI 35 delay 10 → counts from 2026-10-15.
    let trip = [t(IMEI, "400011", "", 0, "2026-10-01", &[5, 20], "")];
    let f = facts(IMEI, &trip, None, ListFlags::default());
    assert!(!run(&d, &f, "2026-10-14").0);
    let (m, e) = run(&d, &f, "2026-10-15");
    assert!(m);
    assert_eq!(e, "the TAC is not in the catalog; first seen 2026-10-05, reporting body 35 allows 10 days of allocation delay, so it counts from 2026-10-15 (classification date 2026-10-15)");
    // In the catalog: never.
    let info = model("Acme One", 1, true, None);
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, Some(&info), ListFlags::default()),
            "2026-10-31"
        ),
        (false, "the TAC is in the catalog".into())
    );
    // DIRBS defaults apply to other bodies (86 → 19 days); unknown bodies have no delay.
    let d = dim("gsma_not_found", "");
    let i86 = 86_000_000_000_001;
    let trip = [t(i86, "400011", "", 0, "2026-10-01", &[1], "")];
    assert!(
        !run(
            &d,
            &facts(i86, &trip, None, ListFlags::default()),
            "2026-10-19"
        )
        .0
    );
    assert!(
        run(
            &d,
            &facts(i86, &trip, None, ListFlags::default()),
            "2026-10-20"
        )
        .0
    );
    let i12 = 12_000_000_000_001;
    let trip = [t(i12, "400011", "", 0, "2026-10-01", &[1], "")];
    assert!(
        run(
            &d,
            &facts(i12, &trip, None, ListFlags::default()),
            "2026-10-01"
        )
        .0
    );
    // ignore_rbi_delays drops the defaults.
    let d = dim("gsma_not_found", "ignore_rbi_delays = true");
    let trip = [t(i86, "400011", "", 0, "2026-10-01", &[1], "")];
    assert!(
        run(
            &d,
            &facts(i86, &trip, None, ListFlags::default()),
            "2026-10-01"
        )
        .0
    );
}

#[test]
fn duplicate_threshold_counts_distinct_valid_imsis_in_the_window() {
    let d = dim("duplicate_threshold", "threshold = 3\nperiod_days = 10");
    // Date 2026-10-20: window 2026-10-11..2026-10-20.
    let trip = [
        t(
            IMEI,
            "400010000000001",
            "994500000001",
            0,
            "2026-10-01",
            &[11],
            "006",
        ),
        t(
            IMEI,
            "400010000000001",
            "994500000002",
            1,
            "2026-10-01",
            &[12],
            "006",
        ), // same IMSI again
        t(
            IMEI,
            "400010000000002",
            "994500000001",
            0,
            "2026-10-01",
            &[20],
            "006",
        ),
        t(
            IMEI,
            "400010000000003",
            "994500000001",
            0,
            "2026-10-01",
            &[10],
            "006",
        ), // day before the window
        t(
            IMEI,
            "40001000000000X",
            "994500000001",
            0,
            "2026-10-01",
            &[15],
            "006",
        ), // unclean IMSI
        t(IMEI, "", "994500000001", 0, "2026-10-01", &[15], "006"), // null IMSI
    ];
    let f = facts(IMEI, &trip, None, ListFlags::default());
    assert_eq!(
        run(&d, &f, "2026-10-20"),
        (
            false,
            "2 distinct valid IMSIs over 10 days (2026-10-11 to 2026-10-20; threshold 3)".into()
        )
    );
    // Window edges: on 10-19 day 10 is in and day 20 out; on 10-21 the window starts on day 12
    // (the second sighting of IMSI 1), on 10-22 on day 13.
    let count = |date: &str| run(&d, &f, date).1.split(' ').next().unwrap().to_owned();
    assert_eq!(count("2026-10-19"), "2");
    assert_eq!(count("2026-10-21"), "2");
    assert_eq!(count("2026-10-22"), "1");
    let d2 = dim("duplicate_threshold", "threshold = 2\nperiod_days = 10");
    assert!(run(&d2, &f, "2026-10-21").0);
    assert!(!run(&d2, &f, "2026-10-22").0);
    // use_msisdn counts MSISDNs instead.
    let d = dim(
        "duplicate_threshold",
        "threshold = 2\nperiod_days = 10\nuse_msisdn = true",
    );
    assert_eq!(
        run(&d, &f, "2026-10-20").1,
        "2 distinct valid MSISDNs over 10 days (2026-10-11 to 2026-10-20; threshold 2)"
    );
    assert!(run(&d, &f, "2026-10-20").0);
    // A window of months crosses month boundaries.
    let d = dim("duplicate_threshold", "threshold = 2\nperiod_months = 1");
    let trip = [
        t(IMEI, "400010000000001", "", 0, "2026-09-01", &[21], "006"),
        t(IMEI, "400010000000002", "", 0, "2026-10-01", &[2], "006"),
    ];
    let f = facts(IMEI, &trip, None, ListFlags::default());
    assert!(run(&d, &f, "2026-10-20").0); // window 2026-09-21..2026-10-20
    assert!(!run(&d, &f, "2026-10-21").0);
}

#[test]
fn duplicate_daily_avg_keeps_the_fraction() {
    let d = dim(
        "duplicate_daily_avg",
        "threshold = 2.0\nperiod_days = 30\nmin_seen_days = 3",
    );
    // Days 1..4; IMSI A every day, B on days 1,2 (twice: two operators, counted once), C day 3.
    let trip = [
        t(
            IMEI,
            "400010000000001",
            "",
            0,
            "2026-10-01",
            &[1, 2, 3, 4],
            "006",
        ),
        t(IMEI, "400010000000002", "", 0, "2026-10-01", &[1, 2], "006"),
        t(IMEI, "400010000000002", "", 1, "2026-10-01", &[1, 2], "006"),
        t(IMEI, "400010000000003", "", 0, "2026-10-01", &[3], "006"),
    ];
    let f = facts(IMEI, &trip, None, ListFlags::default());
    // 4 + 2 + 1 = 7 IMSI-days over 4 days = 1.75 < 2.
    assert_eq!(
        run(&d, &f, "2026-10-30"),
        (false, "7 IMSI-days over 4 days seen in the last 30 days: daily average 1.750 (threshold 2); seen on 4 days (minimum 3)".into())
    );
    // PostgreSQL divides SUM(bigint), a numeric, by a bigint: 1.75 meets 1.75 and 1.7, not 1.76.
    for (threshold, want) in [(1.75, true), (1.7, true), (1.76, false)] {
        let d = dim(
            "duplicate_daily_avg",
            &format!("threshold = {threshold}\nperiod_days = 30\nmin_seen_days = 3"),
        );
        assert_eq!(run(&d, &f, "2026-10-30").0, want, "threshold {threshold}");
    }
    // DIRBS's own case (test_averaging_duplicate_threshold_multiple_days): 11 IMSI-days over 6
    // days is 1.833, which meets 1.83.
    let days6: Vec<Triplet> = [&[1, 2, 3, 4, 5, 6][..], &[1, 2, 3][..], &[4, 5][..]]
        .iter()
        .enumerate()
        .map(|(i, days)| {
            t(
                IMEI,
                &format!("40001000000000{i}"),
                "",
                0,
                "2026-10-01",
                days,
                "006",
            )
        })
        .collect();
    let f6 = facts(IMEI, &days6, None, ListFlags::default());
    let d = dim(
        "duplicate_daily_avg",
        "threshold = 1.83\nperiod_days = 30\nmin_seen_days = 1",
    );
    assert!(run(&d, &f6, "2026-10-30").0);
    let d15 = dim(
        "duplicate_daily_avg",
        "threshold = 1.0\nperiod_days = 30\nmin_seen_days = 3",
    );
    assert!(run(&d15, &f, "2026-10-30").0);
    // min_seen_days: with a window covering only days 3 and 4, seen on 2 days < 3.
    let d = dim(
        "duplicate_daily_avg",
        "threshold = 1.0\nperiod_days = 2\nmin_seen_days = 2",
    );
    assert_eq!(run(&d, &f, "2026-10-04").1, "3 IMSI-days over 2 days seen in the last 2 days: daily average 1.500 (threshold 1); seen on 2 days (minimum 2)");
    assert!(run(&d, &f, "2026-10-04").0);
    let d = dim(
        "duplicate_daily_avg",
        "threshold = 1.0\nperiod_days = 3\nmin_seen_days = 3",
    );
    assert!(!run(&d, &f, "2026-10-05").0); // days 3,4 only
                                           // Configuration checks as DIRBS.
    assert!(Dimension::from_parts(
        "duplicate_daily_avg",
        &toml::from_str("threshold = 1.0\nperiod_days = 2\nmin_seen_days = 3").unwrap()
    )
    .is_err());
}

#[test]
fn transient_imei_needs_progression_one_operator_and_volume() {
    let d = dim("transient_imei", "period = 2\nnum_msisdns = 3");
    let trans = |ops: [u16; 3], msisdns: [&str; 3]| -> Vec<Triplet> {
        (0..3)
            .map(|i| {
                t(
                    IMEI,
                    "400010000000001",
                    msisdns[i],
                    ops[i],
                    "2026-10-01",
                    &[9, 10],
                    "006",
                )
            })
            .collect()
    };
    // 3 MSISDNs × 2 days = 6 MSISDN-days / 2 = 3 per day; 994500000010, 20, 30: step 10.
    let trip = trans([0, 0, 0], ["994500000010", "994500000020", "994500000030"]);
    let f = facts(IMEI, &trip, None, ListFlags::default());
    assert_eq!(
        run(&d, &f, "2026-10-10"),
        (true, "6 MSISDN-days over 2 days = 3 per day (threshold 3); 3 distinct MSISDNs in arithmetic progression (step 10); seen on 1 operator".into())
    );
    // Not a progression.
    let trip = trans([0, 0, 0], ["994500000010", "994500000020", "994500000031"]);
    assert!(
        !run(
            &d,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-10"
        )
        .0
    );
    // Two operators.
    let trip = trans([0, 1, 0], ["994500000010", "994500000020", "994500000030"]);
    let (m, e) = run(
        &d,
        &facts(IMEI, &trip, None, ListFlags::default()),
        "2026-10-10",
    );
    assert!(!m);
    assert!(e.ends_with("seen on more than one operator"), "{e}");
    // Window one day later: days 10 only within [10, 11]: 3 MSISDN-days / 2 = 1 < 3.
    let trip = trans([0, 0, 0], ["994500000010", "994500000020", "994500000030"]);
    assert!(
        !run(
            &d,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-11"
        )
        .0
    );
    // One MSISDN is no progression.
    let trip = vec![
        t(
            IMEI,
            "400010000000001",
            "994500000010",
            0,
            "2026-10-01",
            &[9, 10],
            "006"
        );
        1
    ];
    let d1 = dim("transient_imei", "period = 1\nnum_msisdns = 1");
    assert!(
        !run(
            &d1,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-10"
        )
        .0
    );
}

#[test]
fn inconsistent_rat_against_the_model() {
    let d = dim("inconsistent_rat", "");
    let trip = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "002|006")];
    let g2 = model("Acme Classic", 1, true, None);
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, Some(&g2), ListFlags::default()),
            "2026-10-31"
        ),
        (
            true,
            "observed on 2G/4G; Acme Classic supports only 2G, not 4G".into()
        )
    );
    let g24 = model("Acme Four", 1 | 4, true, None);
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, Some(&g24), ListFlags::default()),
            "2026-10-31"
        ),
        (false, "observed on 2G/4G; Acme Four supports 2G/4G".into())
    );
    // No manufacturer or model name: DIRBS leaves the TAC out.
    let unknown = model("Acme ?", 0, false, None);
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, Some(&unknown), ListFlags::default()),
            "2026-10-31"
        ),
        (false, "observed on 2G/4G; the catalog gives no manufacturer or model name for Acme ?, so it is left out (as DIRBS does)".into())
    );
    // A known model whose bands name nothing is capable of nothing (DIRBS's "unknown" bit).
    let no_bands = model("Acme Blank", 0, true, None);
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &trip, Some(&no_bands), ListFlags::default()),
            "2026-10-31"
        ),
        (true, "observed on 2G/4G; the catalog's bands for Acme Blank name no radio technology, so it counts as capable of none (as DIRBS does)".into())
    );
    // RATs from earlier months count: seen on 4G only in August.
    let only2g = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "002")];
    let mut f = facts(IMEI, &only2g, Some(&g2), ListFlags::default());
    assert!(!run(&d, &f, "2026-10-31").0);
    f.earlier = Some(ImeiSeen {
        imei: ImeiKey::body(IMEI),
        first_seen: day("2026-08-03"),
        last_seen: day("2026-08-09"),
        rat: RatSet::parse_dirbs(b"006").unwrap(),
    });
    assert!(run(&d, &f, "2026-10-31").0);
    // Not in the catalog: gsma_not_found's business.
    assert!(
        !run(
            &d,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-31"
        )
        .0
    );
    // Wi-Fi says nothing about the radio.
    let wifi = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "003")];
    assert!(
        !run(
            &d,
            &facts(IMEI, &wifi, Some(&g2), ListFlags::default()),
            "2026-10-31"
        )
        .0
    );
}

#[test]
fn list_dimensions() {
    let seen = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "")];
    let cases: &[(&str, ListFlags, bool, bool, &str)] = &[
        // module, lists, seen, expected, explanation
        (
            "stolen_list",
            ListFlags::STOLEN,
            false,
            true,
            "on the blocked list as stolen or lost: yes",
        ),
        (
            "stolen_list",
            ListFlags::BARRED,
            true,
            false,
            "on the blocked list as stolen or lost: no",
        ),
        (
            "exists_in_barred_list",
            ListFlags::BARRED,
            false,
            true,
            "on the barred list: yes",
        ),
        (
            "exists_in_monitoring_list",
            ListFlags::MONITORING,
            true,
            true,
            "on the monitoring list: yes",
        ),
        (
            "is_barred_tac",
            ListFlags::BARRED_TAC,
            true,
            true,
            "on the barred TAC list (its TAC): yes",
        ),
        (
            "is_barred_tac",
            ListFlags::BARRED_TAC,
            false,
            false,
            "on the barred TAC list (its TAC): yes; never seen on any network",
        ),
    ];
    for &(module, lists, is_seen, want, text) in cases {
        let d = dim(module, "");
        let trip: &[Triplet] = if is_seen { &seen } else { &[] };
        assert_eq!(
            run(&d, &facts(IMEI, trip, None, lists), "2026-10-31"),
            (want, text.into()),
            "{module}"
        );
    }
}

#[test]
fn not_on_registration_list_with_exempt_device_types() {
    let d = dim(
        "not_on_registration_list",
        "exempted_device_types = [\"Modem\", \"IoT Device\"]",
    );
    let seen = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "")];
    let phone = model("Acme", 1, true, Some("Smartphone"));
    let modem = model("Acme M", 1, true, Some("modem"));
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &seen, Some(&phone), ListFlags::default()),
            "2026-10-31"
        ),
        (
            true,
            "on the registration list: no; device type Smartphone".into()
        )
    );
    assert!(
        !run(
            &d,
            &facts(IMEI, &seen, Some(&phone), ListFlags::REGISTERED),
            "2026-10-31"
        )
        .0
    );
    // Device types compare exactly, as DIRBS's `device_type NOT IN (...)`: "modem" is not "Modem".
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &seen, Some(&modem), ListFlags::default()),
            "2026-10-31"
        ),
        (
            true,
            "on the registration list: no; device type modem".into()
        )
    );
    let modem = model("Acme M", 1, true, Some("Modem"));
    assert_eq!(
        run(
            &d,
            &facts(IMEI, &seen, Some(&modem), ListFlags::default()),
            "2026-10-31"
        ),
        (
            false,
            "on the registration list: no; device type Modem (exempted)".into()
        )
    );
    // With types exempted, DIRBS joins the catalog: a TAC it lacks, or a model with no device
    // type, drops out.
    let untyped = model("Acme U", 1, true, None);
    for m in [None, Some(&untyped)] {
        assert_eq!(
            run(
                &d,
                &facts(IMEI, &seen, m, ListFlags::default()),
                "2026-10-31"
            ),
            (
                false,
                "on the registration list: no; device type unknown, so left out while device types are exempted (as DIRBS does)".into()
            )
        );
    }
    // Without exempted types there is no join: an uncatalogued TAC is simply unregistered.
    let plain = dim("not_on_registration_list", "");
    assert!(
        run(
            &plain,
            &facts(IMEI, &seen, None, ListFlags::default()),
            "2026-10-31"
        )
        .0
    );
    assert!(
        !run(
            &d,
            &facts(IMEI, &[], None, ListFlags::default()),
            "2026-10-31"
        )
        .0
    );
}

#[test]
fn inverted_dimensions_match_only_seen_imeis() {
    let mut d = dim("stolen_list", "");
    d.invert = true;
    let seen = [t(IMEI, "400011", "", 0, "2026-10-01", &[1], "")];
    let (m, e) = run(
        &d,
        &facts(IMEI, &seen, None, ListFlags::default()),
        "2026-10-31",
    );
    assert!(m);
    assert_eq!(
        e,
        "inverted (matches when the dimension does not): on the blocked list as stolen or lost: no"
    );
    assert!(
        !run(
            &d,
            &facts(IMEI, &[], None, ListFlags::default()),
            "2026-10-31"
        )
        .0
    );
    assert!(
        !run(
            &d,
            &facts(IMEI, &seen, None, ListFlags::STOLEN),
            "2026-10-31"
        )
        .0
    );
}

#[test]
fn conditions_file_parses_and_refuses_mistakes() {
    let ok = r#"
        [amnesty]
        enabled = true
        evaluation_period_end_date = "2026-10-31"
        amnesty_period_end_date = "20261231"

        [[conditions]]
        label = "duplicate_mk1"
        grace_period_days = 60
        blocking = true
        sticky = true
        reason = "Duplicate IMEI detected"
        max_allowed_matching_ratio = 0.2
        amnesty_eligible = true
        [[conditions.dimensions]]
        module = "duplicate_threshold"
        parameters = { threshold = 5, period_days = 30 }
        [[conditions.dimensions]]
        module = "is_test_tac"
        invert = true
    "#;
    let c = Conditions::from_toml(ok).unwrap();
    assert_eq!(
        c.amnesty.evaluation_period_end_date,
        Some(day("2026-10-31"))
    );
    assert!(c.amnesty.in_evaluation(day("2026-10-31")));
    assert!(!c.amnesty.in_evaluation(day("2026-11-01")));
    assert!(c.amnesty.in_amnesty_period(day("2026-11-01")));
    assert!(c.amnesty.in_amnesty_period(day("2026-12-31")));
    assert!(!c.amnesty.in_amnesty_period(day("2027-01-01")));
    let cond = &c.conditions[0];
    assert_eq!(cond.dimensions.len(), 2);
    assert!(cond.dimensions[1].invert);
    assert_eq!(c.lookback_days(), 30);

    let bad: &[(&str, &str)] = &[
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='nope'}]", "unknown dimension module"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[]", "at least one dimension"),
        ("[[conditions]]\nlabel='a'\nreason='r'\nmax_allowed_matching_ratio=1.5\ndimensions=[{module='is_test_tac'}]", "max_allowed_matching_ratio"),
        ("[[conditions]]\nlabel='a b'\nreason='r'\ndimensions=[{module='is_test_tac'}]", "label"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='is_test_tac', parameters={x=1}}]", "unknown field"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='duplicate_threshold', parameters={threshold=2}}]", "exactly one of period_days"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='transient_imei', parameters={period=0, num_msisdns=2}}]", "period must be a positive"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='gsma_not_found', parameters={per_rbi_delays={'3'=1}}}]", "2 digits"),
        ("[amnesty]\nenabled=true\nevaluation_period_end_date='2026-10-31'\namnesty_period_end_date='2026-10-31'", "must be after"),
        ("[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='is_test_tac'}]\n[[conditions]]\nlabel='a'\nreason='r'\ndimensions=[{module='is_test_tac'}]", "used twice"),
    ];
    for (text, want) in bad {
        let e = Conditions::from_toml(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn catalog_unions_generations_per_model_and_memberships_flag() {
    use crate::catalog::RadioSet;
    let tm = |tac: &str, model: &str, radios: RadioSet| TacModel {
        tac: crate::Tac::parse(tac).unwrap(),
        brand: "Acme".into(),
        model: model.into(),
        marketing_name: None,
        manufacturer: Some("Acme Ltd".into()),
        device_type: Some("Smartphone".into()),
        os: None,
        bands: None,
        radio_interface: None,
        allocation_date: None,
        radios,
    };
    let models = [
        tm("35693803", "X1", RadioSet::G2),
        tm("35693804", "X1", RadioSet::G4),
        tm("35000000", "", RadioSet::G2),
    ];
    let cat = ModelCatalog::from_models(&models);
    assert_eq!(cat.get(35_693_803).unwrap().generations, Generations(1 | 4));
    assert!(cat.get(35_693_803).unwrap().capability_known);
    assert!(!cat.get(35_000_000).unwrap().capability_known);
    assert_eq!(cat.len(), 3);

    let mut m = Memberships::default();
    m.insert(IMEI, ListFlags::STOLEN);
    m.insert(IMEI, ListFlags::MONITORING);
    m.bar_tac(35_693_803);
    assert_eq!(
        m.of(ImeiKey::body(IMEI)).names(),
        vec!["stolen/lost", "monitoring", "barred TAC"]
    );
    assert_eq!(m.of(ImeiKey::raw(1)), ListFlags::default());
    assert_eq!(m.unseen_candidates().collect::<Vec<_>>(), vec![IMEI]);
}

#[test]
fn month_windows_clamp_like_relativedelta() {
    assert_eq!(
        Period::Months(1).window(day("2026-03-30")),
        (day("2026-02-28"), day("2026-03-30"))
    );
    assert_eq!(
        Period::Days(1).window(day("2026-03-30")),
        (day("2026-03-30"), day("2026-03-30"))
    );
    assert_eq!(
        Period::Months(12).window(day("2026-01-15")),
        (day("2025-01-16"), day("2026-01-15"))
    );
}

#[test]
fn only_valid_imsis_and_msisdns_count_as_dirbs_defines_them() {
    // IMSIs: 14 or 15 digits; MSISDNs: 12 to 15 (DIRBS is_valid_imsi, is_valid_msisdn).
    let trip = [
        t(
            IMEI,
            "4000100000001",
            "99450000001",
            0,
            "2026-10-01",
            &[1],
            "",
        ), // 13, 11
        t(
            IMEI,
            "40001000000002",
            "994500000002",
            0,
            "2026-10-01",
            &[1],
            "",
        ), // 14, 12
        t(
            IMEI,
            "400010000000003",
            "994500000003",
            0,
            "2026-10-01",
            &[1],
            "",
        ), // 15, 12
        t(
            IMEI,
            "4000100000000041",
            "9945000000041234",
            0,
            "2026-10-01",
            &[1],
            "",
        ), // 16: unclean
    ];
    let f = facts(IMEI, &trip, None, ListFlags::default());
    for (use_msisdn, want) in [
        (false, "2 distinct valid IMSIs"),
        (true, "2 distinct valid MSISDNs"),
    ] {
        let d = dim(
            "duplicate_threshold",
            &format!("threshold = 2\nperiod_days = 30\nuse_msisdn = {use_msisdn}"),
        );
        let (m, e) = run(&d, &f, "2026-10-30");
        assert!(m);
        assert!(e.starts_with(want), "{e}");
    }
    assert!(IdKey::parse(b"40001000000002").is_valid_imsi());
    assert!(!IdKey::parse(b"4000100000001").is_valid_imsi());
    assert!(IdKey::parse(b"994500000002").is_valid_msisdn());
    assert!(!IdKey::parse(b"99450000001").is_valid_msisdn());
    assert!(!IdKey::parse(b"").is_valid_msisdn());
}

#[test]
fn transient_progression_takes_every_numeric_msisdn() {
    // Valid MSISDNs make the volume; an 11-digit one still breaks the progression, as DIRBS's
    // have_arithmetic_progression reads every MSISDN of the IMEI.
    let d = dim("transient_imei", "period = 1\nnum_msisdns = 2");
    let trip = [
        t(
            IMEI,
            "400010000000001",
            "994500000010",
            0,
            "2026-10-01",
            &[10],
            "",
        ),
        t(
            IMEI,
            "400010000000001",
            "994500000020",
            0,
            "2026-10-01",
            &[10],
            "",
        ),
    ];
    assert!(
        run(
            &d,
            &facts(IMEI, &trip, None, ListFlags::default()),
            "2026-10-10"
        )
        .0
    );
    let mut broken = trip.to_vec();
    broken.push(t(
        IMEI,
        "400010000000001",
        "99450000007",
        0,
        "2026-10-01",
        &[10],
        "",
    ));
    let (m, e) = run(
        &d,
        &facts(IMEI, &broken, None, ListFlags::default()),
        "2026-10-10",
    );
    assert!(!m);
    assert!(
        e.contains("3 distinct MSISDNs not in arithmetic progression"),
        "{e}"
    );
}

#[test]
fn earlier_months_make_an_imei_seen_with_its_first_sighting() {
    // Not in the loaded months at all, but seen in June: DIRBS's network_imeis still has it.
    let earlier = ImeiSeen {
        imei: ImeiKey::body(IMEI),
        first_seen: day("2026-06-10"),
        last_seen: day("2026-06-12"),
        rat: RatSet::parse_dirbs(b"002").unwrap(),
    };
    let mut f = facts(IMEI, &[], None, ListFlags::default());
    assert!(!f.seen());
    f.earlier = Some(earlier);
    assert!(f.seen());
    // RBI 01 allows 40 days: first seen 2026-06-10, so it counts from 2026-07-20.
    let i01 = 1_000_000_000_001;
    let mut f = facts(i01, &[], None, ListFlags::default());
    f.earlier = Some(ImeiSeen {
        imei: ImeiKey::body(i01),
        ..earlier
    });
    let d = dim("gsma_not_found", "");
    assert!(!run(&d, &f, "2026-07-19").0);
    assert!(run(&d, &f, "2026-07-20").0);
    // A later sighting in the loaded months does not move the first one.
    let trip = [t(i01, "400010000000001", "", 0, "2026-10-01", &[1], "")];
    f.triplets = &trip;
    assert_eq!(f.first_seen(), Some(day("2026-06-10")));
    // Monitoring, like every list dimension but stolen and barred, needs a sighting.
    let d = dim("exists_in_monitoring_list", "");
    assert!(
        !run(
            &d,
            &facts(IMEI, &[], None, ListFlags::MONITORING),
            "2026-10-31"
        )
        .0
    );
    let mut fm = facts(IMEI, &[], None, ListFlags::MONITORING);
    fm.earlier = Some(earlier);
    assert!(run(&d, &fm, "2026-10-31").0);
}

#[test]
fn malformed_imeis_keep_their_tac_and_conditions_default_to_30_days_grace() {
    assert_eq!(tac_of(ImeiKey::body(IMEI), None), Some(35_693_803));
    assert_eq!(
        tac_of(ImeiKey::raw(0), Some("35693803ABC")),
        Some(35_693_803)
    );
    assert_eq!(tac_of(ImeiKey::raw(0), Some("3569380")), None);
    assert_eq!(tac_of(ImeiKey::raw(0), Some("3569A803123")), None);
    let c = Conditions::from_toml(
        r#"
        [[conditions]]
        label = "x"
        reason = "x"
        blocking = true
        dimensions = [{ module = "malformed_imei" }]
        "#,
    )
    .unwrap();
    assert_eq!(c.conditions[0].grace_period_days, 30);
}

mod patched_memberships {
    use super::*;
    use proptest::prelude::*;

    /// (body or TAC, which list) in a small range, so that subjects repeat and collide.
    fn entries() -> impl Strategy<Value = Vec<(u64, u8)>> {
        proptest::collection::vec((0u64..40, 0u8..5), 0..60)
    }

    fn flag(k: u8) -> ListFlags {
        [
            ListFlags::STOLEN,
            ListFlags::REGISTERED,
            ListFlags::BARRED,
            ListFlags::MONITORING,
        ][usize::from(k % 4)]
    }

    /// Memberships as lists would give them: code 4 is a barred TAC, others an IMEI list.
    fn build(v: &[(u64, u8)]) -> Memberships {
        let imeis = v
            .iter()
            .filter(|e| e.1 != 4)
            .map(|&(b, k)| (b, flag(k)))
            .collect();
        let tacs = v.iter().filter(|e| e.1 == 4).map(|e| e.0 as u32).collect();
        Memberships::from_lists(imeis, tacs)
    }

    proptest! {
        /// Patching the changed subjects of an old copy gives what reading everything anew
        /// gives.
        #[test]
        fn patching_equals_rebuilding(old in entries(), new in entries(), extra in proptest::collection::vec(0u64..40, 0..10)) {
            // The subjects that changed: any whose entries differ, plus some that did not.
            let imei_rows = |v: &[(u64, u8)], b: u64| {
                let mut r: Vec<u8> = v.iter().filter(|e| e.0 == b && e.1 != 4).map(|e| e.1 % 4).collect();
                r.sort_unstable();
                r.dedup();
                r
            };
            let tac_on = |v: &[(u64, u8)], t: u64| v.iter().any(|e| e.0 == t && e.1 == 4);
            let mut imeis: Vec<u64> = (0..40).filter(|b| imei_rows(&old, *b) != imei_rows(&new, *b)).collect();
            let mut tacs: Vec<u32> = (0..40).filter(|t| tac_on(&old, *t) != tac_on(&new, *t)).map(|t| t as u32).collect();
            imeis.extend(&extra);
            tacs.extend(extra.iter().map(|t| *t as u32));
            // What a store gives for those subjects now.
            let fresh: Vec<(u64, u8)> = new.iter().copied().filter(|e| imeis.contains(&e.0) || tacs.contains(&(e.0 as u32))).collect();
            // Ascending by body, repeats kept, as a store's rows for those subjects come.
            let mut fi: Vec<(u64, ListFlags)> = fresh.iter().filter(|e| e.1 != 4).map(|&(b, k)| (b, flag(k))).collect();
            fi.sort_by_key(|e| e.0);
            let ft: Vec<u32> = fresh.iter().filter(|e| e.1 == 4).map(|e| e.0 as u32).collect();
            imeis.sort_unstable();
            imeis.dedup();
            let old = build(&old);
            let (oi, ot) = old.parts();
            let pi: Vec<(u64, ListFlags)> = patch_sorted(oi.iter().copied(), &imeis, fi.into_iter()).collect();
            let pt = patch_tacs(ot.to_vec(), &tacs, &ft);
            let want = build(&new);
            prop_assert_eq!((&pi[..], &pt[..]), want.parts());
        }
    }

    #[test]
    fn a_subject_read_again_off_every_list_is_dropped() {
        let m = build(&[(1, 0), (1, 1), (2, 1), (7, 4), (8, 4)]);
        let (oi, ot) = m.parts();
        let fresh = [
            (3, ListFlags::BARRED),
            (3, ListFlags::STOLEN),
            (4, ListFlags::BARRED),
        ];
        let i: Vec<_> = patch_sorted(oi.iter().copied(), &[1, 3], fresh.into_iter()).collect();
        assert_eq!(i, [(2, ListFlags::REGISTERED), (3, ListFlags(5))]);
        assert_eq!(patch_tacs(ot.to_vec(), &[7], &[]), [8]);
    }
}

mod fast_path {
    use super::*;
    use proptest::prelude::*;

    /// (IMSI index, MSISDN index, operator, September or October, days bitmap).
    fn triplets() -> impl Strategy<Value = Vec<(u8, u8, u16, bool, u32)>> {
        proptest::collection::vec((0u8..6, 0u8..6, 0u16..2, any::<bool>(), any::<u32>()), 0..8)
    }

    fn dimension() -> impl Strategy<Value = Dimension> {
        prop_oneof![
            (0u32..6, 1u32..40, any::<bool>()).prop_map(|(threshold, days, use_msisdn)| {
                Dimension::DuplicateThreshold {
                    threshold,
                    period: Period::Days(days),
                    use_msisdn,
                }
            }),
            (0u32..12, 1u32..40, 0u32..8, any::<bool>()).prop_map(
                |(t, days, min_seen_days, use_msisdn)| Dimension::DuplicateDailyAvg {
                    threshold: f64::from(t) / 2.0,
                    period: Period::Days(days),
                    min_seen_days,
                    use_msisdn,
                }
            ),
            (1u32..40, 0u32..6).prop_map(|(period_days, num_msisdns)| {
                Dimension::TransientImei {
                    period_days,
                    num_msisdns,
                }
            }),
        ]
    }

    proptest! {
        /// The engine's verdict, which skips devices with too few triplets, is the full
        /// measurement's verdict, inverted or not.
        #[test]
        fn matches_is_measure(rows in triplets(), d in dimension(), invert in any::<bool>()) {
            let trip: Vec<Triplet> = rows
                .iter()
                .map(|&(i, m, op, oct, days)| Triplet {
                    imei: ImeiKey::body(35_693_803_564_380),
                    imsi: IdKey::parse(format!("40001123456789{i}").as_bytes()),
                    msisdn: IdKey::parse(format!("99450123456{m}").as_bytes()),
                    operator: op,
                    month: day(if oct { "2026-10-01" } else { "2026-09-01" }),
                    days: if oct { days & 0x7fff_ffff } else { days & 0x3fff_ffff },
                    rat: RatSet::default(),
                })
                .collect();
            let f = facts(35_693_803_564_380, &trip, None, ListFlags::default());
            let spec = DimensionSpec { dimension: d, invert };
            let mut s = Scratch::default();
            let date = day("2026-10-31");
            prop_assert_eq!(spec.matches(&f, date, &mut s), spec.measure(&f, date, &mut s).matched);
        }
    }
}
