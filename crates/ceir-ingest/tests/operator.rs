//! Operator data import: the DIRBS checks, each failing in its own fixture; header variants;
//! gzip and zip; unreadable rows with their line numbers; bounded memory (spilled runs) giving
//! the same triplets; arbitrary bytes never panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, IdKey, ImeiKey, Region, Triplet};
use ceir_ingest::operator::checks::{evaluate, history, history_window, Disabled};
use ceir_ingest::operator::{
    read_operator_file, CheckResult, DailyCount, OperatorData, ReadOptions, Thresholds,
    DEFAULT_CHUNK,
};
use ceir_ingest::IngestError;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

const BASE: &str = "tests/fixtures/operator/azercell_20261001_20261031.csv";
const NAME: &str = "azercell_20261001_20261031.csv";

fn today() -> Day {
    Day::parse_iso("2026-11-21").unwrap()
}

fn base_lines() -> Vec<String> {
    std::fs::read_to_string(BASE)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn read_with(
    path: &Path,
    budget: usize,
    zero_tacs: Option<&HashSet<u32>>,
) -> Result<OperatorData, IngestError> {
    read_in(path, &Region::default_for("AZ").unwrap(), budget, zero_tacs)
}

fn read_in(
    path: &Path,
    region: &Region,
    budget: usize,
    zero_tacs: Option<&HashSet<u32>>,
) -> Result<OperatorData, IngestError> {
    // Every fixture is also read by three threads in chunks of a few lines: what they find
    // together must be what one thread finds alone, line numbers included.
    let one = read_as(path, region, budget, zero_tacs, 1, DEFAULT_CHUNK);
    let three = read_as(path, region, budget, zero_tacs, 3, 53);
    match (one, three) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.counts, b.counts);
            assert_eq!(a.daily, b.daily);
            assert_eq!(a.sketches, b.sketches);
            assert_eq!(a.malformed_rows, b.malformed_rows);
            assert_eq!(a.more_malformed, b.more_malformed);
            assert_eq!(a.unclean_ids, b.unclean_ids);
            assert_eq!(a.sha256, b.sha256);
            if a.runs == 0 && b.runs == 0 {
                assert_eq!(a.triplet_count, b.triplet_count);
            }
            assert_eq!(as_text(a), as_text(b));
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("one thread: {a:?}\nthree threads: {b:?}"),
    }
    read_as(path, region, budget, zero_tacs, 3, 53)
}

/// Triplets with malformed IMEIs as their text: raw indices depend on which thread came first.
fn as_text(data: OperatorData) -> Vec<(Option<u64>, String, Triplet)> {
    let raw = std::sync::Arc::clone(&data.raw_imeis);
    triplets(data)
        .into_iter()
        .map(|t| {
            let text = t
                .imei
                .raw_index()
                .map(|i| raw[i as usize].clone())
                .unwrap_or_default();
            (
                t.imei.as_body(),
                text,
                Triplet {
                    imei: ImeiKey(0),
                    ..t
                },
            )
        })
        .collect()
}

