//! Operator network observations: the DIRBS-compatible vocabulary shared by import, the
//! observation store, classification and list generation.
//!
//! Everything here is a plain value: days are counted from 1970-01-01, identifiers become `u64`
//! keys so that grouping millions of rows never allocates, and the raw text stays available where
//! a list must repeat it.

use std::fmt;

/// A calendar day, as days since 1970-01-01 (UTC). Plain integers keep day arithmetic, bitmasks
/// and sorting free; conversion to dates happens only at the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Day(pub i32);

impl Day {
    /// A day from its calendar date; `None` for an impossible date.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Day> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Day(era * 146_097 + doe - 719_468))
    }

    /// The calendar date of this day.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i32::from(m <= 2);
        (y, m, d)
    }

    /// Parses `yyyymmdd`, the DIRBS date format.
    pub fn parse_yyyymmdd(s: &[u8]) -> Option<Day> {
        if s.len() != 8 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| {
            s[r].iter()
                .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
        };
        Day::from_ymd(n(0..4) as i32, n(4..6), n(6..8))
    }

    /// Parses `yyyy-mm-dd`.
    pub fn parse_iso(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let mut compact = [0u8; 8];
        compact[..4].copy_from_slice(&b[..4]);
        compact[4..6].copy_from_slice(&b[5..7]);
        compact[6..].copy_from_slice(&b[8..]);
        Day::parse_yyyymmdd(&compact)
    }

    /// The first day of this day's month.
    pub fn month_start(self) -> Day {
        let (y, m, _) = self.ymd();
        Day::from_ymd(y, m, 1).unwrap_or(self)
    }

    /// The first day of the next month.
    pub fn next_month_start(self) -> Day {
        let (y, m, _) = self.ymd();
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Day::from_ymd(y, m, 1).unwrap_or(self)
    }

    /// `yyyy-mm`, the month partition's name.
    pub fn month_label(self) -> String {
        let (y, m, _) = self.ymd();
        format!("{y:04}-{m:02}")
    }

    /// `yyyymmdd`.
    pub fn compact(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}{m:02}{d:02}")
    }

    pub const fn plus(self, days: i32) -> Day {
        Day(self.0 + days)
    }

    /// The day a timestamp falls on (UTC).
    pub fn of(t: crate::Timestamp) -> Day {
        Day(t.0.div_euclid(86_400_000) as i32)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A radio access technology as operators report it (DIRBS codes, after 3GPP TS 29.274's RAT
/// Type and 3GPP2's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rat {
    pub code: u16,
    pub name: &'static str,
    pub generation: Generation,
}

/// Mobile generations as a small bitmask, so a model's capabilities and a device's observed
/// radio technologies compare with one AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Generations(pub u8);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Wi-Fi, GAN, virtual: says nothing about the radio the model has.
    NonCellular,
    G2,
    G3,
    G4,
    G5,
}

impl Generation {
    pub const fn bit(self) -> u8 {
        match self {
            Generation::NonCellular => 0,
            Generation::G2 => 1,
            Generation::G3 => 2,
            Generation::G4 => 4,
            Generation::G5 => 8,
        }
    }
}

impl Generations {
    pub const fn contains(self, g: Generation) -> bool {
        self.0 & g.bit() != 0
    }
    pub const fn union(self, o: Generations) -> Generations {
        Generations(self.0 | o.0)
    }
    /// Generations in `self` that `model` lacks.
    pub const fn missing_from(self, model: Generations) -> Generations {
        Generations(self.0 & !model.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn names(self) -> Vec<&'static str> {
        [
            (Generation::G2, "2G"),
            (Generation::G3, "3G"),
            (Generation::G4, "4G"),
            (Generation::G5, "5G"),
        ]
        .into_iter()
        .filter(|(g, _)| self.contains(*g))
        .map(|(_, n)| n)
        .collect()
    }
}

/// Every RAT code DIRBS accepts, in bit order of [`RatSet`].
pub const RATS: [Rat; 12] = [
    Rat {
        code: 1,
        name: "UTRAN",
        generation: Generation::G3,
    },
    Rat {
        code: 2,
        name: "GERAN",
        generation: Generation::G2,
    },
    Rat {
        code: 3,
        name: "WLAN",
        generation: Generation::NonCellular,
    },
    Rat {
        code: 4,
        name: "GAN",
        generation: Generation::NonCellular,
    },
    Rat {
        code: 5,
        name: "HSPA Evolution",
        generation: Generation::G3,
    },
    Rat {
        code: 6,
        name: "E-UTRAN",
        generation: Generation::G4,
    },
    Rat {
        code: 7,
        name: "Virtual",
        generation: Generation::NonCellular,
    },
    Rat {
        code: 101,
        name: "IEEE 802.16",
        generation: Generation::G4,
    },
    Rat {
        code: 102,
        name: "3GPP2 eHRPD",
        generation: Generation::G3,
    },
    Rat {
        code: 103,
        name: "3GPP2 HRPD",
        generation: Generation::G3,
    },
    Rat {
        code: 104,
        name: "3GPP2 1xRTT",
        generation: Generation::G2,
    },
    Rat {
        code: 105,
        name: "3GPP2 UMB",
        generation: Generation::G4,
    },
];

/// A set of RAT codes: bit i is `RATS[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct RatSet(pub u16);

impl RatSet {
    pub const EMPTY: RatSet = RatSet(0);

