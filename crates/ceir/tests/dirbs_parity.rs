//! Same files, same decisions: ceir against what DIRBS-Core decided on the same month
//! (`tests/fixtures/dirbs-parity/README.md` says how those outputs were made).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dirbs-parity")
}

fn ceir(data: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ceir"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("CEIR_DATABASE_URL")
        .env_remove("CEIR_CONFIG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "ceir {args:?}:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The header, then the rows sorted: DIRBS writes rows in no particular order.
fn sorted(text: &str) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = if lines.is_empty() {
        ""
    } else {
        lines.remove(0)
    };
    lines.sort_unstable();
    format!("{header}{}", lines.concat())
}

fn input(name: &str) -> String {
    fixtures().join("inputs").join(name).display().to_string()
}

#[test]
fn the_same_month_gives_dirbs_core_s_classification_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ceir(data, &["import", "tac", &input("gsma_tac_db.zip")]);
    for list in [
        "stolen",
        "registration",
        "pairing",
        "golden",
        "barred",
        "barred_tac",
        "monitoring",
    ] {
        ceir(
            data,
            &[
                "import",
                &list.replace('_', "-"),
                &input(&format!("{list}.zip")),
            ],
        );
    }
    let operators: Vec<String> = ["azercell", "bakcell", "nar", "naxtel"]
        .iter()
        .map(|o| input(&format!("{o}_20261001_20261031.zip")))
        .collect();
    let mut args = vec!["import", "operator"];
    args.extend(operators.iter().map(String::as_str));
    let out = ceir(data, &args);
    assert_eq!(out.matches("ACCEPTED").count(), 4, "{out}");

    ceir(data, &["classify", "--date", "2026-10-31"]);
    let state = ceir(
        data,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT imei_norm, \"condition\" AS cond_name, start_date, block_date \
             FROM classification WHERE end_date IS NULL",
        ],
    );
    let want =
        std::fs::read_to_string(fixtures().join("expected/classification_state.csv")).unwrap();
    assert_eq!(
        sorted(&state),
        want,
        "classification state differs from DIRBS-Core's"
    );
    assert!(want.lines().count() > 300, "the fixture is a real month");

    ceir(data, &["lists", "generate", "--date", "2026-10-31"]);
    let run = data.join("lists/run-1");
    let mut files = vec![("blacklist.csv".to_owned(), run.join("blocklist.csv"))];
    for op in ["azercell", "bakcell", "nar", "naxtel"] {
        for list in ["notifications", "exceptions"] {
            files.push((
                format!("{list}_{op}.csv"),
                run.join(op).join(format!("{list}.csv")),
            ));
        }
    }
    for (expected, ours) in files {
        let want = std::fs::read_to_string(fixtures().join("expected").join(&expected)).unwrap();
        let got = std::fs::read_to_string(&ours).unwrap();
        assert_eq!(sorted(&got), want, "{expected} differs from DIRBS-Core's");
    }
}