fn read_as(
    path: &Path,
    region: &Region,
    budget: usize,
    zero_tacs: Option<&HashSet<u32>>,
    workers: usize,
    chunk_bytes: usize,
) -> Result<OperatorData, IngestError> {
    // Kept: run files live until the triplets are merged, after this returns.
    let spill = tempfile::tempdir().unwrap().keep();
    let opts = ReadOptions {
        region,
        triplet_budget: budget,
        spill_dir: &spill,
        zero_tacs,
        workers,
        chunk_bytes,
    };
    read_operator_file(path, &opts, &mut |_| {})
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn failed(data: &OperatorData, history: &[DailyCount]) -> Vec<String> {
    checks(data, history)
        .into_iter()
        .filter(|c| !c.passed)
        .map(|c| c.key)
        .collect()
}

fn checks(data: &OperatorData, history: &[DailyCount]) -> Vec<CheckResult> {
    evaluate(
        &data.counts,
        (data.name.start, data.name.end),
        today(),
        &data.daily,
        history,
        &Thresholds::default(),
        &Disabled::default(),
    )
}

fn triplets(data: OperatorData) -> Vec<Triplet> {
    data.triplets().unwrap().map(Result::unwrap).collect()
}

#[test]
fn the_clean_fixture_passes_every_check() {
    let data = read_with(Path::new(BASE), 1000, None).unwrap();
    assert_eq!(data.name.operator, "azercell");
    assert_eq!(data.counts.rows, 20);
    assert_eq!(data.counts.malformed, 0);
    assert!(data.counts.has_rat);
    assert_eq!(data.sha256.len(), 64);
    assert_eq!(data.daily.len(), 5);
    assert_eq!(
        data.daily[0],
        DailyCount {
            day: Day::parse_iso("2026-10-01").unwrap().0,
            imeis: 1,
            imsis: 4,
            msisdns: 4,
            complete: Some(4),
        }
    );
    assert_eq!(failed(&data, &[]), Vec::<String>::new());
    let all = checks(&data, &[]);
    assert_eq!(
        all.iter().filter(|c| c.skipped.is_some()).count(),
        4,
        "{all:#?}"
    );
    let t = triplets(data);
    assert_eq!(t.len(), 20);
    assert!(t
        .windows(2)
        .all(|w| (w[0].month, w[0].imei, w[0].imsi, w[0].msisdn)
            < (w[1].month, w[1].imei, w[1].imsi, w[1].msisdn)));
}

/// Each case rewrites some rows of the clean fixture (20 rows; 1 bad row is 0.05, which the
/// 0.05 thresholds still accept) and names exactly the checks that must fail.
#[test]
fn each_check_fails_in_its_own_fixture() {
    type Edit = fn(&mut Vec<String>);
    fn set(lines: &mut [String], row: usize, col: usize, v: &str) {
        let mut f: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
        f[col] = v.to_owned();
        lines[row] = f.join(",");
    }
    let cases: Vec<(&str, &str, Edit, Vec<&str>)> = vec![
        (
            "null IMEI",
            NAME,
            |l| {
                set(l, 1, 1, "");
                set(l, 2, 1, "");
            },
            vec!["null_imei", "null"],
        ),
        (
            "null IMSI",
            NAME,
            |l| {
                set(l, 1, 2, "");
                set(l, 2, 2, "");
            },
            vec!["null_imsi", "null"],
        ),
        (
            "null MSISDN",
            NAME,
            |l| {
                set(l, 1, 3, "");
                set(l, 2, 3, "");
            },
            vec!["null_msisdn", "null"],
        ),
        (
            "null RAT",
            NAME,
            |l| {
                set(l, 1, 4, "");
                set(l, 2, 4, "");
            },
            vec!["null_rat", "null"],
        ),
        (
            "nulls combined",
            NAME,
            |l| {
                set(l, 1, 1, "");
                set(l, 2, 2, "");
            },
            vec!["null"],
        ),
        (
            "unclean IMEI",
            NAME,
            |l| {
                set(l, 1, 1, "ABCDE");
                set(l, 2, 1, "35693803564A809");
            },
            vec!["unclean_imei", "unclean"],
        ),
        (
            "unclean IMSI",
            NAME,
            |l| {
                set(l, 1, 2, "4000112");
                set(l, 2, 2, "4000112345678");
            },
            vec!["unclean_imsi", "unclean"],
        ),
        (
            "unclean combined",
            NAME,
            |l| {
                set(l, 1, 1, "ABCDE");
                set(l, 2, 2, "4000112");
            },
            vec!["unclean"],
        ),
        (
            "out-of-region IMSI",
            NAME,
            |l| {
                for r in 1..4 {
                    set(l, r, 2, "434041234567890");
                }
            },
            vec!["out_of_region_imsi", "out_of_region"],
        ),
        (
            "out-of-region MSISDN",
            NAME,
            |l| {
                for r in 1..4 {
                    set(l, r, 3, "998901234567");
                }
            },
            vec!["out_of_region_msisdn", "out_of_region"],
        ),
        (
            "out-of-region combined",
            NAME,
            |l| {
                set(l, 1, 2, "434041234567890");
                set(l, 2, 2, "434041234567890");
                set(l, 3, 3, "998901234567");
            },
            vec!["out_of_region"],
        ),
        (
            "non-home network",
            NAME,
            |l| {
                for r in 1..6 {
                    set(l, r, 2, "400021234567890");
                }
            },
            vec!["non_home_imsi"],
        ),
        (
            "row outside the file's dates",
            NAME,
            |l| set(l, 5, 0, "20261101"),
            vec!["data_daterange"],
        ),
        (
            "end date in the future",
            "azercell_20261001_20261130.csv",
            |_| {},
            vec!["end_date_future"],
        ),
        (
            "leading zeros stripped",
            NAME,
            |l| set(l, 1, 1, "135693803564380"),
            vec!["leading_zero"],
        ),
        (
            "unreadable rows",
            NAME,
            |l| {
                set(l, 1, 0, "2026-10-01");
                set(l, 2, 4, "008");
            },
            vec!["malformed"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, name, edit, want) in cases {
        let mut lines = base_lines();
        edit(&mut lines);
        let p = write(dir.path(), name, &lines);
        let data = read_with(&p, 1000, None).unwrap();
        assert_eq!(failed(&data, &[]), want, "{what}");
    }
}

/// DIRBS's `--disable-*-check` switches: each turns its group off (the checks pass, skipped,
/// saying who turned them off) and leaves the others running.
#[test]
fn disabled_checks_are_skipped_saying_so() {
    type Edit = fn(&mut Vec<String>);
    fn set(lines: &mut [String], row: usize, col: usize, v: &str) {
        let mut f: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
        f[col] = v.to_owned();
        lines[row] = f.join(",");
    }
    let all = Disabled::default();
    let cases: Vec<(Disabled, &str, Edit, Vec<&str>)> = vec![
        (
            Disabled { null: true, ..all },
            "--disable-null-check",
            |l| {
                set(l, 1, 1, "");
                set(l, 2, 2, "");
                set(l, 3, 3, "");
                set(l, 4, 4, "");
            },
            vec!["null_imei", "null_imsi", "null_msisdn", "null_rat", "null"],
        ),
        (
            Disabled { clean: true, ..all },
            "--disable-clean-check",
            |l| {
                set(l, 1, 1, "ABCDE");
                set(l, 2, 2, "4000112");
            },
            vec!["unclean_imei", "unclean_imsi", "unclean"],
        ),
        (
            Disabled {
                region: true,
                ..all
            },
            "--disable-region-check",
            |l| {
                for r in 1..4 {
                    set(l, r, 3, "998901234567");
                }
            },
            vec![
                "out_of_region_imsi",
                "out_of_region_msisdn",
                "out_of_region",
            ],
        ),
        (
            Disabled { home: true, ..all },
            "--disable-home-check",
            |l| {
                for r in 1..6 {
                    set(l, r, 2, "400021234567890");
                }
            },
            vec!["non_home_imsi"],
        ),
        (
            Disabled {
                leading_zero: true,
                ..all
            },
            "--disable-leading-zero-check",
            |l| set(l, 1, 1, "135693803564380"),
            vec!["leading_zero", "leading_zero_suspect"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (disabled, switch, edit, keys) in cases {
        let mut lines = base_lines();
        edit(&mut lines);
        let p = write(dir.path(), NAME, &lines);
        let data = read_with(&p, 1000, None).unwrap();
        assert!(!failed(&data, &[]).is_empty(), "{switch}: the edit fails");
        let run = |d: &Disabled| {
            evaluate(
                &data.counts,
                (data.name.start, data.name.end),
                today(),
                &data.daily,
                &[],
                &Thresholds::default(),
                d,
            )
        };
        let out = run(&disabled);
        assert!(out.iter().all(|c| c.passed), "{switch}: {out:#?}");
        let why = format!("disabled by operator of this node ({switch})");
        let skipped: Vec<&str> = out
            .iter()
            .filter(|c| c.skipped.as_deref() == Some(why.as_str()))
            .map(|c| c.key.as_str())
            .collect();
        assert_eq!(skipped, keys, "{switch}");
        assert_eq!(disabled.switches(), vec![switch]);
        let c = out.iter().find(|c| c.key == keys[0]).unwrap();
        assert!(
            c.describe().ends_with(&format!("skipped ({why})")),
            "{}",
            c.describe()
        );
        // Another group off leaves this one running.
        let other = Disabled {
            historic: true,
            ..all
        };
        assert!(run(&other).iter().any(|c| !c.passed), "{switch}");
    }
    // The historic checks, against a history this file falls short of.
    let data = read_with(Path::new(BASE), 1000, None).unwrap();
    let history: Vec<DailyCount> = (0..3)
        .map(|d| DailyCount {
            day: 20_000 + d,
            imeis: 40,
            imsis: 40,
            msisdns: 40,
            complete: None,
        })
        .collect();
    let off = Disabled {
        historic: true,
        ..all
    };
    let out = evaluate(
        &data.counts,
        (data.name.start, data.name.end),
        today(),
        &data.daily,
        &history,
        &Thresholds::default(),
        &off,
    );
    assert!(out.iter().all(|c| c.passed));
    assert_eq!(
        out.iter()
            .filter(|c| c.key.starts_with("historic_"))
            .filter(|c| c.skipped.as_deref()
                == Some("disabled by operator of this node (--disable-historic-check)"))
            .count(),
        3
    );
    assert_eq!(failed(&data, &history).len(), 3);
}

#[test]
fn unreadable_rows_are_listed_with_line_field_value_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = base_lines();
    lines[3] = "20261001,356938035643809,400011234567890".into();
    lines[7] = lines[7].replacen("20261004", "20261035", 1);
    lines[4] = lines[4].replace(",002", ",2");
    let p = write(dir.path(), NAME, &lines);
    let data = read_with(&p, 1000, None).unwrap();
    let shown: Vec<String> = data.malformed_rows.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "line 4, (row) \"20261001,356938035643809,400011234567890\": 3 fields where the header has 5",
            "line 5, rat \"2\": not DIRBS RAT codes (three digits each, 001-007 or 101-105, joined by |)",
            "line 8, date \"20261035\": not a date as yyyymmdd",
        ]
    );
    assert_eq!(data.counts.malformed, 3);
    assert_eq!(data.counts.rows, 17);
    let malformed = checks(&data, &[])
        .into_iter()
        .find(|c| c.key == "malformed")
        .unwrap();
    assert!(!malformed.passed);
    assert_eq!(malformed.measured, 0.15);
    assert_eq!(
        malformed.describe(),
        "unreadable rows: measured 0.1500 > threshold 0.0500 — FAILED"
    );
}

/// Rows are parsed by several threads in chunks: the first unreadable rows of the file are
/// listed, in order, with their own line numbers, whichever thread read them.
#[test]
fn unreadable_rows_keep_their_line_numbers_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = base_lines();
    let body = lines[1..].to_vec();
    for i in 0..200 {
        lines.push(body[i % body.len()].clone());
        if i % 7 == 3 {
            lines.push(format!("2026100{},bad", i % 9));
        }
    }
    // A row longer than any chunk, but not than a row may be: one more unreadable row.
    lines.push(format!("20261001,{}", "9".repeat(5000)));
    let p = write(dir.path(), NAME, &lines);
    let data = read_with(&p, 1000, None).unwrap();
    let expected: Vec<u64> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.ends_with(",bad") || l.len() > 1000)
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert_eq!(data.counts.malformed, expected.len() as u64);
    let shown: Vec<u64> = data.malformed_rows.iter().map(|e| e.line).collect();
    assert_eq!(shown, expected[..20]);
    assert_eq!(data.more_malformed, expected.len() as u64 - 20);
}

/// A line longer than a row may be (64 KiB) refuses the file, named by its line number, whether
/// it ends or not and wherever the chunks were cut.
#[test]
fn a_line_too_long_to_be_a_row_refuses_the_file_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    for ends in [true, false] {
        let mut lines = base_lines();
        lines.push(format!("20261001,{}", "7".repeat(70_000)));
        if ends {
            lines.extend(base_lines()[1..].iter().cloned());
        }
        let p = write(dir.path(), NAME, &lines);
        for chunk in [53, 4096, DEFAULT_CHUNK] {
            for workers in [1, 2, 3] {
                let err = read_as(
                    &p,
                    &Region::default_for("AZ").unwrap(),
                    1000,
                    None,
                    workers,
                    chunk,
                )
                .unwrap_err();
                let IngestError::Rows { errors, .. } = &err else {
                    panic!("{err}");
                };
                assert_eq!(errors.len(), 1);
                assert_eq!(
                    errors[0].line, 22,
                    "chunk {chunk}, {workers} threads: {err}"
                );
                assert!(errors[0].reason.contains("no line end within 65536 bytes"));
            }
        }
    }
}

