//! Known invalid and test IMEIs: patterns and published values that no genuine handset should send.
//!
//! A hit is evidence, not proof: a real device can, rarely, carry a value listed here. Callers
//! decide what to do with it (flag, track, refuse). Every entry names where it comes from; nothing
//! is listed on hearsay. Matching is on the 14-digit body, because networks do not send the check
//! digit.

use crate::ids::{Imei, Tac};

/// What kind of invalid or test identifier an IMEI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// One digit repeated fourteen times, such as 00000000000000.
    RepeatedDigit,
    /// The TAC lies in a range reserved for test IMEIs.
    TestTac,
    /// A fixed value that many devices are known or published to share.
    ClonedDefault,
    /// The digits rise or fall by one at each step, wrapping 9 to 0 (12345678901234).
    Sequential,
    /// The worked example of a standard or reference text.
    DocumentationExample,
}

impl InvalidKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidKind::RepeatedDigit => "repeated_digit",
            InvalidKind::TestTac => "test_tac",
            InvalidKind::ClonedDefault => "cloned_default",
            InvalidKind::Sequential => "sequential",
            InvalidKind::DocumentationExample => "documentation_example",
        }
    }
}

/// Why an IMEI is considered invalid or a test identifier, and who says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidReason {
    pub kind: InvalidKind,
    /// Where the entry comes from: a specification, a public code base, or an article.
    pub source: &'static str,
    /// What the value is, for a person reading an alert.
    pub description: &'static str,
}

/// A single published IMEI body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownImei {
    pub body: u64,
    pub reason: InvalidReason,
}

/// A range of TACs, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TacRange {
    pub first: u32,
    pub last: u32,
    pub reason: InvalidReason,
}

pub const REPEATED_DIGIT: InvalidReason = InvalidReason {
    kind: InvalidKind::RepeatedDigit,
    source: "all zeros: India's DoT direction of 3 Sep 2009 barring handsets with no IMEI or an \
             all-zero IMEI (PTI, Daily Excelsior: '18000 mobile phones using same IMEI number \
             found'); the original Android emulator's telephony/android_modem.c answered AT+CGSN \
             with 000000000000000. Digits 1 to 9: the same pattern, no published allocation.",
    description: "one digit repeated: a blank, wiped or hand-typed IMEI, not a manufactured one",
};

pub const SEQUENTIAL: InvalidReason = InvalidReason {
    kind: InvalidKind::Sequential,
    source: "pattern rule of this project: 12345678901234 (typed 123456789012345) is the stock \
             placeholder of IMEI forms and API examples; no published list names these values",
    description: "digits counting up or down by one: a placeholder typed into a form or tool",
};

/// Test IMEI ranges. Source: DIRBS-Core (Qualcomm/GSMA Device Identification, Registration and
/// Blocking System), `src/dirbs/dimensions/is_test_tac.py`: reporting body 00 followed by 10 and
/// an allocating-body code 01..17, or by 44, 86 or 91. The Cambodian CEIR configuration
/// (`TEST_IMEI_SERIES = 001,0044`) treats the whole 001 series as test; the narrower DIRBS rule
/// is used here because its tests name 00101833370026 and 00112434077459 as not test IMEIs.
// TACs are 8-digit codes; writing them with their leading zeros keeps them recognisable.
#[allow(clippy::zero_prefixed_literal)]
pub const TEST_TAC_RANGES: &[TacRange] = &[
    TacRange {
        first: 00100100,
        last: 00101799,
        reason: InvalidReason {
            kind: InvalidKind::TestTac,
            source:
                "DIRBS-Core src/dirbs/dimensions/is_test_tac.py: first six digits 001001 to 001017",
            description: "test IMEI (reporting body 00, test-IMEI allocating bodies 01 to 17)",
        },
    },
    TacRange {
        first: 00440000,
        last: 00449999,
        reason: InvalidReason {
            kind: InvalidKind::TestTac,
            source: "DIRBS-Core src/dirbs/dimensions/is_test_tac.py: first four digits 0044; \
                     also the Cambodian CEIR's TEST_IMEI_SERIES",
            description: "test IMEI (reporting body 00, series 44)",
        },
    },
    TacRange {
        first: 00860000,
        last: 00869999,
        reason: InvalidReason {
            kind: InvalidKind::TestTac,
            source: "DIRBS-Core src/dirbs/dimensions/is_test_tac.py: first four digits 0086",
            description: "test IMEI (reporting body 00, series 86)",
        },
    },
    TacRange {
        first: 00910000,
        last: 00919999,
        reason: InvalidReason {
            kind: InvalidKind::TestTac,
            source: "DIRBS-Core src/dirbs/dimensions/is_test_tac.py: first four digits 0091",
            description: "test IMEI (reporting body 00, series 91)",
        },
    },
];

