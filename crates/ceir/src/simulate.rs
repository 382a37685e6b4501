//! `ceir simulate`: writes a month of generated operator data, its TAC catalog and the DIRBS
//! lists that go with it (see `ceir_ingest::simulate`).

use anyhow::{bail, Context, Result};
use ceir_domain::observe::Day;
use ceir_ingest::simulate::{simulate, SimConfig};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Where to write (created if missing; files of the same names are replaced).
    #[arg(long)]
    out: PathBuf,
    /// AZ, UZ or both.
    #[arg(long, default_value = "both")]
    country: String,
    /// The month, yyyy-mm.
    #[arg(long, default_value = "2026-10")]
    month: String,
    /// Subscribers homed on each operator.
    #[arg(long, default_value_t = 3000)]
    subscribers: u64,
    /// Same seed, same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write operator files as .csv.gz.
    #[arg(long)]
    gzip: bool,
    /// Benchmark shape: one operator, exactly this many rows (about 0.14 IMEIs and 0.17 distinct
    /// triplets per row, as DIRBS's 10-million-row reference month); ignores --subscribers.
    #[arg(long)]
    rows: Option<u64>,
    /// With --rows: about this many IMEIs instead (e.g. 30000000 for a 100-million-row month).
    #[arg(long, requires = "rows")]
    imeis: Option<u64>,
    /// Add rows with impossible and out-of-period dates, which make an import refuse the file.
    #[arg(long)]
    bad_dates: bool,
}

pub fn run(a: SimulateArgs) -> Result<()> {
    let month = Day::parse_iso(&format!("{}-01", a.month))
        .with_context(|| format!("--month {:?} is not yyyy-mm (e.g. 2026-10)", a.month))?;
    let countries = match a.country.to_ascii_uppercase().as_str() {
        "BOTH" => vec!["AZ".to_owned(), "UZ".to_owned()],
        c @ ("AZ" | "UZ") => vec![c.to_owned()],
        other => bail!("--country {other:?}: use AZ, UZ or both"),
    };
    let cfg = SimConfig {
        countries,
        month,
        subscribers: a.subscribers,
        seed: a.seed,
        gzip: a.gzip,
        rows: a.rows,
        imeis: a.imeis,
        bad_dates: a.bad_dates,
    };
    let started = std::time::Instant::now();
    let s = simulate(&a.out, &cfg)
        .with_context(|| format!("cannot simulate into {}", a.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "catalog   {} ({} TACs)",
        s.catalog.path.display(),
        s.catalog.rows
    );
    for f in &s.operator_files {
        println!("operator  {} ({} rows)", f.path.display(), f.rows);
    }
    for f in &s.list_files {
        println!("list      {} ({} rows)", f.path.display(), f.rows);
    }
    let sc = &s.scenarios;
    println!(
        "{} rows, {} subscribers, {} IMEIs, {} distinct triplets in {secs:.2} s ({:.0} rows/s)",
        s.rows(),
        sc.subscribers,
        sc.imeis,
        sc.triplets,
        s.rows() as f64 / secs.max(1e-9)
    );
    println!(
        "cases: {} dual-SIM phones, {} SIM swaps, {} shared devices, {} travellers, {} visitors, {} cloned IMEIs, \
         {} counterfeit-TAC devices, {} inconsistent-RAT devices, {} transient IMEIs, {} test-TAC devices, \
         {} malformed IMEIs, {} leading-zero IMEIs",
        sc.dual_sim_phones.count,
        sc.sim_swaps.count,
        sc.shared_devices.count,
        sc.travellers.count,
        sc.visitors.count,
        sc.cloned_imeis.count,
        sc.counterfeit_tacs.count,
        sc.inconsistent_rat_imeis.count,
        sc.transient_imeis.count,
        sc.test_tac_imeis.count,
        sc.malformed_imeis.count,
        sc.leading_zero_imeis.count
    );
    println!("details: {}", a.out.join("simulation.json").display());
    Ok(())
}
