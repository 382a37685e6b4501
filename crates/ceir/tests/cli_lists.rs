//! `ceir node key`, `ceir lists verify|runs|generate` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, ImeiNorm, Region};
use ceir_lists::{Condition, ListConfig, ListInput, NodeKey, PublishMeta, Row};
use std::collections::HashSet;

mod common;
use common::{ceir, run};

/// Lists signed with the node's key, as `ceir lists generate` publishes them.
fn publish(data: &std::path::Path) {
    let key = NodeKey::load(&data.join("node.key")).unwrap().unwrap();
    let region = Region::default_for("AZ").unwrap();
    let conditions = vec![Condition {
        label: "stolen_list".into(),
        reason: "stolen".into(),
        blocking: true,
    }];
    let none = HashSet::new();
    let input = ListInput {
        date: Day::parse_iso("2026-11-02").unwrap(),
        lookback_end: Day::parse_iso("2026-11-02").unwrap(),
        conditions: &conditions,
        triplets: &[],
        triplet_operators: &[],
        raw_imeis: &[],
        pairings: &[],
        golden: &none,
        barred: &none,
        barred_tacs: &HashSet::new(),
        region: &region,
        config: &ListConfig::default(),
    };
    let imei = ImeiNorm::Body(35_000_000_000_001);
    let rows = [Row {
        imei: &imei,
        condition: "stolen_list",
        end: None,
        block_date: Day::parse_iso("2026-11-01"),
        amnesty: false,
    }];
    let lists = ceir_lists::compute(&input, rows).unwrap();
    let meta = PublishMeta {
        country: "AZ".into(),
        classification_run: Some(1),
        full_base: false,
    };
    ceir_lists::publish(&data.join("lists"), &lists, &key, &meta).unwrap();
}

#[test]
fn node_key_signs_and_verify_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(ceir(dir.path()).args(["node", "key"]));
    assert_eq!(code, Some(0), "{err}");
    let public = out.trim().to_owned();
    assert!(
        public.starts_with("ed25519:") && public.len() == 8 + 64,
        "{out}"
    );
    assert!(err.contains("key id"), "{err}");
    // Created once: the same key next time.
    assert_eq!(run(ceir(dir.path()).args(["node", "key"])).1.trim(), public);

    publish(dir.path());
    let (code, out, _) = run(ceir(dir.path()).args(["lists", "runs"]));
    assert_eq!(code, Some(0));
    assert!(out.contains("run-1") && out.contains("(current)"), "{out}");
    let lists = dir.path().join("lists");
    let (code, out, err) = run(ceir(dir.path())
        .args(["lists", "verify"])
        .arg(&lists)
        .args(["--key", &public]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("OK   signature valid"), "{out}");

    // Another node's key.
    let other = NodeKey::from_seed([3; 32]).public().to_string();
    let (code, out, err) = run(ceir(dir.path())
        .args(["lists", "verify"])
        .arg(&lists)
        .args(["--key", &other]));
    assert_eq!(code, Some(2));
    assert!(out.contains("was signed with key"), "{out}");
    assert!(err.contains("do not use these lists"), "{err}");

    // An edited file, checked with the node's own key (no --key).
    let file = lists.join("run-1/nar/blocklist.csv");
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, "imei,block_date,reasons\n").unwrap();
    let (code, out, _) = run(ceir(dir.path()).args(["lists", "verify"]).arg(&lists));
    assert_eq!(code, Some(2));
    assert!(out.contains("BAD  nar/blocklist.csv"), "{out}");
    // Bakcell checks only its own files, with its own manifest: fine.
    let (code, out, _) = run(ceir(dir.path())
        .args(["lists", "verify", "--operator", "bakcell"])
        .arg(&lists));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("run-1/bakcell/manifest.json"), "{out}");
    assert!(out.contains("lists of bakcell"), "{out}");
    // Nar's, which was edited, fails.
    let (code, out, _) = run(ceir(dir.path())
        .args(["lists", "verify", "--operator", "nar"])
        .arg(&lists));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("BAD  blocklist.csv"), "{out}");
}

