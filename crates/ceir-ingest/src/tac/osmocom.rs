//! The Osmocom tacdb CSV export (tacdb.osmocom.org, CC-BY-SA): a licence banner line, then the
//! header `tac,name,name,contributor,comment,gsmarena,gsmarena,aka`, then one row per TAC.
//!
//! Columns are taken by position, since two pairs share a name: TAC, brand, model, contributor,
//! comment, two GSMArena links, and comma-separated aliases (quoted). Only TAC, brand and model
//! become part of the model; the export has no bands, so its models have no radio generations.
//! Quoting follows RFC 4180 within a line; a quoted field may not run onto the next line, which
//! keeps every row on one numbered line (the export never does it).

use super::{check_width, value, Builder};
use crate::error::{IngestError, RowError};
use crate::lines::Lines;
use ceir_domain::catalog::{RadioSet, TacModel};
use std::io::BufRead;

/// The column count of this file's header.
pub(super) struct Header {
    width: usize,
}

/// Whether a line is the export's licence banner ("Osmocom TAC database under CC-BY-SA v3.0 …").
pub(super) fn is_banner(line: &str) -> bool {
    line.trim_start()
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("osmocom"))
}

impl Header {
    /// The header if the line starts `tac,name,name` (any case, spaces ignored).
    pub(super) fn parse(line: &str) -> Option<Header> {
        let names = split(line).ok()?;
        let norm: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
        match norm.as_slice() {
            [tac, brand, model, ..] if tac == "tac" && brand == "name" && model == "name" => {
                Some(Header { width: names.len() })
            }
            _ => None,
        }
    }
}

pub(super) fn read_rows<R: BufRead>(
    header: &Header,
    lines: &mut Lines<R>,
    out: &mut Builder<'_>,
) -> Result<(), IngestError> {
    out.rows(lines, |line, raw| row(header, line, raw))
}

fn row(h: &Header, line: u64, raw: &str) -> Result<TacModel, RowError> {
    let fields = split(raw).map_err(|reason| RowError::new(line, "(row)", raw, reason))?;
    check_width(line, raw, &fields, h.width)?;
    let field = |i: usize| fields.get(i).map(String::as_str).unwrap_or_default();
    // The export has TACs with a leading space; Tac::parse trims them.
    let tac = super::tac(line, "tac", field(0))?;
    Ok(TacModel {
        tac,
        brand: value(field(1)).unwrap_or_default(),
        model: value(field(2)).unwrap_or_default(),
        marketing_name: None,
        manufacturer: None,
        device_type: None,
        os: None,
        bands: None,
        radio_interface: None,
        allocation_date: None,
        radios: RadioSet::EMPTY,
    })
}

/// Splits one CSV line: fields separated by commas; a field that starts with `"` runs to the
/// next lone `"`, with `""` standing for a quote inside it.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted field is not closed on this line".to_owned()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("{c:?} follows a closing quote; expected a comma")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_table() {
        let ok: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("", &[""]),
            (",", &["", ""]),
            ("a,\"b,c\",d", &["a", "b,c", "d"]),
            ("\"say \"\"hi\"\"\",x", &["say \"hi\"", "x"]),
            ("a,\"\"", &["a", ""]),
            ("a,b,", &["a", "b", ""]),
            ("a,b\"c", &["a", "b\"c"]),
        ];
        for (line, want) in ok {
            assert_eq!(split(line).unwrap(), *want, "{line:?}");
        }
        assert!(split("a,\"open").unwrap_err().contains("not closed"));
        assert!(split("\"x\"y,z")
            .unwrap_err()
            .contains("'y' follows a closing quote"));
    }

    #[test]
    fn banner_and_header() {
        assert!(is_banner(
            "Osmocom TAC database under CC-BY-SA v3.0 (c) Harald Welte 2016"
        ));
        assert!(!is_banner("tac,name,name"));
        assert!(!is_banner("Osmo"));
        assert_eq!(
            Header::parse("tac,name,name,contributor,comment,gsmarena,gsmarena,aka")
                .unwrap()
                .width,
            8
        );
        assert_eq!(Header::parse(" TAC , Name,NAME").unwrap().width, 3);
        assert!(Header::parse("tac,brand,model").is_none());
        assert!(Header::parse("TAC|Brand Name|Model Name").is_none());
    }

    #[test]
    fn row_keeps_tac_brand_model() {
        let h = Header { width: 8 };
        let m = row(
            &h,
            3,
            " 01234567,Acme,Phone 1,someone,,http://a,http://b,\"P1,P1a\"",
        )
        .unwrap();
        assert_eq!(m.tac.to_string(), "01234567");
        assert_eq!((m.brand.as_str(), m.model.as_str()), ("Acme", "Phone 1"));
        assert!(m.radios.is_empty());
        let e = row(&h, 9, "0123456,Acme,Phone,,,,,").unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str(), e.value.as_str()),
            (9, "tac", "0123456")
        );
        let e = row(&h, 9, "01234567,Acme").unwrap_err();
        assert_eq!(e.reason, "has 2 fields; the header has 8");
    }
}
