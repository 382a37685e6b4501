//! The Osmocom reader against the real tacdb export in the shared data folder, read by path.
//! The export is CC-BY-SA and is never copied into the repository, so when it is absent (a plain
//! checkout) this test says so loudly and passes without checking anything.

// Test helpers outside #[test] functions may fail loudly too; clippy's test allowance covers only
// the functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::Tac;
use ceir_ingest::{read_catalog, TacFormat};
use std::path::Path;

const REAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/tacdb/osmocom-tacdb.csv"
);

/// Data rows in the export (lines 3 to 22,529).
const ROWS: usize = 22_527;
/// TACs that appear twice once the leading space of one copy is trimmed: 35572302, 35693703 and
/// 33205600.
const DUPLICATES: u64 = 3;

#[test]
fn real_osmocom_export() {
    let path = Path::new(REAL);
    if !path.exists() {
        eprintln!(
            "\n*** SKIPPED real_osmocom_export: {} is absent; the Osmocom reader was not checked \
             against the real export ***\n",
            path.display()
        );
        return;
    }
    let size = std::fs::metadata(path).unwrap().len();
    let mut last = 0;
    let c = read_catalog(path, &mut |n| last = n).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(last, size, "progress reaches the file size");
    assert_eq!(c.format, TacFormat::Osmocom);
    assert_eq!(c.duplicates, DUPLICATES);
    assert_eq!(c.skipped_blank, 0);
    assert_eq!(c.models.len(), ROWS - DUPLICATES as usize);
    assert!(
        c.models.windows(2).all(|w| w[0].tac < w[1].tac),
        "sorted, one model per TAC"
    );

    let find = |tac: &str| {
        let tac = Tac::parse(tac).unwrap();
        c.models
            .iter()
            .find(|m| m.tac == tac)
            .unwrap_or_else(|| panic!("{tac} missing"))
    };
    let oppo = find("35675904");
    assert_eq!((oppo.brand.as_str(), oppo.model.as_str()), ("Oppo", "N1"));
    assert!(oppo.radios.is_empty(), "the export has no bands");
    let nokia = find("49013920");
    assert_eq!(
        (nokia.brand.as_str(), nokia.model.as_str()),
        ("Nokia", "1610")
    );
    // Written with a leading space, once only.
    let alcatel = find("33010667");
    assert_eq!(alcatel.brand, "Alcatel");
    // Twice, with different model names (lines 4021 and 19246): the later row wins.
    assert_eq!(find("33205600").model, "M314-B0");
    assert_eq!(find("35572302").model, "3120 classic");
}
