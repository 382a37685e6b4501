//! Two runs of list generation over a hand-written scenario that exercises every change type,
//! compared file by file with the expected lists in `tests/fixtures/two_runs/`; manifests and
//! signatures under tampering; recovery from a killed run.
//!
//! Expected files are the CSVs with rows; every other generated CSV must be its header alone.
//! `CEIR_BLESS=1 cargo test -p ceir-lists --test lists` rewrites them (review the diff).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, IdKey, ImeiKey, ImeiNorm, RatSet, Region, Triplet};
use ceir_lists::{
    compute, publish, verify, Condition, ListConfig, ListInput, Lists, NodeKey, Pairing, Problem,
    PublishMeta, Row,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

const A: u64 = 35_000_000_000_001; // stolen, blocked in both runs
const B: u64 = 35_000_000_000_002; // blocked, then leaves the condition: unblocked
const C: u64 = 35_000_000_000_003; // duplicate, then also stolen: changed
const G: u64 = 35_000_000_000_004; // golden: never listed
const N1: u64 = 35_000_000_000_010; // in grace, then its block date comes: blacklisted
const N2: u64 = 35_000_000_000_011; // a roamer's SIM (no known operator), then a bakcell SIM
const N3: u64 = 35_000_000_000_012; // notified, then paired: resolved, exception added
const N4: u64 = 35_000_000_000_013; // notified, then leaves the condition: resolved
const N5: u64 = 35_000_000_000_014; // notified, then its block date moves: changed
const G2: u64 = 35_000_000_000_015; // golden, in grace: never notified
const P1: u64 = 35_000_000_000_020; // paired with a bakcell SIM, then unpaired: removed
const P2: u64 = 35_000_000_000_021; // paired with a roamer's SIM: every operator's exceptions
const P3: u64 = 35_000_000_000_022; // paired but barred: on no exception list
const P4: u64 = 49_000_000_000_023; // paired, of a barred TAC: on no exception list

const AZERCELL_1: &str = "400011111111111";
const AZERCELL_3: &str = "400013333333333";
const BAKCELL_2: &str = "400022222222222";
const NAR_4: &str = "400044444444444";
const NAXTEL_5: &str = "400065555555555";
const ROAMER: &str = "434051234567890";

fn day(s: &str) -> Day {
    Day::parse_iso(s).unwrap()
}
fn id(s: &str) -> IdKey {
    IdKey::parse(s.as_bytes())
}

struct Scenario {
    date: Day,
    /// The end of the lookback window when not the list date.
    lookback_end: Option<Day>,
    rows: Vec<(ImeiNorm, &'static str, Option<Day>, Option<Day>)>,
    triplets: Vec<Triplet>,
    operators: Vec<String>,
    raw: Vec<String>,
    pairings: Vec<Pairing>,
}

fn conditions() -> Vec<Condition> {
    let c = |label: &str, reason: &str, blocking| Condition {
        label: label.into(),
        reason: reason.into(),
        blocking,
    };
    vec![
        c("stolen_list", "stolen", true),
        c("duplicate_mk1", "duplicate", true),
        c("not_on_registration_list", "not_registered", true),
        c("monitoring", "monitored", false),
    ]
}

/// A triplet seen on `days` (day numbers in October 2026) on `op` (index into the batch's table).
fn seen(imei: ImeiKey, imsi: &str, msisdn: &str, op: u16, days: &[u32]) -> Triplet {
    Triplet {
        imei,
        imsi: id(imsi),
        msisdn: id(msisdn),
        operator: op,
        month: day("2026-10-01"),
        days: days.iter().fold(0, |m, d| m | 1 << (d - 1)),
        rat: RatSet::EMPTY,
    }
}

fn run1() -> Scenario {
    let d1 = day("2026-11-01");
    let b = |imei: u64| ImeiNorm::Body(imei);
    let grace = Some(d1.plus(30));
    let rows = vec![
        (b(A), "stolen_list", None, Some(d1)),
        (b(B), "stolen_list", None, Some(d1.plus(-3))),
        (b(C), "duplicate_mk1", None, Some(d1)),
        (b(G), "stolen_list", None, Some(d1)),
        (b(N1), "not_on_registration_list", None, grace),
        (b(N2), "not_on_registration_list", None, Some(d1.plus(60))),
        (b(N3), "not_on_registration_list", None, Some(d1.plus(60))),
        (b(N4), "not_on_registration_list", None, Some(d1.plus(60))),
        (b(N5), "not_on_registration_list", None, Some(d1.plus(60))),
        (b(G2), "not_on_registration_list", None, Some(d1.plus(60))),
        // Informative and closed rows make no list.
        (b(P1), "monitoring", None, None),
        (b(P2), "stolen_list", Some(d1.plus(-10)), Some(d1.plus(-20))),
        (
            ImeiNorm::Raw("12345A".into()),
            "duplicate_mk1",
            None,
            Some(d1.plus(-1)),
        ),
    ];
    let k = ImeiKey::body;
    // Batch operators: 0 azercell, 1 bakcell, 2 nar, 3 naxtel (in another order than the region).
    let operators = ["bakcell", "azercell", "naxtel", "nar"]
        .map(String::from)
        .to_vec();
    let (bak, aze, nax, nar) = (0, 1, 2, 3);
    let mut triplets = vec![
        seen(k(N1), AZERCELL_1, "994501111111", aze, &[1, 2]),
        // A null MSISDN is never notified.
        seen(k(N1), AZERCELL_1, "", aze, &[3]),
        seen(k(N2), ROAMER, "998901234567", bak, &[5]),
        seen(k(N2), ROAMER, "998901234567", nar, &[6]),
        seen(k(N3), AZERCELL_3, "994503333333", nax, &[7]),
        seen(k(N4), NAR_4, "994704444444", nar, &[8]),
        seen(k(N5), NAXTEL_5, "994605555555", nax, &[9]),
        seen(k(G2), AZERCELL_1, "994501111111", aze, &[9]),
        // Blocked IMEIs are not notified.
        seen(k(A), AZERCELL_1, "994501111111", aze, &[9]),
    ];
    triplets.sort_by_key(|t| (t.imei, t.imsi, t.msisdn, t.operator, t.month));
    let pairings = vec![
        Pairing {
            imei: P1,
            imsi: id(BAKCELL_2),
            msisdn: IdKey::NULL,
        },
        Pairing {
            imei: P2,
            imsi: id(ROAMER),
            msisdn: id("998901111111"),
        },
        Pairing {
            imei: P3,
            imsi: id(AZERCELL_1),
            msisdn: IdKey::NULL,
        },
        Pairing {
            imei: P4,
            imsi: id(AZERCELL_1),
            msisdn: IdKey::NULL,
        },
    ];
    Scenario {
        date: d1,
        lookback_end: None,
        rows,
        triplets,
        operators,
        raw: Vec::new(),
        pairings,
    }
}

fn run2() -> Scenario {
    let mut s = run1();
    let d1 = s.date;
    s.date = d1.plus(30);
    for r in &mut s.rows {
        match &r.0 {
            ImeiNorm::Body(x) if *x == B || *x == N4 => r.2 = Some(d1.plus(5)),
            ImeiNorm::Body(x) if *x == N5 => r.3 = Some(d1.plus(90)),
            _ => {}
        }
    }
    s.rows
        .push((ImeiNorm::Body(C), "stolen_list", None, Some(d1.plus(20))));
    // N2's roaming SIM is gone from the window; it now uses a bakcell SIM on bakcell.
    s.triplets.retain(|t| t.imsi != id(ROAMER));
    s.triplets
        .push(seen(ImeiKey::body(N2), BAKCELL_2, "994552222222", 0, &[20]));
    // A malformed IMEI seen on the network, with its text in the batch's table.
    s.raw = vec!["12345a".into()];
    s.triplets
        .push(seen(ImeiKey::raw(0), AZERCELL_1, "994501111111", 1, &[21]));
    s.triplets
        .sort_by_key(|t| (t.imei, t.imsi, t.msisdn, t.operator, t.month));
    s.pairings.retain(|p| p.imei != P1);
    s.pairings.push(Pairing {
        imei: N3,
        imsi: id(AZERCELL_3),
        msisdn: IdKey::NULL,
    });
    s
}

fn lists_of(s: &Scenario, cfg: &ListConfig) -> Lists {
    lists_with(s, cfg, &conditions(), &Region::default_for("AZ").unwrap())
}

fn lists_with(s: &Scenario, cfg: &ListConfig, conditions: &[Condition], region: &Region) -> Lists {
    let golden: HashSet<u64> = [G, G2].into();
    let barred: HashSet<u64> = [P3].into();
    let barred_tacs: HashSet<u32> = [49_000_000].into();
    let input = ListInput {
        date: s.date,
        lookback_end: s.lookback_end.unwrap_or(s.date),
        conditions,
        triplets: &s.triplets,
        triplet_operators: &s.operators,
        raw_imeis: &s.raw,
        pairings: &s.pairings,
        golden: &golden,
        barred: &barred,
        barred_tacs: &barred_tacs,
        region,
        config: cfg,
    };
    compute(
        &input,
        s.rows.iter().map(|(imei, condition, end, block_date)| Row {
            imei,
            condition,
            end: *end,
            block_date: *block_date,
            amnesty: false,
        }),
    )
    .unwrap()
}

fn key() -> NodeKey {
    NodeKey::from_seed([7; 32])
}

fn meta() -> PublishMeta {
    PublishMeta {
        country: "AZ".into(),
        classification_run: Some(1),
        full_base: false,
    }
}

fn full_base() -> PublishMeta {
    PublishMeta {
        full_base: true,
        ..meta()
    }
}

fn csv_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if e.file_type().unwrap().is_dir() {
            csv_files(&e.path(), &rel, out);
        } else if name.ends_with(".csv") {
            out.insert(rel, std::fs::read_to_string(e.path()).unwrap());
        }
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_runs")
}

/// Compares a run's CSVs with the expected ones; files without rows must be absent there.
fn check_run(run_dir: &Path, name: &str) {
    let mut got = BTreeMap::new();
    csv_files(run_dir, "", &mut got);
    // Every generated row ends with CRLF, as DIRBS's lists; the fixtures are kept with LF.
    for (path, text) in got.iter_mut() {
        let lf = text.matches('\n').count();
        assert_eq!(
            text.matches("\r\n").count(),
            lf,
            "{path}: a row without CRLF"
        );
        *text = text.replace("\r\n", "\n");
    }
    let expected_dir = fixture_dir().join(name);
    let bless = std::env::var_os("CEIR_BLESS").is_some();
    if bless {
        let _ = std::fs::remove_dir_all(&expected_dir);
    }
    let mut expected = BTreeMap::new();
    if expected_dir.exists() {
        csv_files(&expected_dir, "", &mut expected);
    }
    let mut mismatches = Vec::new();
    for (path, text) in &got {
        let has_rows = text.lines().count() > 1;
        if bless && has_rows {
            let to = expected_dir.join(path);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(to, text).unwrap();
            continue;
        }
        match expected.get(path) {
            Some(want) if want == text => {}
            Some(want) => mismatches.push(format!("{path}:\n--- expected\n{want}--- got\n{text}")),
            None if has_rows => mismatches.push(format!("{path}: unexpected rows:\n{text}")),
            None => {}
        }
    }
    for path in expected.keys() {
        if !got.contains_key(path) {
            mismatches.push(format!("{path}: expected, not generated"));
        }
    }
    assert!(mismatches.is_empty(), "{name}:\n{}", mismatches.join("\n"));
}

#[test]
fn two_runs_match_the_expected_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    let k = key();
    let r1 = publish(&root, &lists_of(&run1(), &cfg), &k, &meta()).unwrap();
    assert_eq!((r1.run, r1.manifest.previous_run), (1, None));
    check_run(&r1.dir, "run-1");
    let r2 = publish(&root, &lists_of(&run2(), &cfg), &k, &meta()).unwrap();
    assert_eq!((r2.run, r2.manifest.previous_run), (2, Some(1)));
    check_run(&r2.dir, "run-2");
    assert_eq!(
        std::fs::read_to_string(root.join("CURRENT")).unwrap(),
        "run-2\n"
    );
    // The manifest's counts are the files' rows.
    let rows = |p: &str| r2.manifest.file(p).unwrap().rows;
    assert_eq!(rows("blocklist.csv"), 4);
    assert_eq!(rows("azercell/blocklist.csv"), 4);
    assert_eq!(rows("blocklist_delta_unblocked.csv"), 1);
    assert_eq!(rows("nar/notifications_delta_resolved.csv"), 1);
    // The same input again: the same full lists, and no change at all.
    let r3 = publish(&root, &lists_of(&run2(), &cfg), &k, &meta()).unwrap();
    for f in &r3.manifest.files {
        match f.kind.as_str() {
            "delta" => assert_eq!(f.rows, 0, "{}", f.path),
            "full" => assert_eq!(Some(f), r2.manifest.file(&f.path), "{}", f.path),
            _ => {}
        }
    }
    let runs = ceir_lists::runs(&root).unwrap();
    assert_eq!(
        runs.iter().map(|r| (r.run, r.current)).collect::<Vec<_>>(),
        vec![(3, true), (2, false), (1, false)]
    );
}

