//! `ceir lists generate|verify|runs` and `ceir node key`: the operator lists of `DIR/lists` and
//! the node's signing key `DIR/node.key`.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use ceir_domain::lists::{ListKind, Reason, Subject};
use ceir_domain::observe::{Day, IdKey, ImeiNorm, Region, Triplet};
use ceir_domain::Imsi;
use ceir_lists::{
    Condition, ListConfig, ListInput, NodeKey, Pairing, PublicKey, PublishMeta, Row, RunSummary,
};
use ceir_store::Store;
use clap::Subcommand;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ListsCmd {
    /// Generate the operator lists from the last classification: a blocklist, notification and
    /// exception lists per operator, full and delta against the previous run, with a signed
    /// manifest, published atomically under DIR/lists.
    Generate {
        /// The list date (yyyy-mm-dd); default the classification's date.
        #[arg(long)]
        date: Option<String>,
        /// Make the deltas against an empty base instead of the latest run, when its snapshot is
        /// lost or damaged or the list configuration changed: the manifest says so, and
        /// operators reload the full lists. Earlier runs stay published.
        #[arg(long)]
        full_base: bool,
    },
    /// Check a set of lists: the manifest's signature and every file's size and SHA-256. Exit
    /// code 2 when anything is wrong.
    Verify {
        /// A run directory (DIR/lists/run-<n>), its manifest.json, or DIR/lists (the current run).
        path: PathBuf,
        /// The signer's public key (`ed25519:<hex>` as `ceir node key` prints it, or a file
        /// holding it); default this node's own key.
        #[arg(long)]
        key: Option<String>,
        /// Check only this operator's files (what it downloaded).
        #[arg(long)]
        operator: Option<String>,
    },
    /// The published runs, newest first.
    Runs,
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Print the node's public key, which operators verify list manifests with (the key is
    /// created on first use in DIR/node.key).
    Key,
}

pub fn lists_root(data: &Path) -> PathBuf {
    data.join("lists")
}

pub fn key_path(data: &Path) -> PathBuf {
    data.join("node.key")
}

pub fn node(cfg: &Config, cmd: NodeCmd) -> Result<()> {
    match cmd {
        NodeCmd::Key => {
            cfg.ensure_data_dir()?;
            let key = NodeKey::load_or_create(&key_path(&cfg.data))?;
            println!("{}", key.public());
            eprintln!(
                "key id {} (in {})",
                key.public().key_id(),
                key_path(&cfg.data).display()
            );
            Ok(())
        }
    }
}

pub async fn run(cfg: &Config, store: Option<&dyn Store>, cmd: ListsCmd) -> Result<()> {
    match cmd {
        ListsCmd::Generate { date, full_base } => {
            let date = date
                .map(|d| {
                    Day::parse_iso(&d).with_context(|| format!("--date {d:?} is not yyyy-mm-dd"))
                })
                .transpose()?;
            let Some(store) = store else {
                bail!("generating lists needs the store")
            };
            generate(cfg, store, date, full_base).await
        }
        ListsCmd::Verify {
            path,
            key,
            operator,
        } => verify(cfg, &path, key.as_deref(), operator.as_deref()),
        ListsCmd::Runs => {
            let runs = ceir_lists::runs(&lists_root(&cfg.data))?;
            if runs.is_empty() {
                println!("no lists generated yet; run `ceir lists generate`");
            }
            for r in runs {
                println!(
                    "run-{:<5} date {}  previous {}  classification {}  {} files{}",
                    r.run,
                    r.date,
                    r.previous_run.map_or("-".into(), |p| format!("run-{p}")),
                    r.classification_run.map_or("-".into(), |c| c.to_string()),
                    r.files,
                    if r.current { "  (current)" } else { "" }
                );
            }
            Ok(())
        }
    }
}

fn public_key(cfg: &Config, given: Option<&str>) -> Result<PublicKey> {
    match given {
        Some(k) if Path::new(k).is_file() => {
            let text = std::fs::read_to_string(k).with_context(|| format!("cannot read {k}"))?;
            Ok(PublicKey::parse(&text)?)
        }
        Some(k) => Ok(PublicKey::parse(k)?),
        None => match NodeKey::load(&key_path(&cfg.data))? {
            Some(k) => Ok(k.public()),
            None => bail!(
                "no key to verify with: give the signer's public key with --key (`ceir node key` prints it on the node that signed)"
            ),
        },
    }
}

fn verify(cfg: &Config, path: &Path, key: Option<&str>, operator: Option<&str>) -> Result<()> {
    let key = public_key(cfg, key)?;
    let v = ceir_lists::verify(path, &key, operator)?;
    println!("manifest {}", v.manifest_path.display());
    if let Some(m) = &v.manifest {
        println!(
            "run {} of {}, date {}, signed by key {}",
            m.run, m.country, m.date, m.key_id
        );
    }
    for p in &v.problems {
        println!("BAD  {p}");
    }
    if v.ok() {
        println!(
            "OK   signature valid (key {}), {} files match",
            key.key_id(),
            v.files_checked
        );
        Ok(())
    } else {
        bail!(
            "{} problem(s): do not use these lists; fetch them again from the node",
            v.problems.len()
        )
    }
}

