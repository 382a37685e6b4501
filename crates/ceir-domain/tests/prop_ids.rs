//! Property tests: no parser panics, every parsed value round-trips, and Luhn behaves as specified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::ids::{
    luhn_check_digit, Gpsi, IdError, Imei, ImeiSv, Imsi, Msisdn, Pei, Plmn, Supi, Tac,
};
use ceir_domain::invalid::{classify, is_test_tac};
use proptest::prelude::*;

/// Strings shaped like identifiers, so that the interesting branches are reached, not just the
/// "unknown form" refusal that almost every random string gets.
fn id_like() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        Just(""),
        Just("imei-"),
        Just("imeisv-"),
        Just("mac-"),
        Just("eui-"),
        Just("imsi-"),
        Just("nai-"),
        Just("gci-"),
        Just("gli-"),
        Just("msisdn-"),
        Just("extid-"),
        Just("+"),
    ];
    let body = prop_oneof![
        "[0-9]{0,20}",
        "[0-9a-fA-F]{2}(-[0-9a-fA-F]{1,3}){0,9}(-untrusted)?",
        "[0-9 .\\-/]{0,24}",
        "[^@]{0,6}@[^@]{0,6}(@.{0,3})?",
        ".{0,24}",
    ];
    (prefix, body).prop_map(|(p, b)| format!("{p}{b}"))
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), id_like()]
}

/// Parses `s`; if it parses, its Display must parse back to the same value.
fn round_trips<T, F>(parse: F, s: &str) -> Result<(), TestCaseError>
where
    T: std::fmt::Display + PartialEq + std::fmt::Debug,
    F: Fn(&str) -> Result<T, IdError>,
{
    if let Ok(v) = parse(s) {
        let shown = v.to_string();
        let again = parse(&shown);
        prop_assert_eq!(
            again.as_ref().ok(),
            Some(&v),
            "{:?} -> {:?} -> {:?}",
            s,
            shown,
            again
        );
    }
    Ok(())
}

fn body_strategy() -> impl Strategy<Value = u64> {
    0u64..100_000_000_000_000
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    // (a) and (b): no input panics any parser, and whatever parses round-trips through Display.
    #[test]
    fn parsers_never_panic_and_round_trip(s in any_input()) {
        round_trips(Imei::parse_typed, &s)?;
        round_trips(Imei::parse_network, &s)?;
        round_trips(ImeiSv::parse, &s)?;
        round_trips(Tac::parse, &s)?;
        round_trips(Imsi::parse, &s)?;
        round_trips(Msisdn::parse, &s)?;
        round_trips(Plmn::parse, &s)?;
        round_trips(Pei::parse, &s)?;
        round_trips(Supi::parse, &s)?;
        round_trips(Gpsi::parse, &s)?;
        if let Ok(i) = Imsi::parse(&s) {
            let _ = i.plmn();
        }
        if let Ok(Pei::Imei(i)) = Pei::parse(&s) {
            let _ = classify(i);
        }
    }

    // Values built directly (not from strings) also survive Display -> parse.
    #[test]
    fn built_values_round_trip(body in body_strategy(), svn in 0u8..100, octets in any::<[u8; 8]>(), untrusted: bool) {
        let imei = Imei::from_body(body).unwrap();
        prop_assert_eq!(Imei::parse_typed(&imei.to_string()), Ok(imei));
        prop_assert_eq!(Imei::parse_network(&imei.body_string()), Ok(imei));
        let sv = format!("{}{svn:02}", imei.body_string());
        prop_assert_eq!(ImeiSv::parse(&sv).map(|x| x.to_string()), Ok(sv.clone()));
        for pei in [
            Pei::Imei(imei),
            Pei::ImeiSv(ImeiSv::parse(&sv).unwrap()),
            Pei::Mac { octets: [octets[0], octets[1], octets[2], octets[3], octets[4], octets[5]], untrusted },
            Pei::Eui64(octets),
        ] {
            prop_assert_eq!(Pei::parse(&pei.to_string()), Ok(pei));
        }
        let tac = imei.tac();
        prop_assert_eq!(Tac::parse(&tac.to_string()), Ok(tac));
        // The DIRBS rule, restated independently of the range table.
        let t = tac.get();
        let dirbs = (t / 10_000 == 10 && (1..=17).contains(&(t / 100 % 100)))
            || matches!(t / 10_000, 44 | 86 | 91);
        prop_assert_eq!(is_test_tac(tac), dirbs);
    }

    // (c) The right check digit is accepted; each of the nine wrong ones is refused, naming it.
    #[test]
    fn check_digit_is_verified_and_named(body in body_strategy()) {
        let cd = luhn_check_digit(body);
        let imei = Imei::parse_typed(&format!("{body:014}{cd}"));
        prop_assert_eq!(imei.map(Imei::body), Ok(body));
        for wrong in (0..=9u8).filter(|&d| d != cd) {
            let got = Imei::parse_typed(&format!("{body:014}{wrong}"));
            prop_assert_eq!(
                got,
                Err(IdError::CheckDigit { body: format!("{body:014}"), expected: cd, got: wrong })
            );
        }
    }

    // (d) Luhn detects every single-digit substitution in the body.
    #[test]
    fn luhn_detects_any_single_substitution(body in body_strategy(), pos in 0usize..14, delta in 1u64..10) {
        let digits = format!("{body:014}");
        let old = u64::from(digits.as_bytes()[pos] - b'0');
        let new = (old + delta) % 10;
        let place = 10u64.pow(13 - pos as u32);
        let changed = body - old * place + new * place;
        prop_assert_ne!(luhn_check_digit(changed), luhn_check_digit(body));
        let typed = format!("{changed:014}{}", luhn_check_digit(body));
        let is_check_digit_error = matches!(Imei::parse_typed(&typed), Err(IdError::CheckDigit { .. }));
        prop_assert!(is_check_digit_error);
    }

    // (e) IMSI keys round-trip and keep leading zeros apart.
    #[test]
    fn imsi_key_round_trips(s in "[0-9]{6,15}") {
        let imsi = Imsi::parse(&s).unwrap();
        prop_assert_eq!(Imsi::from_key(imsi.key()), Ok(imsi));
        prop_assert_eq!(imsi.to_string(), s.clone());
        let plmn = imsi.plmn();
        let shown = plmn.to_string();
        let (mcc, mnc) = (&shown[..3], &shown[4..]);
        prop_assert_eq!(&s[..3], mcc);
        prop_assert_eq!(&s[3..3 + mnc.len()], mnc);
    }

    // Every key from_key accepts is canonical: re-encoding gives the same key back.
    #[test]
    fn imsi_from_any_key_is_canonical(
        key in prop_oneof![
            any::<u64>(),
            // Length bits near the valid range, including ones that wrap a u8 (262 = 6 + 256).
            (0u64..1024, 0u64..1_000_000_000_000_000).prop_map(|(len, v)| (len << 50) | v),
        ]
    ) {
        if let Ok(imsi) = Imsi::from_key(key) {
            prop_assert_eq!(imsi.key(), key);
        }
    }

    #[test]
    fn msisdn_with_and_without_plus_agree(s in "[1-9][0-9]{4,14}") {
        let plain = Msisdn::parse(&s).unwrap();
        prop_assert_eq!(Msisdn::parse(&format!("+{s}")), Ok(plain));
        prop_assert_eq!(Gpsi::parse(&format!("msisdn-{s}")).map(|g| g.to_string()), Ok(format!("msisdn-{s}")));
        let with_plus = Gpsi::parse(&format!("msisdn-+{s}"));
        prop_assert!(with_plus.is_err());
    }
}
