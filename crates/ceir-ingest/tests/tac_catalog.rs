//! The TAC catalog readers against the fixtures in `tests/fixtures`, zips made on the fly, the
//! project's demo catalog, and arbitrary bytes.

// Test helpers outside #[test] functions may fail loudly too; clippy's test allowance covers only
// the functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::catalog::{RadioSet, TacModel};
use ceir_domain::{ErrorCode, Tac};
use ceir_ingest::{read_catalog, read_catalog_from, Catalog, IngestError, TacFormat};
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Result<Catalog, IngestError> {
    read_catalog(&fixture(name), &mut |_| {})
}

fn model<'a>(c: &'a Catalog, tac: &str) -> &'a TacModel {
    let tac = Tac::parse(tac).unwrap();
    c.models
        .iter()
        .find(|m| m.tac == tac)
        .unwrap_or_else(|| panic!("no model for {tac}"))
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn check_gsma_small(c: &Catalog) {
    assert_eq!(c.format, TacFormat::Gsma);
    assert_eq!(c.models.len(), 4);
    assert_eq!(c.duplicates, 1);
    let tacs: Vec<String> = c.models.iter().map(|m| m.tac.to_string()).collect();
    assert_eq!(
        tacs,
        ["00100001", "00100002", "00100003", "00100004"],
        "sorted by TAC"
    );

    let phone = model(c, "00100001");
    assert_eq!(phone.brand, "Example");
    assert_eq!(phone.model, "EX-5G");
    assert_eq!(phone.marketing_name.as_deref(), Some("Example Phone 5G"));
    assert_eq!(phone.manufacturer.as_deref(), Some("Example Devices Ltd"));
    assert_eq!(phone.device_type.as_deref(), Some("Smartphone"));
    assert_eq!(phone.os.as_deref(), Some("Android"));
    assert_eq!(phone.radio_interface.as_deref(), Some("NONE"));
    assert_eq!(phone.allocation_date.as_deref(), Some("2017-01-02"));
    assert_eq!(phone.radios.to_string(), "2G/3G/4G/5G");

    // The later of the two 00100002 rows wins.
    let feature = model(c, "00100002");
    assert_eq!(feature.model, "F1 Rev B");
    assert_eq!(feature.allocation_date.as_deref(), Some("2008-02-01"));
    assert_eq!(feature.radios, RadioSet::G2);
    assert_eq!(feature.os, None, "\"Not Known\" is no value");

    let modem = model(c, "00100003");
    assert_eq!(modem.radios, RadioSet::G4);
    assert_eq!(
        modem.allocation_date.as_deref(),
        Some("sometime in 2019"),
        "unreadable dates are kept as written"
    );
    assert_eq!(modem.device_type.as_deref(), Some("Modem"));

    let tab = model(c, "00100004");
    assert_eq!(tab.radios, RadioSet::G3);
    assert_eq!(tab.allocation_date.as_deref(), Some("2012-03-05"));
}

#[test]
fn gsma_small() {
    let c = read("gsma_small.txt").unwrap();
    check_gsma_small(&c);
    assert_eq!(c.skipped_blank, 1);
}

#[test]
fn gsma_columns_reordered_renamed_crlf_and_bom() {
    let c = read("gsma_reordered.txt").unwrap();
    check_gsma_small(&c);
    assert_eq!(c.skipped_blank, 0);
}

#[test]
fn gsma_zipped_is_told_by_magic_bytes_not_name() {
    let text = std::fs::read(fixture("gsma_small.txt")).unwrap();
    let bytes = zip_of(&[("tacdb-2024.txt", &text)]);
    let dir = tempfile::tempdir().unwrap();
    // No .zip extension: detection must come from the content.
    let path = dir.path().join("catalog.dat");
    std::fs::write(&path, &bytes).unwrap();
    let mut last = 0;
    let c = read_catalog(&path, &mut |n| {
        assert!(n >= last, "progress only grows");
        last = n;
    })
    .unwrap();
    check_gsma_small(&c);
    assert_eq!(last, bytes.len() as u64, "progress ends at the file size");

    let c = read_catalog_from(&bytes[..], "upload", &mut |_| {}).unwrap();
    check_gsma_small(&c);
}

