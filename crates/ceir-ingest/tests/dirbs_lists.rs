//! DIRBS list files: every list, full and delta, each change type, bad rows refusing the whole
//! file, and the plan that applying twice changes nothing. The registry is modelled here by the
//! `Held` entries a plan is computed against; the store-backed import is tested in the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::lists::{golden_hash, Country, GoldenImei, Reason, Subject};
use ceir_domain::{Imei, Imsi, PairingMsisdn, Tac, Timestamp};
use ceir_ingest::dirbs_lists::{
    plan, plan_golden, read_list, read_list_from, DirbsList, Held, KeptRow, ListFile, ListKey,
    Plan, SizeThreshold,
};
use ceir_ingest::IngestError;
use std::path::PathBuf;

const NOW: Timestamp = Timestamp(1_790_000_000_000);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dirbs")
        .join(name)
}

fn imei(body: &str) -> Imei {
    Imei::from_body(body.parse().unwrap()).unwrap()
}
const A: &str = "35693803564380";
const B: &str = "49015420323751";
const C: &str = "35209900176148";

/// What the store holds for one organisation and list: its kept rows and registry entries.
#[derive(Debug, Default)]
struct Model {
    kept: Vec<KeptRow>,
    held: Vec<Held>,
}

impl Model {
    fn plan(&self, f: &ListFile) -> Result<Plan, IngestError> {
        plan(
            f,
            &self.kept,
            &self.held,
            Country::AZ,
            NOW,
            Some(f.list.threshold()),
        )
    }

    /// Applies a plan, as the store would.
    fn apply(&mut self, p: &Plan, list: DirbsList) {
        for e in &p.add {
            self.held.retain(|h| h.subject != e.subject);
            self.held.push(Held {
                subject: e.subject,
                reference: e.meta.reference.clone(),
                note: e.meta.note.clone(),
            });
            assert_eq!(Some(e.list), list.target().map(|t| t.0));
            assert_eq!(e.meta.reason, list.target().unwrap().1);
            assert_eq!(e.meta.reference.as_deref(), Some(list.name()));
        }
        for s in &p.remove {
            self.held.retain(|h| h.subject != *s);
        }
        for k in &p.delete {
            self.kept.retain(|r| r.key != *k);
        }
        for r in &p.upsert {
            // Through the stored form, as the store keeps it.
            let back = KeptRow::from_stored(
                list,
                r.key.subject().unwrap(),
                r.key.msisdn().cloned(),
                &r.fields(list),
            )
            .unwrap();
            assert_eq!(&back, r);
            self.kept.retain(|k| k.key != r.key);
            self.kept.push(back);
        }
    }
}

/// A list of these IMEIs, kept and on the registry, with no other values.
fn listed(list: DirbsList, imeis: impl Iterator<Item = Imei>) -> Model {
    let mut m = Model::default();
    for i in imeis {
        m.kept.push(KeptRow {
            key: ListKey::Imei(i),
            extra: vec![String::new(); list.extra_columns().len()],
        });
        m.held.push(Held {
            subject: Subject::Imei(i),
            reference: Some(list.name().into()),
            note: None,
        });
    }
    m
}

fn subjects(held: &[Held]) -> Vec<Subject> {
    let mut v: Vec<Subject> = held.iter().map(|h| h.subject).collect();
    v.sort_by_key(|s| format!("{s:?}"));
    v
}

fn run(list: DirbsList, full: &str, delta: &str) -> (Model, Plan, Plan) {
    let f = read_list(&fixture(full), list, false).unwrap();
    let mut m = Model::default();
    let p1 = m.plan(&f).unwrap();
    m.apply(&p1, list);
    // Importing the same full file again changes nothing.
    let again = m.plan(&f).unwrap();
    assert!(again.is_empty(), "{list}: {again:?}");
    assert_eq!(again.unchanged, p1.upsert.len() as u64);
    let d = read_list(&fixture(delta), list, true).unwrap();
    let p2 = m.plan(&d).unwrap();
    m.apply(&p2, list);
    (m, p1, p2)
}