/// Exit code 2 says the lists were checked and are bad; 1 that nothing was checked.
#[test]
fn verify_tells_a_usage_error_from_a_failed_verification() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(ceir(dir.path()).args(["node", "key"])).0, Some(0));
    publish(dir.path());
    let lists = dir.path().join("lists");
    // An operator the run does not know: refused, not "0 files match".
    let (code, out, err) = run(ceir(dir.path())
        .args(["lists", "verify", "--operator", "azersell"])
        .arg(&lists));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains("OK"), "{out}");
    assert!(
        err.contains("no operator \"azersell\"") && err.contains("azercell"),
        "{err}"
    );
    // No manifest there.
    let (code, _, err) = run(ceir(dir.path())
        .args(["lists", "verify"])
        .arg(dir.path().join("nowhere")));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no manifest there"), "{err}");
    // A malformed key, and an option clap does not know.
    let (code, _, err) = run(ceir(dir.path())
        .args(["lists", "verify", "--key", "ed25519:abcd"])
        .arg(&lists));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not an Ed25519 public key"), "{err}");
    let (code, _, _) = run(ceir(dir.path())
        .args(["lists", "verify", "--bogus"])
        .arg(&lists));
    assert_eq!(code, Some(1));
    // A file the manifest does not list: the verification fails.
    std::fs::write(lists.join("run-1/azercell/extra.csv"), "x\n").unwrap();
    let (code, out, _) = run(ceir(dir.path())
        .args(["lists", "verify", "--operator", "azercell"])
        .arg(&lists));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("BAD  extra.csv: not in the manifest"), "{out}");
}

#[test]
fn generate_without_classification_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(ceir(dir.path()).args(["lists", "generate", "--date", "2026-11-02"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("ceir classify"), "{err}");
    let (code, _, err) = run(ceir(dir.path()).args(["lists", "generate", "--date", "2026-13-02"]));
    assert_eq!(code, Some(1), "a usage error");
    assert!(err.contains("yyyy-mm-dd"), "{err}");
}

/// `[import.lists.<list>]` sets a list's import size thresholds; without it, DIRBS's defaults
/// (for the monitoring list: no absolute limit, at least 75 % of the current size).
#[test]
fn list_imports_use_the_configured_size_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let list = |name: &str, n: u64| {
        let p = dir.path().join(name);
        let rows: String = (1..=n)
            .map(|i| format!("{}\n", 350_000_000_000_000 + i * 10))
            .collect();
        std::fs::write(&p, format!("imei\n{rows}")).unwrap();
        p
    };
    let ten = list("monitoring.csv", 10);
    let (code, out, err) = run(ceir(&data).args(["import", "monitoring"]).arg(&ten));
    assert_eq!(code, Some(0), "{out}{err}");
    let eight = list("monitoring8.csv", 8);
    let config = dir.path().join("ceir.toml");
    std::fs::write(
        &config,
        "[import.lists.monitoring]\nsize_variation_percent = 0.9\n",
    )
    .unwrap();
    let (code, _, err) = run(ceir(&data)
        .arg("--config")
        .arg(&config)
        .args(["import", "monitoring"])
        .arg(&eight));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("would shrink from 10 to 8 entries, below the import size threshold of 9"),
        "{err}"
    );
    let (code, out, err) = run(ceir(&data).args(["import", "monitoring"]).arg(&eight));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("2 removed"), "{out}");
    std::fs::write(
        &config,
        "[import.lists.monitoring]\nsize_variation_percent = 2\n",
    )
    .unwrap();
    let (code, _, err) = run(ceir(&data)
        .arg("--config")
        .arg(&config)
        .args(["import", "monitoring"])
        .arg(&eight));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("[import.lists.monitoring] size_variation_percent = 2"),
        "{err}"
    );
}