/// DIRBS's schema: IMSIs and MSISDNs of 1 to 15 digits, dates from 2000 on. Anything else is an
/// unreadable row, named, kept out of the triplets and counted against the malformed threshold.
#[test]
fn identifiers_and_dates_outside_the_schema_are_unreadable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = base_lines();
    lines[2] = lines[2].replacen(",994501234501,", ",99450123450X,", 1);
    lines[3] = lines[3].replacen(",994501234502,", ",9945012345020000,", 1);
    lines[4] = lines[4].replacen(",400011234567803,", ",4000112345678O3,", 1);
    lines[5] = lines[5].replacen(",400011234567804,", ",4000112345678040,", 1);
    lines[6] = lines[6].replacen("20261001,", "19991001,", 1);
    let p = write(dir.path(), NAME, &lines);
    let data = read_with(&p, 1000, None).unwrap();
    let shown: Vec<String> = data.malformed_rows.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "line 3, msisdn \"99450123450X\": must be 1 to 15 digits",
            "line 4, msisdn \"9945012345020000\": must be 1 to 15 digits",
            "line 5, imsi \"4000112345678O3\": must be 1 to 15 digits",
            "line 6, imsi \"4000112345678040\": must be 1 to 15 digits",
            "line 7, date \"19991001\": a date before 2000",
        ]
    );
    assert_eq!((data.counts.rows, data.counts.malformed), (15, 5));
    assert_eq!(data.counts.unclean_imsi, 0);
    assert_eq!(failed(&data, &[]), vec!["malformed"]);

    // One such row is within the 5 % threshold: the file passes without it.
    let mut lines = base_lines();
    lines[2] = lines[2].replacen(",994501234501,", ",+994501234501,", 1);
    let p = write(dir.path(), NAME, &lines);
    let data = read_with(&p, 1000, None).unwrap();
    assert_eq!((data.counts.rows, data.counts.malformed), (19, 1));
    assert_eq!(failed(&data, &[]), Vec::<String>::new());
    let t = triplets(data);
    assert_eq!(t.len(), 19);
    // Line 3's IMEI is seen with that IMSI on no other line.
    let gone = (
        ImeiKey::body(35_693_803_564_381),
        IdKey::parse(b"400011234567801"),
    );
    assert!(!t.iter().any(|t| (t.imei, t.imsi) == gone));
}

