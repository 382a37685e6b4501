//! Import job records on SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::Day;
use ceir_domain::Timestamp;
use ceir_store::{ImportJob, ImportStore, SqlStore, Verdict};

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

ceir_store::both_engines!(jobs_are_recorded_and_listed_newest_first);
