//! The observation store: merge, idempotence, crash leftovers, ordering and aggregates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, IdKey, ImeiKey, RatSet, Triplet};
use ceir_observe::{Incoming, ObservationStore, ObserveError, Texts, TripletBatch};
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::collections::HashMap;
use std::path::Path;

fn d(s: &str) -> Day {
    Day::parse_iso(s).unwrap()
}

fn t(imei: ImeiKey, imsi: &str, msisdn: &str, month: &str, days: &[u32], rat: &str) -> Triplet {
    Triplet {
        imei,
        imsi: IdKey::parse(imsi.as_bytes()),
        msisdn: IdKey::parse(msisdn.as_bytes()),
        operator: 0,
        month: d(month),
        days: days.iter().fold(0, |a, b| a | 1 << b),
        rat: RatSet::parse_dirbs(rat.as_bytes()).unwrap(),
    }
}

struct Src {
    raw: Vec<String>,
    unclean: HashMap<u64, String>,
    triplets: Vec<Triplet>,
}

fn import(
    store: &ObservationStore,
    op: &str,
    sha: &str,
    src: &Src,
) -> Result<ceir_observe::ImportOutcome, ObserveError> {
    let mut w = store.writer()?;
    let inc = Incoming {
        operator: op,
        sha256: sha,
        file: "test.csv",
        texts: Texts {
            raw_imeis: &src.raw,
            unclean_ids: &src.unclean,
        },
    };
    w.import(&inc, src.triplets.iter().map(|t| Ok(*t)))
}

/// October: two IMEIs (one malformed), an unclean IMSI; November: one triplet.
fn first() -> Src {
    let unclean = IdKey::parse(b"40001X");
    Src {
        raw: vec!["12AB".into()],
        unclean: HashMap::from([(unclean.0, "40001X".into())]),
        triplets: vec![
            t(
                ImeiKey::body(35_693_803_564_380),
                "400011234567890",
                "994501234567",
                "2026-10-01",
                &[0, 4],
                "001",
            ),
            t(
                ImeiKey::body(35_693_803_564_380),
                "400011234567891",
                "994501234567",
                "2026-10-01",
                &[2],
                "006",
            ),
            t(
                ImeiKey::body(35_693_803_564_380),
                "40001X",
                "",
                "2026-10-01",
                &[3],
                "",
            ),
            t(
                ImeiKey::raw(0),
                "400011234567892",
                "994501234568",
                "2026-10-01",
                &[30],
                "002",
            ),
            t(
                ImeiKey::body(35_693_803_564_380),
                "400011234567890",
                "994501234567",
                "2026-11-01",
                &[0],
                "006",
            ),
        ],
    }
}

