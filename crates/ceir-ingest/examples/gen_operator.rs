//! A tiny deterministic generator of the benchmark's operator data shape: one operator, one
//! month, N rows (default 10,000,000), about 1.4 million IMEIs and 1.7 million distinct
//! triplets, a few malformed values. For the import benchmark (bench/import_operator.sh) until
//! `ceir simulate` is there.
//!
//! `cargo run --release -p ceir-ingest --example gen_operator -- OUT.csv [ROWS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

/// SplitMix64: fixed algorithm, so the same arguments give the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).expect("usage: gen_operator OUT.csv [ROWS]");
    let rows: u64 = args.get(2).map_or(10_000_000, |s| s.parse().expect("ROWS"));
    let scale = rows as f64 / 10_000_000.0;
    let imeis = ((1_400_000.0 * scale) as u64).max(10);
    let mut rng = Rng(42);
    // Triplets: every IMEI with one SIM, one in five with a second (dual SIM or a swap).
    let tacs = [
        35_693_803u64,
        35_209_900,
        86_011_204,
        35_875_509,
        1_234_567,
        35_332_711,
    ];
    let mut triplets: Vec<(u64, u64, u64)> = Vec::with_capacity((imeis as f64 * 1.22) as usize);
    for i in 0..imeis {
        let tac = tacs[(i % tacs.len() as u64) as usize];
        let body = tac * 1_000_000 + (i.wrapping_mul(2_654_435_761) % 1_000_000);
        let sims = if rng.below(5) == 0 { 2 } else { 1 };
        for _ in 0..sims {
            let sub = rng.below(9_000_000_000) + 1_000_000_000;
            triplets.push((
                body,
                400_010_000_000_000 + sub % 10_000_000_000,
                994_500_000_000 + sub % 10_000_000,
            ));
        }
    }
    let per_day = rows / 31 + 1;
    let f = std::fs::File::create(out).expect("create");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "date,imei,imsi,msisdn,rat").unwrap();
    let rats = ["001", "006", "001|006", "002", "006"];
    let mut written = 0u64;
    'days: for day in 1..=31u64 {
        // A random start and stride visit distinct triplets within the day.
        let n = triplets.len() as u64;
        let start = rng.below(n);
        let stride = loop {
            let s = rng.below(n - 1) + 1;
            if gcd(s, n) == 1 {
                break s;
            }
        };
        for k in 0..per_day.min(n) {
            if written == rows {
                break 'days;
            }
            let (imei, imsi, msisdn) = triplets[((start + k * stride) % n) as usize];
            let r = rng.below(1000);
            let rat = rats[(r % 5) as usize];
            // A few malformed values, well below the DIRBS thresholds.
            if r == 0 {
                writeln!(w, "202610{day:02},{imei:014}A,{imsi},{msisdn},{rat}").unwrap();
            } else if r == 1 {
                writeln!(w, "202610{day:02},{imei:014}0,,{msisdn},{rat}").unwrap();
            } else {
                writeln!(
                    w,
                    "202610{day:02},{imei:014}{},{imsi},{msisdn},{rat}",
                    r % 10
                )
                .unwrap();
            }
            written += 1;
        }
    }
    w.flush().unwrap();
    eprintln!(
        "{out}: {written} rows, {imeis} IMEIs, {} triplets",
        triplets.len()
    );
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