    fn bit_of(code: u16) -> Option<u16> {
        RATS.iter().position(|r| r.code == code).map(|i| 1 << i)
    }

    /// Parses the DIRBS form: three-digit codes joined by `|` (`001|006`). Empty is the empty set.
    pub fn parse_dirbs(s: &[u8]) -> Option<RatSet> {
        if s.is_empty() {
            return Some(RatSet::EMPTY);
        }
        let mut set = 0u16;
        for part in s.split(|&b| b == b'|') {
            if part.len() != 3 || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let code = part
                .iter()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
            set |= Self::bit_of(code)?;
        }
        Some(RatSet(set))
    }

    pub fn union(self, o: RatSet) -> RatSet {
        RatSet(self.0 | o.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = &'static Rat> {
        RATS.iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, r)| r)
    }

    /// The cellular generations these technologies belong to.
    pub fn generations(self) -> Generations {
        Generations(self.iter().fold(0, |acc, r| acc | r.generation.bit()))
    }

    /// The DIRBS form back: `001|006`.
    pub fn to_dirbs(self) -> String {
        let codes: Vec<String> = self.iter().map(|r| format!("{:03}", r.code)).collect();
        codes.join("|")
    }
}

/// An IMEI as DIRBS normalises it: the first 14 characters when those are all digits (the check
/// digit or software version dropped), otherwise the value upper-cased as it came. Malformed
/// IMEIs still take part in classification, so they are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImeiNorm {
    /// A 14-digit body (< 10^14).
    Body(u64),
    /// Anything else, upper-cased; never empty.
    Raw(String),
}

impl ImeiNorm {
    /// `None` for an empty value (a null IMEI).
    pub fn parse(s: &[u8]) -> Option<ImeiNorm> {
        if s.is_empty() {
            return None;
        }
        if s.len() >= 14 && s[..14].iter().all(u8::is_ascii_digit) {
            let body = s[..14]
                .iter()
                .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
            return Some(ImeiNorm::Body(body));
        }
        Some(ImeiNorm::Raw(
            String::from_utf8_lossy(s).to_ascii_uppercase(),
        ))
    }

    pub fn body(&self) -> Option<u64> {
        match self {
            ImeiNorm::Body(b) => Some(*b),
            ImeiNorm::Raw(_) => None,
        }
    }

    /// The TAC: the first 8 digits of a 14-digit body.
    pub fn tac(&self) -> Option<u32> {
        self.body().map(|b| (b / 1_000_000) as u32)
    }
}

impl fmt::Display for ImeiNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImeiNorm::Body(b) => write!(f, "{b:014}"),
            ImeiNorm::Raw(s) => f.write_str(s),
        }
    }
}

/// The DIRBS leading-zero check: an IMEI field of exactly 14 digits starting with `0`, which
/// suggests a numeric export dropped the first digit of a 15-digit IMEI.
pub fn imei_leading_zero_suspect(s: &[u8]) -> bool {
    s.len() == 14 && s[0] == b'0' && s.iter().all(u8::is_ascii_digit)
}