#[test]
fn the_historic_check_compares_with_earlier_imports() {
    let data = read_with(Path::new(BASE), 1000, None).unwrap();
    // Earlier imports saw ~4 IMEIs a day: this file's 1 a day is under 90 % of that.
    let old = |day: i32, imeis: u64| DailyCount {
        day,
        imeis,
        imsis: 4,
        msisdns: 4,
        complete: None,
    };
    let newest = vec![old(20_000, 4), old(20_001, 4)];
    let older = vec![old(20_001, 100), old(19_999, 2)];
    let window = history_window(&[newest, older], 30);
    assert_eq!(
        window.iter().map(|d| (d.day, d.imeis)).collect::<Vec<_>>(),
        vec![(20_001, 4), (20_000, 4), (19_999, 2)]
    );
    assert_eq!(failed(&data, &window), vec!["historic_imei"]);
    let c = checks(&data, &window)
        .into_iter()
        .find(|c| c.key == "historic_imei")
        .unwrap();
    assert_eq!((c.measured, c.threshold), (1.0, 3.0));
    // Thirty days at most.
    let many: Vec<DailyCount> = (0..40).map(|d| old(d, 1)).collect();
    assert_eq!(history_window(&[many], 30).len(), 30);
    // The same file as its own history passes.
    let own = data.daily.clone();
    assert_eq!(failed(&data, &own), Vec::<String>::new());
}