fn loaded(store: &ObservationStore) -> TripletBatch {
    store.load(d("2026-01-01"), d("2026-12-31")).unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).unwrap().display().to_string());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn an_import_is_stored_partitioned_and_loads_back_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(&dir.path().join("observations")).unwrap();
    assert_eq!(store.last_day().unwrap(), None);
    assert!(loaded(&store).triplets.is_empty());
    let out = import(&store, "azercell", "aa", &first()).unwrap();
    assert_eq!(out.incoming, 5);
    assert_eq!(
        out.partitions,
        vec![("2026-10".into(), 0, 4), ("2026-11".into(), 0, 1)]
    );
    assert_eq!(
        files(store.root()),
        vec![
            "_lock",
            "_manifest.json",
            "month=2026-10/operator=azercell/g00000001.imeis.parquet",
            "month=2026-10/operator=azercell/g00000001.triplets.parquet",
            "month=2026-11/operator=azercell/g00000001.imeis.parquet",
            "month=2026-11/operator=azercell/g00000001.triplets.parquet",
        ]
    );
    assert_eq!(store.last_day().unwrap(), Some(d("2026-11-01")));
    let b = loaded(&store);
    assert_eq!(b.operators, vec!["azercell"]);
    assert_eq!(b.raw_imeis, vec!["12AB"]);
    let keys: Vec<(String, Option<String>, Day, u32)> = b
        .triplets
        .iter()
        .map(|t| (b.imei_text(t.imei), t.imsi.digits(), t.month, t.days))
        .collect();
    assert_eq!(
        keys,
        vec![
            (
                "35693803564380".into(),
                Some("400011234567890".into()),
                d("2026-10-01"),
                0b10001
            ),
            (
                "35693803564380".into(),
                Some("400011234567890".into()),
                d("2026-11-01"),
                1
            ),
            (
                "35693803564380".into(),
                Some("400011234567891".into()),
                d("2026-10-01"),
                0b100
            ),
            ("35693803564380".into(), None, d("2026-10-01"), 0b1000),
            (
                "12AB".into(),
                Some("400011234567892".into()),
                d("2026-10-01"),
                1 << 30
            ),
        ]
    );
    // The unclean IMSI comes back as the same key.
    assert_eq!(b.triplets[3].imsi, IdKey::parse(b"40001X"));
    // A window selects triplets by their days; masks stay whole.
    let w = store.load(d("2026-10-03"), d("2026-10-04")).unwrap();
    assert_eq!(w.triplets.len(), 2);
    assert!(w
        .triplets
        .iter()
        .all(|t| t.days_within(d("2026-10-03"), d("2026-10-04")) != 0));
    assert!(store
        .load(d("2026-12-01"), d("2026-12-31"))
        .unwrap()
        .triplets
        .is_empty());
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    let manifest = std::fs::read(dir.path().join("_manifest.json")).unwrap();
    let before = files(dir.path());
    let again = import(&store, "azercell", "aa", &first()).unwrap();
    assert!(again.already_imported);
    assert_eq!(
        std::fs::read(dir.path().join("_manifest.json")).unwrap(),
        manifest
    );
    assert_eq!(files(dir.path()), before);
    // The same triplets under another file hash are merged: OR-ing changes no value.
    let b1 = loaded(&store);
    let out = import(&store, "azercell", "bb", &first()).unwrap();
    assert_eq!(
        out.partitions,
        vec![("2026-10".into(), 4, 4), ("2026-11".into(), 1, 1)]
    );
    assert_eq!(loaded(&store), b1);
    // Superseded generations were removed.
    assert!(files(dir.path()).iter().all(|f| !f.contains("g00000001")));
}

#[test]
fn imports_merge_days_and_rats_and_keep_operators_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    let more = Src {
        raw: vec!["0ZZ".into(), "12AB".into()],
        unclean: HashMap::new(),
        triplets: vec![
            t(
                ImeiKey::body(1),
                "400011234567890",
                "",
                "2026-10-01",
                &[1],
                "001",
            ),
            t(
                ImeiKey::body(35_693_803_564_380),
                "400011234567890",
                "994501234567",
                "2026-10-01",
                &[5],
                "006",
            ),
            t(ImeiKey::raw(0), "", "", "2026-10-01", &[7], ""),
            t(
                ImeiKey::raw(1),
                "400011234567892",
                "994501234568",
                "2026-10-01",
                &[29],
                "001",
            ),
        ],
    };
    let out = import(&store, "azercell", "bb", &more).unwrap();
    assert_eq!(out.partitions, vec![("2026-10".into(), 4, 6)]);
    import(&store, "bakcell", "cc", &more).unwrap();
    let b = loaded(&store);
    assert_eq!(b.operators.len(), 2);
    assert_eq!(
        b.raw_imeis,
        vec!["0ZZ", "12AB"],
        "malformed IMEIs renumbered in text order"
    );
    let main = b
        .triplets
        .iter()
        .find(|t| {
            t.imei == ImeiKey::body(35_693_803_564_380)
                && t.imsi == IdKey::parse(b"400011234567890")
                && t.month == d("2026-10-01")
                && b.operators[t.operator as usize] == "azercell"
        })
        .unwrap();
    assert_eq!(main.days, 0b110001);
    assert_eq!(main.rat.to_dirbs(), "001|006");
    let raw = b
        .triplets
        .iter()
        .find(|t| b.imei_text(t.imei) == "12AB" && b.operators[t.operator as usize] == "azercell")
        .unwrap();
    assert_eq!(raw.days, 1 << 30 | 1 << 29);
    // Sorted by (imei, imsi, msisdn, operator, month).
    let k: Vec<_> = b
        .triplets
        .iter()
        .map(|t| (t.imei, t.imsi, t.msisdn, t.operator, t.month))
        .collect();
    let mut sorted = k.clone();
    sorted.sort();
    assert_eq!(k, sorted);
}

