//! The operator data pipeline as a regulator runs it: simulate, import, classify, explain, SQL;
//! refusals that change nothing; and kill -9 in the middle of an import or a classification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ceir, run};

fn ok(c: &mut Command) -> String {
    let (code, out, err) = run(c);
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    out
}

/// A small simulated month of Azerbaijan's four operators.
fn simulated(dir: &Path) -> PathBuf {
    let sim = dir.join("sim");
    ok(ceir(&dir.join("unused")).args([
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--country",
        "AZ",
        "--month",
        "2026-10",
        "--subscribers",
        "400",
    ]));
    sim
}

fn operator_files(sim: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(sim.join("AZ/operators"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    v.sort();
    v
}

/// The count printed in `ceir sql`'s one-cell table.
fn sql_count(data: &Path, query: &str) -> u64 {
    let out = ok(ceir(data).args(["sql", query]));
    out.lines()
        .filter_map(|l| l.trim().trim_matches('|').trim().parse::<u64>().ok())
        .next()
        .unwrap_or_else(|| panic!("no number in {out}"))
}

/// A row of `ceir classify`'s table: (matched, new, ended, blocking).
fn condition_row(out: &str, label: &str) -> (u64, u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no {label} in {out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    (n[0], n[1], n[2], n[3])
}

#[test]
fn a_month_of_operator_data_imported_classified_explained_and_queried() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulated(dir.path());
    let data = dir.path().join("node");
    ok(ceir(&data).args([
        "import",
        "tac",
        sim.join("gsma_tac_db.txt").to_str().unwrap(),
    ]));
    let files = operator_files(&sim);
    assert_eq!(files.len(), 4);
    let out = ok(ceir(&data).args(["import", "operator"]).args(&files));
    assert_eq!(out.matches("ACCEPTED").count(), 4, "{out}");
    for check in [
        "NULL IMEI",
        "unclean IMSI",
        "out-of-region",
        "non-home network",
    ] {
        assert!(
            out.contains(check),
            "{check} missing from the report:\n{out}"
        );
    }
    // Every distinct triplet the import kept is in the store and visible to SQL.
    let kept: u64 = out
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" distinct triplets after merging"))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .sum();
    assert!(kept > 1000);
    assert_eq!(sql_count(&data, "SELECT count(*) FROM triplets"), kept);

    // The same files again change nothing.
    let manifest = std::fs::read(data.join("observations/_manifest.json")).unwrap();
    let again = ok(ceir(&data).args(["import", "operator"]).args(&files));
    assert_eq!(
        again
            .matches("UNCHANGED (this file was imported before)")
            .count(),
        4,
        "{again}"
    );
    assert_eq!(
        std::fs::read(data.join("observations/_manifest.json")).unwrap(),
        manifest
    );
    let jobs = ok(ceir(&data).args(["import", "jobs"]));
    assert_eq!(jobs.matches(" accepted ").count(), 4, "{jobs}");
    assert_eq!(jobs.matches(" unchanged ").count(), 4, "{jobs}");

    // The DIRBS lists that go with the month.
    for list in ["stolen", "registration", "pairing", "barred", "monitoring"] {
        ok(ceir(&data).args([
            "import",
            list,
            sim.join(format!("AZ/lists/{list}.csv")).to_str().unwrap(),
        ]));
    }
    let stolen_entries = ok(ceir(&data).args(["list", "show", "blocked"]))
        .lines()
        .filter(|l| l.contains("stolen") || l.contains("lost"))
        .count() as u64;
    assert!(stolen_entries > 0);

    let out = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    // DIRBS classifies listed stolen IMEIs even when never seen: all of them match.
    assert_eq!(condition_row(&out, "stolen").0, stolen_entries, "{out}");
    let (dup, new, ended, blocking) = condition_row(&out, "duplicate_mk1");
    assert!(
        dup > 0 && new == dup && ended == 0 && blocking == dup,
        "{out}"
    );
    assert!(out.contains("classification run 1 on 2026-10-31"), "{out}");
    // Analysts see the same state through SQL.
    assert_eq!(
        sql_count(
            &data,
            "SELECT count(*) FROM classification WHERE end_date IS NULL AND \"condition\" = 'duplicate_mk1'"
        ),
        dup
    );

    // The most shared IMEI is the cloned one; explain says why, with the numbers. SQL counts
    // what duplicate_threshold counts, independently: valid IMSIs of triplets whose span
    // reaches into the 30 days up to 10-31.
    let sql = ok(ceir(&data).args([
        "sql",
        "SELECT imei_norm, count(DISTINCT imsi) AS n FROM triplets \
         WHERE last_seen >= DATE '2026-10-02' AND length(imsi) BETWEEN 14 AND 15 \
         GROUP BY imei_norm ORDER BY n DESC, imei_norm LIMIT 1",
    ]));
    let row = sql
        .lines()
        .find(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let (imei, imsis) = (cells[1], cells[2]);
    let explained = ok(ceir(&data).args(["explain", imei]));
    assert!(
        explained.contains(&format!("{imsis} distinct valid IMSIs over 30 days")),
        "{explained}"
    );
    assert!(explained.contains("[MATCH] duplicate_mk1"), "{explained}");
    assert!(
        explained.contains("state: since 2026-10-31, block date"),
        "{explained}"
    );

    // A second run on the same data and date changes no row.
    let state1 = std::fs::read(data.join("classification/run-000001.parquet")).unwrap();
    let out = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    assert_eq!(
        condition_row(&out, "duplicate_mk1"),
        (dup, 0, 0, dup),
        "{out}"
    );
    let state2 = std::fs::read(data.join("classification/run-000002.parquet")).unwrap();
    assert_eq!(state1, state2);

    // Lists for operators, signed; each operator checks its own files with the node's key.
    let out = ok(ceir(&data).args(["lists", "generate", "--date", "2026-10-31"]));
    assert!(out.contains("lists run-1"), "{out}");
    let key = ok(ceir(&data).args(["node", "key"]));
    let key = key
        .split_whitespace()
        .find(|w| w.starts_with("ed25519:"))
        .unwrap()
        .to_owned();
    let run1 = data.join("lists/run-1");
    let v = ok(ceir(&data).args(["lists", "verify", run1.to_str().unwrap(), "--key", &key]));
    assert!(v.contains("OK"), "{v}");
    for op in ["azercell", "bakcell", "nar", "naxtel"] {
        let v = ok(ceir(&data).args([
            "lists",
            "verify",
            run1.to_str().unwrap(),
            "--key",
            &key,
            "--operator",
            op,
        ]));
        assert!(v.contains("OK"), "{op}: {v}");
    }
    // Every blocking row whose block date has come is on the blocklist (golden IMEIs aside:
    // none were imported).
    let blocklist = std::fs::read_to_string(run1.join("blocklist.csv")).unwrap();
    assert!(
        blocklist.starts_with("imei,block_date,reasons"),
        "{blocklist}"
    );
    // Stolen devices have no grace: every one is on it from the run's date, reason and all.
    let stolen_rows = blocklist
        .lines()
        .filter(|l| l.contains(",20261031,") && l.contains("IMEI reported stolen or lost"))
        .count() as u64;
    assert_eq!(stolen_rows, stolen_entries, "{blocklist}");

    // November, with no November data: devices seen only in October are still seen. The
    // counterfeit-TAC rows stay open; duplicates, a window's count, end (not sticky).
    let gsma = condition_row(&out_of(&data, "2026-10-31"), "gsma_not_found").0;
    let nov = ok(ceir(&data).args(["classify", "--date", "2026-11-30"]));
    // No counterfeit-TAC row ends; devices whose reporting body's allocation delay ran out
    // since October join.
    let (matched, new, ended, blocking) = condition_row(&nov, "gsma_not_found");
    assert_eq!(
        (matched, ended, blocking),
        (gsma + new, 0, gsma + new),
        "{nov}"
    );
    assert_eq!(
        condition_row(&nov, "duplicate_mk1"),
        (0, 0, dup, 0),
        "{nov}"
    );
}

/// The summary of the classification run of `date` as `ceir classify` printed it, re-derived
/// by running it again on the same date (an identical re-run changes nothing).
fn out_of(data: &Path, date: &str) -> String {
    ok(ceir(data).args(["classify", "--date", date]))
}

#[test]
fn a_file_that_fails_a_check_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    ok(ceir(&dir.path().join("unused")).args([
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--country",
        "AZ",
        "--subscribers",
        "200",
        "--bad-dates",
    ]));
    let data = dir.path().join("node");
    let files = operator_files(&sim);
    let (code, out, err) = run(ceir(&data).args(["import", "operator", &files[0]]));
    assert_ne!(code, Some(0), "{out}");
    let report = format!("{out}{err}");
    assert!(report.contains("REFUSED"), "{report}");
    // The report names the check, the value measured and the threshold.
    let failed = report
        .lines()
        .find(|l| l.contains("— FAILED"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        failed.contains("measured") && failed.contains("threshold"),
        "{failed}"
    );
    // Nothing was stored; the refusal is on record.
    let manifest = data.join("observations/_manifest.json");
    assert!(
        !manifest.exists()
            || !std::fs::read_to_string(&manifest)
                .unwrap()
                .contains("operator=")
    );
    let jobs = ok(ceir(&data).args(["import", "jobs"]));
    assert!(jobs.contains("refused"), "{jobs}");
}

/// Spawns `ceir` with `args`, kills it with SIGKILL after `after`, and says whether it was still
/// running then (a kill that came too late proves nothing).
fn kill_after(data: &Path, args: &[&str], after: Duration) -> bool {
    let mut child = ceir(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

/// kill -9 at several points of an import, then of a classification: each time the previous
/// state is intact and the command simply runs again.
#[test]
fn kill_9_during_import_or_classification_leaves_the_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    ok(ceir(&dir.path().join("unused")).args([
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--rows",
        "400000",
        "--month",
        "2026-10",
    ]));
    let big: Vec<String> = operator_files(&sim);
    assert_eq!(big.len(), 1);
    let small = simulated(&dir.path().join("small"));
    let data = dir.path().join("node");
    let probe = dir.path().join("probe");
    let catalog = sim.join("gsma_tac_db.txt");
    for d in [&data, &probe] {
        ok(ceir(d).args(["import", "tac", catalog.to_str().unwrap()]));
    }
    // A first, complete import: the state every interrupted one must leave.
    let first = operator_files(&small)
        .into_iter()
        .find(|f| {
            !f.contains(
                big[0]
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .split('_')
                    .next()
                    .unwrap(),
            )
        })
        .unwrap();
    ok(ceir(&data).args(["import", "operator", &first]));
    let before = sql_count(&data, "SELECT count(*) FROM triplets");
    // How long a whole import of the big file takes, to kill inside it.
    let t0 = Instant::now();
    ok(ceir(&probe).args(["import", "operator", &big[0]]));
    let full = t0.elapsed();
    let big_triplets = sql_count(&probe, "SELECT count(*) FROM triplets");
    let mut killed = 0;
    for frac in [0.1, 0.4, 0.7, 0.95] {
        if kill_after(&data, &["import", "operator", &big[0]], full.mul_f64(frac)) {
            killed += 1;
        }
        // Either nothing of the big file is visible, or all of it: never a part.
        let now = sql_count(&data, "SELECT count(*) FROM triplets");
        assert!(
            now == before || now == before + big_triplets,
            "{now} triplets after a kill at {frac} (before {before}, file {big_triplets})"
        );
    }
    assert!(killed >= 2, "only {killed} kills landed inside the import");
    // Running it again finishes the job exactly once.
    let out = ok(ceir(&data).args(["import", "operator", &big[0]]));
    assert!(
        out.contains("ACCEPTED") || out.contains("UNCHANGED"),
        "{out}"
    );
    assert_eq!(
        sql_count(&data, "SELECT count(*) FROM triplets"),
        before + big_triplets
    );

    // Classification: a committed run, then kills during the next one.
    ok(ceir(&data).args(["classify", "--date", "2026-10-30"]));
    let current = std::fs::read_to_string(data.join("classification/CURRENT")).unwrap();
    let t0 = Instant::now();
    ok(ceir(&probe).args(["classify", "--date", "2026-10-31"]));
    let full = t0.elapsed();
    for frac in [0.2, 0.5, 0.8] {
        kill_after(
            &data,
            &["classify", "--date", "2026-10-31"],
            full.mul_f64(frac),
        );
        let now = std::fs::read_to_string(data.join("classification/CURRENT")).unwrap();
        // The pointer names the committed run or, if the kill came after the rename, the new
        // one; either way `explain` reads a whole state.
        assert!(now == current || now.trim().ends_with("2"), "{now}");
        ok(ceir(&data).args(["explain", "35693803564380"]));
    }
    let out = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    assert!(out.contains("classification run"), "{out}");

    // List generation: a published run, then kills during the next one. Either way the
    // current run verifies, and the command runs again.
    ok(ceir(&data).args(["lists", "generate", "--date", "2026-10-31"]));
    let t0 = Instant::now();
    ok(ceir(&probe).args(["lists", "generate", "--date", "2026-10-31"]));
    let full = t0.elapsed();
    for frac in [0.3, 0.6, 0.9] {
        kill_after(
            &data,
            &["lists", "generate", "--date", "2026-11-01"],
            full.mul_f64(frac),
        );
        let v = ok(ceir(&data).args(["lists", "verify", data.join("lists").to_str().unwrap()]));
        assert!(v.contains("OK"), "{v}");
    }
    let out = ok(ceir(&data).args(["lists", "generate", "--date", "2026-11-01"]));
    assert!(out.contains("lists run-"), "{out}");
    let v = ok(ceir(&data).args(["lists", "verify", data.join("lists").to_str().unwrap()]));
    assert!(v.contains("OK"), "{v}");
}

/// Classification reads the list memberships from its copy, patched with the changes made by
/// hand since: the same state as a run that reads the registry whole.
#[test]
fn classification_after_list_changes_matches_a_whole_read() {
    use ceir_domain::Imei;
    let dir = tempfile::tempdir().unwrap();
    let sim = simulated(dir.path());
    let data = dir.path().join("node");
    ok(ceir(&data).args([
        "import",
        "tac",
        sim.join("gsma_tac_db.txt").to_str().unwrap(),
    ]));
    ok(ceir(&data)
        .args(["import", "operator"])
        .args(operator_files(&sim)));
    let reg = sim.join("AZ/lists/registration.csv");
    let out = ok(ceir(&data).args(["import", "registration", reg.to_str().unwrap()]));
    assert!(out.contains("brought up to date (read whole)"), "{out}");
    let copy = data.join("cache/memberships.bin");
    assert!(copy.exists());

    let before = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    assert!(before.contains("(copy + 0 changed)"), "{before}");

    // A seen IMEI that is registered, and one that is not.
    let seen: Vec<String> = ok(ceir(&data).args([
        "sql",
        "SELECT DISTINCT imei_norm FROM triplets WHERE length(imei_norm) = 14 \
         AND imei_norm NOT LIKE '%A%' ORDER BY imei_norm",
    ]))
    .lines()
    .filter_map(|l| {
        let v = l.trim().trim_matches('|').trim();
        (v.len() == 14 && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_owned())
    })
    .collect();
    let registered: std::collections::HashSet<String> = std::fs::read_to_string(&reg)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.get(..14).map(str::to_owned))
        .collect();
    let typed = |body: &str| Imei::from_body(body.parse().unwrap()).unwrap().to_string();
    let on = seen.iter().find(|b| registered.contains(*b)).unwrap();
    let off = seen.iter().find(|b| !registered.contains(*b)).unwrap();
    ok(ceir(&data).args(["list", "add", "blocked", &typed(off), "--reason", "stolen"]));
    ok(ceir(&data).args(["list", "remove", "permitted", &typed(on)]));

    let patched = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    assert!(patched.contains("(copy + 2 changed)"), "{patched}");
    let (stolen, new, _, _) = condition_row(&patched, "stolen");
    assert_eq!((stolen, new), (condition_row(&before, "stolen").0 + 1, 1));
    let (_, new, _, _) = condition_row(&patched, "not_on_registration_list");
    assert_eq!(new, 1, "{patched}");

    // Without the copy the registry is read whole, and nothing differs.
    std::fs::remove_file(&copy).unwrap();
    let whole = ok(ceir(&data).args(["classify", "--date", "2026-10-31"]));
    assert!(whole.contains("(read whole)"), "{whole}");
    let table = |out: &str| -> Vec<(u64, u64, u64, u64)> {
        [
            "stolen",
            "not_on_registration_list",
            "gsma_not_found",
            "duplicate_mk1",
        ]
        .iter()
        .map(|c| condition_row(out, c))
        .collect()
    };
    let settled: Vec<_> = table(&patched).iter().map(|r| (r.0, 0, 0, r.3)).collect();
    assert_eq!(table(&whole), settled, "{whole}");
    assert_eq!(
        std::fs::read(data.join("classification/run-000002.parquet")).unwrap(),
        std::fs::read(data.join("classification/run-000003.parquet")).unwrap()
    );
}
