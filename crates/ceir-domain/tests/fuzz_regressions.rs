//! Replays every saved fuzz input (`fuzz/regressions/<target>/`) through the fuzz targets' own
//! checks, so that past crashes and interesting seeds stay covered by plain `cargo test` on stable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The very file the fuzz targets call, so that the two cannot drift apart.
#[path = "../../../fuzz/src/lib.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/regressions/<target>/`; names each input that fails.
fn replay(target: &str, check: fn(&[u8])) -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut inputs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_file() {
            inputs.push(path);
        }
    }
    inputs.sort();
    if inputs.is_empty() {
        return Err(format!("no inputs in {}", dir.display()));
    }
    let mut failed = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{target} fails on:\n{}", failed.join("\n")))
    }
}

#[test]
fn fuzz_pei_regressions() -> Result<(), String> {
    replay("fuzz_pei", checks::fuzz_pei)
}

#[test]
fn fuzz_supi_regressions() -> Result<(), String> {
    replay("fuzz_supi", checks::fuzz_supi)
}

#[test]
fn fuzz_gpsi_regressions() -> Result<(), String> {
    replay("fuzz_gpsi", checks::fuzz_gpsi)
}

#[test]
fn fuzz_imei_regressions() -> Result<(), String> {
    replay("fuzz_imei", checks::fuzz_imei)
}

#[test]
fn fuzz_imsi_msisdn_tac_regressions() -> Result<(), String> {
    replay("fuzz_imsi_msisdn_tac", checks::fuzz_imsi_msisdn_tac)
}
