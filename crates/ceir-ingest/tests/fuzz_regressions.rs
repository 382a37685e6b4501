//! Replays every saved input of `fuzz/regressions/fuzz_tac_catalog/` through the fuzz target's own
//! check, so past crashes stay covered by plain `cargo test` on stable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/tac_check.rs"]
mod tac_check;

#[test]
fn tac_catalog_regressions() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/fuzz_tac_catalog");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let ok = std::panic::catch_unwind(|| tac_check::fuzz_tac_catalog(&data));
        assert!(ok.is_ok(), "{} fails", path.display());
        n += 1;
    }
    assert!(n >= 5, "the regression corpus is in place");
}

#[path = "../../../fuzz/src/operator_check.rs"]
mod operator_check;

#[test]
fn operator_data_regressions() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/fuzz_operator_data");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let ok = std::panic::catch_unwind(|| operator_check::fuzz_operator_data(&data));
        assert!(ok.is_ok(), "{} fails", path.display());
        n += 1;
    }
    assert!(n >= 6, "the regression corpus is in place");
}