/// An IMSI or MSISDN as a `u64` key, so distinct counts and joins never touch strings.
///
/// - `0` is a null value;
/// - 1 to 15 ASCII digits: `len << 50 | value` (10^15 < 2^50), so `"0123"` and `"123"` differ and
///   the text comes back exactly;
/// - anything else (an "unclean" value): bit 63 set over a hash of the text. Such keys only count
///   as "unclean" and never match a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IdKey(pub u64);

const UNCLEAN: u64 = 1 << 63;

impl IdKey {
    pub const NULL: IdKey = IdKey(0);

    pub fn parse(s: &[u8]) -> IdKey {
        if s.is_empty() {
            return IdKey::NULL;
        }
        if s.len() <= 15 && s.iter().all(u8::is_ascii_digit) {
            let v = s.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
            return IdKey((s.len() as u64) << 50 | v);
        }
        // FNV-1a: stable across runs and platforms, which a std hasher is not.
        let h = s.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        IdKey(UNCLEAN | (h & (UNCLEAN - 1)))
    }

    pub const fn is_null(self) -> bool {
        self.0 == 0
    }
    /// Digits only, 1 to 15 of them.
    pub const fn is_valid(self) -> bool {
        self.0 != 0 && self.0 & UNCLEAN == 0
    }
    pub const fn is_unclean(self) -> bool {
        self.0 & UNCLEAN != 0
    }
    /// How many digits a valid key has (0 for null or unclean keys).
    pub const fn digit_count(self) -> u32 {
        if self.is_valid() {
            (self.0 >> 50) as u32
        } else {
            0
        }
    }
    /// DIRBS's `is_valid_imsi`: 14 or 15 digits. Only such IMSIs count in duplicate dimensions.
    pub const fn is_valid_imsi(self) -> bool {
        matches!(self.digit_count(), 14 | 15)
    }
    /// DIRBS's `is_valid_msisdn`: 12 to 15 digits.
    pub const fn is_valid_msisdn(self) -> bool {
        matches!(self.digit_count(), 12..=15)
    }

    /// The digits of a valid key.
    pub fn digits(self) -> Option<String> {
        if !self.is_valid() {
            return None;
        }
        let len = (self.0 >> 50) as usize;
        let v = self.0 & ((1 << 50) - 1);
        Some(format!("{v:0len$}"))
    }

    /// The first `n` digits of a valid key as a number (an IMSI's MCC and MNC, an MSISDN's
    /// country code), or `None` when the value is shorter.
    pub fn prefix(self, n: usize) -> Option<u64> {
        let len = (self.0 >> 50) as usize;
        if !self.is_valid() || n > len {
            return None;
        }
        let v = self.0 & ((1 << 50) - 1);
        Some(v / 10u64.pow((len - n) as u32))
    }

    /// Whether a valid key's digits start with `prefix` (ASCII digits).
    pub fn starts_with(self, prefix: &str) -> bool {
        let n = prefix.len();
        match (self.prefix(n), prefix.parse::<u64>()) {
            (Some(p), Ok(want)) => p == want && prefix.bytes().all(|b| b.is_ascii_digit()),
            _ => false,
        }
    }
}

/// One (IMEI, IMSI, MSISDN) triplet on one operator's network over one calendar month: the unit
/// the observation store keeps, after DIRBS's monthly network triplets. A file's rows collapse
/// into these: `days` has bit `i` set when the triplet was seen on `month + i`, and `rat` is the
/// union of the radio technologies it was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Triplet {
    pub imei: ImeiKey,
    pub imsi: IdKey,
    pub msisdn: IdKey,
    /// Index into the batch's operator table.
    pub operator: u16,
    /// The first day of the month.
    pub month: Day,
    pub days: u32,
    pub rat: RatSet,
}

impl Triplet {
    pub fn first_seen(&self) -> Day {
        self.month.plus(self.days.trailing_zeros() as i32)
    }
    pub fn last_seen(&self) -> Day {
        self.month.plus(31 - self.days.leading_zeros() as i32)
    }
    /// Days seen within `[start, end]` (inclusive).
    pub fn days_within(&self, start: Day, end: Day) -> u32 {
        self.days & window_mask(self.month, start, end)
    }
}

