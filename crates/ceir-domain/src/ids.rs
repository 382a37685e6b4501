//! Device and subscriber identifiers (3GPP TS 23.003, TS 29.571), parsed once at the edge.
//!
//! Two ways in for an IMEI, because the two sources differ: people type IMEIs and make typos, so
//! [`Imei::parse_typed`] verifies the Luhn check digit and names the expected one; networks send a
//! spare `0` in place of the check digit, so [`Imei::parse_network`] accepts any final digit.
//! Either way the canonical key is the 14-digit body (TAC + serial number).

use std::fmt;
use std::str::FromStr;

/// Why an identifier was refused. Each variant names what was wrong so that a person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} must contain only digits; found {found:?} at position {position}")]
    NotDigit { kind: &'static str, position: usize, found: char },
    #[error("{kind} must have {expected} digits, not {got}")]
    Length { kind: &'static str, expected: &'static str, got: usize },
    #[error("wrong IMEI check digit: {got}, expected {expected} for body {body}")]
    CheckDigit { body: String, expected: u8, got: u8 },
    #[error("{kind} has an unknown form; expected {expected}")]
    Form { kind: &'static str, expected: &'static str },
    #[error("{kind}: {reason}")]
    Invalid { kind: &'static str, reason: String },
}

impl IdError {
    /// The stable error code of this failure, from the one registry.
    pub fn code(&self) -> crate::ErrorCode {
        match self {
            IdError::CheckDigit { .. } => crate::ErrorCode::ImeiCheckDigit,
            _ => crate::ErrorCode::InvalidIdentifier,
        }
    }
}

/// Parses a run of ASCII digits of an allowed length into an integer.
fn digits(kind: &'static str, s: &str, lens: std::ops::RangeInclusive<usize>, expected: &'static str) -> Result<u64, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let mut v: u64 = 0;
    for (i, c) in s.chars().enumerate() {
        let d = c.to_digit(10).filter(|_| c.is_ascii_digit()).ok_or(IdError::NotDigit {
            kind,
            position: i + 1,
            found: c,
        })?;
        // Lengths are checked below; saturate so a long digit run cannot overflow first.
        v = v.saturating_mul(10).saturating_add(u64::from(d));
    }
    let n = s.len();
    if !lens.contains(&n) {
        return Err(IdError::Length { kind, expected, got: n });
    }
    Ok(v)
}

/// The Luhn check digit of a 14-digit IMEI body (TS 23.003 Annex B).
pub fn luhn_check_digit(body: u64) -> u8 {
    let mut sum = 0u32;
    let mut n = body;
    // Rightmost body digit is doubled (it sits at an even position counting the check digit as 1).
    let mut double = true;
    for _ in 0..14 {
        let mut d = (n % 10) as u32;
        n /= 10;
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    ((10 - (sum % 10)) % 10) as u8
}

/// Type Allocation Code: the first 8 digits of an IMEI, identifying a device model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tac(u32);

impl Tac {
    pub fn parse(s: &str) -> Result<Tac, IdError> {
        let v = digits("TAC", s.trim(), 8..=8, "8")?;
        Ok(Tac(v as u32))
    }
    /// The numeric value (0..10^8).
    pub const fn get(self) -> u32 {
        self.0
    }
    pub fn from_u32(v: u32) -> Result<Tac, IdError> {
        if v < 100_000_000 {
            Ok(Tac(v))
        } else {
            Err(IdError::Length { kind: "TAC", expected: "8", got: v.to_string().len() })
        }
    }
    /// Reporting Body Identifier: the first two digits, naming who allocated the TAC.
    pub const fn reporting_body(self) -> u8 {
        (self.0 / 1_000_000) as u8
    }
}

impl fmt::Display for Tac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

impl FromStr for Tac {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tac::parse(s)
    }
}

/// An IMEI, keyed by its 14-digit body (TAC + serial number). Displayed with its check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Imei(u64);