#[test]
fn exception_lists_can_be_restricted_to_blocklisted_imeis_and_include_barred() {
    let s = run1();
    let restricted = lists_of(
        &s,
        &ListConfig {
            restrict_exceptions_to_blocklisted: true,
            ..ListConfig::default()
        },
    );
    assert_eq!(restricted.exceptions_len("bakcell"), 0);
    let barred_kept = lists_of(
        &s,
        &ListConfig {
            include_barred_in_exceptions: true,
            ..ListConfig::default()
        },
    );
    // P3 and P4 are azercell's subscribers; P2 (a roamer) is everyone's.
    assert_eq!(barred_kept.exceptions_len("azercell"), 3);
    assert_eq!(
        lists_of(&s, &ListConfig::default()).exceptions_len("azercell"),
        1
    );
}

#[test]
fn amnesty_adds_a_column_and_the_imsi_change_rule_follows_dirbs() {
    let mut s = run1();
    // N1's subscriber number is paired with another SIM: without notify_imsi_change that
    // spares the triplet.
    s.pairings.push(Pairing {
        imei: N1,
        imsi: id("400019999999999"),
        msisdn: id("994501111111"),
    });
    // N3 (an azercell SIM seen on naxtel) remains.
    let spared = lists_of(
        &s,
        &ListConfig {
            notify_imsi_change: false,
            ..ListConfig::default()
        },
    );
    assert_eq!(spared.notifications_len("azercell"), 1);
    // By default (DIRBS's code default) the subscriber with a new SIM is told.
    assert!(ListConfig::default().notify_imsi_change);
    let cfg = ListConfig {
        amnesty_enabled: true,
        ..ListConfig::default()
    };
    let l = lists_of(&s, &cfg);
    assert_eq!(l.notifications_len("azercell"), 2);
    let tmp = tempfile::tempdir().unwrap();
    let r = publish(tmp.path(), &l, &key(), &meta()).unwrap();
    let text = std::fs::read_to_string(r.dir.join("azercell/notifications.csv")).unwrap();
    assert_eq!(
        text,
        "imei,imsi,msisdn,block_date,reasons,amnesty_granted\r\n\
         35000000000010,400011111111111,994501111111,20261201,not_registered,False\r\n\
         35000000000012,400013333333333,994503333333,20261231,not_registered,False\r\n"
    );
}

