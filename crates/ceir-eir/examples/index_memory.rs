//! Builds a status index of N IMEIs and reports what it costs: bytes per IMEI by the index's own
//! account and by resident-set growth, and the build time.
//!
//! `CEIR_BENCH_N` sets N (default 100 million). `CEIR_MEM_MODE=grow` inserts one IMEI at a time
//! into an empty index instead of the bulk build, so every shard grows repeatedly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use ceir_domain::status::ListFlags;
use ceir_eir::StatusIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A field of /proc/self/status in KiB (Linux only; 0 elsewhere).
fn status_kib(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("CEIR_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000);
    let grow = std::env::var("CEIR_MEM_MODE").is_ok_and(|m| m == "grow");

    // The same keys as the benchmark: 4,000 TACs, random serials.
    let mut rng = StdRng::seed_from_u64(0x0ce1_2024);
    let tacs: Vec<u64> = (0..4_000)
        .map(|_| rng.gen_range(35_000_000..99_999_999))
        .collect();
    let bodies: Vec<u64> = (0..n)
        .map(|_| tacs[rng.gen_range(0..tacs.len())] * 1_000_000 + rng.gen_range(0..1_000_000))
        .collect();
    let flags = |b: u64| {
        ListFlags(if b % 50 < 4 {
            ListFlags::BLOCKED
        } else {
            ListFlags::PERMITTED
        })
    };

    let rss_before = status_kib("VmRSS:");
    let hwm_before = status_kib("VmHWM:");
    let t = Instant::now();
    let index = if grow {
        let index = StatusIndex::new();
        for &b in &bodies {
            index.set_list_flags(b, flags(b));
        }
        index
    } else {
        StatusIndex::build(bodies.iter().map(|&b| (b, flags(b))), n)
    };
    let took = t.elapsed();
    let rss_after = status_kib("VmRSS:");
    let hwm_after = status_kib("VmHWM:");

    let len = index.len().max(1) as f64;
    println!(
        "mode                      {}",
        if grow {
            "grow (one insert at a time)"
        } else {
            "bulk build"
        }
    );
    println!("N generated               {n}");
    println!("IMEIs in index            {}", index.len());
    println!(
        "slots                     {} (load {:.3})",
        index.slots(),
        index.len() as f64 / index.slots().max(1) as f64
    );
    println!(
        "build time                {took:.2?} ({:.1} M IMEIs/s)",
        len / took.as_secs_f64() / 1e6
    );
    println!(
        "memory_bytes / IMEI       {:.2}",
        index.memory_bytes() as f64 / len
    );
    println!("VmRSS before / after      {rss_before} KiB / {rss_after} KiB");
    println!(
        "RSS growth / IMEI         {:.2} bytes",
        rss_after.saturating_sub(rss_before) as f64 * 1024.0 / len
    );
    println!(
        "peak (VmHWM) growth / IMEI {:.2} bytes",
        hwm_after.saturating_sub(hwm_before) as f64 * 1024.0 / len
    );
    // Keep the index alive until after the measurement.
    std::hint::black_box(&index);
}
