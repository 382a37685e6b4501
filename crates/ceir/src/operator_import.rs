//! `ceir import operator FILE…` (operator network data into the observation store, after the
//! DIRBS checks) and `ceir import jobs` (the job records).

use crate::config::Config;
use anyhow::{bail, Context, Result};
use ceir_domain::observe::{Day, OperatorFileName, Region};
use ceir_domain::{Clock, SystemClock, Timestamp};
use ceir_ingest::operator::checks::{evaluate, history, Disabled, DISABLED};
use ceir_ingest::operator::{
    read_operator_file, CheckResult, DailyCount, DaySketch, OperatorData, ReadOptions, Thresholds,
    DEFAULT_CHUNK, DEFAULT_TRIPLET_BUDGET,
};
use ceir_observe::{ImportOutcome, Incoming, ObservationStore, Texts, Writer};
use ceir_store::{ImportJob, Store, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Earlier jobs read for the historic check: more than enough for 30 days of monthly files.
const HISTORY_JOBS: u32 = 200;

/// `DIR/observations`.
pub fn observations_dir(cfg: &Config) -> PathBuf {
    cfg.data.join("observations")
}

struct FileOutcome {
    job: ImportJob,
    report: String,
    /// The file's day sketches, kept with an accepted job for later historic checks.
    days: Vec<ceir_store::DaySketch>,
}

/// DIRBS's switches for turning groups of checks off for one import; the job record and the
/// report say which were off.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct DisableChecks {
    /// Skip the NULL IMEI, IMSI, MSISDN, RAT and combined checks.
    #[arg(long)]
    pub disable_null_check: bool,
    /// Skip the unclean IMEI, IMSI and combined checks.
    #[arg(long)]
    pub disable_clean_check: bool,
    /// Skip the out-of-region IMSI, MSISDN and combined checks.
    #[arg(long)]
    pub disable_region_check: bool,
    /// Skip the non-home-network IMSI check.
    #[arg(long)]
    pub disable_home_check: bool,
    /// Skip the historic IMEI, IMSI and MSISDN per day checks.
    #[arg(long)]
    pub disable_historic_check: bool,
    /// Skip the leading-zero checks (stripped zeros, and the catalog's suspects).
    #[arg(long)]
    pub disable_leading_zero_check: bool,
}

impl From<DisableChecks> for Disabled {
    fn from(d: DisableChecks) -> Disabled {
        Disabled {
            null: d.disable_null_check,
            clean: d.disable_clean_check,
            region: d.disable_region_check,
            home: d.disable_home_check,
            historic: d.disable_historic_check,
            leading_zero: d.disable_leading_zero_check,
        }
    }
}

/// How much of the machine an import may take.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Tuning {
    /// Distinct triplets held in memory before sorted runs spill to disk.
    #[arg(long)]
    pub triplet_budget: Option<usize>,
    /// Threads that parse rows (default: one per core, at most 8); 1 leaves the other cores to
    /// a server on the same machine.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
}

