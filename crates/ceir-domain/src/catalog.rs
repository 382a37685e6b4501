//! The device catalog: what is known about the model behind each TAC, and which radio
//! generations that model can use.
//!
//! The generations come from the free-text "Bands" field of the GSMA TAC database, so that a
//! CEIR can tell, for example, that a handset listed as 2G-only should never attach over LTE.
//! The classification follows the one DIRBS applies to the same field (its `rat_bitmask`), with
//! 5G NR added, and it reads each comma-separated band entry on its own, so that an entry such as
//! "LTE FDD BAND 2 (PCS 1900)" counts once, as 4G, and not also as 2G because it names a
//! frequency that GSM shares.

use crate::ids::Tac;
use std::fmt;
use std::str::FromStr;

/// A set of radio generations (2G to 5G), kept in the low four bits of one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct RadioSet(u8);

impl RadioSet {
    /// No generation known: the catalog names no cellular band, or none it recognises.
    pub const EMPTY: RadioSet = RadioSet(0);
    /// GSM, GPRS, EDGE, cdmaOne.
    pub const G2: RadioSet = RadioSet(1);
    /// UMTS (WCDMA, HSPA), TD-SCDMA, CDMA2000.
    pub const G3: RadioSet = RadioSet(1 << 1);
    /// LTE, including LTE-M and NB-IoT.
    pub const G4: RadioSet = RadioSet(1 << 2);
    /// 5G NR.
    pub const G5: RadioSet = RadioSet(1 << 3);
    /// Every generation.
    pub const ALL: RadioSet = RadioSet(0b1111);

