//! The `ceir` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ceir(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ceir"));
    c.arg("--data")
        .arg(data)
        .env_remove("CEIR_DATABASE_URL")
        .env_remove("CEIR_CONFIG");
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_loads_and_check_explains() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(ceir(dir.path()).args(["demo", "--no-serve"]));
    assert!(ok, "{err}");
    assert!(out.contains("Demo loaded"), "{out}");
    assert!(dir.path().join("demo-token").exists());
    let (ok, out, _) = run(ceir(dir.path()).args(["check", "352029831234565"]));
    assert!(ok);
    assert!(out.contains("status   blocked (BLACKLISTED)"), "{out}");
    assert!(out.contains("Apple iPhone 15"), "{out}");
    assert!(out.contains("AZ-POL-2026-0412"), "{out}");
    // A mistyped check digit is named.
    let (ok, _, err) = run(ceir(dir.path()).args(["check", "352029831234560"]));
    assert!(!ok);
    assert!(err.contains("expected 5"), "{err}");
    // The demo refuses to wipe a store it did not make.
    let other = tempfile::tempdir().unwrap();
    assert!(run(ceir(other.path()).args(["list", "show", "blocked"])).0);
    let (ok, _, err) = run(ceir(other.path()).args(["demo", "--no-serve"]));
    assert!(!ok);
    assert!(err.contains("did not make"), "{err}");
    let (ok, out, _) = run(ceir(dir.path()).arg("verify"));
    assert!(ok && out.contains("consistent"), "{out}");
}

#[test]
fn bulk_add_names_the_bad_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imeis.txt");
    std::fs::write(
        &file,
        "# seized in raid 12\n352029831234565\n350761758800422\n35076175880042X\n",
    )
    .unwrap();
    let (ok, _, err) = run(ceir(dir.path())
        .args(["list", "add", "blocked", "--reason", "stolen", "--file"])
        .arg(&file));
    assert!(!ok);
    assert!(err.contains("imeis.txt:4"), "{err}");
    assert!(err.contains("35076175880042X"), "{err}");
    let (_, out, _) = run(ceir(dir.path()).args(["list", "show", "blocked"]));
    assert!(out.contains("blocked: 0 entries"), "{out}");
    std::fs::write(&file, "352029831234565\n350761758800422\n").unwrap();
    let (ok, out, err) = run(ceir(dir.path())
        .args([
            "list",
            "add",
            "blocked",
            "--reason",
            "stolen",
            "--reference",
            "RAID-12",
            "--file",
        ])
        .arg(&file));
    assert!(ok, "{err}");
    assert!(out.contains("2 added"), "{out}");
    // Lifting needs the owner or a regulator; the CLI acts as the node's regulator.
    let (ok, out, _) = run(ceir(dir.path()).args([
        "list",
        "remove",
        "blocked",
        "352029831234565",
        "--note",
        "recovered",
    ]));
    assert!(ok && out.contains("1 entries lifted"), "{out}");
    let (_, out, _) = run(ceir(dir.path()).args(["list", "show", "352029831234565"]));
    assert!(
        out.contains("add") && out.contains("remove") && out.contains("recovered"),
        "{out}"
    );
    let (ok, _, err) = run(ceir(dir.path()).args(["list", "remove", "blocked", "352029831234565"]));
    assert!(!ok && err.contains("NOT_FOUND"), "{err}");
}

#[test]
fn import_tac_refuses_bad_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/tacs.txt");
    let (ok, out, err) = run(ceir(dir.path()).args(["import", "tac", good]));
    assert!(ok, "{err}");
    assert!(out.contains("imported 36 models"), "{out}");
    let bad = dir.path().join("bad.txt");
    let mut text = std::fs::read_to_string(good).unwrap();
    text.push_str("3520298|Bad|x|x||||||||Bad|x||||||\n");
    std::fs::write(&bad, text).unwrap();
    let (ok, _, err) = run(ceir(dir.path()).args(["import", "tac"]).arg(&bad));
    assert!(!ok);
    assert!(err.contains("line 38") && err.contains("TAC"), "{err}");
    // Far fewer models than before: refused unless forced.
    let small = dir.path().join("small.txt");
    let full = std::fs::read_to_string(good).unwrap();
    std::fs::write(&small, full.lines().take(5).collect::<Vec<_>>().join("\n")).unwrap();
    let (ok, _, err) = run(ceir(dir.path()).args(["import", "tac"]).arg(&small));
    assert!(!ok && err.contains("SAFETY_STOP"), "{err}");
    let (ok, out, _) = run(ceir(dir.path())
        .args(["import", "tac", "--force"])
        .arg(&small));
    assert!(ok && out.contains("now has 4"), "{out}");
}