/// The largest 14-digit body plus one.
const IMEI_BODY_LIMIT: u64 = 100_000_000_000_000;

impl Imei {
    /// An IMEI typed by a person: 15 digits whose last is the correct Luhn check digit.
    /// Spaces, dashes and dots between digit groups are accepted, as printed on boxes.
    pub fn parse_typed(s: &str) -> Result<Imei, IdError> {
        let cleaned: String = s.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '/')).collect();
        let all = digits("IMEI", &cleaned, 15..=15, "15")?;
        let body = all / 10;
        let got = (all % 10) as u8;
        let expected = luhn_check_digit(body);
        if got != expected {
            return Err(IdError::CheckDigit { body: format!("{body:014}"), expected, got });
        }
        Ok(Imei(body))
    }

    /// An IMEI as a network sends it: 14 digits, or 15 whose last digit is not checked
    /// (phones send a spare 0 in its place).
    pub fn parse_network(s: &str) -> Result<Imei, IdError> {
        let all = digits("IMEI", s, 14..=15, "14 or 15")?;
        Ok(Imei(if s.len() == 15 { all / 10 } else { all }))
    }

    /// From the 14-digit body as an integer.
    pub fn from_body(body: u64) -> Result<Imei, IdError> {
        if body < IMEI_BODY_LIMIT {
            Ok(Imei(body))
        } else {
            Err(IdError::Length { kind: "IMEI body", expected: "14", got: body.to_string().len() })
        }
    }

    /// The canonical key: the 14-digit body as an integer (< 2^47).
    pub const fn body(self) -> u64 {
        self.0
    }
    pub const fn tac(self) -> Tac {
        Tac((self.0 / 1_000_000) as u32)
    }
    pub const fn serial(self) -> u32 {
        (self.0 % 1_000_000) as u32
    }
    pub fn check_digit(self) -> u8 {
        luhn_check_digit(self.0)
    }
    /// The 14-digit body as text, as DIRBS normalises IMEIs.
    pub fn body_string(self) -> String {
        format!("{:014}", self.0)
    }
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:014}{}", self.0, self.check_digit())
    }
}

impl serde::Serialize for Imei {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// IMEI with Software Version Number: TAC (8) + serial (6) + SVN (2), no check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImeiSv {
    imei: Imei,
    svn: u8,
}

impl ImeiSv {
    pub fn parse(s: &str) -> Result<ImeiSv, IdError> {
        let all = digits("IMEISV", s, 16..=16, "16")?;
        Ok(ImeiSv { imei: Imei(all / 100), svn: (all % 100) as u8 })
    }
    pub const fn imei(self) -> Imei {
        self.imei
    }
    pub const fn svn(self) -> u8 {
        self.svn
    }
}

impl fmt::Display for ImeiSv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:014}{:02}", self.imei.0, self.svn)
    }
}

/// Mobile country codes whose networks use 3-digit MNCs (ITU-T E.212 national numbering plans).
/// Everything else, Azerbaijan (400) and Uzbekistan (434) included, uses 2-digit MNCs.
/// India (404/405) mixes both; 405 is listed because its newer allocations are 3-digit.
pub const MCC_WITH_3_DIGIT_MNC: &[u16] = &[
    302, 310, 311, 312, 313, 314, 315, 316, 334, 338, 342, 344, 346, 348, 354, 356, 358, 360, 365,
    376, 405, 708, 722, 732, 750,
];

/// How many digits the MNC has in a given country.
pub fn mnc_len(mcc: u16) -> u8 {
    if MCC_WITH_3_DIGIT_MNC.binary_search(&mcc).is_ok() {
        3
    } else {
        2
    }
}

/// A mobile network: MCC plus MNC, with the MNC's digit count (01 and 001 differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Plmn {
    pub mcc: u16,
    pub mnc: u16,
    pub mnc_digits: u8,
}