    /// The generations with their display labels, oldest first.
    const LABELS: [(RadioSet, &'static str); 4] = [
        (RadioSet::G2, "2G"),
        (RadioSet::G3, "3G"),
        (RadioSet::G4, "4G"),
        (RadioSet::G5, "5G"),
    ];

    /// The raw bits: 1 = 2G, 2 = 3G, 4 = 4G, 8 = 5G.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set with the given bits, or `None` if a bit above 5G is set.
    pub const fn from_bits(bits: u8) -> Option<RadioSet> {
        if bits & !RadioSet::ALL.0 == 0 {
            Some(RadioSet(bits))
        } else {
            None
        }
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every generation of `other` is in `self`.
    pub const fn contains(self, other: RadioSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: RadioSet) -> RadioSet {
        RadioSet(self.0 | other.0)
    }

    pub const fn intersection(self, other: RadioSet) -> RadioSet {
        RadioSet(self.0 & other.0)
    }

    /// The newest generation in the set as a number (2 to 5), if any.
    pub const fn highest(self) -> Option<u8> {
        if self.0 & RadioSet::G5.0 != 0 {
            Some(5)
        } else if self.0 & RadioSet::G4.0 != 0 {
            Some(4)
        } else if self.0 & RadioSet::G3.0 != 0 {
            Some(3)
        } else if self.0 & RadioSet::G2.0 != 0 {
            Some(2)
        } else {
            None
        }
    }
}

impl std::ops::BitOr for RadioSet {
    type Output = RadioSet;
    fn bitor(self, rhs: RadioSet) -> RadioSet {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for RadioSet {
    fn bitor_assign(&mut self, rhs: RadioSet) {
        *self = self.union(rhs);
    }
}

/// "2G/3G/4G", oldest first; "none" for the empty set.
impl fmt::Display for RadioSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for (g, label) in RadioSet::LABELS {
            if self.contains(g) {
                if !first {
                    f.write_str("/")?;
                }
                f.write_str(label)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A radio-generation list that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown radio generation {token:?}; expected 2G, 3G, 4G or 5G joined by '/', or \"none\"")]
pub struct RadioSetParseError {
    pub token: String,
}

/// Reads what [`RadioSet`]'s `Display` writes: "2G/4G", "none" or "". Case and spaces around
/// the parts do not matter, and commas are accepted in place of slashes.
impl FromStr for RadioSet {
    type Err = RadioSetParseError;
    fn from_str(s: &str) -> Result<RadioSet, RadioSetParseError> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(RadioSet::EMPTY);
        }
        let mut set = RadioSet::EMPTY;
        for part in s.split(['/', ',']) {
            let part = part.trim();
            let g = RadioSet::LABELS
                .iter()
                .find(|(_, label)| label.eq_ignore_ascii_case(part))
                .map(|(g, _)| *g)
                .ok_or_else(|| RadioSetParseError {
                    token: part.to_owned(),
                })?;
            set |= g;
        }
        Ok(set)
    }
}

impl serde::Serialize for RadioSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RadioSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RadioSet, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a catalog says about one device model (one TAC).
///
/// Only `tac`, `brand` and `model` are always present; sources differ in what else they carry
/// (the Osmocom tacdb, for one, has no bands, so its models have an empty `radios`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TacModel {
    pub tac: Tac,
    /// The brand the device is sold under; may be empty when the source names none.
    pub brand: String,
    /// The model name; may be empty when the source names none.
    pub model: String,
    pub marketing_name: Option<String>,
    pub manufacturer: Option<String>,
    /// As the source words it: "Smartphone", "Feature phone", "Modem", "Tablet", "IoT Device", …
    pub device_type: Option<String>,
    pub os: Option<String>,
    /// The source's band list, verbatim (GSMA "Bands", with its "5G Bands" appended if present).
    pub bands: Option<String>,
    /// The GSMA "Radio Interface" field, verbatim.
    pub radio_interface: Option<String>,
    /// The TAC's allocation date: ISO `yyyy-mm-dd` when the source's date could be read,
    /// otherwise the source's text unchanged.
    pub allocation_date: Option<String>,
    /// The generations derived from `bands` and `radio_interface` by [`derive_radios`].
    pub radios: RadioSet,
}

/// The radio generations named by a GSMA "Bands" field and "Radio Interface" field.
///
/// Both are lists of entries separated by `,`, `;` or `/` ("GSM 900,WCDMA FDD Band I,LTE FDD
/// BAND 3,NR BAND n78"). Each entry counts for the newest technology it names, so "LTE FDD BAND 2
/// (PCS 1900)" is 4G only. Entries naming no known technology ("Not Known", "NONE", a bare
/// frequency) add nothing; the result may be empty. Case does not matter.
pub fn derive_radios(bands: &str, radio_interface: &str) -> RadioSet {
    let mut set = RadioSet::EMPTY;
    for entry in bands
        .split([',', ';', '/'])
        .chain(radio_interface.split([',', ';', '/']))
    {
        set |= classify_entry(entry);
    }
    set
}

/// The generation one band entry names, or the empty set.
fn classify_entry(entry: &str) -> RadioSet {
    let upper = entry.trim().to_ascii_uppercase();
    if upper.is_empty() {
        return RadioSet::EMPTY;
    }
    // Words are runs of letters and digits; "TD-SCDMA" gives "TD" and "SCDMA". The squashed form
    // drops every separator, so that "TDS-CDMA", "EV-DO" and "NB-IoT" match as one name.
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let squashed: String = upper.chars().filter(char::is_ascii_alphanumeric).collect();
    let has_word = |pred: &dyn Fn(&str) -> bool| words.iter().any(|w| pred(w));

    // 5G: "NR BAND n78", "5G NR", "NR SA", "EN-DC" (LTE anchor with NR, which needs an NR radio).
    if has_word(&|w| matches!(w, "NR" | "5G" | "5GNR" | "NRSA" | "NRNSA" | "FR1" | "FR2"))
        || squashed.contains("ENDC")
    {
        return RadioSet::G5;
    }
    // 4G: "LTE FDD BAND 3", "LTE 2100", "LTE-M", carrier-aggregation combinations ("CA_3A-7A"),
    // which only LTE has, and the LTE-based IoT radios. DIRBS also counts WiMAX and UMB here.
    if has_word(&|w| w.starts_with("LTE") || w == "WIMAX" || w == "UMB")
        || upper.starts_with("CA_")
        || upper.starts_with("DC_")
        || ["NBIOT", "CATM1", "CATNB", "EMTC", "EUTRA"]
            .iter()
            .any(|n| squashed.contains(n))
    {
        return RadioSet::G4;
    }
    // 3G: "WCDMA FDD Band I", "UMTS 2100", "HSPA+", "TD-SCDMA", "CDMA2000", "EV-DO".
    if [
        "WCDMA", "UMTS", "HSPA", "HSDPA", "HSUPA", "TDSCDMA", "CDMA2000", "EVDO",
    ]
    .iter()
    .any(|n| squashed.contains(n))
        || has_word(&|w| w == "SCDMA" || w == "UTRA" || w == "UTRAN")
    {
        return RadioSet::G3;
    }
    // 2G: "GSM 900", "GSM850 (GSM800)", "E-GSM", "EGSM900", "DCS 1800", "PCS1900", GPRS, EDGE,
    // and plain CDMA (cdmaOne); "CDMA2000" was taken above.
    if has_word(&|w| {
        w.contains("GSM")
            || w.starts_with("DCS")
            || w.starts_with("PCS")
            || w.starts_with("GPRS")
            || w.starts_with("EGPRS")
            || w == "EDGE"
            || w == "GERAN"
            || w.starts_with("CDMA")
            || w == "1XRTT"
            || w == "IS95"
    }) {
        return RadioSet::G2;
    }
    // A bare NR band number ("n78"), as the GSMA "5G Bands" column writes them. Checked last so
    // that an LTE entry which mentions its NR twin stays 4G.
    if has_word(&|w| {
        w.len() >= 2
            && w.len() <= 4
            && w.starts_with('N')
            && w.bytes().skip(1).all(|b| b.is_ascii_digit())
    }) {
        return RadioSet::G5;
    }
    RadioSet::EMPTY
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: RadioSet = RadioSet::EMPTY;
    const G2: RadioSet = RadioSet::G2;
    const G3: RadioSet = RadioSet::G3;
    const G4: RadioSet = RadioSet::G4;
    const G5: RadioSet = RadioSet::G5;

    #[test]
    fn derive_radios_table() {
        let g23 = G2 | G3;
        let g234 = G2 | G3 | G4;
        let cases: &[(&str, &str, RadioSet)] = &[
            // Field values as the GSMA TAC database writes them.
            ("GSM 1800,GSM 900", "", G2),
            ("GSM850 (GSM800),GSM 900,GSM 1800,GSM 1900", "GPRS", G2),
            (
                "GSM 1800, GSM 1900, GSM 900, GSM850 (GSM800), WCDMA FDD Band I, WCDMA FDD Band II",
                "",
                g23,
            ),
            ("WCDMA FDD Band I, WCDMA FDD Band VIII", "", G3),
            (
                "GSM 900,GSM 1800,WCDMA FDD Band I,LTE FDD BAND 3,NR BAND n78",
                "",
                G2 | G3 | G4 | G5,
            ),
            (
                "LTE FDD 29,GSM 900,TD-SCDMA,CDMA2000,LTE TDD BAND 41",
                "",
                g234,
            ),
            ("GSM 1800, GSM 1900, LTE 2100, CA_6", "", G2 | G4),
            ("WCDMA FDD Band I, LTE 2100, CA_6", "", G3 | G4),
            ("LTE", "", G4),
            ("LTE FDD BAND 20", "LTE", G4),
            ("", "LTE", G4),
            ("", "", NONE),
            ("Not Known", "NONE", NONE),
            ("Not Known", "Not Known", NONE),
            // Technology names on their own, as DIRBS classifies them.
            ("GPRS", "", G2),
            ("EDGE", "", G2),
            ("CDMA", "", G2),
            ("HSPA", "", G3),
            ("HSDPA,HSUPA", "", G3),
            ("EVDO", "", G3),
            ("EV-DO Rev. A", "", G3),
            ("UMTS", "", G3),
            ("TDS-CDMA", "", G3),
            ("CDMA2000", "", G3),
            ("WiMAX", "", G4),
            ("UMB", "", G4),
            // 5G spellings.
            ("5G NR", "", G5),
            ("NR SA BAND n41", "", G5),
            ("n1,n3,n28,n78", "", G5),
            ("EN-DC", "", G5),
            ("LTE FDD BAND 3", "NR", G4 | G5),
            // LTE-based IoT radios.
            ("LTE-M", "", G4),
            ("NB-IoT", "", G4),
            ("Cat-M1", "", G4),
            // An entry counts for the newest technology it names, not for every name in it.
            ("LTE FDD BAND 2 (PCS 1900)", "", G4),
            ("WCDMA FDD Band V (850)", "", G3),
            // Other GSM spellings.
            ("E-GSM 900, DCS 1800, PCS 1900", "", G2),
            ("EGSM900", "", G2),
            ("R-GSM", "", G2),
            // Radio Interface alone, and separators other than commas.
            ("", "GSM/UMTS/LTE", g234),
            ("GSM 900;LTE FDD BAND 7", "", G2 | G4),
            // Lower case and stray spaces.
            ("  gsm 900 ,  lte fdd band 3 ", "", G2 | G4),
            // Words that only look like technologies.
            ("Bluetooth, WLAN", "", NONE),
            ("900, 1800", "", NONE),
        ];
        for (bands, ri, want) in cases {
            assert_eq!(
                derive_radios(bands, ri),
                *want,
                "bands {bands:?}, radio interface {ri:?}"
            );
        }
    }

    #[test]
    fn display_and_parse_round_trip() {
        let cases: &[(RadioSet, &str)] = &[
            (NONE, "none"),
            (G2, "2G"),
            (G2 | G3 | G4, "2G/3G/4G"),
            (G3 | G5, "3G/5G"),
            (RadioSet::ALL, "2G/3G/4G/5G"),
        ];
        for (set, text) in cases {
            assert_eq!(set.to_string(), *text);
            assert_eq!(text.parse::<RadioSet>().unwrap(), *set);
        }
        for bits in 0..=15u8 {
            let set = RadioSet::from_bits(bits).unwrap();
            assert_eq!(set.to_string().parse::<RadioSet>().unwrap(), set);
        }
    }

    #[test]
    fn parse_is_lenient_about_case_order_and_separators() {
        assert_eq!("4g / 2G".parse::<RadioSet>().unwrap(), G2 | G4);
        assert_eq!("2G,3G".parse::<RadioSet>().unwrap(), G2 | G3);
        assert_eq!("".parse::<RadioSet>().unwrap(), NONE);
        assert_eq!("NONE".parse::<RadioSet>().unwrap(), NONE);
        let e = "2G/6G".parse::<RadioSet>().unwrap_err();
        assert_eq!(e.token, "6G");
        assert!(e.to_string().contains("\"6G\""));
        assert!("2G//3G".parse::<RadioSet>().is_err());
    }

    #[test]
    fn bit_operations() {
        assert_eq!(RadioSet::from_bits(16), None);
        assert_eq!((G2 | G4).bits(), 0b0101);
        assert!((G2 | G4).contains(G4));
        assert!(!(G2 | G4).contains(G3 | G4));
        assert_eq!((G2 | G4).intersection(G4 | G5), G4);
        assert_eq!((G2 | G4).highest(), Some(4));
        assert_eq!(NONE.highest(), None);
        assert!(NONE.is_empty());
        assert_eq!(RadioSet::default(), NONE);
    }

    #[test]
    fn serde_uses_the_display_form() {
        let json = serde_json::to_string(&(G2 | G3)).unwrap();
        assert_eq!(json, "\"2G/3G\"");
        assert_eq!(serde_json::from_str::<RadioSet>(&json).unwrap(), G2 | G3);
        assert!(serde_json::from_str::<RadioSet>("\"7G\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn derive_radios_never_panics(bands in ".{0,200}", ri in ".{0,40}") {
            let set = derive_radios(&bands, &ri);
            proptest::prop_assert!(RadioSet::ALL.contains(set));
        }
    }
}
