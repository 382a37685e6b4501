//! The GSMA TAC database: one pipe-delimited line per TAC under a header such as
//! `TAC|Marketing Name|Internal Model Name|Manufacturer|Bands|Allocation Date|Country Code|Fixed
//! Code|Manufacturer Code|Radio Interface|Brand Name|Model Name|Operating System|NFC|Bluetooth|
//! WLAN|Device Type`.
//!
//! Columns are found by name, not position: GSMA has reordered and renamed them over the years
//! (newer extracts drop Internal Model Name and Allocation Date, call Manufacturer "Manufacturer
//! (or) Applicant" and add "5G Bands" and "LPWAN"), so names are compared ignoring case, spaces
//! and underscores, and only TAC, Brand Name, Model Name and Bands are required. The delimiter is
//! never quoted in these files, so a `"` is an ordinary character and a line is exactly one row.

use super::{check_width, value, Builder};
use crate::error::{IngestError, RowError};
use crate::lines::Lines;
use ceir_domain::catalog::{derive_radios, TacModel};
use std::io::BufRead;

/// Where each known column is in this file's header.
pub(super) struct Header {
    /// The header's names as written, for error messages.
    names: Vec<String>,
    tac: usize,
    brand: usize,
    model: usize,
    bands: usize,
    bands_5g: Option<usize>,
    lpwan: Option<usize>,
    marketing: Option<usize>,
    internal_model: Option<usize>,
    manufacturer: Option<usize>,
    allocation: Option<usize>,
    radio_interface: Option<usize>,
    os: Option<usize>,
    device_type: Option<usize>,
}

/// A header name compared loosely: lower case, underscores as spaces, runs of spaces as one.
fn normalise(name: &str) -> String {
    let name = name
        .trim()
        .trim_matches('"')
        .to_lowercase()
        .replace('_', " ");
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Header {
    /// `None` if the line is not a GSMA header at all (not pipe-delimited, or no TAC column);
    /// `Some(Err(missing))` if it is one but lacks required columns.
    pub(super) fn parse(line: &str) -> Option<Result<Header, Vec<String>>> {
        let names: Vec<String> = line.split('|').map(|n| n.trim().to_owned()).collect();
        if names.len() < 2 {
            return None;
        }
        let norm: Vec<String> = names.iter().map(|n| normalise(n)).collect();
        let find = |aliases: &[&str]| norm.iter().position(|n| aliases.contains(&n.as_str()));
        let tac = find(&["tac"])?;
        let brand = find(&["brand name", "brand"]);
        let model = find(&["model name", "model"]);
        let bands = find(&["bands", "band"]);
        let (Some(brand), Some(model), Some(bands)) = (brand, model, bands) else {
            let missing = [
                (brand, "Brand Name"),
                (model, "Model Name"),
                (bands, "Bands"),
            ]
            .iter()
            .filter(|(found, _)| found.is_none())
            .map(|(_, name)| (*name).to_owned())
            .collect();
            return Some(Err(missing));
        };
        Some(Ok(Header {
            tac,
            brand,
            model,
            bands,
            bands_5g: find(&["5g bands", "5g band"]),
            lpwan: find(&["lpwan"]),
            marketing: find(&["marketing name"]),
            internal_model: find(&["internal model name"]),
            manufacturer: find(&[
                "manufacturer",
                "manufacturer (or) applicant",
                "manufacturer or applicant",
            ]),
            allocation: find(&["allocation date"]),
            radio_interface: find(&["radio interface"]),
            os: find(&["operating system", "os"]),
            device_type: find(&["device type"]),
            names,
        }))
    }
}

pub(super) fn read_rows<R: BufRead>(
    header: &Header,
    lines: &mut Lines<R>,
    out: &mut Builder<'_>,
) -> Result<(), IngestError> {
    out.rows(lines, |line, raw| row(header, line, raw))
}

/// One data row. Brand falls back to Manufacturer, and model to Marketing Name and then Internal
/// Model Name, since GSMA rows sometimes leave the first empty; either may end up empty.
fn row(h: &Header, line: u64, raw: &str) -> Result<TacModel, RowError> {
    let fields: Vec<&str> = raw.split('|').collect();
    check_width(line, raw, &fields, h.names.len())?;
    let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).and_then(|f| value(f));
    let tac_name = h.names.get(h.tac).map_or("TAC", String::as_str);
    let tac = super::tac(
        line,
        tac_name,
        fields.get(h.tac).copied().unwrap_or_default(),
    )?;
    let manufacturer = get(h.manufacturer);
    let marketing_name = get(h.marketing);
    let brand = get(Some(h.brand))
        .or_else(|| manufacturer.clone())
        .unwrap_or_default();
    let model = get(Some(h.model))
        .or_else(|| marketing_name.clone())
        .or_else(|| get(h.internal_model))
        .unwrap_or_default();
    let bands = match (get(Some(h.bands)), get(h.bands_5g)) {
        (Some(b), Some(b5)) => Some(format!("{b},{b5}")),
        (b, b5) => b.or(b5),
    };
    let radio_interface = get(h.radio_interface);
    let lpwan = get(h.lpwan).unwrap_or_default();
    let radios = derive_radios(
        &format!("{},{lpwan}", bands.as_deref().unwrap_or_default()),
        radio_interface.as_deref().unwrap_or_default(),
    );
    Ok(TacModel {
        tac,
        brand,
        model,
        marketing_name,
        manufacturer,
        device_type: get(h.device_type),
        os: get(h.os),
        bands,
        radio_interface,
        allocation_date: get(h.allocation).map(|d| iso_date(&d).unwrap_or(d)),
        radios,
    })
}