#[test]
fn the_lookback_window_ends_where_the_observations_do() {
    // Two months after the data, a 60-day window ending on the list date sees none of it.
    let mut s = run1();
    let d = s.date;
    s.date = d.plus(60);
    for r in &mut s.rows {
        if r.1 == "not_on_registration_list" {
            r.3 = Some(d.plus(90));
        }
    }
    let cfg = ListConfig::default();
    assert_eq!(cfg.lookback_days, 60);
    assert_eq!(lists_of(&s, &cfg).notifications_len("azercell"), 0);
    // Ending on the last day observed (2026-10-31), as DIRBS's analysis end date does.
    s.lookback_end = Some(d.plus(-1));
    let l = lists_of(&s, &cfg);
    assert_eq!(l.notifications_len("azercell"), 2);
    assert_eq!(l.notifications_len("nar"), 2);
}

fn published() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let r = publish(
        &root,
        &lists_of(&run1(), &ListConfig::default()),
        &key(),
        &meta(),
    )
    .unwrap();
    (tmp, r.dir)
}

#[test]
fn verification_passes_untouched_lists() {
    let (tmp, dir) = published();
    let v = verify(&dir, &key().public(), None).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.files_checked, v.manifest.as_ref().unwrap().files.len());
    // DIR/lists and the manifest itself name the same run.
    assert!(verify(&tmp.path().join("lists"), &key().public(), None)
        .unwrap()
        .ok());
    assert!(verify(&dir.join("manifest.json"), &key().public(), None)
        .unwrap()
        .ok());
    // What one operator downloaded: its own files, manifest and signature, in one directory.
    let only = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir.join("nar")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), only.path().join(f.file_name())).unwrap();
    }
    let v = verify(only.path(), &key().public(), Some("nar")).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    let m = v.manifest.unwrap();
    assert_eq!(m.operator.as_deref(), Some("nar"));
    assert_eq!(m.operators.len(), 1, "no other operator is named");
    assert!(m.files.iter().all(|f| f.operator.as_deref() == Some("nar")));
    assert!(m.file("blocklist.csv").is_some() && m.file("exceptions.csv").is_some());
    // Blocklist, notifications and exceptions, each full and its deltas.
    assert_eq!(v.files_checked, (1 + 3) + (1 + 5) + (1 + 2));
    // The operator's manifest from the node's own tree, and through the run's.
    assert!(verify(&dir.join("nar"), &key().public(), None)
        .unwrap()
        .ok());
    let v = verify(&tmp.path().join("lists"), &key().public(), Some("nar")).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.manifest_path, dir.join("nar/manifest.json"));
    // Another operator's name: refused, not an empty success.
    let e = verify(only.path(), &key().public(), Some("bakcell")).unwrap_err();
    assert!(
        e.to_string().contains("nar's manifest, not bakcell's"),
        "{e}"
    );
    let e = verify(&dir, &key().public(), Some("nobody")).unwrap_err();
    assert!(
        e.to_string().contains("no operator \"nobody\"") && e.to_string().contains("azercell"),
        "{e}"
    );
    // A file of the operator's that its manifest does not list.
    std::fs::write(only.path().join("exceptions_delta_added.csv.orig"), "x").unwrap();
    let v = verify(only.path(), &key().public(), Some("nar")).unwrap();
    assert_eq!(
        v.problems,
        vec![Problem::Unlisted("exceptions_delta_added.csv.orig".into())]
    );
}