#[test]
fn zip_with_macos_metadata_and_a_readme() {
    let text = std::fs::read(fixture("gsma_small.txt")).unwrap();
    let bytes = zip_of(&[
        ("__MACOSX/._tac.txt", b"junk"),
        ("README.pdf", b"%PDF"),
        ("tac.txt", &text),
    ]);
    check_gsma_small(&read_catalog_from(&bytes[..], "z", &mut |_| {}).unwrap());
}

#[test]
fn zip_errors_name_the_problem_and_the_entry() {
    let two = zip_of(&[("a.txt", b"x"), ("b.txt", b"y")]);
    let e = read_catalog_from(&two[..], "two.zip", &mut |_| {}).unwrap_err();
    assert!(matches!(e, IngestError::Zip { .. }), "{e}");
    assert!(e.to_string().contains("2 files (a.txt, b.txt)"), "{e}");

    let none = zip_of(&[]);
    // An empty archive has no local header, so it does not start with the zip magic.
    let e = read_catalog_from(&none[..], "none.zip", &mut |_| {}).unwrap_err();
    assert!(matches!(e, IngestError::UnknownFormat { .. }), "{e}");

    let mut truncated = zip_of(&[("t.txt", &std::fs::read(fixture("gsma_small.txt")).unwrap())]);
    truncated.truncate(truncated.len() / 2);
    let e = read_catalog_from(&truncated[..], "half.zip", &mut |_| {}).unwrap_err();
    assert!(matches!(e, IngestError::Zip { .. }), "{e}");

    // A bad row inside an archive names the entry.
    let bad = std::fs::read(fixture("bad_tac_line4.txt")).unwrap();
    let e =
        read_catalog_from(&zip_of(&[("in/tac.txt", &bad)])[..], "b.zip", &mut |_| {}).unwrap_err();
    assert_eq!(e.file(), "b.zip!/in/tac.txt");
}

#[test]
fn osmocom_small() {
    let c = read("osmocom_small.csv").unwrap();
    assert_eq!(c.format, TacFormat::Osmocom);
    assert_eq!(c.models.len(), 4);
    assert_eq!(c.duplicates, 1, "' 00100002' and '00100002' are one TAC");
    assert_eq!(c.skipped_blank, 1);
    let one = model(&c, "00100001");
    assert_eq!(
        (one.brand.as_str(), one.model.as_str()),
        ("Example", "Phone One")
    );
    assert!(one.radios.is_empty());
    assert_eq!(one.bands, None);
    assert_eq!(model(&c, "00100002").model, "Phone Two Rev B");
    assert_eq!(model(&c, "00100003").brand, "Пример");
    let four = model(&c, "00100004");
    assert_eq!(
        (four.brand.as_str(), four.model.as_str()),
        ("Example, Inc.", "The \"Four\"")
    );
}

#[test]
fn osmocom_without_banner_is_accepted() {
    let text =
        "tac,name,name,contributor,comment,gsmarena,gsmarena,aka\n00100001,Example,One,,,,,\n";
    let c = read_catalog_from(text.as_bytes(), "x.csv", &mut |_| {}).unwrap();
    assert_eq!(c.format, TacFormat::Osmocom);
    assert_eq!(c.models.len(), 1);
}