/// Published IMEIs that many devices share or that come from worked examples, by body.
pub const KNOWN_IMEIS: &[KnownImei] = &[
    KnownImei {
        body: 35824005111111,
        reason: InvalidReason {
            kind: InvalidKind::ClonedDefault,
            source: "Android Emulator, aosp-mirror/platform_external_qemu \
                     android/android-emu/android/telephony/modem.c: AT+CGSN answers \
                     358240051111110 (a Nexus 5 TAC with serial 111111)",
            description: "the IMEI every Android Emulator instance reports",
        },
    },
    KnownImei {
        body: 12345678911111,
        reason: InvalidReason {
            kind: InvalidKind::ClonedDefault,
            source: "example value in the widely copied MediaTek 'NULL IMEI' repair guide \
                     (techwizng.tech, July 2017: 'imei.exe 123456789111111 123456789111124'); \
                     no count of devices carrying it is published",
            description: "first example IMEI of a MediaTek NVRAM repair tool, copied verbatim",
        },
    },
    KnownImei {
        body: 12345678911112,
        reason: InvalidReason {
            kind: InvalidKind::ClonedDefault,
            source: "example value in the widely copied MediaTek 'NULL IMEI' repair guide \
                     (techwizng.tech, July 2017: 'imei.exe 123456789111111 123456789111124'); \
                     no count of devices carrying it is published",
            description: "second example IMEI of a MediaTek NVRAM repair tool, copied verbatim",
        },
    },
    KnownImei {
        body: 26053179311383,
        reason: InvalidReason {
            kind: InvalidKind::DocumentationExample,
            source: "3GPP TS 23.003 Annex B, the check digit example (260531793113837)",
            description: "the worked example of the IMEI check digit computation",
        },
    },
    KnownImei {
        body: 49015420323751,
        reason: InvalidReason {
            kind: InvalidKind::DocumentationExample,
            source: "Wikipedia 'International Mobile Equipment Identity' (49-015420-323751-8); \
                     also the AT+CGSN example in nokia/moler moler/cmd/at/get_imei.py",
            description: "the IMEI used as an example in reference texts and AT command samples",
        },
    },
    KnownImei {
        body: 35209900176148,
        reason: InvalidReason {
            kind: InvalidKind::DocumentationExample,
            source: "Wikipedia 'International Mobile Equipment Identity' structure example \
                     (35-209900-176148-1, IMEISV 35-209900-176148-23)",
            description: "the IMEI used to explain the IMEI structure",
        },
    },
];

/// Whether the TAC lies in a range reserved for test IMEIs (see [`TEST_TAC_RANGES`]).
pub fn is_test_tac(tac: Tac) -> bool {
    test_tac_reason(tac).is_some()
}

fn test_tac_reason(tac: Tac) -> Option<InvalidReason> {
    let t = tac.get();
    TEST_TAC_RANGES
        .iter()
        .find(|r| (r.first..=r.last).contains(&t))
        .map(|r| r.reason)
}

/// Why this IMEI is a known invalid or test identifier, if it is one. A published value wins
/// over a pattern, and a pattern over a test TAC, so the most specific reason is given.
pub fn classify(imei: Imei) -> Option<InvalidReason> {
    let body = imei.body();
    if let Some(k) = KNOWN_IMEIS.iter().find(|k| k.body == body) {
        return Some(k.reason);
    }
    if is_repeated_digit(body) {
        return Some(REPEATED_DIGIT);
    }
    if is_sequential(body) {
        return Some(SEQUENTIAL);
    }
    test_tac_reason(imei.tac())
}

fn is_repeated_digit(body: u64) -> bool {
    body_digits(body).windows(2).all(|w| w.first() == w.last())
}

/// Each digit is one more (or one less) than the one before it, modulo 10.
fn is_sequential(body: u64) -> bool {
    let digits = body_digits(body);
    let steps = digits.windows(2).map(|w| match w {
        [a, b] => (10 + b - a) % 10,
        _ => 0,
    });
    let mut up = true;
    let mut down = true;
    for step in steps {
        up &= step == 1;
        down &= step == 9;
    }
    up || down
}