/// Re-signs an edited manifest with the node's key, as a node of another version could have.
fn resign(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let sig: String = key()
        .sign(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(dir.join("manifest.json.sig"), format!("{sig}\n")).unwrap();
}

#[test]
fn an_unknown_format_and_a_path_named_twice_are_named() {
    let (_tmp, dir) = published();
    resign(&dir, |m| {
        m["format"] = "ceir-lists/9".into();
        let files = m["files"].as_array_mut().unwrap();
        let first = files[0].clone();
        files.push(first);
    });
    let v = verify(&dir, &key().public(), None).unwrap();
    let first = v.manifest.as_ref().unwrap().files[0].path.clone();
    assert_eq!(
        v.problems,
        vec![
            Problem::Format("ceir-lists/9".into()),
            Problem::DuplicatePath(first)
        ]
    );
    assert!(v.problems[0].to_string().contains("ceir-lists/2"));
}

#[test]
fn an_edited_list_file_is_named() {
    let (_tmp, dir) = published();
    let path = dir.join("azercell/blocklist.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    // Hard-linked copies share their content: unlink before editing, as an editor would.
    std::fs::remove_file(&path).unwrap();
    text = text.replace("35000000000001", "35000000000009");
    std::fs::write(&path, text).unwrap();
    let v = verify(&dir, &key().public(), None).unwrap();
    assert!(
        matches!(&v.problems[..], [Problem::HashDiffers { path, .. }] if path == "azercell/blocklist.csv"),
        "{:?}",
        v.problems
    );
    assert!(v.problems[0].to_string().contains("the file was altered"));
}

#[test]
fn a_truncated_missing_or_extra_file_is_named() {
    let (_tmp, dir) = published();
    std::fs::remove_file(dir.join("nar/exceptions.csv")).unwrap();
    std::fs::write(dir.join("nar/blocklist_delta_blocked.csv.bak"), "x").unwrap();
    std::fs::remove_file(dir.join("bakcell/exceptions.csv")).unwrap();
    std::fs::write(dir.join("bakcell/exceptions.csv"), "imei,imsi,msisdn\n").unwrap();
    let v = verify(&dir, &key().public(), None).unwrap();
    let text: Vec<String> = v.problems.iter().map(ToString::to_string).collect();
    assert_eq!(v.problems.len(), 3, "{text:?}");
    assert!(
        matches!(&v.problems[0], Problem::SizeDiffers { path, .. } if path == "bakcell/exceptions.csv")
    );
    assert_eq!(v.problems[1], Problem::Missing("nar/exceptions.csv".into()));
    assert_eq!(
        v.problems[2],
        Problem::Unlisted("nar/blocklist_delta_blocked.csv.bak".into())
    );
}

#[test]
fn an_edited_manifest_fails_the_signature() {
    let (_tmp, dir) = published();
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Someone lowers a count: the file hashes still match, the signature does not.
    let edited = text.replacen("\"rows\": 1,", "\"rows\": 0,", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let v = verify(&dir, &key().public(), None).unwrap();
    assert_eq!(v.problems, vec![Problem::SignatureInvalid]);
    // A file replaced together with its hash in the manifest: still the signature.
    std::fs::write(&path, text).unwrap();
    assert!(verify(&dir, &key().public(), None).unwrap().ok());
    std::fs::remove_file(dir.join("manifest.json.sig")).unwrap();
    let v = verify(&dir, &key().public(), None).unwrap();
    assert_eq!(v.problems, vec![Problem::SignatureMissing]);
    std::fs::write(dir.join("manifest.json.sig"), "zz\n").unwrap();
    let v = verify(&dir, &key().public(), None).unwrap();
    assert_eq!(v.problems, vec![Problem::SignatureMalformed]);
}

#[test]
fn another_key_is_named() {
    let (_tmp, dir) = published();
    let other = NodeKey::from_seed([8; 32]).public();
    let v = verify(&dir, &other, None).unwrap();
    assert_eq!(
        v.problems,
        vec![
            Problem::WrongKey {
                manifest_key: key().public().key_id(),
                given_key: other.key_id()
            },
            Problem::SignatureInvalid
        ]
    );
}

#[test]
fn a_killed_run_leaves_the_previous_one_current_and_is_repeated() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    // What a kill before the rename leaves: a half-written temporary run and pointer.
    std::fs::create_dir_all(root.join(".tmp-run-2/nar")).unwrap();
    std::fs::write(root.join(".tmp-run-2/nar/notifications.csv"), "imei,im").unwrap();
    std::fs::write(root.join("CURRENT.tmp"), "run-").unwrap();
    assert_eq!(ceir_lists::current_run(&root).unwrap(), Some(1));
    assert_eq!(ceir_lists::runs(&root).unwrap().len(), 1);
    let r = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    assert_eq!(r.run, 2);
    assert!(!root.join(".tmp-run-2").exists());
    assert!(!root.join("CURRENT.tmp").exists());
    check_run(&r.dir, "run-2");
    assert!(verify(&root, &key().public(), None).unwrap().ok());
}

/// The bytes of every file of a run, to show it is unchanged.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &format!("{rel}/"), out);
            } else {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

#[test]
fn a_run_renamed_but_never_made_current_is_the_next_base() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    let r2 = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    // A kill between the rename of run-2 and the switch of CURRENT.
    std::fs::write(root.join("CURRENT"), "run-1\n").unwrap();
    assert_eq!(ceir_lists::runs(&root).unwrap().len(), 1, "not served yet");
    let before = contents(&r2.dir);
    let r3 = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    assert_eq!((r3.run, r3.manifest.previous_run), (3, Some(2)));
    for f in r3.manifest.files.iter().filter(|f| f.kind == "delta") {
        assert_eq!(f.rows, 0, "{}: the same lists as run-2", f.path);
    }
    assert_eq!(contents(&r2.dir), before);
    assert_eq!(
        ceir_lists::runs(&root)
            .unwrap()
            .iter()
            .map(|r| (r.run, r.previous_run))
            .collect::<Vec<_>>(),
        vec![(3, Some(2)), (2, Some(1)), (1, None)]
    );
}

#[test]
fn published_runs_survive_a_lost_current_pointer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    let r1 = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    let r2 = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    let (one, two) = (contents(&r1.dir), contents(&r2.dir));
    std::fs::remove_file(root.join("CURRENT")).unwrap();
    let r3 = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    // Numbered after the highest run, with deltas against it; runs/1 and runs/2 unchanged.
    assert_eq!((r3.run, r3.manifest.previous_run), (3, Some(2)));
    assert_eq!(
        r3.manifest
            .file("blocklist_delta_unblocked.csv")
            .unwrap()
            .rows,
        1
    );
    assert_eq!(contents(&r1.dir), one);
    assert_eq!(contents(&r2.dir), two);
    // Garbage in the pointer, likewise.
    std::fs::write(root.join("CURRENT"), "run-x\n").unwrap();
    let r4 = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    assert_eq!((r4.run, r4.manifest.previous_run), (4, Some(3)));
    assert_eq!(ceir_lists::runs(&root).unwrap().len(), 4);
}

