//! libFuzzer entry point for the DIRBS operator data reader (CSV, gzip or zip).
#![no_main]

#[path = "../src/operator_check.rs"]
mod operator_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| operator_check::fuzz_operator_data(data));