/// Imports each file in turn; an error when any was refused or failed (after trying them all).
pub async fn import_operator(
    cfg: &Config,
    store: &dyn Store,
    files: &[PathBuf],
    tuning: Tuning,
    disabled: Disabled,
) -> Result<()> {
    let region = cfg.region()?;
    let thresholds = cfg.import.operator.clone();
    let zero_tacs = Arc::new(zero_tacs(store).await?);
    let obs = ObservationStore::open(&observations_dir(cfg))?;
    let mut writer = Some(obs.writer()?);
    let mut bad = 0usize;
    for file in files {
        let started = SystemClock.now();
        let history = match history_for(store, file, thresholds.historic_days).await {
            Ok(h) => h,
            Err(e) => {
                bad += 1;
                eprintln!("{}: {e:#}", file.display());
                continue;
            }
        };
        let w = writer
            .take()
            .context("the observation store's writer was lost")?;
        let (path, region2, th2) = (file.clone(), region.clone(), thresholds.clone());
        let tacs = Arc::clone(&zero_tacs);
        let budget = tuning.triplet_budget.unwrap_or(DEFAULT_TRIPLET_BUDGET);
        let threads = tuning.threads.map_or(0, usize::from);
        let res = tokio::task::spawn_blocking(move || {
            let mut w = w;
            let ctx = FileContext {
                region: &region2,
                thresholds: &th2,
                zero_tacs: tacs.as_ref().as_ref(),
                history: &history,
                budget,
                threads,
                started,
                disabled,
            };
            let r = import_one(&path, &ctx, &mut w);
            (w, r)
        })
        .await?;
        writer = Some(res.0);
        let out = match res.1 {
            Ok(o) => o,
            Err(e) => {
                bad += 1;
                let job = failed_job(file, started, &format!("{e:#}"));
                store.record_import(&job).await?;
                eprintln!("{}: FAILED: {e:#}", file.display());
                continue;
            }
        };
        store.record_operator_import(&out.job, &out.days).await?;
        if matches!(out.job.verdict, Verdict::Refused | Verdict::Failed) {
            bad += 1;
            eprint!("{}", out.report);
        } else {
            print!("{}", out.report);
        }
    }
    if bad > 0 {
        bail!(
            "{bad} of {} file(s) refused or failed; nothing of those was stored. Fix the data (or the \
             thresholds under [import.operator] in the config) and import them again",
            files.len()
        );
    }
    Ok(())
}

/// For DIRBS's leading-zero suspect check: the catalog's TACs that start with 0, as the number
/// of their last seven digits (what an IMEI that lost its leading 0 starts with). `None` when the
/// catalog is empty, and the check is then skipped, saying so.
pub async fn zero_tacs(store: &dyn Store) -> Result<Option<HashSet<u32>>> {
    if store.catalog_count().await? == 0 {
        return Ok(None);
    }
    Ok(Some(
        store
            .catalog_models()
            .await?
            .into_iter()
            .map(|m| m.tac.get())
            .filter(|t| *t < 10_000_000)
            .collect(),
    ))
}

/// What the historic check compares with: this operator's latest days, each day's sketches of
/// every earlier import united (`checks::history`); imports recorded before ceir kept sketches
/// give their per-day counts for the days no sketch covers.
async fn history_for(store: &dyn Store, file: &Path, days: usize) -> Result<Vec<DailyCount>> {
    let base = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = OperatorFileName::parse(&base).map_err(anyhow::Error::msg)?;
    let sketches: Vec<DaySketch> = store
        .operator_day_sketches(&name.operator, u32::try_from(days).unwrap_or(u32::MAX))
        .await?
        .into_iter()
        .map(|d| DaySketch {
            day: d.day.0,
            complete: d.complete_rows,
            imei: d.imei,
            imsi: d.imsi,
            msisdn: d.msisdn,
        })
        .collect();
    let jobs = store
        .import_jobs(Some("operator"), Some(&name.operator), HISTORY_JOBS)
        .await?;
    let mut legacy = Vec::new();
    for j in jobs {
        if matches!(j.verdict, Verdict::Accepted | Verdict::Unchanged) {
            let counts: Vec<DailyCount> = serde_json::from_str(&j.daily)
                .with_context(|| format!("the job record {} has unreadable daily counts", j.id))?;
            // Counts with their complete rows come from imports whose sketches are kept.
            legacy.push(
                counts
                    .into_iter()
                    .filter(|d| d.complete.is_none())
                    .collect(),
            );
        }
    }
    history(&sketches, &legacy, days)
        .map_err(|e| anyhow::anyhow!("the kept sketches of {}: {e}", name.operator))
}

fn failed_job(file: &Path, started: Timestamp, message: &str) -> ImportJob {
    let name = file
        .file_name()
        .and_then(|n| OperatorFileName::parse(&n.to_string_lossy()).ok());
    ImportJob {
        id: String::new(),
        kind: "operator".into(),
        file: file.display().to_string(),
        sha256: String::new(),
        operator: name.as_ref().map(|n| n.operator.clone()),
        period: name.map(|n| (n.start, n.end)),
        rows: 0,
        triplets: 0,
        verdict: Verdict::Failed,
        checks: "[]".into(),
        daily: "[]".into(),
        message: Some(message.to_owned()),
        started_at: started,
        finished_at: SystemClock.now(),
    }
}