#[test]
fn stolen_full_then_delta() {
    let (m, p1, p2) = run(DirbsList::Stolen, "stolen_full.csv", "stolen_delta.csv");
    // A (twice, 15 and 14 digits: one duplicate), B with no status (blacklist), C pending: three
    // rows kept, as DIRBS keeps them; A and B blocked.
    assert_eq!(
        (p1.upsert.len(), p1.add.len(), p1.inactive, p1.duplicates),
        (3, 2, 1, 1)
    );
    assert_eq!(p1.add[0].meta.note.as_deref(), Some("reported 2026-09-01"));
    // Delta: B removed, C's report confirmed (pending to blacklist), A updated (new date), D
    // reported (pending: kept, listing nothing).
    assert_eq!(p2.remove, vec![Subject::Imei(imei(B))]);
    assert_eq!(p2.add.len(), 2);
    assert_eq!((p2.upsert.len(), p2.delete.len(), p2.inactive), (3, 1, 1));
    assert_eq!((p2.before, p2.after), (3, 3));
    assert_eq!(subjects(&m.held), {
        let mut v = vec![Subject::Imei(imei(A)), Subject::Imei(imei(C))];
        v.sort_by_key(|s| format!("{s:?}"));
        v
    });
    let a = m
        .held
        .iter()
        .find(|h| h.subject == Subject::Imei(imei(A)))
        .unwrap();
    assert_eq!(a.note.as_deref(), Some("reported 2026-09-02"));
    // The same delta again is refused, naming the rows.
    let d = read_list(&fixture("stolen_delta.csv"), DirbsList::Stolen, true).unwrap();
    let text = m.plan(&d).unwrap_err().to_string();
    assert!(
        text.contains("line 2, imei \"490154203237518\": remove: not on the stolen list"),
        "{text}"
    );
}

/// As DIRBS: "cannot update records not in the list". A row whose status lists nothing is on
/// the list (kept), so its update is not refused.
#[test]
fn a_delta_may_update_only_rows_on_the_list() {
    let f = read_list(&fixture("stolen_full.csv"), DirbsList::Stolen, false).unwrap();
    let mut m = Model::default();
    let p = m.plan(&f).unwrap();
    m.apply(&p, DirbsList::Stolen);
    let d = read_list(
        &fixture("stolen_update_unknown.csv"),
        DirbsList::Stolen,
        true,
    )
    .unwrap();
    let e = m.plan(&d).unwrap_err();
    let IngestError::Rows { errors, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "line 3, imei \"860112040805708\": update: not on the stolen list: cannot update \
             records not in the list (was this delta imported before?)"
        ]
    );
}

#[test]
fn registration_full_then_delta() {
    let (m, p1, p2) = run(
        DirbsList::Registration,
        "registration_full.csv",
        "registration_delta.csv",
    );
    assert_eq!((p1.upsert.len(), p1.add.len(), p1.inactive), (3, 2, 1));
    assert_eq!(p1.add[0].meta.reason, Reason::Registered);
    assert_eq!(p1.add[0].meta.note.as_deref(), Some("device D0001"));
    // C's status becomes whitelist (update: added); B removed; a new device registered.
    assert_eq!(p2.add.len(), 2);
    assert_eq!(p2.remove, vec![Subject::Imei(imei(B))]);
    assert_eq!(m.held.len(), 3);
    assert_eq!(m.kept.len(), 3);
}

