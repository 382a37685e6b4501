//! libFuzzer entry point for the TAC catalog reader (GSMA and Osmocom files, plain or zipped).
#![no_main]

#[path = "../src/tac_check.rs"]
mod tac_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| tac_check::fuzz_tac_catalog(data));
