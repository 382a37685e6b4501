//! Times `ObservationStore::load` over a whole store: `cargo run --release -p ceir-observe
//! --example load -- DIR/observations [START END]` (ISO dates).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::observe::Day;
use ceir_observe::ObservationStore;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let store = ObservationStore::open(std::path::Path::new(&args[1])).unwrap();
    let day = |i: usize, d: &str| Day::parse_iso(args.get(i).map_or(d, String::as_str)).unwrap();
    let (start, end) = (day(2, "1970-01-01"), day(3, "2100-12-31"));
    let t = std::time::Instant::now();
    let b = store.load(start, end).unwrap();
    let imeis = b.triplets.chunk_by(|a, b| a.imei == b.imei).count();
    println!(
        "loaded {} triplets, {} IMEIs, {} operators, last day {:?} in {:.3} s",
        b.triplets.len(),
        imeis,
        b.operators.len(),
        store.last_day().unwrap(),
        t.elapsed().as_secs_f64()
    );
}