#[test]
fn osmocom_bad_rows() {
    let text = "Osmocom TAC database\ntac,name,name,contributor,comment,gsmarena,gsmarena,aka\n\
                00100001,Example,One,,,,,\n\
                00100002,Example,\"Two,,,,,\n\
                00100003,Example,Three\n\
                1,Example,Four,,,,,\n";
    let e = read_catalog_from(text.as_bytes(), "o.csv", &mut |_| {}).unwrap_err();
    let IngestError::Rows { errors, more, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(*more, 0);
    let got: Vec<(u64, &str)> = errors.iter().map(|r| (r.line, r.field.as_str())).collect();
    assert_eq!(got, [(4, "(row)"), (5, "(row)"), (6, "tac")]);
    assert!(errors[0].reason.contains("not closed"));
    assert_eq!(errors[1].reason, "has 3 fields; the header has 8");
    assert_eq!(errors[2].reason, "must have 8 digits, not 1");
}

#[test]
fn bad_tac_names_file_line_field_value_and_reason() {
    let e = read("bad_tac_line4.txt").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    let IngestError::Rows { file, errors, more } = &e else {
        panic!("{e}")
    };
    assert!(file.ends_with("bad_tac_line4.txt"));
    assert_eq!(*more, 0);
    assert_eq!(errors.len(), 2);
    let first = &errors[0];
    assert_eq!(first.line, 4);
    assert_eq!(first.field, "TAC");
    assert_eq!(first.value, "0010003");
    assert_eq!(first.reason, "must have 8 digits, not 7");
    let second = &errors[1];
    assert_eq!(
        (second.line, second.field.as_str(), second.value.as_str()),
        (6, "TAC", "0010000X")
    );
    assert!(second.reason.contains("only digits"), "{}", second.reason);
    let msg = e.to_string();
    assert!(msg.contains("2 bad rows; nothing was imported"), "{msg}");
    assert!(
        msg.contains("line 4, TAC \"0010003\": must have 8 digits, not 7"),
        "{msg}"
    );
}

#[test]
fn wrong_column_count() {
    let e = read("bad_columns.txt").unwrap_err();
    let IngestError::Rows { errors, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        errors.len(),
        1,
        "a trailing empty field (line 4) is tolerated: {e}"
    );
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].field, "(row)");
    assert_eq!(errors[0].reason, "has 16 fields; the header has 17");
    assert!(errors[0].value.starts_with("00100002|Example Feature"));
    assert!(
        errors[0].value.chars().count() <= 81,
        "values are cut to 80 characters"
    );
}

