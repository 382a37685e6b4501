//! Throughput of the EIR status index on realistic keys: random lookups, half hits, half misses.
//!
//! `CEIR_BENCH_N` sets the number of IMEIs (default 100 million).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use ceir_domain::status::ListFlags;
use ceir_domain::{Imei, Imsi};
use ceir_eir::StatusIndex;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Lookups per criterion iteration; the queries array is walked round-robin so keys stay cold.
const CHUNK: usize = 1 << 16;
/// Pre-generated queries: 16 Mi keys (128 MiB), far larger than any cache.
const QUERIES: usize = 1 << 24;
const TACS: usize = 4_000;

struct Data {
    index: StatusIndex,
    queries: Vec<u64>,
}

fn n() -> usize {
    std::env::var("CEIR_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000)
}

/// Bodies spread over a few thousand TACs with random serials; list flags in rough real-world
/// proportions (most listed devices registered/permitted, some blocked, few tracked).
fn data() -> Data {
    let n = n();
    let mut rng = StdRng::seed_from_u64(0x0ce1_2024);
    let tacs: Vec<u64> = (0..TACS)
        .map(|_| rng.gen_range(35_000_000..99_999_999))
        .collect();
    let body =
        |rng: &mut StdRng| tacs[rng.gen_range(0..TACS)] * 1_000_000 + rng.gen_range(0..1_000_000);
    let t = Instant::now();
    let bodies: Vec<u64> = (0..n).map(|_| body(&mut rng)).collect();
    let flags = |b: u64| match b % 50 {
        0..=3 => ListFlags(ListFlags::BLOCKED),
        4 => ListFlags(ListFlags::TRACKED),
        _ => ListFlags(ListFlags::PERMITTED),
    };
    let gen = t.elapsed();
    let t = Instant::now();
    let index = StatusIndex::build(bodies.iter().map(|&b| (b, flags(b))), n);
    eprintln!(
        "built {} IMEIs ({} generated in {gen:.2?}) in {:.2?}; {:.2} bytes/IMEI",
        index.len(),
        n,
        t.elapsed(),
        index.memory_bytes() as f64 / index.len().max(1) as f64
    );
    // Exceptions for 1% of IMEIs and 20 barred TACs, so facts() does its real work.
    index.load_pairs(bodies.iter().step_by(100).map(|&b| {
        (
            b,
            Imsi::parse("400011234567890").map(|i| i.key()).unwrap_or(0),
        )
    }));
    index.load_barred_tacs(tacs.iter().take(20).map(|&t| t as u32));
    let mut queries = Vec::with_capacity(QUERIES);
    while queries.len() < QUERIES {
        if queries.len() % 2 == 0 {
            queries.push(bodies[rng.gen_range(0..n)]);
        } else {
            let b = body(&mut rng);
            if index.flags(b).is_empty() {
                queries.push(b);
            }
        }
    }
    Data { index, queries }
}

fn bench(c: &mut Criterion) {
    let d = data();
    let q = &d.queries;
    let mut g = c.benchmark_group(format!("index_{}", d.index.len()));
    g.throughput(Throughput::Elements(CHUNK as u64));

    let mut pos = 0;
    g.bench_function("flags/random_half_hits", |b| {
        b.iter(|| {
            let chunk = &q[pos..pos + CHUNK];
            pos = (pos + CHUNK) % (q.len() - CHUNK);
            let mut acc = 0u64;
            for &k in chunk {
                acc += u64::from(d.index.flags(k).0);
            }
            black_box(acc)
        })
    });

    // Each key depends on the previous answer, as when requests arrive one by one: latency.
    let mut pos = 0;
    g.bench_function("flags/dependent_half_hits", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            let mut i = pos;
            for _ in 0..CHUNK {
                let f = d.index.flags(q[i]).0;
                acc += u64::from(f);
                i += 1 + usize::from(f >> 7);
            }
            pos = (pos + CHUNK) % (q.len() - 2 * CHUNK);
            black_box(acc)
        })
    });

    let mut pos = 0;
    let mut out = vec![ListFlags::NONE; CHUNK];
    g.bench_function("flags_many/random_half_hits", |b| {
        b.iter(|| {
            let chunk = &q[pos..pos + CHUNK];
            pos = (pos + CHUNK) % (q.len() - CHUNK);
            d.index.flags_many(chunk, &mut out);
            black_box(&out);
        })
    });

    let imeis: Vec<Imei> = q.iter().filter_map(|&b| Imei::from_body(b).ok()).collect();
    let imsi = Imsi::parse("400011234567890").ok();
    let mut pos = 0;
    g.bench_function("facts/random_half_hits", |b| {
        b.iter(|| {
            let chunk = &imeis[pos..pos + CHUNK];
            pos = (pos + CHUNK) % (imeis.len() - CHUNK);
            let mut acc = 0u64;
            for &imei in chunk {
                let f = d.index.facts(imei, imsi);
                acc += u64::from(f.flags.0) + u64::from(f.paired) + u64::from(f.tac_barred);
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
