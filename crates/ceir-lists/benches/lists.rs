//! List generation with 10 million blocked IMEIs: compute the lists from classification rows and
//! publish full lists plus deltas against the previous run (1% unblocked, 1% newly blocked, 1%
//! changed), signed and fsynced. The target is 15 s for full + delta.
//!
//! `CEIR_BENCH_N` sets the number of blocked IMEIs (default 10 million); `CEIR_BENCH_DIR` where
//! runs are written (default a temporary directory; it needs about 2 GB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::{Day, ImeiNorm, Region};
use ceir_lists::{
    compute, publish, Condition, ListConfig, ListInput, Lists, NodeKey, PublishMeta, Row,
};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn n() -> usize {
    std::env::var("CEIR_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000)
}

const LABELS: [&str; 4] = [
    "stolen_list",
    "duplicate_mk1",
    "gsma_not_found",
    "not_on_registration_list",
];

struct State {
    imeis: Vec<ImeiNorm>,
    /// Condition index per row; the second generation differs in 3% of rows.
    cond: [Vec<u8>; 2],
    open: [Vec<bool>; 2],
}

fn state() -> State {
    let n = n();
    let mut rng = StdRng::seed_from_u64(0x11575);
    let tacs: Vec<u64> = (0..4000)
        .map(|_| rng.gen_range(35_000_000..99_999_999))
        .collect();
    let mut bodies: Vec<u64> = (0..n + n / 100)
        .map(|_| tacs[rng.gen_range(0..tacs.len())] * 1_000_000 + rng.gen_range(0..1_000_000))
        .collect();
    bodies.sort_unstable();
    bodies.dedup();
    let imeis: Vec<ImeiNorm> = bodies.into_iter().map(ImeiNorm::Body).collect();
    let m = imeis.len();
    let cond0: Vec<u8> = (0..m).map(|_| rng.gen_range(0..4)).collect();
    let mut cond1 = cond0.clone();
    let mut open0 = vec![true; m];
    let mut open1 = vec![true; m];
    for i in 0..m {
        match rng.gen_range(0..100) {
            0 => open0[i] = false,              // blocked only in the second run
            1 => open1[i] = false,              // unblocked in the second run
            2 => cond1[i] = (cond0[i] + 1) % 4, // reasons changed
            _ => {}
        }
    }
    State {
        imeis,
        cond: [cond0, cond1],
        open: [open0, open1],
    }
}

fn conditions() -> Vec<Condition> {
    LABELS
        .iter()
        .map(|l| Condition {
            label: (*l).into(),
            reason: l.replace("_list", ""),
            blocking: true,
        })
        .collect()
}

fn lists(s: &State, gen: usize, date: Day) -> Lists {
    let region = Region::default_for("AZ").unwrap();
    let conditions = conditions();
    let cfg = ListConfig::default();
    let empty = HashSet::new();
    let empty_tacs = HashSet::new();
    let input = ListInput {
        date,
        lookback_end: date,
        conditions: &conditions,
        triplets: &[],
        triplet_operators: &[],
        raw_imeis: &[],
        pairings: &[],
        golden: &empty,
        barred: &empty,
        barred_tacs: &empty_tacs,
        region: &region,
        config: &cfg,
    };
    let block = date.plus(-10);
    let rows = s.imeis.iter().enumerate().map(|(i, imei)| Row {
        imei,
        condition: LABELS[usize::from(s.cond[gen][i])],
        end: if s.open[gen][i] { None } else { Some(block) },
        block_date: Some(block),
        amnesty: false,
    });
    compute(&input, rows).unwrap()
}

fn prune(root: &Path, keep_from: u64) {
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("run-")
            .and_then(|x| x.parse::<u64>().ok())
        {
            if n < keep_from {
                std::fs::remove_dir_all(e.path()).unwrap();
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let s = state();
    eprintln!(
        "{} blocked IMEIs generated in {:?}",
        s.imeis.len(),
        t.elapsed()
    );
    let tmp = tempfile::tempdir_in(
        std::env::var_os("CEIR_BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    )
    .unwrap();
    let root = tmp.path().join("lists");
    let key = NodeKey::from_seed([1; 32]);
    let meta = PublishMeta {
        country: "AZ".into(),
        classification_run: None,
        full_base: false,
    };
    let date = Day::parse_iso("2026-11-01").unwrap();

    // One-shot breakdown: the first run (deltas are the whole list) and a steady-state one.
    for (label, gen) in [("first run", 0), ("next run", 1)] {
        let t = Instant::now();
        let l = lists(&s, gen, date);
        let computed = t.elapsed();
        let r = publish(&root, &l, &key, &meta).unwrap();
        let total = t.elapsed();
        let rows = |p: &str| r.manifest.file(p).map_or(0, |f| f.rows);
        eprintln!(
            "{label}: {} blocked; compute {computed:?}, publish {:?}, total {total:?}; delta blocked {} unblocked {} changed {}",
            l.blocklist_len(),
            total - computed,
            rows("blocklist_delta_blocked.csv"),
            rows("blocklist_delta_unblocked.csv"),
            rows("blocklist_delta_changed.csv"),
        );
    }

    let mut g = c.benchmark_group("lists");
    // Flat sampling: ten samples of one run each rather than criterion's 55 linear iterations.
    g.sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_millis(1));
    let mut gen = 0;
    g.bench_function(format!("full+delta {} blocked", s.imeis.len()), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let l = lists(&s, gen, date);
                let r = publish(&root, &l, &key, &meta).unwrap();
                spent += t.elapsed();
                drop(l);
                prune(&root, r.run - 1);
                gen ^= 1;
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
