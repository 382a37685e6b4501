//! `ceir classify` and `ceir explain IMEI`: the classification engine over the observation
//! store, with the catalog and list memberships taken from the registry store.

use anyhow::{bail, Context, Result};
use ceir_classify::{ClassifyError, Input, ObservationBatch as Batch, StateStore};
use ceir_domain::classify::{Conditions, ListFlags, Memberships, ModelCatalog};
use ceir_domain::lists::{ListKind, Reason, Subject};
use ceir_domain::observe::{Day, ImeiNorm};
use ceir_store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The conditions used when neither `--conditions` nor `DIR/conditions.toml` gives any.
pub const DEFAULT_CONDITIONS: &str = include_str!("../conditions.toml");

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// Classify as of this date (yyyy-mm-dd), like DIRBS's --curr-date: the dimensions look at
    /// the data up to it, and start and block dates count from it. Default: the dimensions look
    /// up to the last day of data, and the dates count from today.
    #[arg(long)]
    pub date: Option<String>,
    /// Conditions file (TOML); default: DIR/conditions.toml, else the built-in conditions.
    #[arg(long)]
    pub conditions: Option<PathBuf>,
    /// DANGEROUS: classify even if a condition matches more than its max_allowed_matching_ratio.
    #[arg(long)]
    pub no_safety_check: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The IMEI (14 to 16 digits; a malformed value is looked up as operators sent it).
    pub imei: String,
    /// Evaluate for this date (yyyy-mm-dd); default: the last classification's date.
    #[arg(long)]
    pub date: Option<String>,
    /// Conditions file (TOML); default: DIR/conditions.toml, else the built-in conditions.
    #[arg(long)]
    pub conditions: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn observation_store(data: &Path) -> Result<ceir_observe::ObservationStore> {
    ceir_observe::ObservationStore::open(&data.join("observations"))
        .context("cannot open the observation store")
}

/// What classification reads for the analysis window `[start, end]`: the overlapping months
/// whole, sorted by IMEI, and every IMEI's earlier sightings.
pub fn load_observations(data: &Path, start: Day, end: Day) -> Result<Batch> {
    let b = observation_store(data)?.load_for_classification(start, end)?;
    Ok(batch(b))
}

/// The same for one device only: what an explanation reads.
pub fn load_device(data: &Path, imei: &ImeiNorm, start: Day, end: Day) -> Result<Batch> {
    let b = observation_store(data)?.load_imei_for_classification(&imei.to_string(), start, end)?;
    Ok(batch(b))
}

fn batch(b: ceir_observe::TripletBatch) -> Batch {
    Batch {
        operators: b.operators,
        raw_imeis: b.raw_imeis,
        triplets: b.triplets,
        history: b.history,
    }
}

fn parse_day(s: &str) -> Result<Day> {
    Day::parse_iso(s)
        .or_else(|| Day::parse_yyyymmdd(s.as_bytes()))
        .with_context(|| format!("the date {s:?} is not yyyy-mm-dd"))
}

fn today() -> Day {
    use ceir_domain::Clock;
    Day::of(ceir_domain::SystemClock.now())
}

/// The conditions in force: `--conditions`, else `DIR/conditions.toml`, else the built-in ones.
pub fn load_conditions(data: &Path, file: Option<&Path>) -> Result<(Conditions, String)> {
    let default_file = data.join("conditions.toml");
    let (text, source) = match file {
        Some(f) => (
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
            f.display().to_string(),
        ),
        None if default_file.exists() => (
            std::fs::read_to_string(&default_file)
                .with_context(|| format!("cannot read {}", default_file.display()))?,
            default_file.display().to_string(),
        ),
        None => (
            DEFAULT_CONDITIONS.to_owned(),
            "built-in conditions".to_owned(),
        ),
    };
    let c = Conditions::from_toml(&text).with_context(|| format!("in {source}"))?;
    Ok((c, source))
}

/// The catalog, model-wide radio capabilities included.
pub async fn load_catalog(store: &dyn Store) -> Result<ModelCatalog> {
    let models = store.catalog_models().await?;
    Ok(ModelCatalog::from_models(&models))
}

