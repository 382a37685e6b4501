//! The TAC catalog reader's fuzz check, shared by `fuzz_tac_catalog` and ceir-ingest's replay test.

/// Any bytes: no panic, progress never goes backwards, and an accepted catalog is sorted and unique.
pub fn fuzz_tac_catalog(data: &[u8]) {
    let mut last = 0u64;
    let result = ceir_ingest::read_catalog_from(data, "fuzz", &mut |n| {
        assert!(n >= last, "progress went back from {last} to {n}");
        last = n;
    });
    if let Ok(c) = result {
        assert!(
            c.models.windows(2).all(|w| w[0].tac < w[1].tac),
            "models sorted by TAC, one per TAC"
        );
    }
}