/// What is known of an IMEI from the months a classification does not load whole: DIRBS keeps
/// this for every IMEI ever seen (`network_imeis`), and "was it ever seen", "since when" and "on
/// which radio technologies" are asked of the whole history, not of the analysis window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImeiSeen {
    pub imei: ImeiKey,
    pub first_seen: Day,
    pub last_seen: Day,
    pub rat: RatSet,
}

impl ImeiSeen {
    /// Both records of one IMEI as one.
    pub fn merge(self, o: ImeiSeen) -> ImeiSeen {
        ImeiSeen {
            imei: self.imei,
            first_seen: self.first_seen.min(o.first_seen),
            last_seen: self.last_seen.max(o.last_seen),
            rat: self.rat.union(o.rat),
        }
    }
}

/// The bits of a month's day mask that fall within `[start, end]`.
pub fn window_mask(month: Day, start: Day, end: Day) -> u32 {
    let lo = (start.0 - month.0).max(0);
    let hi = (end.0 - month.0).min(31);
    if hi < 0 || lo > 31 || lo > hi {
        return 0;
    }
    let width = (hi - lo + 1) as u32;
    let ones = if width >= 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    };
    ones << lo
}

/// An IMEI as a sortable `u64`: a 14-digit body as itself (< 2^47), a malformed IMEI as bit 63
/// plus its index in the batch's table of raw values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImeiKey(pub u64);

impl ImeiKey {
    pub const fn body(body: u64) -> ImeiKey {
        ImeiKey(body)
    }
    pub const fn raw(index: u32) -> ImeiKey {
        ImeiKey(UNCLEAN | index as u64)
    }
    /// The 14-digit body, when the IMEI was well formed.
    pub const fn as_body(self) -> Option<u64> {
        if self.0 & UNCLEAN == 0 {
            Some(self.0)
        } else {
            None
        }
    }
    /// The index into the raw table, when it was not.
    pub const fn raw_index(self) -> Option<u32> {
        if self.0 & UNCLEAN != 0 {
            Some((self.0 & 0xffff_ffff) as u32)
        } else {
            None
        }
    }
}

/// What an operator data file's name says: `<operator>_<yyyymmdd>_<yyyymmdd>` with any
/// extensions (`.csv`, `.csv.gz`, `.zip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorFileName {
    pub operator: String,
    pub start: Day,
    pub end: Day,
}

impl OperatorFileName {
    pub fn parse(file_name: &str) -> Result<OperatorFileName, String> {
        let stem = file_name.split('.').next().unwrap_or(file_name);
        let mut parts = stem.rsplitn(3, '_');
        let (Some(end), Some(start), Some(op)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "the file name {file_name:?} is not <operator>_<yyyymmdd>_<yyyymmdd>"
            ));
        };
        let start = Day::parse_yyyymmdd(start.as_bytes())
            .ok_or_else(|| format!("the start date {start:?} in the file name is not yyyymmdd"))?;
        let end = Day::parse_yyyymmdd(end.as_bytes())
            .ok_or_else(|| format!("the end date {end:?} in the file name is not yyyymmdd"))?;
        if end < start {
            return Err(format!(
                "the file name's end date {end} is before its start {start}"
            ));
        }
        if op.is_empty() || !op.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "the operator {op:?} in the file name must be letters, digits or '-'"
            ));
        }
        Ok(OperatorFileName {
            operator: op.to_ascii_lowercase(),
            start,
            end,
        })
    }
}

/// A mobile network of the node's country, as operator data names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegionOperator {
    /// The id operator data files carry (`<id>_<start>_<end>.csv`), lower case.
    pub id: String,
    pub name: String,
    /// The networks it runs, as MCC followed by MNC (`"40001"`).
    pub mcc_mnc: Vec<String>,
}

/// The node's country as operator data sees it: who is at home and who is roaming.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    /// E.164 country codes of local MSISDNs (`"994"`).
    pub country_codes: Vec<String>,
    /// Mobile country codes of local IMSIs (`"400"`).
    pub mccs: Vec<String>,
    pub operators: Vec<RegionOperator>,
}