fn flag_of(list: ListKind, reason: Reason) -> Option<ListFlags> {
    ListFlags::of_entry(list, reason)
}

/// The days of observations the conditions need up to `date`: their longest period, and at
/// least a month, so that first-seen dates and RATs come from more than the shortest window.
fn window(conditions: &Conditions, date: Day) -> (Day, Day) {
    let days = conditions.lookback_days().max(31);
    (date.plus(1 - days as i32), date)
}

pub async fn classify(store: &dyn Store, data: &Path, args: &ClassifyArgs) -> Result<()> {
    let t0 = Instant::now();
    let (conditions, source) = load_conditions(data, args.conditions.as_deref())?;
    // As DIRBS: a given date is both; otherwise the dimensions look up to the last day of
    // data (compute_analysis_end_date) and the run's dates count from today.
    let (date, analysis_date) = match &args.date {
        Some(d) => {
            let d = parse_day(d)?;
            (d, d)
        }
        None => {
            let today = today();
            (today, observation_store(data)?.last_day()?.unwrap_or(today))
        }
    };
    let (start, end) = window(&conditions, analysis_date);
    // The observations (Parquet), the previous state and the registry (SQL, or its copy) are
    // read side by side.
    let dir = data.to_path_buf();
    let observations = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        load_observations(&dir, start, end).map(|b| (b, t.elapsed()))
    });
    let states = StateStore::open(&data.join("classification"))?;
    let previous = {
        let states = states.clone();
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            states.current().map(|p| (p, t.elapsed()))
        })
    };
    let t = Instant::now();
    let catalog = load_catalog(store).await?;
    let t_cat = t.elapsed();
    let (memberships, lists_source) = crate::membership_cache::load(store, data).await?;
    let t_lists = t.elapsed() - t_cat;
    let (batch, t_obs) = observations.await??;
    let (previous, t_prev) = previous.await??;
    if let Some(p) = &previous {
        if date < p.run.date {
            eprintln!(
                "note: classifying for {date}, before the last run's date {}",
                p.run.date
            );
        }
    }
    let loaded = t0.elapsed();
    let t1 = Instant::now();
    let result = ceir_classify::classify(Input {
        conditions: &conditions,
        observations: batch.view(),
        catalog: &catalog,
        memberships: &memberships,
        previous,
        date,
        analysis_date,
        safety_check: !args.no_safety_check,
    });
    let classified = match result {
        Ok(c) => c,
        Err(ClassifyError::SafetyStop(v)) => {
            for x in &v {
                eprintln!(
                    "refused: condition {} would match {} of {} IMEIs seen ({:.2}%), above its max_allowed_matching_ratio {}",
                    x.label,
                    x.matched,
                    x.imeis_seen,
                    x.ratio * 100.0,
                    x.max_ratio
                );
            }
            bail!(
                "[SAFETY_STOP] nothing was written; check the input data and the conditions ({source}), \
                 or repeat with --no-safety-check if this is intended"
            );
        }
        Err(e) => return Err(e.into()),
    };
    let computed = t1.elapsed();
    let t2 = Instant::now();
    states.commit(&classified)?;
    let run = &classified.run;
    println!(
        "classification run {} on {} ({source}): {} IMEIs ever seen; {} triplets from {} to {} analysed",
        run.id,
        run.date,
        run.imeis_seen,
        batch.triplets.len(),
        start,
        analysis_date
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>10}",
        "condition", "matched", "new", "ended", "blocking"
    );
    for s in &run.summary {
        println!(
            "{:<28} {:>10} {:>10} {:>10} {:>10}",
            s.label, s.matched, s.newly_matched, s.no_longer_matching, s.blocking
        );
    }
    println!(
        "load {:.2} s (observations {:.2} beside catalog {:.2}, lists {:.2} ({lists_source}) and previous state {:.2}), classify {:.2} s, write {:.2} s; state in {}",
        loaded.as_secs_f64(),
        t_obs.as_secs_f64(),
        t_cat.as_secs_f64(),
        t_lists.as_secs_f64(),
        t_prev.as_secs_f64(),
        computed.as_secs_f64(),
        t2.elapsed().as_secs_f64(),
        states.root().display()
    );
    Ok(())
}

