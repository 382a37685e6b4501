//! Classification of a generated month under the default conditions.
//!
//! - `month`: 1.4M IMEIs, ~1.7M triplets (a 10M-row, one-operator month); target < 0.4 s.
//! - `large` (set `CEIR_BENCH_LARGE=1`): ~30M IMEIs (a 100M-row month); target ≤ 20 s.
//!
//! The generator is self-contained and seeded, so runs compare.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

use ceir_classify::{classify, Classified, Input, Observations, StateStore};
use ceir_domain::classify::{Conditions, ListFlags, Memberships, ModelCatalog, TacInfo};
use ceir_domain::observe::{Day, Generations, IdKey, ImeiKey, RatSet, Triplet};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Duration;

struct World {
    triplets: Vec<Triplet>,
    catalog: ModelCatalog,
    memberships: Memberships,
    conditions: Conditions,
    date: Day,
}

/// `imeis` devices over one month: 85 % with one SIM, 13 % with two, 2 % with 3–12, and one
/// in 20,000 cloned across ~200 SIMs; 2,000 TACs of which 3 % are not in the catalog.
fn world(imeis: u64, seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let month = Day::parse_iso("2026-10-01").unwrap();
    let tacs: Vec<u32> = (0..2_000).map(|i| 35_000_000 + i * 37).collect();
    let mut catalog = ModelCatalog::default();
    for (i, t) in tacs.iter().enumerate() {
        if i % 33 == 0 {
            continue;
        }
        catalog.insert(
            *t,
            TacInfo {
                name: format!("Model {i}"),
                generations: Generations(if i % 10 == 0 { 1 } else { 1 | 2 | 4 }),
                capability_known: true,
                device_type: Some(if i % 50 == 0 { "Modem" } else { "Smartphone" }.into()),
            },
        );
    }
    let rats = [
        RatSet::parse_dirbs(b"002").unwrap(),
        RatSet::parse_dirbs(b"006").unwrap(),
        RatSet::parse_dirbs(b"001|006").unwrap(),
    ];
    let mut lists: Vec<(u64, ListFlags)> = Vec::new();
    let mut triplets = Vec::with_capacity((imeis as f64 * 1.25) as usize);
    let mut next_imsi = 400_010_000_000_000u64;
    let mut serials = vec![0u64; tacs.len()];
    for n in 0..imeis {
        let ti = rng.gen_range(0..tacs.len());
        let tac = tacs[ti];
        serials[ti] += 1;
        let imei = ImeiKey::body(u64::from(tac) * 1_000_000 + serials[ti]);
        let sims = match rng.gen_range(0..10_000u32) {
            0..=8_499 => 1,
            8_500..=9_799 => 2,
            9_800..=9_998 => rng.gen_range(3..=12),
            _ => 200,
        };
        let msisdn_base = 994_500_000_000u64 + n * 16;
        for s in 0..sims {
            next_imsi += 1;
            let days = if sims == 200 {
                1 << rng.gen_range(0..31)
            } else {
                rng.gen::<u32>() & rng.gen::<u32>() & 0x7fff_ffff | 1
            };
            triplets.push(Triplet {
                imei,
                imsi: IdKey::parse(next_imsi.to_string().as_bytes()),
                msisdn: IdKey::parse((msisdn_base + s as u64).to_string().as_bytes()),
                operator: 0,
                month,
                days,
                rat: rats[rng.gen_range(0..rats.len())],
            });
        }
        let r = rng.gen_range(0..1_000u32);
        if r < 600 {
            lists.push((imei.0, ListFlags::REGISTERED));
        }
        if r == 999 {
            lists.push((imei.0, ListFlags::STOLEN));
        }
        if r == 998 {
            lists.push((imei.0, ListFlags::MONITORING));
        }
    }
    let memberships = Memberships::from_lists(lists, vec![tacs[7]]);
    // The batch's order contract: sorted by IMEI, then IMSI.
    triplets.sort_unstable_by_key(|t| (t.imei, t.imsi, t.msisdn));
    let conditions = Conditions::from_toml(include_str!("../../ceir/conditions.toml")).unwrap();
    World {
        triplets,
        catalog,
        memberships,
        conditions,
        date: Day::parse_iso("2026-10-31").unwrap(),
    }
}

fn run(w: &World, previous: Option<Classified>) -> Classified {
    classify(Input {
        conditions: &w.conditions,
        observations: Observations {
            operators: &[],
            raw_imeis: &[],
            triplets: &w.triplets,
            history: &[],
        },
        catalog: &w.catalog,
        memberships: &w.memberships,
        previous,
        date: w.date,
        analysis_date: w.date,
        safety_check: true,
    })
    .unwrap()
}

fn report(name: &str, w: &World, c: &Classified) {
    eprintln!(
        "{name}: {} triplets, {} IMEIs seen, {} state rows",
        w.triplets.len(),
        c.run.imeis_seen,
        c.rows.len()
    );
    for s in &c.run.summary {
        eprintln!(
            "  {:<26} matched {:>9}  blocking {:>9}",
            s.label, s.matched, s.blocking
        );
    }
}

fn bench(c: &mut Criterion) {
    let w = world(1_400_000, 1);
    let first = run(&w, None);
    report("month", &w, &first);
    let mut g = c.benchmark_group("classify");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("month_1.4M_imeis_first_run", |b| b.iter(|| run(&w, None)));
    g.bench_function("month_1.4M_imeis_rerun", |b| {
        b.iter_batched(
            || first.clone(),
            |prev| run(&w, Some(prev)),
            criterion::BatchSize::LargeInput,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    g.bench_function("month_1.4M_imeis_commit_parquet", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_dir_all(dir.path().join("c"));
                StateStore::open(&dir.path().join("c")).unwrap()
            },
            |s| s.commit(&first).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    drop(first);
    drop(w);

    if std::env::var_os("CEIR_BENCH_LARGE").is_some() {
        let w = world(30_000_000, 2);
        let first = run(&w, None);
        report("large", &w, &first);
        drop(first);
        let mut g = c.benchmark_group("classify_large");
        g.sample_size(10).measurement_time(Duration::from_secs(60));
        g.bench_function("30M_imeis_first_run", |b| b.iter(|| run(&w, None)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