impl Region {
    /// The networks of the two countries ceir serves, by ISO code: `AZ` or `UZ`.
    pub fn default_for(country: &str) -> Option<Region> {
        let op = |id: &str, name: &str, nets: &[&str]| RegionOperator {
            id: id.into(),
            name: name.into(),
            mcc_mnc: nets.iter().map(|n| (*n).to_string()).collect(),
        };
        match country {
            "AZ" => Some(Region {
                country_codes: vec!["994".into()],
                mccs: vec!["400".into()],
                operators: vec![
                    op("azercell", "Azercell", &["40001"]),
                    op("bakcell", "Bakcell", &["40002"]),
                    op("nar", "Nar", &["40004"]),
                    op("naxtel", "Naxtel", &["40006"]),
                ],
            }),
            "UZ" => Some(Region {
                country_codes: vec!["998".into()],
                mccs: vec!["434".into()],
                operators: vec![
                    op("beeline", "Beeline Uzbekistan", &["43404"]),
                    op("ucell", "Ucell", &["43405"]),
                    op("mobiuz", "Mobiuz", &["43407"]),
                    op("uzmobile", "Uzmobile", &["43408"]),
                ],
            }),
            _ => None,
        }
    }

    pub fn operator(&self, id: &str) -> Option<&RegionOperator> {
        self.operators.iter().find(|o| o.id == id)
    }

    /// The local operator whose network issued this IMSI, by its MCC and MNC.
    pub fn home_operator(&self, imsi: IdKey) -> Option<&RegionOperator> {
        self.operators
            .iter()
            .find(|o| o.mcc_mnc.iter().any(|n| imsi.starts_with(n)))
    }

    /// A valid IMSI whose MCC is this country's.
    pub fn is_local_imsi(&self, imsi: IdKey) -> bool {
        self.mccs.iter().any(|m| imsi.starts_with(m))
    }