#[test]
fn a_crash_leaves_the_previous_state_and_its_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    let manifest = std::fs::read(dir.path().join("_manifest.json")).unwrap();
    let before = loaded(&store);
    // What a kill -9 at various points leaves: a half-written manifest, half-written and
    // complete-but-unpublished partition files, spilled runs.
    let part = dir.path().join("month=2026-10/operator=azercell");
    std::fs::write(
        dir.path().join("_manifest.json.tmp"),
        b"{\"format\":1,\"gen",
    )
    .unwrap();
    std::fs::write(part.join("g00000002.triplets.parquet.tmp"), b"PAR1garbage").unwrap();
    std::fs::write(part.join("g00000002.triplets.parquet"), b"PAR1garbage").unwrap();
    std::fs::create_dir_all(dir.path().join("month=2026-12/operator=nar")).unwrap();
    std::fs::write(
        dir.path()
            .join("month=2026-12/operator=nar/g00000002.imeis.parquet"),
        b"x",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("_spill")).unwrap();
    std::fs::write(dir.path().join("_spill/run-1-0-5.bin"), [0u8; 40]).unwrap();
    std::fs::write(part.join("notes.txt"), b"not ours").unwrap();
    // Readers follow the manifest only.
    assert_eq!(loaded(&store), before);
    assert_eq!(
        std::fs::read(dir.path().join("_manifest.json")).unwrap(),
        manifest
    );
    // The next writer cleans up, leaving foreign files alone.
    let w = store.writer().unwrap();
    drop(w);
    let left = files(dir.path());
    assert!(
        !left
            .iter()
            .any(|f| f.contains("g00000002") || f.ends_with(".tmp") || f.contains("run-")),
        "{left:?}"
    );
    assert!(left.contains(&"month=2026-10/operator=azercell/notes.txt".to_string()));
    assert_eq!(loaded(&store), before);
    // And the interrupted import can simply be repeated.
    let out = import(&store, "azercell", "bb", &first()).unwrap();
    assert_eq!(out.generation, 2);
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    let _w = store.writer().unwrap();
    assert!(matches!(store.writer(), Err(ObserveError::Busy(_))));
}

#[test]
fn unsorted_input_is_refused_and_nothing_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    let mut src = first();
    src.triplets.swap(0, 1);
    assert!(matches!(
        import(&store, "azercell", "aa", &src),
        Err(ObserveError::Unsorted(_))
    ));
    assert!(!dir.path().join("_manifest.json").exists());
    assert!(loaded(&store).triplets.is_empty());
    // The unpublished files go with the next writer.
    drop(store.writer().unwrap());
    assert_eq!(files(dir.path()), vec!["_lock"]);
}

#[test]
fn per_imei_aggregates_are_written_alongside() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    let f = std::fs::File::open(
        dir.path()
            .join("month=2026-10/operator=azercell/g00000001.imeis.parquet"),
    )
    .unwrap();
    let r = SerializedFileReader::new(f).unwrap();
    let rows: Vec<String> = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect();
    assert_eq!(
        rows,
        vec![
            "{imei_norm: \"35693803564380\", first_seen: 2026-10-01, last_seen: 2026-10-05, days: 29, rat: 33, imsis: 3, msisdns: 1, triplets: 3}",
            "{imei_norm: \"12AB\", first_seen: 2026-10-31, last_seen: 2026-10-31, days: 1073741824, rat: 2, imsis: 1, msisdns: 1, triplets: 1}",
        ]
    );
    // Triplets files carry LZ4, statistics and the sort order.
    let f = std::fs::File::open(
        dir.path()
            .join("month=2026-10/operator=azercell/g00000001.triplets.parquet"),
    )
    .unwrap();
    let r = SerializedFileReader::new(f).unwrap();
    let rg = r.metadata().row_group(0);
    assert!(rg.column(0).statistics().is_some());
    assert_eq!(rg.column(0).compression().to_string(), "LZ4_RAW");
    assert!(rg.sorting_columns().is_some());
}

