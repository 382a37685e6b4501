//! The checks each fuzz target runs; `crates/ceir-domain/tests/fuzz_regressions.rs` runs the same.
//!
//! A check fails (panics) when a parser panics or when a parsed value does not survive
//! Display -> parse unchanged.

use ceir_domain::ids::{Gpsi, IdError, Imei, ImeiSv, Imsi, Msisdn, Pei, Plmn, Supi, Tac};
use ceir_domain::invalid::{classify, is_test_tac};
use std::fmt::{Debug, Display};

/// Fuzzers produce bytes; the parsers take text. Invalid UTF-8 becomes U+FFFD so that every input
/// still reaches the parsers.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Parses `s`; if that succeeds, Display must give text that parses back to the same value.
fn round_trip<T, F>(what: &str, parse: F, s: &str) -> Option<T>
where
    T: Display + Debug + PartialEq,
    F: Fn(&str) -> Result<T, IdError>,
{
    let value = parse(s).ok()?;
    let shown = value.to_string();
    let again = parse(&shown);
    assert_eq!(
        again.as_ref().ok(),
        Some(&value),
        "{what}: {s:?} displayed as {shown:?}, parsed back as {again:?}"
    );
    Some(value)
}

fn check_imei(imei: Imei) {
    assert_eq!(
        Imei::parse_typed(&imei.to_string()),
        Ok(imei),
        "typed form of {imei}"
    );
    assert_eq!(
        Imei::parse_network(&imei.body_string()),
        Ok(imei),
        "body of {imei}"
    );
    let _ = classify(imei);
    let _ = is_test_tac(imei.tac());
}

fn check_imsi(imsi: Imsi) {
    let plmn = imsi.plmn();
    let shown = imsi.to_string();
    assert!(
        shown.starts_with(&format!("{:03}", plmn.mcc)),
        "MCC of {shown} is {plmn}"
    );
    assert_eq!(Imsi::from_key(imsi.key()), Ok(imsi), "key of {shown}");
}

/// The first eight bytes as a number, so that the integer constructors are fuzzed too.
fn number(data: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    for (b, d) in bytes.iter_mut().zip(data) {
        *b = *d;
    }
    u64::from_le_bytes(bytes)
}

pub fn fuzz_pei(data: &[u8]) {
    let s = text(data);
    if let Some(pei) = round_trip("Pei", Pei::parse, &s) {
        if let Some(imei) = pei.imei() {
            check_imei(imei);
        }
    }
}

pub fn fuzz_supi(data: &[u8]) {
    let s = text(data);
    if let Some(supi) = round_trip("Supi", Supi::parse, &s) {
        if let Some(imsi) = supi.imsi() {
            check_imsi(imsi);
        }
    }
}

pub fn fuzz_gpsi(data: &[u8]) {
    let s = text(data);
    round_trip("Gpsi", Gpsi::parse, &s);
}

pub fn fuzz_imei(data: &[u8]) {
    let s = text(data);
    if let Some(imei) = round_trip("Imei typed", Imei::parse_typed, &s) {
        check_imei(imei);
    }
    if let Some(imei) = round_trip("Imei network", Imei::parse_network, &s) {
        check_imei(imei);
    }
    if let Some(sv) = round_trip("ImeiSv", ImeiSv::parse, &s) {
        check_imei(sv.imei());
    }
    if let Ok(imei) = Imei::from_body(number(data)) {
        check_imei(imei);
    }
}

pub fn fuzz_imsi_msisdn_tac(data: &[u8]) {
    let s = text(data);
    if let Some(imsi) = round_trip("Imsi", Imsi::parse, &s) {
        check_imsi(imsi);
    }
    round_trip("Msisdn", Msisdn::parse, &s);
    round_trip("Plmn", Plmn::parse, &s);
    if let Some(tac) = round_trip("Tac", Tac::parse, &s) {
        let _ = is_test_tac(tac);
    }
    let n = number(data);
    if let Ok(imsi) = Imsi::from_key(n) {
        assert_eq!(imsi.key(), n, "from_key accepted a non-canonical key");
        check_imsi(imsi);
    }
    if let Ok(tac) = Tac::from_u32(n as u32) {
        assert_eq!(Tac::parse(&tac.to_string()), Ok(tac));
    }
}