#[test]
fn a_damaged_snapshot_is_never_used_as_a_base_and_a_full_base_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    let r = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    let snap = r.dir.join("snapshot.bin");
    let mut bytes = std::fs::read(&snap).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&snap, bytes).unwrap();
    let err = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SHA-256 differs"), "{text}");
    assert!(text.contains("--full-base"), "{text}");
    assert!(
        !text.contains("remove"),
        "no advice to delete anything: {text}"
    );
    assert_eq!(ceir_lists::current_run(&root).unwrap(), Some(1));
    // The recovery: deltas against an empty base, and the manifest says so.
    let r2 = publish(&root, &lists_of(&run2(), &cfg), &key(), &full_base()).unwrap();
    assert_eq!((r2.run, r2.manifest.previous_run), (2, None));
    assert!(r2.manifest.full_base);
    let text = std::fs::read_to_string(r2.dir.join("manifest.json")).unwrap();
    assert!(text.contains("\"full_base\": true"), "{text}");
    let rows = |p: &str| r2.manifest.file(p).unwrap().rows;
    assert_eq!(rows("blocklist_delta_blocked.csv"), rows("blocklist.csv"));
    assert_eq!(rows("blocklist_delta_unblocked.csv"), 0);
    assert!(
        r.dir.join("manifest.json").is_file(),
        "run-1 stays published"
    );
    // The next run is against run-2 again, as usual.
    let r3 = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    assert_eq!(
        (r3.manifest.previous_run, r3.manifest.full_base),
        (Some(2), false)
    );
}