/// What `GET /api/v1/devices/{imei}/explain` reads: the state under `DIR/classification`, the
/// conditions in force (`DIR/conditions.toml` or the built-in ones) and the device's triplets
/// from the observation store.
pub fn explain_source(data: &Path) -> Result<ceir_http::explain::ClassificationSource> {
    let (conditions, _) = load_conditions(data, None)?;
    let root = data.to_path_buf();
    let loader: ceir_http::explain::ObservationLoader = std::sync::Arc::new(
        move |imei: &ImeiNorm, start: Day, end: Day| -> Result<Batch, String> {
            load_device(&root, imei, start, end).map_err(|e| format!("{e:#}"))
        },
    );
    Ok(ceir_http::explain::ClassificationSource::new(
        data.join("classification"),
        conditions,
        Some(loader),
    ))
}

/// Parses an IMEI as operators send it, normalised as DIRBS does.
pub fn parse_imei(s: &str) -> Result<ImeiNorm> {
    let t = s.trim();
    ImeiNorm::parse(t.as_bytes()).context("the IMEI is empty")
}

/// The memberships of one IMEI (and its TAC) only.
pub async fn memberships_of(store: &dyn Store, imei: &ImeiNorm) -> Result<Memberships> {
    let mut imeis = Vec::new();
    let mut tacs = Vec::new();
    if let Some(body) = imei.body() {
        for e in store.entries_of(body).await? {
            if let (Subject::Imei(_), Some(f)) = (e.subject, flag_of(e.list, e.reason)) {
                imeis.push((body, f));
            }
        }
    }
    if let Some(tac) = imei.tac() {
        for e in store.entries_of(u64::from(tac)).await? {
            if let Subject::Tac(t) = e.subject {
                tacs.push(t.get());
            }
        }
    }
    Ok(Memberships::from_lists(imeis, tacs))
}

pub async fn explain(store: &dyn Store, data: &Path, args: &ExplainArgs) -> Result<()> {
    let imei = parse_imei(&args.imei)?;
    let (conditions, _) = load_conditions(data, args.conditions.as_deref())?;
    let states = StateStore::open(&data.join("classification"))?;
    let state = states.current()?;
    let date = match (&args.date, &state) {
        (Some(d), _) => parse_day(d)?,
        (None, Some(s)) => s.run.analysis_date,
        (None, None) => observation_store(data)?.last_day()?.unwrap_or_else(today),
    };
    let (start, end) = window(&conditions, date);
    let batch = load_device(data, &imei, start, end)?;
    let catalog = load_catalog(store).await?;
    let memberships = memberships_of(store, &imei).await?;
    let e = ceir_classify::explain(
        &imei,
        &conditions,
        &batch.view(),
        &catalog,
        &memberships,
        state.as_ref(),
        date,
        // The command runs on the node's host, as its operator: subscriber data is shown.
        true,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", e.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_shipped_conditions_cover_every_dimension() {
        let c = Conditions::from_toml(DEFAULT_CONDITIONS).unwrap();
        let mut modules: Vec<&str> = c
            .conditions
            .iter()
            .flat_map(|c| c.dimensions.iter().map(|d| d.dimension.module()))
            .collect();
        modules.sort_unstable();
        modules.dedup();
        let mut all = ceir_domain::classify::MODULES.to_vec();
        all.sort_unstable();
        assert_eq!(modules, all);
    }

    #[test]
    fn list_reasons_map_to_dimensions() {
        assert_eq!(
            flag_of(ListKind::Blocked, Reason::Lost),
            Some(ListFlags::STOLEN)
        );
        assert_eq!(
            flag_of(ListKind::Blocked, Reason::Counterfeit),
            Some(ListFlags::BARRED)
        );
        assert_eq!(
            flag_of(ListKind::Permitted, Reason::Registered),
            Some(ListFlags::REGISTERED)
        );
        assert_eq!(
            flag_of(ListKind::Tracked, Reason::Investigation),
            Some(ListFlags::MONITORING)
        );
        assert_eq!(flag_of(ListKind::Exception, Reason::Paired), None);
    }
}