impl Plmn {
    /// Parses "400-01", "40001" or "434 05".
    pub fn parse(s: &str) -> Result<Plmn, IdError> {
        let cleaned: String = s.trim().chars().filter(|c| !matches!(c, '-' | ' ' | '_')).collect();
        digits("MCC-MNC", &cleaned, 5..=6, "5 or 6")?;
        let (mcc_s, mnc_s) = cleaned.split_at(3);
        let mcc = digits("MCC", mcc_s, 3..=3, "3")? as u16;
        let mnc = digits("MNC", mnc_s, 2..=3, "2 or 3")? as u16;
        Ok(Plmn { mcc, mnc, mnc_digits: mnc_s.len() as u8 })
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mnc_digits == 3 {
            write!(f, "{:03}-{:03}", self.mcc, self.mnc)
        } else {
            write!(f, "{:03}-{:02}", self.mcc, self.mnc)
        }
    }
}

/// IMSI: MCC (3) + MNC (2 or 3) + MSIN, 6 to 15 digits in all. Leading zeros are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Imsi {
    value: u64,
    len: u8,
}

impl Imsi {
    pub fn parse(s: &str) -> Result<Imsi, IdError> {
        let value = digits("IMSI", s, 6..=15, "6 to 15")?;
        Ok(Imsi { value, len: s.len() as u8 })
    }
    pub const fn mcc(self) -> u16 {
        (self.value / pow10(self.len - 3)) as u16
    }
    pub fn plmn(self) -> Plmn {
        let mcc = self.mcc();
        let n = mnc_len(mcc);
        let mnc = (self.value / pow10(self.len - 3 - n) % pow10(n)) as u16;
        Plmn { mcc, mnc, mnc_digits: n }
    }
    /// A unique integer key that keeps leading zeros apart: length in the top bits (< 2^54).
    pub const fn key(self) -> u64 {
        ((self.len as u64) << 50) | self.value
    }
    pub fn from_key(key: u64) -> Result<Imsi, IdError> {
        let len = (key >> 50) as u8;
        let value = key & ((1 << 50) - 1);
        if (6..=15).contains(&len) && value < pow10(len) {
            Ok(Imsi { value, len })
        } else {
            Err(IdError::Invalid { kind: "IMSI key", reason: format!("{key} is not an IMSI key") })
        }
    }
}

const fn pow10(n: u8) -> u64 {
    let mut v = 1u64;
    let mut i = 0;
    while i < n {
        v *= 10;
        i += 1;
    }
    v
}

impl fmt::Display for Imsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.value, width = self.len as usize)
    }
}

/// MSISDN in E.164: country code and national number, at most 15 digits, never a leading 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msisdn(u64);

impl Msisdn {
    /// Accepts an optional leading `+`.
    pub fn parse(s: &str) -> Result<Msisdn, IdError> {
        let d = s.strip_prefix('+').unwrap_or(s);
        let v = digits("MSISDN", d, 5..=15, "5 to 15")?;
        if d.starts_with('0') {
            return Err(IdError::Invalid {
                kind: "MSISDN",
                reason: "an E.164 number starts with its country code, never 0".into(),
            });
        }
        Ok(Msisdn(v))
    }
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn hex_groups<const N: usize>(kind: &'static str, s: &str) -> Result<[u8; N], IdError> {
    let mut out = [0u8; N];
    let mut parts = s.split('-');
    for o in out.iter_mut() {
        let p = parts.next().ok_or(IdError::Form { kind, expected: "hex octets joined by '-'" })?;
        if p.len() != 2 {
            return Err(IdError::Form { kind, expected: "hex octets joined by '-'" });
        }
        *o = u8::from_str_radix(p, 16)
            .map_err(|_| IdError::Form { kind, expected: "hex octets joined by '-'" })?;
    }
    if parts.next().is_some() {
        return Err(IdError::Form { kind, expected: "hex octets joined by '-'" });
    }
    Ok(out)
}

/// Permanent Equipment Identifier (TS 29.571 `Pei`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pei {
    Imei(Imei),
    ImeiSv(ImeiSv),
    /// A MAC address; `untrusted` when the UE could not prove it (TS 23.316).
    Mac { octets: [u8; 6], untrusted: bool },
    /// An IEEE extended unique identifier.
    Eui64([u8; 8]),
}