/// A date as GSMA writes it ("02-Jan-2017", "2-Jan-2017", "22-Jun-07"), or already ISO, as ISO
/// `yyyy-mm-dd`; `None` if it is not a real calendar date in one of those forms. All-numeric
/// day-first and month-first forms are not guessed at. Two-digit years are 1970–2069.
pub fn iso_date(s: &str) -> Option<String> {
    let parts: Vec<&str> = s
        .trim()
        .split(['-', ' ', '/', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    let (year, month, day): (u32, u32, u32) = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && all_digits(y) && all_digits(m) && all_digits(d) => {
            (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
        }
        [d, mon, y] if all_digits(d) && all_digits(y) => {
            let year: u32 = match y.len() {
                4 => y.parse().ok()?,
                2 => {
                    let yy: u32 = y.parse().ok()?;
                    if yy < 70 {
                        2000 + yy
                    } else {
                        1900 + yy
                    }
                }
                _ => return None,
            };
            (year, month_number(mon)?, d.parse().ok()?)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || year < 1900 {
        return None;
    }
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// "Jan", "jan" or "January" → 1.
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = name.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    let i = MONTHS.iter().position(|m| m.starts_with(&lower))?;
    u32::try_from(i + 1).ok()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_date_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("02-Jan-2017", Some("2017-01-02")),
            ("2-Jan-2017", Some("2017-01-02")),
            ("26-Apr-2013", Some("2013-04-26")),
            ("22-Jun-07", Some("2007-06-22")),
            ("5-Jun-99", Some("1999-06-05")),
            ("01-JAN-2001", Some("2001-01-01")),
            ("1 September 2019", Some("2019-09-01")),
            ("29-Feb-2016", Some("2016-02-29")),
            ("29-Feb-2017", None),
            ("29-Feb-1900", None),
            ("31-Apr-2013", None),
            ("00-Jan-2013", None),
            ("2017-01-02", Some("2017-01-02")),
            ("2017-13-02", None),
            ("2011-23-Sep", None),
            ("02/01/2017", None),
            ("Jan-2017", None),
            ("02-Ja-2017", None),
            ("02-Foo-2017", None),
            ("", None),
            ("Not Known", None),
            ("99999999999-Jan-2017", None),
        ];
        for (input, want) in cases {
            assert_eq!(iso_date(input).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn header_names_are_loose_and_order_free() {
        let h = Header::parse(" tac | brand_NAME|Model  Name|BANDS|Radio Interface")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.tac, h.brand, h.model, h.bands, h.radio_interface),
            (0, 1, 2, 3, Some(4))
        );
        let h = Header::parse("Model Name|Bands|Brand Name|TAC")
            .unwrap()
            .unwrap();
        assert_eq!(h.tac, 3);
        assert!(Header::parse("tac,name,name").is_none());
        assert!(Header::parse("IMEI|Brand Name").is_none());
        let missing = Header::parse("TAC|Marketing Name|Bands")
            .unwrap()
            .err()
            .unwrap();
        assert_eq!(missing, ["Brand Name", "Model Name"]);
    }

    #[test]
    fn newer_gsma_layout_with_5g_bands_and_lpwan() {
        let h = Header::parse(
            "TAC|Marketing Name|Manufacturer (or) Applicant|Bands|5G Bands|LPWAN|Radio Interface|\
             Brand Name|Model Name|Operating System|NFC|Bluetooth|WLAN|Device Type",
        )
        .unwrap()
        .unwrap();
        let m = row(
            &h,
            2,
            "35000000|Phone X|Acme Ltd|GSM 900,LTE FDD BAND 3|n78|NB-IoT|NONE|Acme|X1|Android|Y|Y|Y|Smartphone",
        )
        .unwrap();
        assert_eq!(m.manufacturer.as_deref(), Some("Acme Ltd"));
        assert_eq!(m.bands.as_deref(), Some("GSM 900,LTE FDD BAND 3,n78"));
        assert_eq!(m.radios.to_string(), "2G/4G/5G");
        assert_eq!(m.allocation_date, None);
    }

    #[test]
    fn brand_and_model_fall_back() {
        let h = Header::parse(
            "TAC|Marketing Name|Internal Model Name|Manufacturer|Bands|Brand Name|Model Name",
        )
        .unwrap()
        .unwrap();
        let m = row(&h, 2, "01234567|Mkt|Internal|Maker||||").unwrap();
        assert_eq!((m.brand.as_str(), m.model.as_str()), ("Maker", "Mkt"));
        let m = row(&h, 2, "01234567||Internal|||||").unwrap();
        assert_eq!((m.brand.as_str(), m.model.as_str()), ("", "Internal"));
        assert!(m.radios.is_empty());
    }
}
