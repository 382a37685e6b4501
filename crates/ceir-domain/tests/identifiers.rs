//! Table-driven test vectors for every identifier parser, against TS 23.003 and TS 29.571.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::ids::{
    luhn_check_digit, mnc_len, mnc_len_for, Gpsi, IdError, Imei, ImeiSv, Imsi, Msisdn, Pei, Plmn,
    Supi, Tac, MCC_WITH_3_DIGIT_MNC,
};
use std::fmt::Display;

/// A short, stable name for an error, so that the tables stay readable.
fn tag(e: &IdError) -> String {
    match e {
        IdError::Empty { .. } => "Empty".into(),
        IdError::NotDigit { position, .. } => format!("NotDigit@{position}"),
        IdError::Length { .. } => "Length".into(),
        IdError::CheckDigit { expected, .. } => format!("CheckDigit({expected})"),
        IdError::Form { .. } => "Form".into(),
        IdError::Invalid { .. } => "Invalid".into(),
    }
}

/// Runs one table: `Ok(display)` expects success with that Display; `Err(tag)` that error.
fn check<T: Display>(
    parser: &str,
    parse: impl Fn(&str) -> Result<T, IdError>,
    table: &[(&str, Result<&str, &str>)],
) {
    let mut failures = Vec::new();
    for (input, expected) in table {
        let got = parse(input).map(|v| v.to_string()).map_err(|e| tag(&e));
        let want = expected.map(str::to_owned).map_err(str::to_owned);
        if got != want {
            failures.push(format!(
                "{parser}({input:?}): expected {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn imei_typed() {
    check(
        "Imei::parse_typed",
        Imei::parse_typed,
        &[
            // Well-known valid IMEIs: Wikipedia's example, its structure example, TS 23.003
            // Annex B, the Android Emulator's, and a widely used tutorial example.
            ("490154203237518", Ok("490154203237518")),
            ("352099001761481", Ok("352099001761481")),
            ("260531793113837", Ok("260531793113837")),
            ("358240051111110", Ok("358240051111110")),
            ("356938035643809", Ok("356938035643809")),
            ("012345678901237", Ok("012345678901237")),
            ("001001313088798", Ok("001001313088798")),
            // As printed on boxes and labels.
            ("49-015420-323751-8", Ok("490154203237518")),
            ("35 209900 176148 1", Ok("352099001761481")),
            ("35.209900.176148.1", Ok("352099001761481")),
            ("  260531793113837\t", Ok("260531793113837")),
            // A mistyped check digit names the right one.
            ("490154203237519", Err("CheckDigit(8)")),
            ("260531793113830", Err("CheckDigit(7)")),
            ("123456789012345", Err("CheckDigit(7)")),
            ("358240051111111", Err("CheckDigit(0)")),
            // Luhn catches most swaps of adjacent digits, but never 09 <-> 90.
            ("491054203237518", Err("CheckDigit(9)")),
            ("409154203237518", Ok("409154203237518")),
            ("49015420323751", Err("Length")),
            ("4901542032375180", Err("Length")),
            ("", Err("Empty")),
            ("   ", Err("Empty")),
            ("---", Err("Empty")),
            // Positions count the characters as typed, separators included.
            ("49015420323751a", Err("NotDigit@15")),
            ("4901-5420x", Err("NotDigit@10")),
            ("+490154203237518", Err("NotDigit@1")),
            ("４９０１５４２０３２３７５１８", Err("NotDigit@1")),
            ("49015420323751８", Err("NotDigit@15")),
        ],
    );
}

#[test]
fn imei_network() {
    check(
        "Imei::parse_network",
        Imei::parse_network,
        &[
            // Phones send a spare 0 in place of the check digit; Display restores the real one.
            ("490154203237510", Ok("490154203237518")),
            ("490154203237518", Ok("490154203237518")),
            ("490154203237519", Ok("490154203237518")),
            ("49015420323751", Ok("490154203237518")),
            ("00000000000000", Ok("000000000000000")),
            ("99999999999999", Ok("999999999999994")),
            ("4901542032375", Err("Length")),
            ("4901542032375100", Err("Length")),
            ("490154203237518 ", Err("NotDigit@16")),
            ("49-015420-323751-8", Err("NotDigit@3")),
            ("", Err("Empty")),
        ],
    );
}

#[test]
fn imeisv() {
    check(
        "ImeiSv::parse",
        ImeiSv::parse,
        &[
            ("4901542032375123", Ok("4901542032375123")),
            ("3520990017614823", Ok("3520990017614823")),
            ("0000000000000099", Ok("0000000000000099")),
            ("490154203237512", Err("Length")),
            ("49015420323751234", Err("Length")),
            ("490154203237512x", Err("NotDigit@16")),
            ("", Err("Empty")),
        ],
    );
    let sv = ImeiSv::parse("3520990017614823").unwrap();
    assert_eq!(sv.svn(), 23);
    assert_eq!(sv.imei().to_string(), "352099001761481");
}

#[test]
fn pei_forms() {
    check(
        "Pei::parse",
        Pei::parse,
        &[
            ("imei-490154203237518", Ok("imei-490154203237518")),
            ("imei-490154203237510", Ok("imei-490154203237518")),
            ("imeisv-4901542032375123", Ok("imeisv-4901542032375123")),
            ("mac-00-1A-2b-3C-4d-5E", Ok("mac-00-1a-2b-3c-4d-5e")),
            (
                "mac-00-1a-2b-3c-4d-5e-untrusted",
                Ok("mac-00-1a-2b-3c-4d-5e-untrusted"),
            ),
            ("mac-ff-ff-ff-ff-ff-ff", Ok("mac-ff-ff-ff-ff-ff-ff")),
            (
                "eui-00-11-22-33-44-55-66-77",
                Ok("eui-00-11-22-33-44-55-66-77"),
            ),
            (
                "eui-AA-bb-CC-dd-EE-ff-00-11",
                Ok("eui-aa-bb-cc-dd-ee-ff-00-11"),
            ),
            // imei- takes exactly 15 digits, although a bare network IMEI may have 14.
            ("imei-49015420323751", Err("Length")),
            ("imei-4901542032375180", Err("Length")),
            ("imei-", Err("Empty")),
            ("imei-49015420323751x", Err("NotDigit@15")),
            ("imeisv-490154203237512", Err("Length")),
            ("mac-00-1a-2b-3c-4d", Err("Form")),
            ("mac-00-1a-2b-3c-4d-5e-6f", Err("Form")),
            ("mac-00-1a-2b-3c-4d-5", Err("Form")),
            ("mac-001a-2b-3c-4d-5e", Err("Form")),
            ("mac-00-1a-2b-3c-4d-5e-UNTRUSTED", Err("Form")),
            ("mac-00-1a-2b-3c-4d-5e-trusted", Err("Form")),
            ("mac-00-1a-2b-3c-4d-5e-", Err("Form")),
            // A sign is not a hex digit, though u8::from_str_radix would accept "+a".
            ("mac-+a-1a-2b-3c-4d-5e", Err("Form")),
            ("mac-0g-1a-2b-3c-4d-5e", Err("Form")),
            ("mac-é-1a-2b-3c-4d-5e", Err("Form")),
            ("mac--", Err("Form")),
            ("mac-", Err("Form")),
            ("eui-00-11-22-33-44-55-66", Err("Form")),
            ("eui-00-11-22-33-44-55-66-77-untrusted", Err("Form")),
            ("IMEI-490154203237518", Err("Form")),
            ("490154203237518", Err("Form")),
            ("imei490154203237518", Err("Form")),
            ("", Err("Empty")),
        ],
    );
    assert_eq!(
        Pei::parse("imeisv-4901542032375123").unwrap().imei(),
        Some(Imei::parse_typed("490154203237518").unwrap())
    );
    assert_eq!(Pei::parse("mac-00-1a-2b-3c-4d-5e").unwrap().imei(), None);
}

#[test]
fn supi_forms() {
    check(
        "Supi::parse",
        Supi::parse,
        &[
            ("imsi-400011234567890", Ok("imsi-400011234567890")),
            ("imsi-434051234567", Ok("imsi-434051234567")),
            ("imsi-001010000000001", Ok("imsi-001010000000001")),
            ("imsi-400011", Ok("imsi-400011")),
            ("nai-user@realm.example", Ok("nai-user@realm.example")),
            (
                "nai-anonymous@5gc.mnc001.mcc001.3gppnetwork.org",
                Ok("nai-anonymous@5gc.mnc001.mcc001.3gppnetwork.org"),
            ),
            ("gci-00-11-22-33-44-55", Ok("gci-00-11-22-33-44-55")),
            ("gli-line-1", Ok("gli-line-1")),
            ("nai-ünïcödé", Ok("nai-ünïcödé")),
            // TS 29.571 allows 5 digits; a bare MCC+MNC names no subscriber, so 6 is the minimum.
            ("imsi-00101", Ok("imsi-00101")),
            ("imsi-0010", Err("Length")),
            ("imsi-4000112345678901", Err("Length")),
            ("imsi-40001x", Err("NotDigit@6")),
            ("imsi-", Err("Empty")),
            ("nai-", Err("Empty")),
            ("gci-", Err("Empty")),
            // ECMA-262 '.' matches no line terminator, so the pattern refuses them.
            ("nai-a\nb", Err("Invalid")),
            ("gli-a\r", Err("Invalid")),
            ("nai-a\u{2028}", Err("Invalid")),
            ("msisdn-994501234567", Err("Form")),
            ("IMSI-400011234567890", Err("Form")),
            ("400011234567890", Err("Form")),
            ("", Err("Empty")),
        ],
    );
    let supi = Supi::parse("imsi-400011234567890").unwrap();
    assert_eq!(
        supi.imsi().map(|i| i.plmn().to_string()),
        Some("400-01".into())
    );
    assert_eq!(Supi::parse("nai-a@b").unwrap().imsi(), None);
}

#[test]
fn gpsi_forms() {
    check(
        "Gpsi::parse",
        Gpsi::parse,
        &[
            ("msisdn-994501234567", Ok("msisdn-994501234567")),
            ("msisdn-998901234567", Ok("msisdn-998901234567")),
            ("msisdn-12345", Ok("msisdn-12345")),
            ("msisdn-123456789012345", Ok("msisdn-123456789012345")),
            ("extid-device@operator.az", Ok("extid-device@operator.az")),
            ("extid-a@b", Ok("extid-a@b")),
            // The pattern is msisdn-[0-9]{5,15}: no '+', no leading 0 (E.164).
            ("msisdn-+994501234567", Err("NotDigit@1")),
            ("msisdn-0501234567", Err("Invalid")),
            ("msisdn-1234", Err("Length")),
            ("msisdn-1234567890123456", Err("Length")),
            ("msisdn-", Err("Empty")),
            // extid-[^@]+@[^@]+: exactly one '@', something on each side.
            ("extid-a@b@c", Err("Form")),
            ("extid-@b", Err("Form")),
            ("extid-a@", Err("Form")),
            ("extid-ab", Err("Form")),
            ("extid-", Err("Form")),
            ("imsi-400011234567890", Err("Form")),
            ("", Err("Empty")),
        ],
    );
}

#[test]
fn msisdn() {
    check(
        "Msisdn::parse",
        Msisdn::parse,
        &[
            ("+994501234567", Ok("994501234567")),
            ("994501234567", Ok("994501234567")),
            ("+998901234567", Ok("998901234567")),
            ("998901234567", Ok("998901234567")),
            ("+12025550123", Ok("12025550123")),
            ("0501234567", Err("Invalid")),
            ("+0501234567", Err("Invalid")),
            ("+", Err("Empty")),
            ("", Err("Empty")),
            // Positions count the '+' the person typed.
            ("++994501234567", Err("NotDigit@2")),
            ("+99450 1234567", Err("NotDigit@7")),
            ("99450 1234567", Err("NotDigit@6")),
            ("+1234", Err("Length")),
            ("+9945012345678901", Err("Length")),
        ],
    );
    assert_eq!(
        Msisdn::parse("+994501234567").unwrap().get(),
        994_501_234_567
    );
}

#[test]
fn tac() {
    check(
        "Tac::parse",
        Tac::parse,
        &[
            ("49015420", Ok("49015420")),
            (" 49015420 ", Ok("49015420")),
            ("00100131", Ok("00100131")),
            ("4901542", Err("Length")),
            ("490154201", Err("Length")),
            ("4901542x", Err("NotDigit@8")),
            ("", Err("Empty")),
        ],
    );
    let t = Tac::parse("35209900").unwrap();
    assert_eq!(t.reporting_body(), 35);
    assert_eq!(Tac::from_u32(t.get()).unwrap(), t);
    assert!(Tac::from_u32(100_000_000).is_err());
    assert_eq!(Imei::parse_typed("352099001761481").unwrap().tac(), t);
}

#[test]
fn imsi_to_plmn() {
    let table: &[(&str, &str)] = &[
        // Azerbaijan: Azercell, Bakcell, Azerfon (Nar), Nakhtel.
        ("400011234567890", "400-01"),
        ("400021234567890", "400-02"),
        ("400041234567890", "400-04"),
        ("400061234567890", "400-06"),
        // Uzbekistan: Beeline (ex Unitel), Ucell (ex Coscom), Mobiuz (ex Uzdunrobita).
        ("434041234567890", "434-04"),
        ("434051234567890", "434-05"),
        ("434071234567890", "434-07"),
        // North America: 3-digit MNCs.
        ("310150123456789", "310-150"),
        ("311480123456789", "311-480"),
        ("302720123456789", "302-720"),
        ("330110123456789", "330-110"),
        ("334020123456789", "334-020"),
        // India 405: mostly 3 digits, but Airtel and Vodafone Idea hold 2-digit codes.
        ("405840123456789", "405-840"),
        ("405025123456789", "405-025"),
        ("405511234567890", "405-51"),
        ("405671234567890", "405-67"),
        ("404451234567890", "404-45"),
        // Trinidad and Tobago and Bermuda mix both lengths.
        ("374121234567890", "374-12"),
        ("374130123456789", "374-130"),
        ("350000123456789", "350-000"),
        ("350051234567890", "350-05"),
        // Elsewhere 2 digits; 001-01 is the test network.
        ("250011234567890", "250-01"),
        ("001010000000001", "001-01"),
        // The shortest IMSIs still split without underflow.
        ("400011", "400-01"),
        ("310150", "310-150"),
        ("000000", "000-00"),
        // TS 29.571 allows 5 digits: MCC and a 2-digit MNC with no MSIN.
        ("40001", "400-01"),
    ];
    for (imsi, plmn) in table {
        let i = Imsi::parse(imsi).unwrap();
        assert_eq!(i.plmn().to_string(), *plmn, "{imsi}");
        assert_eq!(i.mcc(), plmn[..3].parse::<u16>().unwrap(), "{imsi}");
        assert_eq!(i.to_string(), *imsi);
        assert_eq!(Imsi::from_key(i.key()).unwrap(), i);
    }
    for (bad, want) in [
        ("4000", "Length"),
        ("4000112345678901", "Length"),
        ("", "Empty"),
        ("40001x", "NotDigit@6"),
    ] {
        assert_eq!(tag(&Imsi::parse(bad).unwrap_err()), want, "{bad:?}");
    }
}

#[test]
fn imsi_keys() {
    // Leading zeros are kept apart by the length in the key.
    let a = Imsi::parse("001010000000001").unwrap();
    let b = Imsi::parse("01010000000001").unwrap();
    assert_ne!(a.key(), b.key());
    // A key whose length bits overflow a u8 must not alias a valid length.
    let valid = Imsi::parse("400011").unwrap().key();
    assert!(Imsi::from_key(valid | (256 << 50)).is_err());
    assert!(Imsi::from_key((5 << 50) | 40001).is_ok());
    assert!(Imsi::from_key((4 << 50) | 4000).is_err());
    assert!(Imsi::from_key((16 << 50) | 1).is_err());
    assert!(Imsi::from_key((6 << 50) | 1_000_000).is_err());
    assert!(Imsi::from_key(u64::MAX).is_err());
    assert!(Imsi::from_key(0).is_err());
}

#[test]
fn plmn_parse() {
    check(
        "Plmn::parse",
        Plmn::parse,
        &[
            ("400-01", Ok("400-01")),
            ("43405", Ok("434-05")),
            ("310 150", Ok("310-150")),
            ("310_150", Ok("310-150")),
            ("001-001", Ok("001-001")),
            ("4000", Err("Length")),
            ("4000123", Err("Length")),
            ("400-0a", Err("NotDigit@5")),
            ("", Err("Empty")),
        ],
    );
}

#[test]
fn mnc_length_table() {
    assert!(MCC_WITH_3_DIGIT_MNC.windows(2).all(|w| w[0] < w[1]));
    for (mcc, len) in [
        (400, 2),
        (434, 2),
        (250, 2),
        (310, 3),
        (316, 3),
        (330, 3),
        (352, 3),
        (366, 3),
        (405, 3),
    ] {
        assert_eq!(mnc_len(mcc), len, "{mcc}");
    }
    assert_eq!(mnc_len_for(405, 51), 2);
    assert_eq!(mnc_len_for(405, 84), 3);
    assert_eq!(mnc_len_for(374, 13), 3);
    assert_eq!(mnc_len_for(374, 12), 2);
    assert_eq!(mnc_len_for(400, 1), 2);
}

#[test]
fn luhn_annex_b() {
    assert_eq!(luhn_check_digit(26_053_179_311_383), 7);
    assert_eq!(luhn_check_digit(0), 0);
    assert_eq!(
        Imei::from_body(26_053_179_311_383).unwrap().check_digit(),
        7
    );
    assert!(Imei::from_body(100_000_000_000_000).is_err());
    let i = Imei::parse_typed("352099001761481").unwrap();
    assert_eq!(
        (i.body(), i.serial(), i.body_string()),
        (35_209_900_176_148, 176_148, "35209900176148".into())
    );
}