/// What the server acknowledged survives kill -9.
#[test]
fn acknowledged_changes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, _) = run(ceir(dir.path()).args(["demo", "--no-serve"]));
    assert!(ok);
    let token = std::fs::read_to_string(dir.path().join("demo-token"))
        .unwrap()
        .trim()
        .to_owned();
    let mut child = ceir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let imeis: Vec<String> = (0..20u64)
        .map(|n| {
            let body = 35_123_456_000_000 + n;
            format!("{body:014}{}", ceir_domain::ids::luhn_check_digit(body))
        })
        .collect();
    rt.block_on(async {
        for i in &imeis {
            let r = client
                .post(format!("http://{addr}/api/v1/lists/blocked/entries"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"imei": i, "reason": "stolen"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
    });
    // SIGKILL: no shutdown, no checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for i in &imeis {
        let (ok, out, _) = run(ceir(dir.path()).args(["check", i]));
        assert!(ok && out.contains("blocked (BLACKLISTED)"), "{i}: {out}");
    }
    let (ok, out, _) = run(ceir(dir.path()).arg("verify"));
    assert!(ok && out.contains("consistent"), "{out}");
}

/// `ceir audit verify` passes on an intact log, prints the head to keep, and names the record
/// when a row of the SQLite file is edited behind the node's back; export writes the log.
#[test]
fn audit_verify_names_a_tampered_row() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(ceir(dir.path()).args(["demo", "--no-serve"])).0);
    let (ok, out, err) = run(ceir(dir.path()).args(["audit", "verify"]));
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit log OK"), "{out}");
    assert!(out.contains("head ") && out.contains("sha256:"), "{out}");
    let (ok, jsonl, _) = run(ceir(dir.path()).args(["audit", "export"]));
    assert!(ok);
    let records = jsonl.lines().count();
    assert!(records > 10, "{jsonl}");
    assert!(jsonl.contains("\"action\":\"catalog.import\""), "{jsonl}");
    let (ok, csv, _) = run(ceir(dir.path()).args([
        "audit",
        "export",
        "--format",
        "csv",
        "--action",
        "token.create",
    ]));
    assert!(ok);
    assert_eq!(csv.lines().count(), 3, "header and two demo tokens: {csv}");
    let (ok, _, err) = run(ceir(dir.path()).args(["audit", "export", "--action", "nothing"]));
    assert!(!ok && err.contains("not an audit action"), "{err}");
    // Showing the exception list shows IMSIs: that read is recorded, without the IMSI.
    // The demo's simulated month adds its pairing list, so ask for every entry.
    let (ok, out, _) = run(ceir(dir.path()).args(["list", "show", "exception", "--limit", "1000"]));
    assert!(ok && out.contains("400011234567890"), "{out}");
    let (ok, reads, _) =
        run(ceir(dir.path()).args(["audit", "export", "--action", "personal_data.read"]));
    assert!(ok);
    assert_eq!(reads.lines().count(), 1, "{reads}");
    assert!(
        reads.contains("\"object\":\"list:exception\"") && !reads.contains("400011234567890"),
        "{reads}"
    );

    // Someone with write access to the file rewrites who made change 5.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("ceir.db")),
        )
        .await
        .unwrap();
        let n = sqlx::query("UPDATE audit_log SET actor_org = 'someone-else' WHERE seq = 5")
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        pool.close().await;
    });
    let (ok, out, err) = run(ceir(dir.path()).args(["audit", "verify"]));
    assert!(!ok);
    assert!(
        out.contains("BROKEN at record 5") && out.contains("altered"),
        "{out}"
    );
    assert!(err.contains("fails verification at record 5"), "{err}");
}
