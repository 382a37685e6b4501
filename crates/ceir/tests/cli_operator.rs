//! `ceir import operator` and `ceir import jobs` as a user runs them: the switches that turn
//! checks off, recorded with the job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

const NAME: &str = "azercell_20261001_20261031.csv";

mod common;
use common::{ceir, run};

/// The clean fixture with two NULL IMEIs and two NULL IMSIs (10 % each, over DIRBS's 5 %).
fn nulls(dir: &Path) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ceir-ingest/tests/fixtures/operator")
        .join(NAME);
    let mut lines: Vec<String> = std::fs::read_to_string(base)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for (row, col) in [(1, 1), (2, 1), (3, 2), (4, 2)] {
        let mut f: Vec<&str> = lines[row].split(',').collect();
        f[col] = "";
        lines[row] = f.join(",");
    }
    let p = dir.join(NAME);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn disabled_checks_are_recorded_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = nulls(dir.path());
    let (code, _, err) = run(ceir(&data).args(["import", "operator"]).arg(&file));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("check NULL IMEI data: measured 0.1000 > threshold 0.0500 — FAILED"),
        "{err}"
    );

    let (code, out, err) = run(ceir(&data)
        .args([
            "import",
            "operator",
            "--disable-null-check",
            "--disable-historic-check",
        ])
        .arg(&file));
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "check NULL IMEI data: skipped (disabled by operator of this node (--disable-null-check))",
        "check NULL data (combined): skipped (disabled by operator of this node (--disable-null-check))",
        "checks disabled by operator of this node: --disable-null-check, --disable-historic-check",
        "ACCEPTED",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    // The unclean checks still ran.
    assert!(
        out.contains("check unclean IMEI data: measured 0 <= threshold 0.0500 — passed"),
        "{out}"
    );

    let (code, out, err) = run(ceir(&data).args(["import", "jobs"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("accepted"), "{out}");
    assert!(
        out.contains(
            "NULL IMSI data: skipped (disabled by operator of this node (--disable-null-check))"
        ),
        "{out}"
    );
    assert!(
        out.contains("skipped (disabled by operator of this node (--disable-historic-check))"),
        "{out}"
    );
}