fn bar(len: u64, file: &Path) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    pb
}

/// What importing one file needs besides the file and the writer.
#[derive(Debug, Clone, Copy)]
struct FileContext<'a> {
    region: &'a Region,
    thresholds: &'a Thresholds,
    zero_tacs: Option<&'a HashSet<u32>>,
    /// `checks::history` of this operator's earlier imports.
    history: &'a [DailyCount],
    budget: usize,
    /// Parsing threads; 0 for one per core.
    threads: usize,
    started: Timestamp,
    disabled: Disabled,
}

fn import_one(path: &Path, ctx: &FileContext<'_>, writer: &mut Writer) -> Result<FileOutcome> {
    let FileContext {
        region,
        thresholds,
        zero_tacs,
        history,
        budget,
        threads,
        started,
        disabled,
    } = *ctx;
    let clock = Instant::now();
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let pb = bar(len, path);
    let spill = writer.spill_dir()?;
    let opts = ReadOptions {
        region,
        triplet_budget: budget,
        spill_dir: &spill,
        zero_tacs,

        workers: threads,
        chunk_bytes: DEFAULT_CHUNK,
    };
    let data = read_operator_file(path, &opts, &mut |n| pb.set_position(n))?;
    pb.finish_and_clear();
    let read_secs = clock.elapsed().as_secs_f64();
    let today = Day::of(started);
    let checks = evaluate(
        &data.counts,
        (data.name.start, data.name.end),
        today,
        &data.daily,
        history,
        thresholds,
        &disabled,
    );
    let passed = checks.iter().all(|c| c.passed);
    let mut job = ImportJob {
        id: String::new(),
        kind: "operator".into(),
        file: data.file.clone(),
        sha256: data.sha256.clone(),
        operator: Some(data.name.operator.clone()),
        period: Some((data.name.start, data.name.end)),
        rows: data.counts.rows + data.counts.malformed,
        triplets: data.triplet_count,
        verdict: Verdict::Refused,
        checks: serde_json::to_string(&checks)?,
        daily: serde_json::to_string(&data.daily)?,
        message: None,
        started_at: started,
        finished_at: started,
    };
    let mut report = header(&data, &checks);
    let sketches: Vec<ceir_store::DaySketch> = data
        .sketches
        .iter()
        .map(|d| ceir_store::DaySketch {
            day: Day(d.day),
            complete_rows: d.complete,
            imei: d.imei.clone(),
            imsi: d.imsi.clone(),
            msisdn: d.msisdn.clone(),
        })
        .collect();
    // Recorded with the job, so that an import made with checks off is never mistaken for one
    // that passed them.
    let switches = disabled.switches();
    let off = (!switches.is_empty()).then(|| format!("checks {DISABLED}: {}", switches.join(", ")));
    if let Some(off) = &off {
        report.push_str(&format!("  {off}\n"));
    }
    let outcome = if passed {
        if writer.contains_import(&data.sha256)? {
            job.verdict = Verdict::Unchanged;
            None
        } else {
            Some(store_data(writer, data)?)
        }
    } else {
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(CheckResult::describe)
            .collect();
        job.message = Some(failed.join("; "));
        None
    };
    if let Some(off) = off {
        job.message = Some(match job.message.take() {
            Some(m) => format!("{m}; {off}"),
            None => off,
        });
    }
    if let Some(o) = &outcome {
        job.triplets = o.incoming;
        report.push_str(&format!(
            "  {} distinct triplets after merging\n",
            o.incoming
        ));
        job.verdict = if o.already_imported {
            Verdict::Unchanged
        } else {
            Verdict::Accepted
        };
        for (month, before, after) in &o.partitions {
            report.push_str(&format!(
                "  stored month {month}: {before} → {after} triplets (generation {})\n",
                o.generation
            ));
        }
    }
    let secs = clock.elapsed().as_secs_f64();
    let rate = job.rows as f64 / secs.max(1e-9);
    report.push_str(&format!(
        "  {}: {:.2} s ({:.2} s reading and checking), {:.0} rows/s\n",
        match job.verdict {
            Verdict::Accepted => "ACCEPTED",
            Verdict::Unchanged => "UNCHANGED (this file was imported before)",
            Verdict::Refused => "REFUSED: nothing was stored",
            Verdict::Failed => "FAILED",
        },
        secs,
        read_secs,
        rate
    ));
    job.finished_at = SystemClock.now();
    // Only a stored file is history; a file stored before already left its sketches.
    let days = if job.verdict == Verdict::Accepted {
        sketches
    } else {
        Vec::new()
    };
    Ok(FileOutcome { job, report, days })
}

