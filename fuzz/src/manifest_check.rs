//! The signed manifest's fuzz check, shared by `fuzz_lists_manifest` and ceir-lists' replay test.
//!
//! An operator runs `ceir lists verify` on whatever it downloaded. The fuzzed bytes are the
//! manifest, signed with a real key so that the check gets past the signature to the JSON and the
//! paths it names. Beside it: one file, `a.csv`, and a directory `x/` holding `b.csv`.

use std::sync::atomic::{AtomicU64, Ordering};

static N: AtomicU64 = AtomicU64::new(0);

/// Any manifest: no panic; a verification that passes lists only safe, relative paths, each
/// once, each present with the size and hash it gives, and every file beside the manifest.
pub fn fuzz_lists_manifest(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "ceir-fuzz-manifest-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("x")).unwrap();
    std::fs::write(dir.join("a.csv"), b"imei,block_date,reasons\n").unwrap();
    std::fs::write(dir.join("x/b.csv"), b"").unwrap();
    let key = ceir_lists::NodeKey::from_seed([7; 32]);
    std::fs::write(dir.join("manifest.json"), data).unwrap();
    std::fs::write(dir.join("manifest.json.sig"), hex_encode(&key.sign(data))).unwrap();
    let public = key.public();
    for operator in [None, Some("azercell")] {
        let Ok(v) = ceir_lists::verify(&dir, &public, operator) else {
            continue;
        };
        if v.ok() {
            let m = v.manifest.as_ref().unwrap();
            let mut paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
            for p in &paths {
                assert!(
                    !p.starts_with('/') && !p.split('/').any(|c| c == ".." || c.is_empty()),
                    "an unsafe path passed: {p:?}"
                );
                assert!(v.manifest_path.parent().unwrap().join(p).is_file(), "{p}");
            }
            paths.sort_unstable();
            let n = paths.len();
            paths.dedup();
            assert_eq!(n, paths.len(), "a path listed twice passed");
            if operator.is_none() {
                // Nothing beside the manifest escaped it.
                assert!(
                    paths.contains(&"a.csv") && paths.contains(&"x/b.csv"),
                    "{paths:?}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