/// DIRBS unites the sketches of every import that touched a day, and averages over the days on
/// which a complete triplet was seen.
#[test]
fn history_unites_every_imports_sketches_of_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let a = read_with(Path::new(BASE), 1000, None).unwrap();
    // The same days with other IMEIs, and a day whose one row has no MSISDN.
    let mut lines = base_lines();
    for l in &mut lines[1..] {
        *l = l.replacen(",35", ",36", 1).replacen(",86", ",87", 1);
    }
    lines.push("20261016,990000862471854,400011234567800,,001".into());
    let p = write(dir.path(), NAME, &lines);
    let b = read_with(&p, 1000, None).unwrap();
    assert_eq!(b.sketches.len(), 6);
    assert_eq!(b.sketches[5].complete, 0);
    let sketches: Vec<_> = a.sketches.iter().chain(&b.sketches).cloned().collect();
    let h = history(&sketches, &[], 30).unwrap();
    // Five days, newest first, each with both files' IMEIs: 2 a day where each file has 1. The
    // 16th, with no complete row, is not history.
    assert_eq!(
        h.iter()
            .map(|d| (d.day, d.imeis, d.imsis))
            .collect::<Vec<_>>(),
        a.daily
            .iter()
            .rev()
            .map(|d| (d.day, 2, 4))
            .collect::<Vec<_>>()
    );
    assert_eq!(history(&sketches, &[], 2).unwrap().len(), 2);
    // The same import twice changes nothing: a union is idempotent.
    let twice: Vec<_> = sketches.iter().chain(&a.sketches).cloned().collect();
    assert_eq!(history(&twice, &[], 30).unwrap(), h);
    // Counts of imports recorded without sketches fill the days no sketch covers.
    let legacy = DailyCount {
        day: a.daily[0].day - 1,
        imeis: 7,
        imsis: 7,
        msisdns: 7,
        complete: None,
    };
    let covered = DailyCount {
        day: a.daily[0].day,
        ..legacy
    };
    let h2 = history(&sketches, &[vec![legacy, covered]], 30).unwrap();
    assert_eq!(h2.len(), 6);
    assert_eq!(h2[4], h[4]);
    assert_eq!(h2[5], legacy);
    // A damaged sketch is named.
    let mut bad = a.sketches[0].clone();
    bad.imsi.truncate(10);
    let e = history(&[bad], &[], 30).unwrap_err();
    assert!(e.starts_with("the IMSI sketch of day 2026-10-01"), "{e}");
}