    /// A valid MSISDN with this country's E.164 country code.
    pub fn is_local_msisdn(&self, msisdn: IdKey) -> bool {
        self.country_codes.iter().any(|c| msisdn.starts_with(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn days_round_trip_and_known_points() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day::from_ymd(2000, 3, 1), Some(Day(11_017)));
        assert_eq!(Day::from_ymd(2023, 2, 29), None);
        assert_eq!(
            Day::from_ymd(2024, 2, 29).map(|d| d.ymd()),
            Some((2024, 2, 29))
        );
        assert_eq!(
            Day::parse_yyyymmdd(b"20261031").map(|d| d.to_string()),
            Some("2026-10-31".into())
        );
        assert_eq!(Day::parse_yyyymmdd(b"20261131"), None);
        assert_eq!(
            Day::parse_iso("2026-11-21").map(|d| d.compact()),
            Some("20261121".into())
        );
        let d = Day::parse_iso("2026-12-15").unwrap();
        assert_eq!(d.month_start().to_string(), "2026-12-01");
        assert_eq!(d.next_month_start().to_string(), "2027-01-01");
        assert_eq!(d.month_label(), "2026-12");
    }

    proptest! {
        #[test]
        fn day_ymd_round_trips(n in -100_000i32..200_000) {
            let (y, m, d) = Day(n).ymd();
            prop_assert_eq!(Day::from_ymd(y, m, d), Some(Day(n)));
        }

        #[test]
        fn id_keys_round_trip_digits(s in "[0-9]{1,15}") {
            let k = IdKey::parse(s.as_bytes());
            prop_assert!(k.is_valid());
            prop_assert_eq!(k.digits(), Some(s));
        }

        #[test]
        fn rat_sets_round_trip(bits in 0u16..(1 << 12)) {
            let set = RatSet(bits);
            prop_assert_eq!(RatSet::parse_dirbs(set.to_dirbs().as_bytes()), Some(set));
        }

        #[test]
        fn parsers_never_panic(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = ImeiNorm::parse(&s);
            let _ = IdKey::parse(&s);
            let _ = RatSet::parse_dirbs(&s);
            let _ = Day::parse_yyyymmdd(&s);
        }
    }

    #[test]
    fn rat_codes_and_generations() {
        let s = RatSet::parse_dirbs(b"002|006").unwrap();
        assert_eq!(s.generations().names(), vec!["2G", "4G"]);
        assert_eq!(
            RatSet::parse_dirbs(b"003").unwrap().generations(),
            Generations(0)
        );
        assert_eq!(RatSet::parse_dirbs(b"008"), None);
        assert_eq!(RatSet::parse_dirbs(b"6"), None);
        assert_eq!(RatSet::parse_dirbs(b"001|"), None);
        assert_eq!(RatSet::parse_dirbs(b""), Some(RatSet::EMPTY));
    }

    #[test]
    fn imei_normalisation_follows_dirbs() {
        assert_eq!(
            ImeiNorm::parse(b"35693803564380"),
            Some(ImeiNorm::Body(35_693_803_564_380))
        );
        assert_eq!(
            ImeiNorm::parse(b"356938035643809"),
            Some(ImeiNorm::Body(35_693_803_564_380))
        );
        assert_eq!(
            ImeiNorm::parse(b"3569380356438012"),
            Some(ImeiNorm::Body(35_693_803_564_380))
        );
        assert_eq!(
            ImeiNorm::parse(b"35693a0356438"),
            Some(ImeiNorm::Raw("35693A0356438".into()))
        );
        assert_eq!(ImeiNorm::parse(b"1234"), Some(ImeiNorm::Raw("1234".into())));
        assert_eq!(ImeiNorm::parse(b""), None);
        assert_eq!(
            ImeiNorm::parse(b"01234567890123").map(|i| i.to_string()),
            Some("01234567890123".into())
        );
        assert!(imei_leading_zero_suspect(b"01234567890123"));
        assert!(!imei_leading_zero_suspect(b"012345678901234"));
    }

    #[test]
    fn id_keys_classify_values() {
        assert!(IdKey::parse(b"").is_null());
        assert!(IdKey::parse(b"40001123456789A").is_unclean());
        assert!(IdKey::parse(b"4000112345678901").is_unclean());
        assert_ne!(IdKey::parse(b"0123"), IdKey::parse(b"123"));
        let imsi = IdKey::parse(b"400011234567890");
        assert_eq!(imsi.prefix(5), Some(40001));
        assert!(imsi.starts_with("40001"));
        assert!(!imsi.starts_with("43404"));
        assert_eq!(IdKey::parse(b"99").prefix(3), None);
    }

    #[test]
    fn triplet_days_and_windows() {
        let month = Day::parse_iso("2026-10-01").unwrap();
        let t = Triplet {
            imei: ImeiKey::body(1),
            imsi: IdKey::NULL,
            msisdn: IdKey::NULL,
            operator: 0,
            month,
            days: 0b110 | 1 << 30,
            rat: RatSet::EMPTY,
        };
        assert_eq!(t.first_seen().to_string(), "2026-10-02");
        assert_eq!(t.last_seen().to_string(), "2026-10-31");
        let w = t.days_within(month.plus(2), month.plus(40));
        assert_eq!(w.count_ones(), 2);
        assert_eq!(window_mask(month, month.plus(-5), month.plus(-1)), 0);
        assert_eq!(window_mask(month, month, month.plus(30)), u32::MAX >> 1);
        assert_eq!(ImeiKey::raw(7).raw_index(), Some(7));
        assert_eq!(ImeiKey::body(7).as_body(), Some(7));
    }

    #[test]
    fn regions_route_by_mcc_mnc() {
        let az = Region::default_for("AZ").unwrap();
        let imsi = IdKey::parse(b"400041234567890");
        assert_eq!(az.home_operator(imsi).map(|o| o.id.as_str()), Some("nar"));
        assert!(az.is_local_imsi(imsi));
        assert!(az.home_operator(IdKey::parse(b"434051234567890")).is_none());
        assert!(az.is_local_msisdn(IdKey::parse(b"994501234567")));
        assert!(!az.is_local_msisdn(IdKey::parse(b"998901234567")));
        assert!(Region::default_for("UZ")
            .unwrap()
            .operator("ucell")
            .is_some());
        assert!(Region::default_for("FR").is_none());
    }

    #[test]
    fn operator_file_names() {
        let f = OperatorFileName::parse("Azercell_20261001_20261031.csv.gz").unwrap();
        assert_eq!(f.operator, "azercell");
        assert_eq!(f.start.to_string(), "2026-10-01");
        assert_eq!(f.end.to_string(), "2026-10-31");
        assert!(OperatorFileName::parse("azercell_20261031_20261001.csv").is_err());
        assert!(OperatorFileName::parse("azercell.csv").is_err());
        assert!(OperatorFileName::parse("a_b_20261001_20261031.zip").is_err());
    }
}
