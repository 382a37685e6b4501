//! SQL over a small observation store: partition columns, both tables, the three formats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, IdKey, ImeiKey, RatSet, Triplet};
use ceir_observe::{Incoming, ObservationStore, Texts};
use ceir_sql::{query, render, Format};
use std::collections::HashMap;

fn triplet(imei: u64, imsi: &str, month: &str, days: u32) -> Triplet {
    Triplet {
        imei: ImeiKey::body(imei),
        imsi: IdKey::parse(imsi.as_bytes()),
        msisdn: IdKey::parse(b"994501234567"),
        operator: 0,
        month: Day::parse_iso(month).unwrap(),
        days,
        rat: RatSet::parse_dirbs(b"001|006").unwrap(),
    }
}

fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let s = ObservationStore::open(dir.path()).unwrap();
    let (raw, unclean) = (Vec::new(), HashMap::new());
    for (op, sha, ts) in [
        (
            "azercell",
            "a",
            vec![
                triplet(35_693_803_564_380, "400011234567890", "2026-10-01", 0b101),
                triplet(35_693_803_564_380, "400011234567891", "2026-10-01", 0b10),
                triplet(86_011_204_080_570, "400011234567892", "2026-11-01", 1),
            ],
        ),
        (
            "bakcell",
            "b",
            vec![triplet(
                35_693_803_564_380,
                "400021234567890",
                "2026-10-01",
                1 << 9,
            )],
        ),
    ] {
        let mut w = s.writer().unwrap();
        let inc = Incoming {
            operator: op,
            sha256: sha,
            file: "f.csv",
            texts: Texts {
                raw_imeis: &raw,
                unclean_ids: &unclean,
            },
        };
        w.import(&inc, ts.into_iter().map(Ok)).unwrap();
    }
    dir
}

#[tokio::test]
async fn triplets_and_imeis_with_partition_columns() {
    let dir = store();
    let b = query(
        dir.path(),
        None,
        "SELECT operator, month, count(*) AS n, count(DISTINCT imsi) AS imsis FROM triplets \
         GROUP BY operator, month ORDER BY operator, month",
    )
    .await
    .unwrap();
    assert_eq!(
        render(&b, Format::Csv).unwrap(),
        "operator,month,n,imsis\nazercell,2026-10,2,2\nazercell,2026-11,1,1\nbakcell,2026-10,1,1\n"
    );
    let b = query(
        dir.path(),
        None,
        "SELECT imei_norm, first_seen, last_seen, imsis, msisdns FROM imeis \
         WHERE operator = 'azercell' AND month = '2026-10'",
    )
    .await
    .unwrap();
    assert_eq!(
        render(&b, Format::Json).unwrap(),
        "{\"imei_norm\":\"35693803564380\",\"first_seen\":\"2026-10-01\",\"last_seen\":\"2026-10-03\",\"imsis\":2,\"msisdns\":1}\n"
    );
    let t = render(&b, Format::Table).unwrap();
    assert!(
        t.contains("| 35693803564380 | 2026-10-01 | 2026-10-03 | 2     | 1       |"),
        "{t}"
    );
}

#[tokio::test]
async fn errors_name_the_problem() {
    let dir = store();
    let e = query(dir.path(), None, "SELECT nope FROM triplets")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let missing = dir.path().join("absent");
    let e = query(&missing, None, "SELECT 1").await.unwrap_err();
    assert!(e.to_string().contains("import operator data first"), "{e}");
}