#[test]
fn a_run_of_the_first_manifest_format_stays_listed_but_is_no_base() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    let r1 = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    // What an earlier ceir wrote: no settings, no conditions.
    let path = r1.dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["format"] = "ceir-lists/1".into();
    let o = m.as_object_mut().unwrap();
    o.remove("config");
    o.remove("blocking_conditions");
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    assert_eq!(ceir_lists::runs(&root).unwrap().len(), 1);
    let err = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap_err();
    assert!(
        err.to_string()
            .contains("blocking condition stolen_list is new"),
        "{err}"
    );
    let r2 = publish(&root, &lists_of(&run2(), &cfg), &key(), &full_base()).unwrap();
    assert_eq!((r2.run, r2.manifest.full_base), (2, true));
}

#[test]
fn deltas_across_a_configuration_change_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    let r1 = publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    assert_eq!(r1.manifest.config, cfg);
    assert_eq!(
        r1.manifest
            .blocking_conditions
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>(),
        ["duplicate_mk1", "not_on_registration_list", "stolen_list"]
    );
    let longer = ListConfig {
        lookback_days: cfg.lookback_days + 30,
        ..cfg.clone()
    };
    let err = publish(&root, &lists_of(&run2(), &longer), &key(), &meta()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("lookback_days is"), "{text}");
    assert!(text.contains("--full-base"), "{text}");
    // A condition's reason changes.
    let s = run2();
    let mut changed = conditions();
    changed[0].reason = "stolen or lost".into();
    let l = lists_with(&s, &cfg, &changed, &Region::default_for("AZ").unwrap());
    let err = publish(&root, &l, &key(), &meta()).unwrap_err();
    assert!(
        err.to_string()
            .contains("blocking condition stolen_list has the reason"),
        "{err}"
    );
    // An operator leaves the region: its rows must not vanish without a word.
    let mut region = Region::default_for("AZ").unwrap();
    region.operators.retain(|o| o.id != "naxtel");
    let l = lists_with(&s, &cfg, &conditions(), &region);
    let err = publish(&root, &l, &key(), &meta()).unwrap_err();
    assert!(err.to_string().contains("operator naxtel is gone"), "{err}");
    assert_eq!(ceir_lists::current_run(&root).unwrap(), Some(1));
    // Deliberately: an empty base.
    let r2 = publish(&root, &l, &key(), &full_base()).unwrap();
    assert!(r2.manifest.full_base);
    assert!(r2.manifest.operators.iter().all(|o| o.id != "naxtel"));
}

#[test]
fn a_second_generation_is_refused_while_one_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("lists");
    let cfg = ListConfig::default();
    publish(&root, &lists_of(&run1(), &cfg), &key(), &meta()).unwrap();
    // Another process is writing run 2: it holds the lock and has a temporary run under way.
    let other = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
        .unwrap();
    other.try_lock().unwrap();
    std::fs::create_dir_all(root.join(".tmp-run-2/nar")).unwrap();
    let err = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap_err();
    assert!(
        err.to_string()
            .contains("another list generation is running"),
        "{err}"
    );
    assert!(
        root.join(".tmp-run-2/nar").is_dir(),
        "the other's work is left alone"
    );
    assert_eq!(ceir_lists::current_run(&root).unwrap(), Some(1));
    drop(other);
    let r = publish(&root, &lists_of(&run2(), &cfg), &key(), &meta()).unwrap();
    assert_eq!(r.run, 2);
    assert!(!root.join(".tmp-run-2").exists());
}
