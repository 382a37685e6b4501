//! libFuzzer entry point; the checks live in `src/lib.rs`, shared with the regression test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ceir_domain_fuzz::fuzz_imsi_msisdn_tac(data));
