//! Import job records on SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::Day;
use ceir_domain::Timestamp;
use ceir_store::{DaySketch, ImportJob, ImportStore, SqlStore, Verdict};

fn job(op: &str, verdict: Verdict, finished: i64) -> ImportJob {
    ImportJob {
        id: String::new(),
        kind: "operator".into(),
        file: format!("{op}_20261001_20261031.csv"),
        sha256: format!("{finished:064x}"),
        operator: Some(op.into()),
        period: Some((Day(20_727), Day(20_757))),
        rows: 10_000_000,
        triplets: 1_700_000,
        verdict,
        checks: r#"[{"key":"null_imei","passed":true}]"#.into(),
        daily: r#"[{"day":20727,"imeis":5,"imsis":6,"msisdns":6}]"#.into(),
        message: (verdict == Verdict::Refused).then(|| "NULL IMEI data 0.07 > 0.05".into()),
        started_at: Timestamp(finished - 1000),
        finished_at: Timestamp(finished),
    }
}

async fn jobs_are_recorded_and_listed_newest_first(s: &SqlStore) {
    let a = s
        .record_import(&job("azercell", Verdict::Accepted, 1_000))
        .await
        .unwrap();
    let b = s
        .record_import(&job("bakcell", Verdict::Refused, 2_000))
        .await
        .unwrap();
    let c = s
        .record_import(&job("azercell", Verdict::Unchanged, 3_000))
        .await
        .unwrap();
    assert_ne!(a, b);
    let all = s.import_jobs(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [&c, &b, &a]
    );
    let mut want = job("bakcell", Verdict::Refused, 2_000);
    want.id = b.clone();
    assert_eq!(all[1], want, "every field round-trips");
    let az = s
        .import_jobs(Some("operator"), Some("azercell"), 10)
        .await
        .unwrap();
    assert_eq!(az.len(), 2);
    assert!(az.iter().all(|j| j.operator.as_deref() == Some("azercell")));
    assert_eq!(s.import_jobs(None, None, 1).await.unwrap().len(), 1);
    assert!(s
        .import_jobs(Some("stolen"), None, 10)
        .await
        .unwrap()
        .is_empty());
}

fn sketch(day: i32, complete_rows: u64, tag: &str) -> DaySketch {
    DaySketch {
        day: Day(day),
        complete_rows,
        imei: format!("imei-{tag}"),
        imsi: format!("imsi-{tag}"),
        msisdn: format!("msisdn-{tag}"),
    }
}

async fn day_sketches_are_kept_with_their_job(s: &SqlStore) {
    // Two files of azercell overlapping on day 20_728, one of bakcell.
    let first = [
        sketch(20_727, 5, "a1"),
        sketch(20_728, 5, "a2"),
        sketch(20_729, 0, "a3"),
    ];
    let id = s
        .record_operator_import(&job("azercell", Verdict::Accepted, 1_000), &first)
        .await
        .unwrap();
    let second = [sketch(20_728, 3, "b2"), sketch(20_730, 2, "b4")];
    s.record_operator_import(&job("azercell", Verdict::Accepted, 2_000), &second)
        .await
        .unwrap();
    s.record_operator_import(
        &job("bakcell", Verdict::Accepted, 3_000),
        &[sketch(20_731, 9, "c")],
    )
    .await
    .unwrap();
    assert_eq!(s.import_jobs(None, None, 10).await.unwrap().len(), 3);
    let got = s.operator_day_sketches("azercell", 30).await.unwrap();
    let mut tags: Vec<(i32, String)> = got.iter().map(|d| (d.day.0, d.imei.clone())).collect();
    // Within a day the order is the jobs' ids', which are random.
    tags.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    // Day 20_729 saw no complete row: not history.
    assert_eq!(
        tags,
        vec![
            (20_730, "imei-b4".to_owned()),
            (20_728, "imei-a2".to_owned()),
            (20_728, "imei-b2".to_owned()),
            (20_727, "imei-a1".to_owned()),
        ]
    );
    assert_eq!(got[0], second[1]);
    assert!(got.iter().all(|d| d.day.0 >= 20_727));
    // The latest two such days, with every sketch of each.
    let two = s.operator_day_sketches("azercell", 2).await.unwrap();
    assert_eq!(
        two.iter().map(|d| d.day.0).collect::<Vec<_>>(),
        vec![20_730, 20_728, 20_728]
    );
    assert!(s.operator_day_sketches("nar", 30).await.unwrap().is_empty());
    // A job recorded without sketches keeps none.
    s.record_import(&job("nar", Verdict::Accepted, 4_000))
        .await
        .unwrap();
    assert!(s.operator_day_sketches("nar", 30).await.unwrap().is_empty());
    // The job and its days are one record: a day twice in one job refuses both.
    let e = s
        .record_operator_import(
            &job("naxtel", Verdict::Accepted, 5_000),
            &[sketch(20_727, 1, "x"), sketch(20_727, 1, "y")],
        )
        .await;
    assert!(e.is_err());
    assert!(s
        .import_jobs(None, Some("naxtel"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!id.is_empty());
}

ceir_store::both_engines!(
    jobs_are_recorded_and_listed_newest_first,
    day_sketches_are_kept_with_their_job,
);