#[test]
fn leading_zero_suspects_are_checked_against_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = base_lines();
    // Three IMEIs of a 0-prefixed TAC written correctly, two with the 0 stripped.
    for l in &mut lines[1..4] {
        *l = l
            .replacen(",35693803564380", ",01234567000000", 1)
            .replacen(",35693803564381", ",01234567000001", 1)
            .replacen(",86011204080570", ",01234567000002", 1)
            .replacen(",35209900176148", ",01234567000003", 1);
    }
    lines[6] = "20261001,123456700000141,400011234567800,994501234500,001".into();
    lines[7] = "20261001,123456700000158,400011234567801,994501234501,001".into();
    let p = write(dir.path(), NAME, &lines);
    let zero_tacs: HashSet<u32> = [1_234_567].into();
    let data = read_with(&p, 1000, Some(&zero_tacs)).unwrap();
    assert_eq!((data.counts.leading_zero, data.counts.leading_one), (3, 2));
    assert_eq!(data.counts.zero_tac_suspect, Some(2));
    assert_eq!(failed(&data, &[]), vec!["leading_zero_suspect"]);
    let without = read_with(&p, 1000, None).unwrap();
    assert_eq!(failed(&without, &[]), Vec::<String>::new());
}

#[test]
fn header_order_and_case_gzip_and_zip_give_the_same_triplets() {
    let dir = tempfile::tempdir().unwrap();
    let base = read_with(Path::new(BASE), 1000, None).unwrap();
    let (counts, daily) = (base.counts.clone(), base.daily.clone());
    let want = triplets(base);

    // Columns reordered, header in capitals, quoted, a byte-order mark.
    let lines = base_lines();
    let mut reordered = vec!["\u{feff}\"RAT\",MSISDN,Imei,IMSI,DATE".to_owned()];
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        reordered.push(format!("{},{},{},{},{}", f[4], f[3], f[1], f[2], f[0]));
    }
    let sub = dir.path().join("reordered");
    std::fs::create_dir_all(&sub).unwrap();
    let p = write(&sub, NAME, &reordered);
    let r = read_with(&p, 1000, None).unwrap();
    assert_eq!(r.counts, counts);
    assert_eq!(r.daily, daily);
    assert_eq!(triplets(r), want);

    // gzip.
    let text = std::fs::read(BASE).unwrap();
    let gz = dir.path().join(format!("{NAME}.gz"));
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    e.write_all(&text).unwrap();
    e.finish().unwrap();
    let g = read_with(&gz, 1000, None).unwrap();
    assert_eq!(g.counts, counts);
    assert_eq!(g.name.operator, "azercell");
    assert_eq!(triplets(g), want);

    // zip with one entry, named as the archive.
    let zp = zip_file(
        dir.path(),
        "azercell_20261001_20261031.zip",
        &[("azercell_20261001_20261031.csv", &text)],
    );
    let zd = read_with(&zp, 1000, None).unwrap();
    assert_eq!(zd.counts, counts);
    assert_ne!(zd.sha256, read_with(&gz, 1000, None).unwrap().sha256);
    assert_eq!(triplets(zd), want);

    // Without a rat column, the RAT check is skipped and the RAT sets are empty.
    let norat: Vec<String> = lines
        .iter()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect();
    let sub = dir.path().join("norat");
    std::fs::create_dir_all(&sub).unwrap();
    let p = write(&sub, NAME, &norat);
    let n = read_with(&p, 1000, None).unwrap();
    assert!(!n.counts.has_rat);
    let c = checks(&n, &[])
        .into_iter()
        .find(|c| c.key == "null_rat")
        .unwrap();
    assert!(c.skipped.is_some());
    assert!(triplets(n).iter().all(|t| t.rat.is_empty()));
}