impl Pei {
    /// Parses the wire form (`imei-…`, `imeisv-…`, `mac-…`, `eui-…`). IMEIs here come from
    /// the network, so the check digit is not verified.
    pub fn parse(s: &str) -> Result<Pei, IdError> {
        const EXPECTED: &str = "imei-<15 digits>, imeisv-<16 digits>, mac-xx-xx-xx-xx-xx-xx or eui-xx-…-xx";
        if let Some(rest) = s.strip_prefix("imei-") {
            if rest.len() != 15 {
                return Err(IdError::Length { kind: "PEI imei", expected: "15", got: rest.len() });
            }
            return Imei::parse_network(rest).map(Pei::Imei);
        }
        if let Some(rest) = s.strip_prefix("imeisv-") {
            return ImeiSv::parse(rest).map(Pei::ImeiSv);
        }
        if let Some(rest) = s.strip_prefix("mac-") {
            let (hex, untrusted) = match rest.strip_suffix("-untrusted") {
                Some(h) => (h, true),
                None => (rest, false),
            };
            return hex_groups::<6>("PEI mac", hex).map(|octets| Pei::Mac { octets, untrusted });
        }
        if let Some(rest) = s.strip_prefix("eui-") {
            return hex_groups::<8>("PEI eui", rest).map(Pei::Eui64);
        }
        if s.is_empty() {
            return Err(IdError::Empty { kind: "PEI" });
        }
        Err(IdError::Form { kind: "PEI", expected: EXPECTED })
    }

    /// The IMEI this PEI carries, if any.
    pub fn imei(&self) -> Option<Imei> {
        match self {
            Pei::Imei(i) => Some(*i),
            Pei::ImeiSv(sv) => Some(sv.imei()),
            Pei::Mac { .. } | Pei::Eui64(_) => None,
        }
    }
}

impl fmt::Display for Pei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pei::Imei(i) => write!(f, "imei-{i}"),
            Pei::ImeiSv(sv) => write!(f, "imeisv-{sv}"),
            Pei::Mac { octets: o, untrusted } => {
                write!(f, "mac-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}", o[0], o[1], o[2], o[3], o[4], o[5])?;
                if *untrusted {
                    f.write_str("-untrusted")?;
                }
                Ok(())
            }
            Pei::Eui64(o) => {
                f.write_str("eui")?;
                for b in o {
                    write!(f, "-{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Subscription Permanent Identifier (TS 29.571 `Supi`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Supi {
    Imsi(Imsi),
    /// Network Access Identifier (`nai-user@realm`).
    Nai(String),
    /// Global Cable Identifier (`gci-…`).
    Gci(String),
    /// Global Line Identifier (`gli-…`).
    Gli(String),
}

impl Supi {
    pub fn parse(s: &str) -> Result<Supi, IdError> {
        if let Some(rest) = s.strip_prefix("imsi-") {
            let imsi = Imsi::parse(rest)?;
            if rest.len() < 5 {
                return Err(IdError::Length { kind: "SUPI imsi", expected: "5 to 15", got: rest.len() });
            }
            return Ok(Supi::Imsi(imsi));
        }
        for (prefix, make) in [
            ("nai-", Supi::Nai as fn(String) -> Supi),
            ("gci-", Supi::Gci as fn(String) -> Supi),
            ("gli-", Supi::Gli as fn(String) -> Supi),
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Err(IdError::Empty { kind: "SUPI" });
                }
                return Ok(make(rest.to_owned()));
            }
        }
        if s.is_empty() {
            return Err(IdError::Empty { kind: "SUPI" });
        }
        Err(IdError::Form { kind: "SUPI", expected: "imsi-<digits>, nai-…, gci-… or gli-…" })
    }
    pub fn imsi(&self) -> Option<Imsi> {
        match self {
            Supi::Imsi(i) => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for Supi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Supi::Imsi(i) => write!(f, "imsi-{i}"),
            Supi::Nai(s) => write!(f, "nai-{s}"),
            Supi::Gci(s) => write!(f, "gci-{s}"),
            Supi::Gli(s) => write!(f, "gli-{s}"),
        }
    }
}