/// One classification state row: IMEI, condition label, end, block date, amnesty.
pub type StateRowParts = (ImeiNorm, String, Option<Day>, Option<Day>, bool);

/// What list generation reads from classification and the observation store. Owned, so the
/// `ceir` binary can fill it from `ceir_classify::StateStore::current()` and
/// `ceir_observe::ObservationStore::load(date - lookback + 1, date)`.
#[derive(Debug, Default)]
pub struct Classification {
    pub run: Option<u64>,
    pub date: Option<Day>,
    pub conditions: Vec<Condition>,
    pub rows: Vec<StateRowParts>,
    pub triplet_operators: Vec<String>,
    pub raw_imeis: Vec<String>,
    pub triplets: Vec<Triplet>,
    pub golden: HashSet<u64>,
    pub barred: HashSet<u64>,
}

/// The classification the lists are made from: the last committed `ceir classify` run and the
/// observations of the lookback window before its date (or `date`).
fn classification(data: &Path, date: Option<Day>) -> Result<Option<Classification>> {
    let Some(c) = ceir_classify::StateStore::open(&data.join("classification"))?.current()? else {
        return Ok(None);
    };
    let date = date.unwrap_or(c.run.date);
    let lookback = ListConfig::default().lookback_days as i32;
    let batch = ceir_observe::ObservationStore::open(&data.join("observations"))?
        .load(date.plus(1 - lookback), date)?;
    Ok(Some(Classification {
        run: Some(c.run.id),
        date: Some(c.run.date),
        conditions: c
            .conditions
            .iter()
            .map(|k| Condition {
                label: k.label.clone(),
                reason: k.reason.clone(),
                blocking: k.blocking,
            })
            .collect(),
        rows: c
            .rows
            .into_iter()
            .map(|r| (r.imei, r.condition, r.end, r.block_date, r.amnesty))
            .collect(),
        triplet_operators: batch.operators,
        raw_imeis: batch.raw_imeis,
        triplets: batch.triplets,
        golden: HashSet::new(),
        barred: HashSet::new(),
    }))
}

async fn generate(
    cfg: &Config,
    store: &dyn Store,
    date: Option<Day>,
    full_base: bool,
) -> Result<()> {
    let Some(mut c) = classification(&cfg.data, date)? else {
        bail!(
            "no classification to make lists from in {}: import operator data and run `ceir classify` first",
            cfg.data.join("classification").display()
        );
    };
    let region = cfg.region()?;
    c.golden = golden_among(store, &c.rows).await?;
    c.barred = store
        .list_subjects(ListKind::Blocked)
        .await?
        .into_iter()
        .filter_map(|(subject, reason)| match subject {
            Subject::Imei(i) if reason == Reason::Other => Some(i.body()),
            _ => None,
        })
        .collect();
    let snap = store.snapshot().await?;
    let pairings = pairings_of(&snap.pairs);
    let barred_tacs: HashSet<u32> = snap.barred_tacs.iter().copied().collect();
    let date = match date.or(c.date) {
        Some(d) => d,
        None => bail!("no list date: give --date yyyy-mm-dd"),
    };
    let started = std::time::Instant::now();
    let summary = generate_lists(
        &cfg.data,
        &cfg.country,
        &c,
        date,
        &pairings,
        &barred_tacs,
        &region,
        &ListConfig::default(),
        full_base,
    )?;
    print_summary(&summary, started.elapsed());
    Ok(())
}

/// The classified IMEIs that are on the golden list, which may hold IMEIs in clear or only their
/// MD5 (DIRBS's pre-hashed form), so each candidate is hashed as DIRBS does.
async fn golden_among(store: &dyn Store, rows: &[StateRowParts]) -> Result<HashSet<u64>> {
    let golden = store.golden_imeis().await?;
    if golden.is_empty() {
        return Ok(HashSet::new());
    }
    let hashes: HashSet<String> = golden.into_iter().map(|g| g.hash).collect();
    Ok(rows
        .iter()
        .filter_map(|r| r.0.body())
        .filter(|b| hashes.contains(&ceir_domain::lists::golden_hash(&format!("{b:014}"))))
        .collect())
}

/// Exception pairs of the registry as list pairings (the registry's pairings carry no MSISDN).
pub fn pairings_of(pairs: &[(u64, u64)]) -> Vec<Pairing> {
    pairs
        .iter()
        .filter_map(|&(imei, imsi)| {
            let imsi = Imsi::from_key(imsi).ok()?;
            Some(Pairing {
                imei,
                imsi: IdKey::parse(imsi.to_string().as_bytes()),
                msisdn: IdKey::NULL,
            })
        })
        .collect()
}

