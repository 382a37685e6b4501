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
    NotDigit {
        kind: &'static str,
        position: usize,
        found: char,
    },
    #[error("{kind} must have {expected} digits, not {got}")]
    Length {
        kind: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("wrong IMEI check digit: {got}, expected {expected} for body {body}")]
    CheckDigit { body: String, expected: u8, got: u8 },
    #[error("{kind} has an unknown form; expected {expected}")]
    Form {
        kind: &'static str,
        expected: &'static str,
    },
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
fn digits(
    kind: &'static str,
    s: &str,
    lens: std::ops::RangeInclusive<usize>,
    expected: &'static str,
) -> Result<u64, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let mut v: u64 = 0;
    for (i, c) in s.chars().enumerate() {
        let d = c.to_digit(10).ok_or(IdError::NotDigit {
            kind,
            position: i + 1,
            found: c,
        })?;
        // Lengths are checked below; saturate so a long digit run cannot overflow first.
        v = v.saturating_mul(10).saturating_add(u64::from(d));
    }
    let n = s.len();
    if !lens.contains(&n) {
        return Err(IdError::Length {
            kind,
            expected,
            got: n,
        });
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
            Err(IdError::Length {
                kind: "TAC",
                expected: "8",
                got: v.to_string().len(),
            })
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
        let mut cleaned = String::with_capacity(15);
        for (i, c) in s.trim().chars().enumerate() {
            if matches!(c, ' ' | '-' | '.' | '/') {
                continue;
            }
            if !c.is_ascii_digit() {
                // Positions count what the person typed, separators included, so they can find it.
                return Err(IdError::NotDigit {
                    kind: "IMEI",
                    position: i + 1,
                    found: c,
                });
            }
            cleaned.push(c);
        }
        let all = digits("IMEI", &cleaned, 15..=15, "15")?;
        let body = all / 10;
        let got = (all % 10) as u8;
        let expected = luhn_check_digit(body);
        if got != expected {
            return Err(IdError::CheckDigit {
                body: format!("{body:014}"),
                expected,
                got,
            });
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
            Err(IdError::Length {
                kind: "IMEI body",
                expected: "14",
                got: body.to_string().len(),
            })
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
/// SVN 99 is reserved by TS 23.003 but still accepted: refusing it would hide the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImeiSv {
    imei: Imei,
    svn: u8,
}

impl ImeiSv {
    pub fn parse(s: &str) -> Result<ImeiSv, IdError> {
        let all = digits("IMEISV", s, 16..=16, "16")?;
        Ok(ImeiSv {
            imei: Imei(all / 100),
            svn: (all % 100) as u8,
        })
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

/// Mobile country codes whose networks use 3-digit MNCs; every other MCC, Azerbaijan (400) and
/// Uzbekistan (434) included, uses 2-digit MNCs.
///
/// An IMSI does not say how long its MNC is, so this table has to. Source: the MNC list annexed
/// to the ITU Operational Bulletin (ITU-T E.212), as packaged by onomondo/mcc-mnc-itu (2019), and
/// cross-checked against Wikipedia's "Mobile Network Codes" tables as packaged by
/// pbakondy/mcc-mnc-list (2023-04); an MCC is listed when every MNC both sources give for it is
/// 3 digits long, or (India, 405) when most are. That check added Puerto Rico (330), Grenada
/// (352) and Dominica (366), for which both sources give only 3-digit codes.
/// Countries that mix both lengths are refined by MNC prefix in [`mnc_len_for`].
pub const MCC_WITH_3_DIGIT_MNC: &[u16] = &[
    302, 310, 311, 312, 313, 314, 315, 316, 330, 334, 338, 342, 344, 346, 348, 352, 354, 356, 358,
    360, 365, 366, 376, 405, 708, 722, 732, 750,
];

/// MNC lengths that differ from a country's usual one, keyed by the MNC's first two digits:
/// `(mcc, first prefix, last prefix, length)`. Only prefixes that the ITU list maps to a single
/// length are given. Still ambiguous, and left at the country's usual length: India 405-01/03/04
/// against 405-0xx and 405-81..86 against 405-8xx; Guyana 738-00 against 738-002; Panama 714-02
/// against 714-020; France's and Japan's new private-network 3-digit codes.
const MNC_LEN_BY_PREFIX: &[(u16, u8, u8, u8)] = &[
    // Bermuda: 350-000 (CellOne) is 3 digits; 350-05 and 350-11 are 2.
    (350, 0, 0, 3),
    // Trinidad and Tobago: 374-12 (TSTT) is 2 digits; 374-130 (Digicel), 374-140 (LaqTel) are 3.
    (374, 13, 14, 3),
    // India: 405 is mostly 3 digits, but Airtel (405-51..56) and Vodafone Idea (405-66..74,
    // 405-76/77) hold 2-digit codes, and no 3-digit 405 code starts with those digits.
    (405, 51, 56, 2),
    (405, 66, 74, 2),
    (405, 76, 77, 2),
];

/// How many digits the MNC usually has in a given country.
pub fn mnc_len(mcc: u16) -> u8 {
    if MCC_WITH_3_DIGIT_MNC.binary_search(&mcc).is_ok() {
        3
    } else {
        2
    }
}

/// How many digits the MNC has, given the country and the MNC's first two digits (0..=99).
pub fn mnc_len_for(mcc: u16, mnc_lead: u8) -> u8 {
    MNC_LEN_BY_PREFIX
        .iter()
        .find(|&&(m, lo, hi, _)| m == mcc && (lo..=hi).contains(&mnc_lead))
        .map_or_else(|| mnc_len(mcc), |&(_, _, _, len)| len)
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
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '_'))
            .collect();
        digits("MCC-MNC", &cleaned, 5..=6, "5 or 6")?;
        let (mcc_s, mnc_s) = cleaned.split_at(3);
        let mcc = digits("MCC", mcc_s, 3..=3, "3")? as u16;
        let mnc = digits("MNC", mnc_s, 2..=3, "2 or 3")? as u16;
        Ok(Plmn {
            mcc,
            mnc,
            mnc_digits: mnc_s.len() as u8,
        })
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

/// IMSI: MCC (3) + MNC (2 or 3) + MSIN, 5 to 15 digits in all (TS 29.571 `imsi-[0-9]{5,15}`).
/// Leading zeros are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Imsi {
    value: u64,
    len: u8,
}

impl Imsi {
    pub fn parse(s: &str) -> Result<Imsi, IdError> {
        let value = digits("IMSI", s, 5..=15, "5 to 15")?;
        Ok(Imsi {
            value,
            len: s.len() as u8,
        })
    }
    /// The home network's digits kept, the subscriber part (MSIN) hidden: `40001**********`.
    /// For callers who may see that a device is paired, not with whom.
    pub fn masked(self) -> String {
        let keep = 3 + usize::from(self.plmn().mnc_digits);
        self.to_string()
            .char_indices()
            .map(|(i, c)| if i < keep { c } else { '*' })
            .collect()
    }
    // `len` is in 5..=15, so a 3-digit MNC may leave no MSIN digits; the subtractions saturate
    // so that no field value can panic.
    pub const fn mcc(self) -> u16 {
        (self.value / pow10(self.len.saturating_sub(3))) as u16
    }
    pub fn plmn(self) -> Plmn {
        let mcc = self.mcc();
        let lead = (self.value / pow10(self.len.saturating_sub(5)) % 100) as u8;
        let n = mnc_len_for(mcc, lead);
        let mnc = (self.value / pow10(self.len.saturating_sub(3 + n)) % pow10(n)) as u16;
        Plmn {
            mcc,
            mnc,
            mnc_digits: n,
        }
    }
    /// A unique integer key that keeps leading zeros apart: length in the top bits (< 2^54).
    pub const fn key(self) -> u64 {
        ((self.len as u64) << 50) | self.value
    }
    pub fn from_key(key: u64) -> Result<Imsi, IdError> {
        // Compare before narrowing: `as u8` alone would let 262 << 50 pass as length 6.
        let len = key >> 50;
        let value = key & ((1 << 50) - 1);
        if (5..=15).contains(&len) && value < pow10(len as u8) {
            Ok(Imsi {
                value,
                len: len as u8,
            })
        } else {
            Err(IdError::Invalid {
                kind: "IMSI key",
                reason: format!("{key} is not an IMSI key"),
            })
        }
    }
}

const fn pow10(n: u8) -> u64 {
    let mut v = 1u64;
    let mut i = 0;
    while i < n {
        // Callers pass at most 15; saturating keeps a future mistake from becoming a panic.
        v = v.saturating_mul(10);
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
        let (d, offset) = match s.strip_prefix('+') {
            Some(rest) => (rest, 1),
            None => (s, 0),
        };
        let v = digits("MSISDN", d, 5..=15, "5 to 15").map_err(|e| match e {
            IdError::NotDigit {
                kind,
                position,
                found,
            } => IdError::NotDigit {
                kind,
                position: position + offset,
                found,
            },
            other => other,
        })?;
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

/// An MSISDN as DIRBS's pairing list gives it: 1 to 15 digits, kept as written. DIRBS keys a
/// pairing on this text, leading zeros and all, so it is not read as an E.164 [`Msisdn`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairingMsisdn(String);

impl PairingMsisdn {
    pub fn parse(s: &str) -> Result<PairingMsisdn, IdError> {
        digits("MSISDN", s, 1..=15, "1 to 15")?;
        Ok(PairingMsisdn(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PairingMsisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex_groups<const N: usize>(kind: &'static str, s: &str) -> Result<[u8; N], IdError> {
    let mut out = [0u8; N];
    let mut parts = s.split('-');
    for o in out.iter_mut() {
        let p = parts.next().ok_or(IdError::Form {
            kind,
            expected: "hex octets joined by '-'",
        })?;
        // from_str_radix alone would accept a sign ("+a"), which the TS 29.571 pattern does not.
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdError::Form {
                kind,
                expected: "hex octets joined by '-'",
            });
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| IdError::Form {
            kind,
            expected: "hex octets joined by '-'",
        })?;
    }
    if parts.next().is_some() {
        return Err(IdError::Form {
            kind,
            expected: "hex octets joined by '-'",
        });
    }
    Ok(out)
}

/// Permanent Equipment Identifier (TS 29.571 `Pei`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pei {
    Imei(Imei),
    ImeiSv(ImeiSv),
    /// A MAC address; `untrusted` when the UE could not prove it (TS 23.316).
    Mac {
        octets: [u8; 6],
        untrusted: bool,
    },
    /// An IEEE extended unique identifier.
    Eui64([u8; 8]),
}

impl Pei {
    /// Parses the wire form (`imei-…`, `imeisv-…`, `mac-…`, `eui-…`). IMEIs here come from
    /// the network, so the check digit is not verified. The pattern's catch-all `.+` branch is
    /// refused: an EIR cannot check equipment it cannot identify.
    pub fn parse(s: &str) -> Result<Pei, IdError> {
        const EXPECTED: &str =
            "imei-<15 digits>, imeisv-<16 digits>, mac-xx-xx-xx-xx-xx-xx or eui-xx-…-xx";
        if let Some(rest) = s.strip_prefix("imei-") {
            let imei = Imei::parse_network(rest)?;
            // parse_network also takes 14 digits; the PEI form always carries the 15th.
            if rest.len() != 15 {
                return Err(IdError::Length {
                    kind: "PEI imei",
                    expected: "15",
                    got: rest.len(),
                });
            }
            return Ok(Pei::Imei(imei));
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
        Err(IdError::Form {
            kind: "PEI",
            expected: EXPECTED,
        })
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
            Pei::Mac {
                octets: o,
                untrusted,
            } => {
                write!(
                    f,
                    "mac-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
                    o[0], o[1], o[2], o[3], o[4], o[5]
                )?;
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

/// Characters that ECMA-262's `.` does not match, so TS 29.571's `nai-.+` etc. exclude them.
fn has_line_terminator(s: &str) -> bool {
    s.contains(['\n', '\r', '\u{2028}', '\u{2029}'])
}

impl Supi {
    /// Parses the wire form. One deliberate departure from the TS 29.571 pattern: the catch-all
    /// `.+` branch is refused, so a SUPI we cannot interpret is an error, not a silent no-match.
    pub fn parse(s: &str) -> Result<Supi, IdError> {
        if let Some(rest) = s.strip_prefix("imsi-") {
            return Imsi::parse(rest).map(Supi::Imsi);
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
                if has_line_terminator(rest) {
                    return Err(IdError::Invalid {
                        kind: "SUPI",
                        reason: "must not contain a line break".into(),
                    });
                }
                return Ok(make(rest.to_owned()));
            }
        }
        if s.is_empty() {
            return Err(IdError::Empty { kind: "SUPI" });
        }
        Err(IdError::Form {
            kind: "SUPI",
            expected: "imsi-<digits>, nai-…, gci-… or gli-…",
        })
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
    /// Parses the wire form; the pattern's catch-all `.+` branch is refused.
    pub fn parse(s: &str) -> Result<Gpsi, IdError> {
        if let Some(rest) = s.strip_prefix("msisdn-") {
            // The pattern is msisdn-[0-9]{5,15}: the '+' that Msisdn::parse forgives is not allowed.
            if rest.starts_with('+') {
                return Err(IdError::NotDigit {
                    kind: "MSISDN",
                    position: 1,
                    found: '+',
                });
            }
            return Msisdn::parse(rest).map(Gpsi::Msisdn);
        }
        if let Some(rest) = s.strip_prefix("extid-") {
            return match rest.split_once('@') {
                Some((user, domain))
                    if !user.is_empty() && !domain.is_empty() && !domain.contains('@') =>
                {
                    Ok(Gpsi::ExtId(rest.to_owned()))
                }
                _ => Err(IdError::Form {
                    kind: "GPSI extid",
                    expected: "extid-<user>@<domain>",
                }),
            };
        }
        if s.is_empty() {
            return Err(IdError::Empty { kind: "GPSI" });
        }
        Err(IdError::Form {
            kind: "GPSI",
            expected: "msisdn-<digits> or extid-<user>@<domain>",
        })
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
    fn pairing_msisdns_are_1_to_15_digits_kept_as_written() {
        assert_eq!(PairingMsisdn::parse("0994").unwrap().as_str(), "0994");
        assert_eq!(PairingMsisdn::parse("7").unwrap().to_string(), "7");
        assert!(PairingMsisdn::parse("123456789012345").is_ok());
        assert!(matches!(
            PairingMsisdn::parse("1234567890123456"),
            Err(IdError::Length { got: 16, .. })
        ));
        assert!(matches!(
            PairingMsisdn::parse("+994"),
            Err(IdError::NotDigit { position: 1, .. })
        ));
        assert_eq!(
            PairingMsisdn::parse(""),
            Err(IdError::Empty { kind: "MSISDN" })
        );
    }

    #[test]
    fn masked_imsi_keeps_only_the_home_network() {
        assert_eq!(
            Imsi::parse("400011234567890").unwrap().masked(),
            "40001**********"
        );
        // 310-150 is a 3-digit-MNC network.
        assert_eq!(
            Imsi::parse("310150123456789").unwrap().masked(),
            "310150*********"
        );
    }

    #[test]
    fn ts_23_003_annex_b_example() {
        assert_eq!(luhn_check_digit(26053179311383), 7);
        assert_eq!(
            Imei::parse_typed("260531793113837").unwrap().body(),
            26053179311383
        );
    }

    #[test]
    fn typed_imei_names_expected_check_digit() {
        let e = Imei::parse_typed("260531793113830").unwrap_err();
        assert_eq!(
            e,
            IdError::CheckDigit {
                body: "26053179311383".into(),
                expected: 7,
                got: 0
            }
        );
        assert!(e.to_string().contains("expected 7"));
    }

    #[test]
    fn network_imei_accepts_spare_zero() {
        assert_eq!(
            Imei::parse_network("260531793113830").unwrap().to_string(),
            "260531793113837"
        );
        assert_eq!(
            Pei::parse("imei-260531793113830")
                .unwrap()
                .imei()
                .unwrap()
                .body(),
            26053179311383
        );
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
        assert!(matches!(
            Pei::parse("imeisv-4370816125816151").unwrap(),
            Pei::ImeiSv(_)
        ));
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