/// Generic Public Subscription Identifier (TS 29.571 `Gpsi`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gpsi {
    Msisdn(Msisdn),
    /// External identifier `extid-user@domain`.
    ExtId(String),
}

impl Gpsi {
    pub fn parse(s: &str) -> Result<Gpsi, IdError> {
        if let Some(rest) = s.strip_prefix("msisdn-") {
            return Msisdn::parse(rest).map(Gpsi::Msisdn);
        }
        if let Some(rest) = s.strip_prefix("extid-") {
            return match rest.split_once('@') {
                Some((user, domain)) if !user.is_empty() && !domain.is_empty() => {
                    Ok(Gpsi::ExtId(rest.to_owned()))
                }
                _ => Err(IdError::Form { kind: "GPSI extid", expected: "extid-<user>@<domain>" }),
            };
        }
        if s.is_empty() {
            return Err(IdError::Empty { kind: "GPSI" });
        }
        Err(IdError::Form { kind: "GPSI", expected: "msisdn-<digits> or extid-<user>@<domain>" })
    }
}

impl fmt::Display for Gpsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gpsi::Msisdn(m) => write!(f, "msisdn-{m}"),
            Gpsi::ExtId(s) => write!(f, "extid-{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_23_003_annex_b_example() {
        assert_eq!(luhn_check_digit(26053179311383), 7);
        assert_eq!(Imei::parse_typed("260531793113837").unwrap().body(), 26053179311383);
    }

    #[test]
    fn typed_imei_names_expected_check_digit() {
        let e = Imei::parse_typed("260531793113830").unwrap_err();
        assert_eq!(e, IdError::CheckDigit { body: "26053179311383".into(), expected: 7, got: 0 });
        assert!(e.to_string().contains("expected 7"));
    }

    #[test]
    fn network_imei_accepts_spare_zero() {
        assert_eq!(Imei::parse_network("260531793113830").unwrap().to_string(), "260531793113837");
        assert_eq!(Pei::parse("imei-260531793113830").unwrap().imei().unwrap().body(), 26053179311383);
    }

    #[test]
    fn imsi_plmn_split() {
        let i = Imsi::parse("400011234567890").unwrap();
        assert_eq!(i.plmn().to_string(), "400-01");
        let us = Imsi::parse("310150123456789").unwrap();
        assert_eq!(us.plmn().to_string(), "310-150");
        let test = Imsi::parse("001010000000001").unwrap();
        assert_eq!(test.to_string(), "001010000000001");
        assert_eq!(Imsi::from_key(test.key()).unwrap(), test);
    }

    #[test]
    fn pei_forms() {
        assert!(matches!(Pei::parse("imeisv-4370816125816151").unwrap(), Pei::ImeiSv(_)));
        let mac = Pei::parse("mac-00-1a-2B-3c-4d-5e-untrusted").unwrap();
        assert_eq!(mac.to_string(), "mac-00-1a-2b-3c-4d-5e-untrusted");
        assert!(Pei::parse("eui-00-11-22-33-44-55-66-77").is_ok());
        assert!(Pei::parse("imei-12345").is_err());
        assert!(Pei::parse("nonsense").is_err());
    }

    #[test]
    fn mnc_table_is_sorted_for_binary_search() {
        assert!(MCC_WITH_3_DIGIT_MNC.windows(2).all(|w| w[0] < w[1]));
    }
}