/// DIRBS keys a pairing on IMEI, IMSI and MSISDN: the MSISDN is kept with the row; the
/// registry's exception entry is the IMEI and IMSI, while any of its MSISDNs is paired.
#[test]
fn pairing_full_then_delta() {
    let (mut m, p1, p2) = run(DirbsList::Pairing, "pairing_full.csv", "pairing_delta.csv");
    let pair = |i: &str, s: &str| Subject::Pair(imei(i), Imsi::parse(s).unwrap());
    let key = |i: &str, s: &str, n: &str| {
        ListKey::Pair(
            imei(i),
            Imsi::parse(s).unwrap(),
            Some(PairingMsisdn::parse(n).unwrap()),
        )
    };
    // Four rows, two of them one IMEI and IMSI with two MSISDNs: three entries.
    assert_eq!((p1.upsert.len(), p1.add.len()), (4, 3));
    assert!(p1
        .upsert
        .iter()
        .any(|r| r.key == key(A, "400011234567890", "994501234568")));
    assert_eq!(p2.remove, vec![pair(A, "400021234567891")]);
    assert_eq!(p2.delete, vec![key(A, "400021234567891", "994551234567")]);
    assert_eq!(p2.add.len(), 1);
    assert_eq!(p2.add[0].subject, pair(C, "400041234567893"));
    assert_eq!((m.held.len(), m.kept.len()), (3, 4));
    // One of A's two MSISDNs with 400011234567890 goes: the pair stays paired.
    let d = read_list_from(
        &b"imei,imsi,msisdn,change_type\n356938035643809,400011234567890,994501234568,remove\n"[..],
        "d.csv",
        DirbsList::Pairing,
        true,
    )
    .unwrap();
    // 4 rows to 3 is past the pairing list's 5 %: refused unless forced.
    let e = m.plan(&d).unwrap_err().to_string();
    assert!(e.contains("would shrink from 4 to 3 entries"), "{e}");
    let p = plan(&d, &m.kept, &m.held, Country::AZ, NOW, None).unwrap();
    assert_eq!(
        (p.delete.len(), p.remove.len(), p.add.len()),
        (1, 0, 0),
        "{p:?}"
    );
    m.apply(&p, DirbsList::Pairing);
    assert_eq!((m.held.len(), m.kept.len()), (3, 3));
    // The MSISDN is required, 1 to 15 digits.
    let e = read_list(&fixture("pairing_no_msisdn.csv"), DirbsList::Pairing, false).unwrap_err();
    let IngestError::Rows { errors, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "line 2, msisdn \"\": MSISDN is empty (DIRBS keys a pairing on it)",
            "line 3, msisdn \"99890123456789012\": MSISDN must have 1 to 15 digits, not 17 \
             (DIRBS keys a pairing on it)",
        ]
    );
    let e = read_list_from(
        &b"imei,imsi\n356938035643809,400011234567890\n"[..],
        "p.csv",
        DirbsList::Pairing,
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&e, IngestError::MissingColumns { missing, .. } if missing == &vec!["msisdn".to_string()]),
        "{e:?}"
    );
}

/// DIRBS's conflicting rows check: one key with different values refuses the file, naming both
/// lines, the field and both values.
#[test]
fn one_key_with_different_values_refuses_the_file() {
    let e = read_list(&fixture("stolen_conflict.csv"), DirbsList::Stolen, false).unwrap_err();
    let IngestError::Rows { errors, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "line 4, reporting_date \"20260905\": conflicts with line 2, where imei \
             \"356938035643809\" has reporting_date \"20260901\": one imei may not come with \
             different values",
            "line 5, status \"pending\": conflicts with line 3, where imei \"490154203237518\" \
             has status \"\": one imei may not come with different values",
        ]
    );
    let e = read_list(
        &fixture("registration_conflict.csv"),
        DirbsList::Registration,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(
            "line 3, model \"Galaxy A25\": conflicts with line 2, where approved_imei \
             \"356938035643809\" has model \"Galaxy A15\""
        ),
        "{e}"
    );
    // In a delta too, for rows of one change type.
    let e = read_list_from(
        &b"imei,reporting_date,status,change_type\n356938035643809,20260901,,add\n356938035643809,20260902,,add\n"[..],
        "d.csv",
        DirbsList::Stolen,
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("line 3, reporting_date \"20260902\": conflicts with line 2"),
        "{e}"
    );
    // The same values twice are no conflict: one row, counted as repeated.
    let f = read_list(&fixture("stolen_full.csv"), DirbsList::Stolen, false).unwrap();
    assert_eq!(Model::default().plan(&f).unwrap().duplicates, 1);
}