fn zip_file(dir: &Path, name: &str, members: &[(&str, &[u8])]) -> PathBuf {
    let zp = dir.join(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
    for (member, bytes) in members {
        z.start_file(*member, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    zp
}

/// DIRBS takes a zip holding exactly one file, named as the archive.
#[test]
fn a_zip_must_hold_one_file_named_as_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(BASE).unwrap();
    let zip_name = "azercell_20261001_20261031.zip";
    let two = zip_file(
        dir.path(),
        zip_name,
        &[
            ("azercell_20261001_20261031.csv", &text),
            ("bakcell_20261001_20261031.csv", &text),
        ],
    );
    let e = read_with(&two, 1000, None).unwrap_err();
    assert!(matches!(e, IngestError::Zip { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: not a usable zip archive: the archive holds 2 files \
             (azercell_20261001_20261031.csv, bakcell_20261001_20261031.csv); it must hold \
             exactly one, the data file",
            two.display()
        )
    );
    let misnamed = zip_file(dir.path(), zip_name, &[("data.csv", &text)]);
    let e = read_with(&misnamed, 1000, None).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "the archive's file is named \"data.csv\"; it must be named as the archive, \
             azercell_20261001_20261031.<extension>"
        ),
        "{e}"
    );
    let empty = zip_file(dir.path(), zip_name, &[]);
    let e = read_with(&empty, 1000, None).unwrap_err().to_string();
    assert!(e.ends_with("the archive holds no file"), "{e}");
}

#[test]
fn bad_headers_and_names_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        NAME,
        &["date,imei,imsi".into(), "20261001,1,2".into()],
    );
    let e = read_with(&p, 1000, None).unwrap_err().to_string();
    assert!(e.contains("lacks the column(s) msisdn"), "{e}");
    let p = write(dir.path(), NAME, &["date,imei,imsi,msisdn,cell".into()]);
    let e = read_with(&p, 1000, None).unwrap_err().to_string();
    assert!(e.contains("unknown column \"cell\""), "{e}");
    let p = write(dir.path(), NAME, &["date,imei,imsi,msisdn,imei".into()]);
    assert!(read_with(&p, 1000, None)
        .unwrap_err()
        .to_string()
        .contains("appears twice"));
    let p = write(dir.path(), "azercell.csv", &base_lines());
    assert!(read_with(&p, 1000, None)
        .unwrap_err()
        .to_string()
        .contains("<operator>_<yyyymmdd>_<yyyymmdd>"));
    let p = write(dir.path(), NAME, &[]);
    assert!(matches!(
        read_with(&p, 1000, None),
        Err(IngestError::Empty { .. })
    ));
}