/// Classification reads the months overlapping its window whole and, for earlier months, each
/// IMEI's first and last sighting and radio technologies, so a device silent for a while is
/// still "seen" (DIRBS's network_imeis).
#[test]
fn classification_sees_earlier_months_through_the_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    // The window 2026-11-20..2026-11-30 overlaps November only.
    let b = store
        .load_for_classification(d("2026-11-20"), d("2026-11-30"))
        .unwrap();
    // November's triplet comes whole, though its only day (11-01) is before the window.
    assert_eq!(b.triplets.len(), 1);
    assert_eq!(b.triplets[0].month, d("2026-11-01"));
    // October survives as one record per IMEI: the well-formed one (first seen 10-01, RATs of
    // all three triplets) and the malformed one, whose key names its text in raw_imeis.
    assert_eq!(b.history.len(), 2);
    let h = b.history[0];
    assert_eq!(h.imei, ImeiKey::body(35_693_803_564_380));
    assert_eq!(
        (h.first_seen, h.last_seen),
        (d("2026-10-01"), d("2026-10-05"))
    );
    assert_eq!(h.rat, RatSet::parse_dirbs(b"001|006").unwrap());
    let raw = b.history[1].imei.raw_index().unwrap();
    assert_eq!(b.raw_imeis[raw as usize], "12AB");
    assert_eq!(b.history[1].first_seen, d("2026-10-31"));
    // A run for a date before November's data sees neither November's triplet nor, since
    // October overlaps its window, any history.
    let early = store
        .load_for_classification(d("2026-10-20"), d("2026-10-25"))
        .unwrap();
    assert!(early.history.is_empty());
    assert!(early.triplets.iter().all(|t| t.month == d("2026-10-01")));
    // Three of October's four: the malformed IMEI's only day, 10-31, is after the run's date.
    assert_eq!(early.triplets.len(), 3);
    assert!(early.raw_imeis.is_empty());
    // The same IMEI from two operators' earlier months becomes one record.
    let other = Src {
        raw: vec![],
        unclean: HashMap::new(),
        triplets: vec![t(
            ImeiKey::body(35_693_803_564_380),
            "400021234567890",
            "",
            "2026-09-01",
            &[27],
            "002",
        )],
    };
    import(&store, "bakcell", "bb", &other).unwrap();
    let b = store
        .load_for_classification(d("2026-11-20"), d("2026-11-30"))
        .unwrap();
    assert_eq!(b.history.len(), 2);
    assert_eq!(b.history[0].first_seen, d("2026-09-28"));
    assert_eq!(b.history[0].last_seen, d("2026-10-05"));
    assert_eq!(
        b.history[0].rat,
        RatSet::parse_dirbs(b"001|002|006").unwrap()
    );
}

/// One device's load (statistics and a row filter) is the full load narrowed to that device.
#[test]
fn one_imei_load_is_the_full_load_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObservationStore::open(dir.path()).unwrap();
    import(&store, "azercell", "aa", &first()).unwrap();
    for (start, end) in [("2026-11-20", "2026-11-30"), ("2026-10-01", "2026-11-30")] {
        let all = store.load_for_classification(d(start), d(end)).unwrap();
        for text in ["35693803564380", "12AB", "35693803564381"] {
            let one = store
                .load_imei_for_classification(text, d(start), d(end))
                .unwrap();
            let mine = |b: &TripletBatch, k: ImeiKey| b.imei_text(k) == text;
            let want: Vec<Triplet> = all
                .triplets
                .iter()
                .filter(|t| mine(&all, t.imei))
                .map(|t| Triplet {
                    imei: ImeiKey(0),
                    ..*t
                })
                .collect();
            let got: Vec<Triplet> = one
                .triplets
                .iter()
                .map(|t| Triplet {
                    imei: ImeiKey(0),
                    ..*t
                })
                .collect();
            assert_eq!(got, want, "{text} {start}..{end}");
            assert!(one.triplets.iter().all(|t| mine(&one, t.imei)));
            let hist = |b: &TripletBatch| -> Vec<(Day, Day)> {
                b.history
                    .iter()
                    .filter(|h| mine(b, h.imei))
                    .map(|h| (h.first_seen, h.last_seen))
                    .collect()
            };
            assert_eq!(hist(&one), hist(&all), "{text}");
            assert_eq!(one.history.len(), hist(&one).len());
        }
    }
}