/// Rows kept from the registry when the store began keeping rows have no values (and pairings
/// no MSISDN); they read back as empty values.
#[test]
fn kept_rows_read_back_from_the_store() {
    let row = KeptRow::from_stored(
        DirbsList::Stolen,
        Subject::Imei(imei(A)),
        None,
        r#"{"reporting_date":"20260901","status":"pending"}"#,
    )
    .unwrap();
    assert_eq!(row.extra, vec!["20260901", "pending"]);
    assert_eq!(
        row.fields(DirbsList::Stolen),
        r#"{"reporting_date":"20260901","status":"pending"}"#
    );
    let legacy = KeptRow::from_stored(
        DirbsList::Pairing,
        Subject::Pair(imei(A), Imsi::parse("400011234567890").unwrap()),
        None,
        "{}",
    )
    .unwrap();
    assert_eq!(legacy.key.msisdn(), None);
    assert!(legacy.extra.is_empty());
    for (list, subject, fields) in [
        (DirbsList::Pairing, Subject::Imei(imei(A)), "{}"),
        (
            DirbsList::Stolen,
            Subject::Tac(Tac::parse("35693803").unwrap()),
            "{}",
        ),
        (DirbsList::Stolen, Subject::Imei(imei(A)), "[]"),
        (DirbsList::Stolen, Subject::Imei(imei(A)), r#"{"status":1}"#),
    ] {
        assert!(
            KeptRow::from_stored(list, subject, None, fields).is_err(),
            "{list} {fields}"
        );
    }
}

#[test]
fn barred_barred_tac_and_monitoring() {
    let (m, p1, p2) = run(DirbsList::Barred, "barred_full.csv", "barred_delta.csv");
    assert_eq!((p1.add.len(), p2.add.len(), p2.remove.len()), (2, 1, 1));
    assert_eq!(m.held.len(), 2);
    assert_eq!(p1.add[0].meta.reference.as_deref(), Some("barred"));

    let (m, p1, p2) = run(
        DirbsList::BarredTac,
        "barred_tac_full.csv",
        "barred_tac_delta.csv",
    );
    assert_eq!(p1.add.len(), 2);
    assert_eq!(
        p2.remove,
        vec![Subject::Tac(Tac::parse("86674189").unwrap())]
    );
    assert!(m
        .held
        .iter()
        .any(|h| h.subject == Subject::Tac(Tac::parse("01234567").unwrap())));

    let (m, _, p2) = run(
        DirbsList::Monitoring,
        "monitoring_full.csv",
        "monitoring_delta.csv",
    );
    assert_eq!((p2.add.len(), p2.remove.len()), (1, 1));
    assert_eq!(subjects(&m.held), vec![Subject::Imei(imei(B))]);
}

#[test]
fn golden_full_and_delta_with_hashes() {
    let f = read_list(&fixture("golden_full.csv"), DirbsList::Golden, false).unwrap();
    // A given twice (15 and 14 digits) hashes the same; the pre-hashed row is lower-cased.
    match &f.rows[1].key {
        ListKey::Golden(g) => assert_eq!(g.hash, "0123456789abcdef0123456789abcdef"),
        k => panic!("{k:?}"),
    }
    let (set, gp) = plan_golden(&f, &[], Some(f.list.threshold())).unwrap();
    assert_eq!((gp.added, gp.after), (2, 2));
    assert!(set.contains(&GoldenImei::from_norm(A)));
    let (again, gp) = plan_golden(&f, &set, Some(f.list.threshold())).unwrap();
    assert_eq!((again.clone(), gp.added, gp.removed), (set.clone(), 0, 0));
    let d = read_list(&fixture("golden_delta.csv"), DirbsList::Golden, true).unwrap();
    let (after, gp) = plan_golden(&d, &set, Some(d.list.threshold())).unwrap();
    assert_eq!((gp.added, gp.removed, gp.after), (1, 1, 2));
    let hashes: Vec<&str> = after.iter().map(|g| g.hash.as_str()).collect();
    assert!(hashes.contains(&golden_hash(B).as_str()));
    // The delta again: its add is already there, its remove is gone.
    let e = plan_golden(&d, &after, Some(d.list.threshold()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 bad rows"), "{e}");
    assert!(plan(&f, &[], &[], Country::AZ, NOW, Some(f.list.threshold())).is_err());
}

#[test]
fn a_bad_row_refuses_the_file_naming_line_field_value_and_reason() {
    let e = read_list(&fixture("stolen_bad.csv"), DirbsList::Stolen, false).unwrap_err();
    let IngestError::Rows { errors, more, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*more, 0);
    let got: Vec<(u64, &str, &str)> = errors
        .iter()
        .map(|r| (r.line, r.field.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "imei", "35A9380356438"),
            (3, "reporting_date", "20261340"),
            (4, "imei", "35693803564380912"),
            (5, "(row)", "356938035643809,20260901"),
            (6, "imei", ""),
        ]
    );
    assert!(
        errors[0].reason.contains("14-digit IMEI body"),
        "{}",
        errors[0].reason
    );
    assert!(
        errors[2].reason.contains("1 to 16 hex digits"),
        "{}",
        errors[2].reason
    );
    assert!(e.to_string().contains("5 bad rows; nothing was imported"));

    let e = read_list(&fixture("barred_tac_bad.csv"), DirbsList::BarredTac, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2, tac \"3569380\": TAC must have 8 digits, not 7"),
        "{e}"
    );

    let e = read_list(
        &fixture("delta_changed_twice.csv"),
        DirbsList::Monitoring,
        true,
    )
    .unwrap();
    let e = plan(&e, &[], &[], Country::AZ, NOW, Some(e.list.threshold()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3, imei \"356938035643809\": changed twice in one delta: add on line 2, remove here"), "{e}");
}

#[test]
fn headers_are_checked_and_read_in_any_order_and_case() {
    let e = read_list_from(
        &b"imsi,msisdn\n1,2\n"[..],
        "p.csv",
        DirbsList::Pairing,
        false,
    )
    .unwrap_err();
    assert!(
        matches!(&e, IngestError::MissingColumns { missing, .. } if missing == &vec!["imei".to_string()])
    );
    // A delta given as a full file: the change_type column is unknown, with a hint.
    let e = read_list(&fixture("barred_delta.csv"), DirbsList::Barred, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("import it with --delta"), "{e}");
    let e = read_list(&fixture("barred_full.csv"), DirbsList::Barred, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("change_type"), "{e}");
    let e = read_list_from(
        &b"imei,change_type\n356938035643809,update\n"[..],
        "m.csv",
        DirbsList::Monitoring,
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("change_type must be one of add, remove"), "{e}");
    assert!(matches!(
        read_list_from(&b""[..], "e.csv", DirbsList::Barred, false),
        Err(IngestError::Empty { .. })
    ));
    // gzip is told by its magic bytes.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"IMEI\n356938035643809\n").unwrap();
    let f = read_list_from(
        &gz.finish().unwrap()[..],
        "b.csv.gz",
        DirbsList::Barred,
        false,
    )
    .unwrap();
    assert_eq!(f.rows.len(), 1);
    assert_eq!(DirbsList::parse("Barred-TAC"), Some(DirbsList::BarredTac));
}

fn zipped(members: &[(&str, &str)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in members {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// DIRBS takes a zip holding exactly one file, named as the archive.
/// DIRBS's MonitoringListThresholdConfig: like every list but pairing, at most 25 % smaller in
/// one import and no absolute limit; pairing at most 1000 rows and 5 % smaller.
#[test]
fn monitoring_and_pairing_size_thresholds_are_dirbs_defaults() {
    let t = |absolute, percent| SizeThreshold { absolute, percent };
    assert_eq!(DirbsList::Monitoring.threshold(), t(-1, 0.75));
    assert_eq!(DirbsList::Pairing.threshold(), t(1000, 0.95));
    for l in DirbsList::ALL
        .into_iter()
        .filter(|l| *l != DirbsList::Pairing)
    {
        assert_eq!(l.threshold(), t(-1, 0.75), "{l}");
    }
    // 10 monitored IMEIs, the new file keeps 8: 80 % passes the default, not a 0.9 threshold.
    let m = listed(
        DirbsList::Monitoring,
        (1..=10u64).map(|n| Imei::from_body(35_000_000_000_000 + n).unwrap()),
    );
    let (kept, held) = (&m.kept, &m.held);
    let text: String = (1..=8u64).fold("imei\n".to_owned(), |s, n| {
        s + &format!("{}\n", 350_000_000_000_000 + n * 10)
    });
    let f = read_list_from(text.as_bytes(), "m.csv", DirbsList::Monitoring, false).unwrap();
    let p = plan(&f, kept, held, Country::AZ, NOW, Some(f.list.threshold())).unwrap();
    assert_eq!((p.before, p.after), (10, 8));
    let e = plan(&f, kept, held, Country::AZ, NOW, Some(t(-1, 0.9)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("would shrink from 10 to 8 entries, below the import size threshold of 9"),
        "{e}"
    );
    let e = plan(&f, kept, held, Country::AZ, NOW, Some(t(1, 0.0)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("threshold of 9"), "{e}");
    assert!(SizeThreshold::new(-2, 0.5).is_err() && SizeThreshold::new(0, 1.01).is_err());
    assert_eq!(SizeThreshold::new(-1, 0.0), Ok(t(-1, 0.0)));
}

#[test]
fn a_zipped_list_must_hold_one_file_named_as_the_archive() {
    let list = "imei\n356938035643809\n";
    let one = zipped(&[("barred.csv", list)]);
    let f = read_list_from(&one[..], "in/barred.zip", DirbsList::Barred, false).unwrap();
    assert_eq!(
        (f.rows.len(), f.file.as_str()),
        (1, "in/barred.zip!/barred.csv")
    );
    let two = zipped(&[("barred.csv", list), ("notes.txt", "hello")]);
    let e = read_list_from(&two[..], "barred.zip", DirbsList::Barred, false).unwrap_err();
    assert!(matches!(e, IngestError::Zip { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "barred.zip: not a usable zip archive: the archive holds 2 files (barred.csv, \
         notes.txt); it must hold exactly one, the data file"
    );
    let e = read_list_from(&zipped(&[])[..], "barred.zip", DirbsList::Barred, false)
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("the archive holds no file"), "{e}");
    let misnamed = zipped(&[("stolen.csv", list)]);
    let e = read_list_from(&misnamed[..], "barred.zip", DirbsList::Barred, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the archive's file is named \"stolen.csv\"; it must be named as the archive, barred.<extension>"),
        "{e}"
    );
}

#[test]
fn a_full_list_may_not_shrink_past_its_threshold() {
    let f = read_list(&fixture("barred_full.csv"), DirbsList::Barred, false).unwrap();
    let m = listed(
        DirbsList::Barred,
        [A, B, C, "35000000000001", "35000000000002"]
            .map(imei)
            .into_iter(),
    );
    // 5 → 2 is below 75 %.
    let e = m.plan(&f).unwrap_err().to_string();
    assert!(
        e.contains("would shrink from 5 to 2 entries, below the import size threshold of 4"),
        "{e}"
    );
    let p = plan(&f, &m.kept, &m.held, Country::AZ, NOW, None).unwrap();
    assert_eq!((p.remove.len(), p.delete.len(), p.unchanged), (3, 3, 2));
    // Entries of the same organisation from another source are neither counted nor touched.
    let other = Model {
        kept: Vec::new(),
        held: vec![Held {
            subject: Subject::Imei(imei(A)),
            reference: Some("stolen".into()),
            note: None,
        }],
    };
    let p = other.plan(&f).unwrap();
    assert_eq!((p.add.len(), p.held_elsewhere, p.remove.len()), (1, 1, 0));
    assert_eq!(p.upsert.len(), 2);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes give a list or an error, never a panic, for every list and mode.
        #[test]
        fn reading_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), delta: bool) {
            for list in DirbsList::ALL {
                let mut input = b"imei,imsi,change_type\n".to_vec();
                input.extend_from_slice(&body);
                if let Ok(f) = read_list_from(&input[..], "p.csv", list, delta) {
                    let _ = plan(&f, &[], &[], Country::AZ, NOW, Some(f.list.threshold()));
                }
            }
        }

        /// A valid IMEI row reads back as its 14-digit body, whatever the case of the header.
        #[test]
        fn imeis_read_back(body in 0u64..100_000_000_000_000, check in 0u8..10, upper: bool) {
            let header = if upper { "IMEI" } else { "imei" };
            let text = format!("{header}\n{body:014}{check}\n");
            let f = read_list_from(text.as_bytes(), "b.csv", DirbsList::Barred, false).unwrap();
            prop_assert_eq!(&f.rows[0].key, &ListKey::Imei(Imei::from_body(body).unwrap()));
        }
    }
}
