//! `ceir import operator FILE…` (operator network data into the observation store, after the
//! DIRBS checks) and `ceir import jobs` (the job records).

use crate::config::Config;
use anyhow::{bail, Context, Result};
use ceir_domain::observe::{Day, OperatorFileName, Region};
use ceir_domain::{Clock, SystemClock, Timestamp};
use ceir_ingest::operator::checks::{evaluate, history_window};
use ceir_ingest::operator::{
    read_operator_file, CheckResult, DailyCount, OperatorData, ReadOptions, Thresholds,
    DEFAULT_TRIPLET_BUDGET,
};
use ceir_observe::{ImportOutcome, Incoming, ObservationStore, Texts, Writer};
use ceir_store::{ImportJob, Store, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
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
}

/// Imports each file in turn; an error when any was refused or failed (after trying them all).
pub async fn import_operator(
    cfg: &Config,
    store: &dyn Store,
    files: &[PathBuf],
    budget: Option<usize>,
) -> Result<()> {
    let region = cfg.region()?;
    let thresholds = cfg.import.operator.clone();
    let obs = ObservationStore::open(&observations_dir(cfg))?;
    let mut writer = Some(obs.writer()?);
    let mut bad = 0usize;
    for file in files {
        let started = SystemClock.now();
        let history = match history_for(store, file).await {
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
        let budget = budget.unwrap_or(DEFAULT_TRIPLET_BUDGET);
        let res = tokio::task::spawn_blocking(move || {
            let mut w = w;
            let r = import_one(&path, &region2, &th2, &history, budget, started, &mut w);
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
        store.record_import(&out.job).await?;
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

/// This operator's earlier per-day counts, newest import first (the historic check's input).
async fn history_for(store: &dyn Store, file: &Path) -> Result<Vec<Vec<DailyCount>>> {
    let base = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = OperatorFileName::parse(&base).map_err(anyhow::Error::msg)?;
    let jobs = store
        .import_jobs(Some("operator"), Some(&name.operator), HISTORY_JOBS)
        .await?;
    let mut out = Vec::new();
    for j in jobs {
        if matches!(j.verdict, Verdict::Accepted | Verdict::Unchanged) {
            let days: Vec<DailyCount> = serde_json::from_str(&j.daily)
                .with_context(|| format!("the job record {} has unreadable daily counts", j.id))?;
            out.push(days);
        }
    }
    Ok(out)
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

fn import_one(
    path: &Path,
    region: &Region,
    thresholds: &Thresholds,
    history: &[Vec<DailyCount>],
    budget: usize,
    started: Timestamp,
    writer: &mut Writer,
) -> Result<FileOutcome> {
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
        zero_tacs: None,
    };
    let data = read_operator_file(path, &opts, &mut |n| pb.set_position(n))?;
    pb.finish_and_clear();
    let read_secs = clock.elapsed().as_secs_f64();
    let today = Day::of(started);
    let window = history_window(history, thresholds.historic_days);
    let checks = evaluate(
        &data.counts,
        (data.name.start, data.name.end),
        today,
        &data.daily,
        &window,
        thresholds,
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
    Ok(FileOutcome { job, report })
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
        "{:<10} {:<19} {:<9} {:<10} {:>11} {:>10}  file / failed checks",
        "id", "finished (UTC)", "kind", "verdict", "rows", "triplets"
    );
    for j in jobs {
        let failed: Vec<String> = serde_json::from_str::<Vec<CheckResult>>(&j.checks)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.describe())
            .collect();
        println!(
            "{:<10} {:<19} {:<9} {:<10} {:>11} {:>10}  {}",
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