/// Computes and publishes the lists of `c`, signed with the node's key (created on first use).
#[allow(clippy::too_many_arguments)]
pub fn generate_lists(
    data: &Path,
    country: &str,
    c: &Classification,
    date: Day,
    pairings: &[Pairing],
    barred_tacs: &HashSet<u32>,
    region: &Region,
    config: &ListConfig,
    full_base: bool,
) -> Result<RunSummary> {
    let key = NodeKey::load_or_create(&key_path(data))?;
    let input = ListInput {
        date,
        lookback_end: date,
        conditions: &c.conditions,
        triplets: &c.triplets,
        triplet_operators: &c.triplet_operators,
        raw_imeis: &c.raw_imeis,
        pairings,
        golden: &c.golden,
        barred: &c.barred,
        barred_tacs,
        region,
        config,
    };
    let rows = c
        .rows
        .iter()
        .map(|(imei, condition, end, block_date, amnesty)| Row {
            imei,
            condition,
            end: *end,
            block_date: *block_date,
            amnesty: *amnesty,
        });
    let lists = ceir_lists::compute(&input, rows)?;
    let meta = PublishMeta {
        country: country.into(),
        classification_run: c.run,
        full_base,
    };
    Ok(ceir_lists::publish(&lists_root(data), &lists, &key, &meta)?)
}

fn print_summary(s: &RunSummary, elapsed: std::time::Duration) {
    let m = &s.manifest;
    println!(
        "lists run-{} for {} (deltas against {}), signed by key {}",
        m.run,
        m.date,
        match (m.previous_run, m.full_base) {
            (Some(p), _) => format!("run-{p}"),
            (None, true) => "an empty base (--full-base): operators reload the full lists".into(),
            (None, false) => "nothing: first run".into(),
        },
        m.key_id
    );
    let rows = |p: &str| m.file(p).map_or(0, |f| f.rows);
    println!(
        "blocklist      {:>10} IMEIs   delta: {} blocked, {} unblocked, {} changed",
        rows("blocklist.csv"),
        rows("blocklist_delta_blocked.csv"),
        rows("blocklist_delta_unblocked.csv"),
        rows("blocklist_delta_changed.csv")
    );
    for op in &m.operators {
        let r = |f: &str| rows(&format!("{}/{f}", op.id));
        println!(
            "{:<14} notifications {:>8} (new {}, resolved {}, blacklisted {}, no longer seen {}, changed {}), exceptions {:>8} (added {}, removed {})",
            op.id,
            r("notifications.csv"),
            r("notifications_delta_new.csv"),
            r("notifications_delta_resolved.csv"),
            r("notifications_delta_blacklisted.csv"),
            r("notifications_delta_no_longer_seen.csv"),
            r("notifications_delta_changed.csv"),
            r("exceptions.csv"),
            r("exceptions_delta_added.csv"),
            r("exceptions_delta_removed.csv"),
        );
    }
    println!(
        "{} files in {} ({:.2} s); check them with `ceir lists verify {}`",
        m.files.len(),
        s.dir.display(),
        elapsed.as_secs_f64(),
        s.dir.display()
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn registry_pairs_become_pairings_and_lists_are_published() {
        let imsi = Imsi::parse("400011234567890").unwrap();
        let p = pairings_of(&[(35_000_000_000_001, imsi.key())]);
        assert_eq!(p[0].imsi, IdKey::parse(b"400011234567890"));
        let dir = tempfile::tempdir().unwrap();
        let c = Classification {
            run: Some(4),
            conditions: vec![Condition {
                label: "stolen_list".into(),
                reason: "stolen".into(),
                blocking: true,
            }],
            rows: vec![(
                ImeiNorm::Body(35_000_000_000_002),
                "stolen_list".into(),
                None,
                Day::parse_iso("2026-11-01"),
                false,
            )],
            ..Classification::default()
        };
        let region = Region::default_for("AZ").unwrap();
        let s = generate_lists(
            dir.path(),
            "AZ",
            &c,
            Day::parse_iso("2026-11-02").unwrap(),
            &p,
            &HashSet::new(),
            &region,
            &ListConfig::default(),
            false,
        )
        .unwrap();
        assert_eq!(s.manifest.classification_run, Some(4));
        assert_eq!(s.manifest.file("blocklist.csv").unwrap().rows, 1);
        assert_eq!(s.manifest.file("azercell/exceptions.csv").unwrap().rows, 1);
        let key = NodeKey::load(&key_path(dir.path())).unwrap().unwrap();
        assert!(ceir_lists::verify(dir.path(), &key.public(), None)
            .unwrap()
            .ok());
    }
}
