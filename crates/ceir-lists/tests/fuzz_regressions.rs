//! Replays every saved input of `fuzz/regressions/fuzz_lists_manifest/` through the fuzz target's
//! own check, so past crashes stay covered by plain `cargo test` on stable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/manifest_check.rs"]
mod manifest_check;

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/fuzz_lists_manifest")
}

#[test]
fn lists_manifest_regressions() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let ok = std::panic::catch_unwind(|| manifest_check::fuzz_lists_manifest(&data));
        assert!(ok.is_ok(), "{} fails", path.display());
        n += 1;
    }
    assert!(n >= 8, "the regression corpus is in place");
}

/// One seed passes verification, so the fuzzer starts from a manifest that reaches the checks
/// made of a passing one; the unsafe and duplicate variants of it do not pass.
#[test]
fn the_seed_corpus_holds_a_passing_manifest() {
    let key = ceir_lists::NodeKey::from_seed([7; 32]);
    let outcome = |name: &str| {
        let data = std::fs::read(dir().join(name)).unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x")).unwrap();
        std::fs::write(d.path().join("a.csv"), b"imei,block_date,reasons\n").unwrap();
        std::fs::write(d.path().join("x/b.csv"), b"").unwrap();
        std::fs::write(d.path().join("manifest.json"), &data).unwrap();
        let sig: String = key.sign(&data).iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(d.path().join("manifest.json.sig"), sig).unwrap();
        ceir_lists::verify(d.path(), &key.public(), None).unwrap()
    };
    let v = outcome("two-files.json");
    assert!(
        v.ok(),
        "{:?} (key id {})",
        v.problems,
        key.public().key_id()
    );
    for bad in [
        "dotdot.json",
        "duplicate.json",
        "absolute.json",
        "empty-component.json",
        "future-format.json",
        "not-json.bin",
        "empty.json",
    ] {
        assert!(!outcome(bad).ok(), "{bad} passed");
    }
}