fn store_data(writer: &mut Writer, data: OperatorData) -> Result<ImportOutcome> {
    let operator = data.name.operator.clone();
    let sha = data.sha256.clone();
    let file = data.file.clone();
    let raw = data.raw_imeis.clone();
    let unclean = data.unclean_ids.clone();
    let triplets = data.triplets()?;
    let inc = Incoming {
        operator: &operator,
        sha256: &sha,
        file: &file,
        texts: Texts {
            raw_imeis: &raw,
            unclean_ids: &unclean,
        },
    };
    Ok(writer.import(&inc, triplets)?)
}

fn header(d: &OperatorData, checks: &[CheckResult]) -> String {
    let c = &d.counts;
    let mut s = format!(
        "{} (operator {}, {} to {}, sha256 {}…)\n  rows {} ({} unreadable), {}{} distinct triplets kept{}\n",
        d.file,
        d.name.operator,
        d.name.start,
        d.name.end,
        d.sha256.get(..12).unwrap_or_default(),
        c.rows + c.malformed,
        c.malformed,
        if d.runs > 0 { "at most " } else { "" },
        d.triplet_count,
        if d.runs > 0 {
            format!(" ({} sorted runs spilled to disk)", d.runs)
        } else {
            String::new()
        }
    );
    for e in &d.malformed_rows {
        s.push_str(&format!("    unreadable: {}: {e}\n", d.file));
    }
    if d.more_malformed > 0 {
        s.push_str(&format!(
            "    … and {} more unreadable rows\n",
            d.more_malformed
        ));
    }
    for ch in checks {
        s.push_str(&format!("  check {}\n", ch.describe()));
    }
    s
}

/// `ceir import jobs`.
pub async fn list_jobs(
    store: &dyn Store,
    kind: Option<&str>,
    operator: Option<&str>,
    limit: u32,
) -> Result<()> {
    let jobs = store.import_jobs(kind, operator, limit).await?;
    if jobs.is_empty() {
        println!("no import jobs recorded");
        return Ok(());
    }
    println!(
        "{:<10} {:<19} {:<12} {:<10} {:>11} {:>10}  file / failed checks",
        "id", "finished (UTC)", "kind", "verdict", "rows", "triplets"
    );
    for j in jobs {
        let failed: Vec<String> = serde_json::from_str::<Vec<CheckResult>>(&j.checks)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                !c.passed
                    || c.skipped
                        .as_deref()
                        .is_some_and(|w| w.starts_with(DISABLED))
            })
            .map(|c| c.describe())
            .collect();
        println!(
            "{:<10} {:<19} {:<12} {:<10} {:>11} {:>10}  {}",
            j.id,
            when(j.finished_at),
            j.kind,
            j.verdict.as_str(),
            j.rows,
            j.triplets,
            j.file
        );
        for f in failed {
            println!("{:>75}{f}", "");
        }
        if let Some(m) = j.message.filter(|_| j.verdict == Verdict::Failed) {
            println!("{:>75}{m}", "");
        }
    }
    Ok(())
}

