//! libFuzzer entry point for `ceir lists verify` over a fuzzed, validly signed manifest.
#![no_main]

#[path = "../src/manifest_check.rs"]
mod manifest_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| manifest_check::fuzz_lists_manifest(data));