#[test]
fn wrong_header() {
    let e = read("bad_header.csv").unwrap_err();
    let IngestError::UnknownFormat { line, header, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!((*line, header.as_str()), (1, "IMEI,Brand,Model"));
    let msg = e.to_string();
    assert!(
        msg.contains("GSMA TAC database") && msg.contains("Osmocom"),
        "{msg}"
    );
}

#[test]
fn gsma_header_missing_columns() {
    let e = read("missing_columns.txt").unwrap_err();
    let IngestError::MissingColumns { line, missing, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(*line, 1);
    assert_eq!(missing, &["Brand Name", "Bands"]);
    assert!(e.to_string().contains("Brand Name, Bands"));
}

#[test]
fn empty_file() {
    let e = read("empty.txt").unwrap_err();
    assert!(matches!(e, IngestError::Empty { .. }), "{e}");
    assert!(e.to_string().ends_with("the file is empty"));
    // Blank lines only is empty too.
    let e = read_catalog_from(&b"\n  \r\n\n"[..], "blank", &mut |_| {}).unwrap_err();
    assert!(matches!(e, IngestError::Empty { .. }), "{e}");
}

#[test]
fn header_only_is_an_empty_catalog() {
    let text = std::fs::read_to_string(fixture("gsma_small.txt")).unwrap();
    let header = text.lines().next().unwrap();
    let c = read_catalog_from(header.as_bytes(), "h", &mut |_| {}).unwrap();
    assert_eq!((c.format, c.models.len()), (TacFormat::Gsma, 0));
}

#[test]
fn binary_garbage() {
    let e = read("garbage.bin").unwrap_err();
    assert!(matches!(e, IngestError::UnknownFormat { .. }), "{e}");
    assert!(
        e.to_string().chars().count() < 600,
        "the garbage is not echoed in full: {e}"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let e = read("no-such-file.txt").unwrap_err();
    assert!(matches!(e, IngestError::Io { .. }), "{e}");
    assert_eq!(e.code(), ErrorCode::InvalidInput);
}

#[test]
fn many_bad_rows_are_listed_to_twenty_then_counted() {
    let mut text = String::from("TAC|Brand Name|Model Name|Bands\n");
    for i in 0..30 {
        text.push_str(&format!("{i}|B|M|GSM 900\n"));
    }
    text.push_str("00100001|B|M|GSM 900\n");
    let e = read_catalog_from(text.as_bytes(), "many", &mut |_| {}).unwrap_err();
    let IngestError::Rows { errors, more, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(errors.len(), 20);
    assert_eq!(*more, 10);
    assert_eq!(errors[0].line, 2);
    assert_eq!(errors[19].line, 21);
    assert!(e.to_string().contains("30 bad rows"));
    assert!(e.to_string().ends_with("… and 10 more bad rows"));
}

#[test]
fn overlong_line_stops_reading() {
    let mut text = b"TAC|Brand Name|Model Name|Bands\n00100001|B|M|GSM 900\n".to_vec();
    text.extend(std::iter::repeat_n(b'9', 100_000));
    let e = read_catalog_from(&text[..], "long", &mut |_| {}).unwrap_err();
    let IngestError::Rows { errors, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "(row)"));
    assert!(errors[0].reason.contains("longer than"));
}

#[test]
fn progress_reports_bytes_read() {
    let text = std::fs::read(fixture("gsma_small.txt")).unwrap();
    let mut last = 0;
    read_catalog_from(&text[..], "p", &mut |n| last = n).unwrap();
    assert_eq!(last, text.len() as u64);
}

/// Reads in pieces of one byte, as a slow pipe might.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn short_reads_do_not_hide_the_zip_magic() {
    let text = std::fs::read(fixture("gsma_small.txt")).unwrap();
    let bytes = zip_of(&[("t.txt", &text)]);
    check_gsma_small(&read_catalog_from(Trickle(&bytes), "trickle", &mut |_| {}).unwrap());
    check_gsma_small(&read_catalog_from(Trickle(&text), "trickle", &mut |_| {}).unwrap());
}

#[test]
fn demo_catalog_parses_with_sensible_radios() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ceir/demo/tacs.txt");
    let c = read_catalog(&path, &mut |_| {}).unwrap();
    assert_eq!(c.format, TacFormat::Gsma);
    assert_eq!(c.duplicates, 0);
    assert!(
        (25..=40).contains(&c.models.len()),
        "{} models",
        c.models.len()
    );
    for m in &c.models {
        assert!(!m.brand.is_empty() && !m.model.is_empty(), "{m:?}");
        assert!(m.device_type.is_some(), "{m:?}");
        assert!(
            !m.radios.is_empty(),
            "every demo model names its radios: {m:?}"
        );
        let date = m.allocation_date.as_deref().unwrap_or_default();
        assert!(
            date.len() == 10 && date.as_bytes()[4] == b'-',
            "ISO date for {}: {date:?}",
            m.tac
        );
    }
    let types: std::collections::BTreeSet<&str> = c
        .models
        .iter()
        .filter_map(|m| m.device_type.as_deref())
        .collect();
    for t in ["Smartphone", "Feature phone", "Tablet", "Modem"] {
        assert!(types.contains(t), "the demo has a {t}: {types:?}");
    }
    assert!(
        c.models.iter().any(|m| m.radios == RadioSet::G2),
        "a 2G-only handset"
    );
    assert!(
        c.models.iter().any(|m| m.radios.contains(RadioSet::G5)),
        "a 5G handset"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        let _ = read_catalog_from(&bytes[..], "fuzz", &mut |_| {});
    }

    #[test]
    fn arbitrary_bytes_after_zip_magic_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        let _ = read_catalog_from(&bytes[..], "fuzz.zip", &mut |_| {});
    }

    #[test]
    fn damaged_zips_never_panic(flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..8)) {
        let text = b"TAC|Brand Name|Model Name|Bands\n00100001|B|M|GSM 900\n00100002|B|N|LTE\n";
        let mut bytes = zip_of(&[("t.txt", text)]);
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] ^= v;
        }
        let _ = read_catalog_from(&bytes[..], "damaged.zip", &mut |_| {});
    }

    #[test]
    fn arbitrary_rows_under_a_valid_header_never_panic(
        gsma in proptest::bool::ANY,
        rows in proptest::collection::vec("[0-9a-z ,|\"\r\t-]{0,60}", 0..20),
    ) {
        let mut text = if gsma {
            String::from("TAC|Brand Name|Model Name|Bands|Allocation Date|Radio Interface\n")
        } else {
            String::from("Osmocom TAC database\ntac,name,name,contributor,comment,gsmarena,gsmarena,aka\n")
        };
        for r in rows {
            text.push_str(&r);
            text.push('\n');
        }
        if let Err(e) = read_catalog_from(text.as_bytes(), "rows", &mut |_| {}) {
            let _ = e.to_string();
        }
    }
}