/// The 14 digits of a body, most significant first.
fn body_digits(body: u64) -> [u8; 14] {
    let mut out = [0u8; 14];
    let mut n = body;
    for d in out.iter_mut().rev() {
        *d = (n % 10) as u8;
        n /= 10;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Imei {
        Imei::from_body(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn every_repeated_digit_body_is_found() {
        for d in 0..=9u64 {
            let imei = Imei::from_body(d * 11_111_111_111_111).unwrap();
            assert_eq!(
                classify(imei).map(|r| r.kind),
                Some(InvalidKind::RepeatedDigit),
                "{imei}"
            );
        }
        assert_eq!(
            classify(Imei::parse_network("000000000000000").unwrap()).map(|r| r.kind),
            Some(InvalidKind::RepeatedDigit)
        );
        assert_eq!(classify(body("11111111111112")), None);
    }

    #[test]
    fn sequential_bodies_are_found_both_ways() {
        for s in [
            "12345678901234",
            "01234567890123",
            "98765432109876",
            "56789012345678",
        ] {
            assert_eq!(
                classify(body(s)).map(|r| r.kind),
                Some(InvalidKind::Sequential),
                "{s}"
            );
        }
        // The placeholder fails the typed check (7 is right), but arrives from networks as is.
        assert!(Imei::parse_typed("123456789012345").is_err());
        let placeholder = Imei::parse_network("123456789012345").unwrap();
        assert_eq!(classify(placeholder), Some(SEQUENTIAL));
        assert_eq!(classify(body("12345678901235")), None);
    }

    #[test]
    fn dirbs_test_tac_vectors() {
        // From DIRBS-Core tests/classification.py, test_is_tac.
        for s in [
            "00100131308879",
            "00100513130879",
            "00101331308879",
            "00443131308879",
            "00863131308879",
            "00913131308879",
        ] {
            let imei = body(s);
            assert!(is_test_tac(imei.tac()), "{s}");
            assert_eq!(
                classify(imei).map(|r| r.kind),
                Some(InvalidKind::TestTac),
                "{s}"
            );
        }
        for s in [
            "00101833370026",
            "00103833212541",
            "00923768038709",
            "00856803870943",
            "00112434077459",
            "00101943407745",
        ] {
            let imei = body(s);
            assert!(!is_test_tac(imei.tac()), "{s}");
            assert_eq!(classify(imei), None, "{s}");
        }
    }

    #[test]
    fn test_tac_range_edges() {
        let t = |s: &str| Tac::parse(s).unwrap();
        assert!(!is_test_tac(t("00100099")));
        assert!(is_test_tac(t("00100100")));
        assert!(is_test_tac(t("00101799")));
        assert!(!is_test_tac(t("00101800")));
        assert!(!is_test_tac(t("00439999")));
        assert!(is_test_tac(t("00440000")));
        assert!(is_test_tac(t("00919999")));
        assert!(!is_test_tac(t("00920000")));
        // Genuine reporting bodies are never test TACs.
        assert!(!is_test_tac(t("35245208")));
        assert!(!is_test_tac(t("86000000")));
    }

    #[test]
    fn cloned_defaults_and_examples_are_named() {
        let emulator = Imei::parse_typed("358240051111110").unwrap();
        let r = classify(emulator).unwrap();
        assert_eq!(r.kind, InvalidKind::ClonedDefault);
        assert!(r.source.contains("modem.c"));
        let mtk = Imei::parse_network("123456789111124").unwrap();
        assert_eq!(
            classify(mtk).map(|r| r.kind),
            Some(InvalidKind::ClonedDefault)
        );
        let annex_b = Imei::parse_typed("260531793113837").unwrap();
        assert_eq!(
            classify(annex_b).map(|r| r.kind),
            Some(InvalidKind::DocumentationExample)
        );
        let wiki = Imei::parse_typed("490154203237518").unwrap();
        assert_eq!(
            classify(wiki).map(|r| r.kind),
            Some(InvalidKind::DocumentationExample)
        );
    }

    #[test]
    fn ordinary_imeis_are_not_classified() {
        for s in ["356938035643809", "869013040126455", "352099001761490"] {
            assert_eq!(classify(Imei::parse_network(s).unwrap()), None, "{s}");
        }
        let structure_example = Imei::parse_typed("352099001761481").unwrap();
        assert_eq!(
            classify(structure_example).map(|r| r.kind),
            Some(InvalidKind::DocumentationExample)
        );
    }

    #[test]
    fn tables_are_well_formed() {
        for r in TEST_TAC_RANGES {
            assert!(r.first <= r.last && r.last < 100_000_000);
            assert_eq!(r.reason.kind, InvalidKind::TestTac);
            assert!(!r.reason.source.is_empty());
        }
        for (i, k) in KNOWN_IMEIS.iter().enumerate() {
            assert!(Imei::from_body(k.body).is_ok());
            assert!(!k.reason.source.is_empty() && !k.reason.description.is_empty());
            assert!(
                KNOWN_IMEIS[i + 1..].iter().all(|o| o.body != k.body),
                "duplicate"
            );
        }
    }
}