fn when(t: Timestamp) -> String {
    let day = Day::of(t);
    let ms = t.0.rem_euclid(86_400_000) / 1000;
    format!("{day} {:02}:{:02}:{:02}", ms / 3600, ms / 60 % 60, ms % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ceir_domain::audit::AuditContext;
    use ceir_domain::authz::{Actor, OrgKind, Role};
    use ceir_domain::catalog::{RadioSet, TacModel};
    use ceir_domain::Tac;
    use ceir_store::{CatalogImport, ImportStore, SqlStore};

    const NAME: &str = "azercell_20261001_20261031.csv";

    fn fixture_lines() -> Vec<String> {
        let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../ceir-ingest/tests/fixtures/operator")
            .join(NAME);
        std::fs::read_to_string(base)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    }

    fn config(data: &Path) -> Config {
        Config {
            data: data.to_path_buf(),
            ..Config::default()
        }
    }

    fn regulator() -> AuditContext {
        AuditContext::local(Actor {
            org: "az-regulator".into(),
            org_kind: OrgKind::Regulator,
            user: "officer".into(),
            role: Role::Admin,
            scopes: ceir_domain::scope::ScopeSet::ALL,
        })
    }

    fn model(tac: u32) -> TacModel {
        TacModel {
            tac: Tac::from_u32(tac).unwrap(),
            brand: "Brand".into(),
            model: format!("Model {tac}"),
            marketing_name: None,
            manufacturer: None,
            device_type: Some("Smartphone".into()),
            os: None,
            bands: None,
            radio_interface: None,
            allocation_date: None,
            radios: RadioSet::G2 | RadioSet::G4,
        }
    }

    /// The newest job's check of this key.
    async fn newest_check(s: &SqlStore, key: &str) -> (Verdict, CheckResult) {
        let job = s.import_jobs(None, None, 1).await.unwrap().remove(0);
        let checks: Vec<CheckResult> = serde_json::from_str(&job.checks).unwrap();
        let c = checks.into_iter().find(|c| c.key == key).unwrap();
        (job.verdict, c)
    }

    /// Three IMEIs of TAC 01234567 written in full, two with their leading 0 stripped.
    fn leading_zero_file(dir: &Path, name: &str) -> PathBuf {
        let mut lines = fixture_lines();
        for l in &mut lines[1..4] {
            *l = l
                .replacen(",35693803564380", ",01234567000000", 1)
                .replacen(",35693803564381", ",01234567000001", 1)
                .replacen(",86011204080570", ",01234567000002", 1)
                .replacen(",35209900176148", ",01234567000003", 1);
        }
        lines[6] = "20261001,123456700000141,400011234567800,994501234500,001".into();
        lines[7] = "20261001,123456700000158,400011234567801,994501234501,001".into();
        write(dir, name, &lines)
    }

    async fn leading_zero_suspects_come_from_the_registry_catalog(s: &SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let file = leading_zero_file(dir.path(), NAME);
        // An empty catalog: the check is skipped, saying why.
        import_operator(
            &cfg,
            s,
            std::slice::from_ref(&file),
            Tuning::default(),
            Disabled::default(),
        )
        .await
        .unwrap();
        let (verdict, c) = newest_check(s, "leading_zero_suspect").await;
        assert_eq!(verdict, Verdict::Accepted);
        assert_eq!(
            c.skipped.as_deref(),
            Some("the TAC catalog is empty: import one with `ceir import tac`")
        );
        // With 01234567 in the catalog, both 1-IMEIs are suspects: the file is refused.
        let import = CatalogImport {
            source: "tacs.txt",
            format: "gsma",
            max_drop: 1.0,
            force: true,
        };
        s.replace_catalog(
            &[model(1_234_567), model(35_693_803)],
            &import,
            &regulator(),
            Timestamp(1_790_000_000_000),
        )
        .await
        .unwrap();
        assert_eq!(
            zero_tacs(s).await.unwrap(),
            Some(HashSet::from([1_234_567]))
        );
        let e = import_operator(&cfg, s, &[file], Tuning::default(), Disabled::default())
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("1 of 1 file(s) refused"), "{e:#}");
        let (verdict, c) = newest_check(s, "leading_zero_suspect").await;
        assert_eq!(verdict, Verdict::Refused);
        assert_eq!((c.skipped, c.measured, c.passed), (None, 1.0, false));
    }

    /// Three files of the same days: A, then B with other IMEIs (and a day with no complete
    /// row), then A again. DIRBS unites A's and B's sketches of each day: 2 IMEIs a day, which A's
    /// 1 falls short of; the newest import's count alone (B's 1) would let A pass.
    async fn the_historic_check_unites_every_imports_sketches(s: &SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&dir.path().join("data"));
        let (da, db) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&da).unwrap();
        std::fs::create_dir_all(&db).unwrap();
        let a = write(&da, NAME, &fixture_lines());
        let mut lines = fixture_lines();
        for l in &mut lines[1..] {
            *l = l.replacen(",35", ",36", 1).replacen(",86", ",87", 1);
        }
        lines.push("20261016,990000862471854,400011234567800,,001".into());
        let b = write(&db, NAME, &lines);
        let off = Disabled::default();
        import_operator(&cfg, s, std::slice::from_ref(&a), Tuning::default(), off)
            .await
            .unwrap();
        // B's own day without a complete row lowers its averages: its historic check is off.
        let historic_off = Disabled {
            historic: true,
            ..off
        };
        import_operator(&cfg, s, &[b], Tuning::default(), historic_off)
            .await
            .unwrap();
        let kept = s.operator_day_sketches("azercell", 30).await.unwrap();
        assert_eq!(
            kept.len(),
            10,
            "five days of A, five of B; B's 16th has no complete row"
        );
        let e = import_operator(&cfg, s, &[a], Tuning::default(), off)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("1 of 1 file(s) refused"), "{e:#}");
        let (verdict, c) = newest_check(s, "historic_imei").await;
        assert_eq!(verdict, Verdict::Refused);
        assert_eq!((c.measured, c.threshold, c.passed), (1.0, 1.8, false));
        assert!(c.name.contains("history 2.0 over 5 days"), "{}", c.name);
        // The IMSIs were the same in both: 4 a day, which A has.
        let (_, c) = newest_check(s, "historic_imsi").await;
        assert!(
            c.passed && c.name.contains("history 4.0 over 5 days"),
            "{}",
            c.name
        );
    }

    /// Jobs recorded before sketches were kept give their per-day counts.
    async fn jobs_without_sketches_still_make_history(s: &SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&dir.path().join("data"));
        let day = Day::parse_iso("2026-09-30").unwrap();
        let legacy = ImportJob {
            id: String::new(),
            kind: "operator".into(),
            file: "azercell_20260901_20260930.csv".into(),
            sha256: "0".repeat(64),
            operator: Some("azercell".into()),
            period: Some((Day::parse_iso("2026-09-01").unwrap(), day)),
            rows: 100,
            triplets: 50,
            verdict: Verdict::Accepted,
            checks: "[]".into(),
            daily: format!(r#"[{{"day":{},"imeis":5,"imsis":4,"msisdns":4}}]"#, day.0),
            message: None,
            started_at: Timestamp(1),
            finished_at: Timestamp(2),
        };
        s.record_import(&legacy).await.unwrap();
        let a = write(dir.path(), NAME, &fixture_lines());
        import_operator(&cfg, s, &[a], Tuning::default(), Disabled::default())
            .await
            .unwrap_err();
        let (_, c) = newest_check(s, "historic_imei").await;
        assert_eq!((c.threshold, c.passed), (4.5, false));
        assert!(c.name.contains("history 5.0 over 1 days"), "{}", c.name);
    }

    ceir_store::both_engines!(
        leading_zero_suspects_come_from_the_registry_catalog,
        the_historic_check_unites_every_imports_sketches,
        jobs_without_sketches_still_make_history,
    );
}