#[test]
fn an_operator_not_in_the_region_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "telco_20261001_20261031.csv", &base_lines());
    let e = read_with(&p, 1000, None).unwrap_err();
    assert!(matches!(e, IngestError::Operator { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the operator \"telco\" of the file name is not one of this node's operators \
             (azercell, bakcell, nar, naxtel); add it with its MCC-MNCs under [region] in the \
             configuration, or correct the file name",
            p.display()
        )
    );
    let mut region = Region::default_for("AZ").unwrap();
    region.operators[0].mcc_mnc.clear();
    let p = write(dir.path(), NAME, &base_lines());
    let e = read_in(&p, &region, 1000, None).unwrap_err().to_string();
    assert!(
        e.contains("\"azercell\" has no MCC-MNC under [region]"),
        "{e}"
    );
}

/// DIRBS's out-of-region IMSI check uses this operator's MCCs, not every MCC of the region.
#[test]
fn out_of_region_imsis_are_those_outside_the_operators_own_mccs() {
    let dir = tempfile::tempdir().unwrap();
    let mut region = Region::default_for("AZ").unwrap();
    region.mccs.push("401".into());
    region.operators[1].mcc_mnc.push("40101".into());
    let mut lines = base_lines();
    for l in &mut lines[1..4] {
        *l = l.replacen(",40001", ",40101", 1);
    }
    let p = write(dir.path(), NAME, &lines);
    let data = read_in(&p, &region, 1000, None).unwrap();
    // Three IMSIs of MCC 401: in the region, but not of azercell's MCC 400.
    assert_eq!(data.counts.out_of_region_imsi, 3);
    assert_eq!(data.counts.non_home_imsi, 3);
    assert_eq!(
        failed(&data, &[]),
        vec!["out_of_region_imsi", "out_of_region"]
    );
    // The same file from bakcell, which also runs 401-01: both MCCs are its own.
    let p = write(dir.path(), "bakcell_20261001_20261031.csv", &lines);
    let data = read_in(&p, &region, 1000, None).unwrap();
    assert_eq!(data.counts.out_of_region_imsi, 0);
}

#[test]
fn spilled_runs_merge_to_the_same_triplets() {
    // Repeated triplets over several days and a spill every 3 triplets.
    let dir = tempfile::tempdir().unwrap();
    let mut lines = base_lines();
    let body: Vec<String> = lines[1..].to_vec();
    for (i, l) in body.iter().enumerate() {
        lines.push(format!("202610{:02}{}", 20 + i % 5, &l[8..]));
    }
    lines.push("20261003,abc123,400011234567800,,001".into());
    let p = write(dir.path(), NAME, &lines);
    let big = triplets(read_with(&p, 1_000_000, None).unwrap());
    let small = read_with(&p, 3, None).unwrap();
    assert!(small.runs > 5);
    assert_eq!(triplets(small), big);
    assert_eq!(big.len(), 21);
    // Every triplet of the base file is now seen on its own day and on a later one.
    assert!(big.iter().filter(|t| t.days.count_ones() == 2).count() == 20);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join(NAME);
            let mut bytes = b"date,imei,imsi,msisdn,rat\n".to_vec();
            bytes.extend(body);
            std::fs::write(&p, bytes).unwrap();
            if let Ok(d) = read_with(&p, 2, None) {
                let rows = d.counts.rows;
                let t = triplets(d);
                prop_assert!(t.len() as u64 <= rows);
            }
        }

        /// The same rows in any order give the same triplets and the same day sketches, which
        /// count a malformed IMEI by its text, not by the order it was met in.
        #[test]
        fn rows_in_any_order_give_the_same_triplets(seed in any::<u64>()) {
            let dir = tempfile::tempdir().unwrap();
            let mut lines = base_lines();
            // On different days: a day's sketch would otherwise hold the same set of indices.
            for (day, imei) in [(1, "abc123"), (2, "12345"), (4, "35693803564380X"), (5, "zz-9")] {
                lines.push(format!("2026100{day},{imei},400011234567801,994501234501,001"));
            }
            let ordered = write(dir.path(), "azercell_20261001_20261031.a.csv", &lines);
            let mut body = lines.split_off(1);
            let mut s = seed;
            for i in (1..body.len()).rev() {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                body.swap(i, (s >> 33) as usize % (i + 1));
            }
            lines.extend(body);
            let p = write(dir.path(), NAME, &lines);
            let (shuffled, base) = (read_with(&p, 4, None).unwrap(), read_with(&ordered, 1000, None).unwrap());
            prop_assert_eq!(&shuffled.sketches, &base.sketches);
            prop_assert_eq!(as_text(shuffled), as_text(base));
        }
    }
}
