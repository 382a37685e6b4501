//! The operator data reader's fuzz check, shared by `fuzz_operator_data` and ceir-ingest's replay test.

use std::sync::atomic::{AtomicU64, Ordering};

static N: AtomicU64 = AtomicU64::new(0);

/// Any bytes as an operator file: no panic; an accepted file yields sorted, non-empty triplets,
/// no more of them than rows, even when a tiny budget forces spilled runs.
pub fn fuzz_operator_data(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "ceir-fuzz-op-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // An operator of the region: any other is refused before its bytes are read.
    let path = dir.join("azercell_20261001_20261031.csv");
    std::fs::write(&path, data).unwrap();
    let region = ceir_domain::observe::Region::default_for("AZ").unwrap();
    let opts = ceir_ingest::operator::ReadOptions {
        region: &region,
        triplet_budget: 3,
        spill_dir: &dir,
        zero_tacs: None,

        // Several threads and chunks of a few lines, so that the hand-over is fuzzed too.
        workers: 3,
        chunk_bytes: 64,
    };
    let mut last = 0u64;
    let result = ceir_ingest::operator::read_operator_file(&path, &opts, &mut |n| {
        assert!(n >= last, "progress went back from {last} to {n}");
        last = n;
    });
    if let Ok(read) = result {
        let rows = read.counts.rows;
        let mut n = 0u64;
        let mut prev: Option<ceir_domain::observe::Triplet> = None;
        for t in read.triplets().unwrap() {
            let t = t.unwrap();
            assert!(t.days != 0, "a stored triplet was seen on some day");
            if let Some(p) = prev {
                assert!(p != t, "triplets are merged, never repeated");
            }
            prev = Some(t);
            n += 1;
        }
        assert!(n <= rows, "{n} triplets from {rows} rows");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
