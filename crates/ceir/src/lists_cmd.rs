//! `ceir lists generate|verify|runs` and `ceir node key`: the operator lists of `DIR/lists` and
//! the node's signing key `DIR/node.key`.

use crate::config::Config;
use crate::UsageError;
use anyhow::{bail, Context, Result};
use ceir_domain::classify::ListFlags;
use ceir_domain::lists::{ListKind, Reason};
use ceir_domain::observe::{Day, IdKey, ImeiNorm, Region, Triplet};
use ceir_domain::{Clock, Imsi, ManualClock};
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
        /// The list date (yyyy-mm-dd): IMEIs whose block date has come by then are blocklisted,
        /// later ones notified. Default today, as DIRBS lists use the day they are made.
        #[arg(long)]
        date: Option<String>,
        /// Make the deltas against an empty base instead of the latest run, when its snapshot is
        /// lost or damaged or the list configuration changed: the manifest says so, and
        /// operators reload the full lists. Earlier runs stay published.
        #[arg(long)]
        full_base: bool,
        /// The conditions file whose amnesty applies (the `amnesty_granted` column); default
        /// DIR/conditions.toml, else the built-in conditions, as for `ceir classify`.
        #[arg(long)]
        conditions: Option<PathBuf>,
    },
    /// Check a set of lists: the manifest's signature and every file's size and SHA-256, and
    /// that no file beside it is unlisted. Exit code 2 when anything is wrong, 1 when nothing
    /// could be checked (no manifest there, a bad key, an operator the run does not know).
    Verify {
        /// A run directory (DIR/lists/run-<n>), its manifest.json, DIR/lists (the current run), or
        /// the directory an operator saved its files in (with their manifest.json and .sig).
        path: PathBuf,
        /// The signer's public key (`ed25519:<hex>` as `ceir node key` prints it, or a file
        /// holding it); default this node's own key.
        #[arg(long)]
        key: Option<String>,
        /// Check this operator's own signed manifest and files (what it downloads).
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

pub async fn run(
    cfg: &Config,
    store: Option<&dyn Store>,
    clock: &dyn Clock,
    cmd: ListsCmd,
) -> Result<()> {
    match cmd {
        ListsCmd::Generate {
            date,
            full_base,
            conditions,
        } => {
            let date = date
                .map(|d| {
                    Day::parse_iso(&d).ok_or_else(|| {
                        UsageError(format!("--date {d:?} is not a date: give yyyy-mm-dd"))
                    })
                })
                .transpose()?;
            let Some(store) = store else {
                bail!("generating lists needs the store")
            };
            generate(cfg, store, clock, date, full_base, conditions.as_deref()).await
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
    // Anything that stops the check before it starts is the command line's to fix (exit code
    // 1); exit code 2 means the lists were checked and are not to be used.
    let usage = |e: anyhow::Error| anyhow::Error::new(UsageError(format!("{e:#}")));
    let key = public_key(cfg, key).map_err(usage)?;
    let v = ceir_lists::verify(path, &key, operator).map_err(|e| usage(e.into()))?;
    println!("manifest {}", v.manifest_path.display());
    if let Some(m) = &v.manifest {
        println!(
            "run {} of {}, date {}, signed by key {}{}",
            m.run,
            m.country,
            m.date,
            m.key_id,
            m.operator
                .as_ref()
                .map(|o| format!(", lists of {o}"))
                .unwrap_or_default()
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

/// The list date and the last day of the lookback window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListDates {
    pub date: Day,
    pub lookback_end: Day,
}

/// DIRBS's dates: the list date is the one given, else today; the lookback window ends on the
/// date given, else on the last day observed (operator data lags), never after today.
pub fn list_dates(given: Option<Day>, clock: &dyn Clock, last_observed: Option<Day>) -> ListDates {
    match given {
        Some(date) => ListDates {
            date,
            lookback_end: date,
        },
        None => {
            let today = Day::of(clock.now());
            ListDates {
                date: today,
                lookback_end: last_observed.map_or(today, |l| l.min(today)),
            }
        }
    }
}

/// The classification the lists are made from: the last committed `ceir classify` run, and the
/// observations of the lookback window.
fn classification(
    data: &Path,
    given: Option<Day>,
    clock: &dyn Clock,
    lookback_days: u32,
) -> Result<Option<(Classification, ListDates)>> {
    let Some(c) = ceir_classify::StateStore::open(&data.join("classification"))?.current()? else {
        return Ok(None);
    };
    let observations = ceir_observe::ObservationStore::open(&data.join("observations"))?;
    let dates = list_dates(given, clock, observations.last_day()?);
    let end = dates.lookback_end;
    let batch = observations.load(end.plus(1 - lookback_days as i32), end)?;
    Ok(Some((
        Classification {
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
        },
        dates,
    )))
}

/// The IMEIs classification counts as barred: blocked for any reason but theft or loss
/// ([`ListFlags::of_entry`]), so the exception lists leave out the same devices that
/// `exists_in_barred_list` matches.
pub fn barred_imeis(memberships: &[(ListKind, u64, Reason)]) -> HashSet<u64> {
    memberships
        .iter()
        .filter(|(list, _, reason)| {
            *list == ListKind::Blocked
                && ListFlags::of_entry(*list, *reason).is_some_and(|f| f.has(ListFlags::BARRED))
        })
        .map(|(_, imei, _)| *imei)
        .collect()
}

/// The settings lists are made with: `[lists]`, and the amnesty of the conditions in force.
pub fn list_config(cfg: &Config, conditions: &ceir_domain::classify::Conditions) -> ListConfig {
    cfg.lists.list_config(conditions.amnesty.enabled)
}

async fn generate(
    cfg: &Config,
    store: &dyn Store,
    clock: &dyn Clock,
    date: Option<Day>,
    full_base: bool,
    conditions: Option<&Path>,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let (conditions, _) = crate::classify::load_conditions(&cfg.data, conditions)?;
    let config = list_config(cfg, &conditions);
    let region = cfg.region()?;
    // The files (classification state, observations) are read beside the registry, one a core.
    let files = {
        let data = cfg.data.clone();
        let clock = ManualClock::at(clock.now());
        let lookback = config.lookback_days;
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            classification(&data, date, &clock, lookback).map(|c| (c, t.elapsed()))
        })
    };
    let t = std::time::Instant::now();
    let golden = store.golden_imeis().await?;
    let memberships = store
        .memberships(&[ListKind::Blocked, ListKind::BarredTac])
        .await?;
    let pairings = pairings(&store.exception_pairings().await?);
    let t_registry = t.elapsed();
    let (found, t_files) = files.await??;
    let Some((mut c, dates)) = found else {
        bail!(
            "no classification to make lists from in {}: import operator data and run `ceir classify` first",
            cfg.data.join("classification").display()
        );
    };
    if let Some(d) = c.date.filter(|d| *d > dates.date) {
        eprintln!(
            "note: the list date {} is before the classification's date {d}",
            dates.date
        );
    }
    c.golden = golden_among(golden, &c.rows);
    c.barred = barred_imeis(&memberships);
    let barred_tacs = memberships
        .iter()
        .filter(|(list, _, _)| *list == ListKind::BarredTac)
        .map(|(_, tac, _)| u32::try_from(*tac))
        .collect::<Result<HashSet<u32>, _>>()?;
    let loaded = (t_files, t_registry, t0.elapsed());
    let started = std::time::Instant::now();
    let summary = generate_lists(
        &cfg.data,
        &cfg.country,
        &c,
        &Generation {
            dates,
            pairings: &pairings,
            barred_tacs: &barred_tacs,
            region: &region,
            config: &config,
            full_base,
        },
    )?;
    print_summary(&summary, loaded, started.elapsed());
    Ok(())
}

/// The classified IMEIs that are on the golden list, which may hold IMEIs in clear or only their
/// MD5 (DIRBS's pre-hashed form), so each candidate is hashed as DIRBS does.
fn golden_among(
    golden: Vec<ceir_domain::lists::GoldenImei>,
    rows: &[StateRowParts],
) -> HashSet<u64> {
    if golden.is_empty() {
        return HashSet::new();
    }
    let hashes: HashSet<String> = golden.into_iter().map(|g| g.hash).collect();
    rows.iter()
        .filter_map(|r| r.0.body())
        .filter(|b| hashes.contains(&ceir_domain::lists::golden_hash(&format!("{b:014}"))))
        .collect()
}

/// The pairings of the exception lists: the registry's exception pairs, each with the MSISDNs
/// the DIRBS pairing list gave it (a pair added by hand has none).
pub fn pairings(rows: &[ceir_store::ExceptionPairing]) -> Vec<Pairing> {
    rows.iter()
        .filter_map(|p| {
            pairing(
                p.imei.body(),
                p.imsi.key(),
                p.msisdn.as_ref().map(|m| m.as_str()),
            )
        })
        .collect()
}

/// One pairing: an IMEI body, an IMSI as the store keys it, and the MSISDN when known (digits;
/// anything else is left out of the list, as DIRBS leaves an unclean MSISDN).
pub fn pairing(imei: u64, imsi: u64, msisdn: Option<&str>) -> Option<Pairing> {
    let imsi = Imsi::from_key(imsi).ok()?;
    let msisdn = msisdn
        .map(|m| IdKey::parse(m.as_bytes()))
        .filter(|k| k.is_valid())
        .unwrap_or(IdKey::NULL);
    Some(Pairing {
        imei,
        imsi: IdKey::parse(imsi.to_string().as_bytes()),
        msisdn,
    })
}

/// What a generation uses besides the classification.
#[derive(Debug)]
pub struct Generation<'a> {
    pub dates: ListDates,
    pub pairings: &'a [Pairing],
    pub barred_tacs: &'a HashSet<u32>,
    pub region: &'a Region,
    pub config: &'a ListConfig,
    /// Deltas against an empty base (`--full-base`).
    pub full_base: bool,
}

/// Computes and publishes the lists of `c`, signed with the node's key (created on first use).
pub fn generate_lists(
    data: &Path,
    country: &str,
    c: &Classification,
    g: &Generation<'_>,
) -> Result<RunSummary> {
    let key = NodeKey::load_or_create(&key_path(data))?;
    let input = ListInput {
        date: g.dates.date,
        lookback_end: g.dates.lookback_end,
        conditions: &c.conditions,
        triplets: &c.triplets,
        triplet_operators: &c.triplet_operators,
        raw_imeis: &c.raw_imeis,
        pairings: g.pairings,
        golden: &c.golden,
        barred: &c.barred,
        barred_tacs: g.barred_tacs,
        region: g.region,
        config: g.config,
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
        full_base: g.full_base,
    };
    Ok(ceir_lists::publish(&lists_root(data), &lists, &key, &meta)?)
}

/// `loaded`: reading the classification and observations, beside the registry's lists; both.
fn print_summary(
    s: &RunSummary,
    loaded: (
        std::time::Duration,
        std::time::Duration,
        std::time::Duration,
    ),
    elapsed: std::time::Duration,
) {
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
        "{} files in {}; check them with `ceir lists verify {}`; each operator's own signed \
         manifest is in its directory",
        m.files.len(),
        s.dir.display(),
        s.dir.display()
    );
    println!(
        "load {:.2} s (classification and observations {:.2} beside registry {:.2}), compute, write and sign {:.2} s",
        loaded.2.as_secs_f64(),
        loaded.0.as_secs_f64(),
        loaded.1.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ceir_domain::Timestamp;

    const STOLEN: u64 = 35_000_000_000_002;
    const PAIRED: u64 = 35_000_000_000_001;

    fn day(s: &str) -> Day {
        Day::parse_iso(s).unwrap()
    }

    fn clock_on(d: Day) -> ManualClock {
        // Midday, so that the day is the same in any reading of the timestamp.
        ManualClock::at(Timestamp(i64::from(d.0) * 86_400_000 + 43_200_000))
    }

    fn classification(rows: Vec<StateRowParts>) -> Classification {
        Classification {
            run: Some(4),
            date: Some(day("2026-11-01")),
            conditions: vec![
                Condition {
                    label: "stolen_list".into(),
                    reason: "stolen".into(),
                    blocking: true,
                },
                Condition {
                    label: "not_on_registration_list".into(),
                    reason: "not_registered".into(),
                    blocking: true,
                },
            ],
            rows,
            ..Classification::default()
        }
    }

    fn generation<'a>(
        dates: ListDates,
        pairings: &'a [Pairing],
        region: &'a Region,
        config: &'a ListConfig,
    ) -> Generation<'a> {
        static NO_TACS: std::sync::OnceLock<HashSet<u32>> = std::sync::OnceLock::new();
        Generation {
            dates,
            pairings,
            barred_tacs: NO_TACS.get_or_init(HashSet::new),
            region,
            config,
            full_base: false,
        }
    }

    #[test]
    fn registry_pairs_become_pairings_and_lists_are_published() {
        let imsi = Imsi::parse("400011234567890").unwrap();
        let row = |msisdn: Option<&str>| ceir_store::ExceptionPairing {
            imei: ceir_domain::Imei::from_body(PAIRED).unwrap(),
            imsi,
            msisdn: msisdn.map(|m| ceir_domain::ids::PairingMsisdn::parse(m).unwrap()),
        };
        let p = pairings(&[row(None), row(Some("994501234567"))]);
        assert_eq!(p[0].imsi, IdKey::parse(b"400011234567890"));
        assert_eq!(p[0].msisdn, IdKey::NULL);
        assert_eq!(p[1].msisdn, IdKey::parse(b"994501234567"));
        let dir = tempfile::tempdir().unwrap();
        let c = classification(vec![(
            ImeiNorm::Body(STOLEN),
            "stolen_list".into(),
            None,
            Some(day("2026-11-01")),
            false,
        )]);
        let region = Region::default_for("AZ").unwrap();
        let config = ListConfig::default();
        let d = day("2026-11-02");
        let dates = list_dates(Some(d), &clock_on(d), None);
        let s = generate_lists(
            dir.path(),
            "AZ",
            &c,
            // The store gives one shape per pair: the pairing list's MSISDNs, or none.
            &generation(dates, &p[1..], &region, &config),
        )
        .unwrap();
        assert_eq!(s.manifest.classification_run, Some(4));
        assert_eq!(s.manifest.file("blocklist.csv").unwrap().rows, 1);
        assert_eq!(s.manifest.file("azercell/exceptions.csv").unwrap().rows, 1);
        assert!(
            std::fs::read_to_string(s.dir.join("azercell/exceptions.csv"))
                .unwrap()
                .ends_with(",400011234567890,994501234567\r\n")
        );
        let key = NodeKey::load(&key_path(dir.path())).unwrap().unwrap();
        assert!(ceir_lists::verify(dir.path(), &key.public(), None)
            .unwrap()
            .ok());
    }

    #[test]
    fn a_pairing_carries_its_msisdn_to_the_exception_list() {
        let imsi = Imsi::parse("400011234567890").unwrap().key();
        let p = pairing(PAIRED, imsi, Some("994501234567")).unwrap();
        assert_eq!(p.msisdn, IdKey::parse(b"994501234567"));
        assert_eq!(
            pairing(PAIRED, imsi, Some("+99450")).unwrap().msisdn,
            IdKey::NULL
        );
        let dir = tempfile::tempdir().unwrap();
        let region = Region::default_for("AZ").unwrap();
        let config = ListConfig::default();
        let d = day("2026-11-02");
        let s = generate_lists(
            dir.path(),
            "AZ",
            &classification(Vec::new()),
            &generation(
                list_dates(Some(d), &clock_on(d), None),
                &[p],
                &region,
                &config,
            ),
        )
        .unwrap();
        let text = std::fs::read_to_string(s.dir.join("azercell/exceptions.csv")).unwrap();
        assert_eq!(
            text,
            "imei,imsi,msisdn\r\n35000000000001,400011234567890,994501234567\r\n"
        );
    }

    #[test]
    fn a_paired_imei_blocked_for_any_reason_but_theft_is_barred_from_exception_lists() {
        let blocked = vec![
            (ListKind::Blocked, PAIRED, Reason::Counterfeit),
            (ListKind::Blocked, 35_000_000_000_003, Reason::Stolen),
            (ListKind::Blocked, 35_000_000_000_004, Reason::Lost),
            (ListKind::Blocked, 35_000_000_000_005, Reason::Other),
            (ListKind::BarredTac, 35_000_000, Reason::Counterfeit),
        ];
        // What classification counts as barred (exists_in_barred_list), and nothing else.
        let want: HashSet<u64> = blocked
            .iter()
            .filter(|(l, _, r)| ListFlags::of_entry(*l, *r) == Some(ListFlags::BARRED))
            .map(|(_, s, _)| *s)
            .collect();
        let barred = barred_imeis(&blocked);
        assert_eq!(barred, want);
        assert_eq!(barred, [PAIRED, 35_000_000_000_005].into());
        let imsi = Imsi::parse("400011234567890").unwrap().key();
        let p = [pairing(PAIRED, imsi, None).unwrap()];
        let region = Region::default_for("AZ").unwrap();
        let d = day("2026-11-02");
        let mut c = classification(Vec::new());
        c.barred = barred;
        let publish = |config: &ListConfig| {
            let dir = tempfile::tempdir().unwrap();
            let dates = list_dates(Some(d), &clock_on(d), None);
            let s = generate_lists(
                dir.path(),
                "AZ",
                &c,
                &generation(dates, &p, &region, config),
            )
            .unwrap();
            s.manifest.file("azercell/exceptions.csv").unwrap().rows
        };
        assert_eq!(publish(&ListConfig::default()), 0);
        let include = ListConfig {
            include_barred_in_exceptions: true,
            ..ListConfig::default()
        };
        assert_eq!(publish(&include), 1);
    }

    #[test]
    fn the_list_date_is_today_unless_given() {
        let classified = day("2026-11-01");
        let today = classified.plus(10);
        let clock = clock_on(today);
        // DIRBS: the job's date; the lookback window ends where the observations do.
        assert_eq!(
            list_dates(None, &clock, Some(classified)),
            ListDates {
                date: today,
                lookback_end: classified
            }
        );
        assert_eq!(
            list_dates(None, &clock, Some(today.plus(3))).lookback_end,
            today
        );
        assert_eq!(list_dates(None, &clock, None).lookback_end, today);
        let given = day("2026-11-03");
        assert_eq!(
            list_dates(Some(given), &clock, Some(classified)),
            ListDates {
                date: given,
                lookback_end: given
            }
        );
        // A block date between the classification's date and today has come: blocklisted.
        let c = classification(vec![(
            ImeiNorm::Body(STOLEN),
            "not_on_registration_list".into(),
            None,
            Some(classified.plus(5)),
            false,
        )]);
        let region = Region::default_for("AZ").unwrap();
        let config = ListConfig::default();
        let dir = tempfile::tempdir().unwrap();
        let dates = list_dates(None, &clock, Some(classified));
        let s = generate_lists(
            dir.path(),
            "AZ",
            &c,
            &generation(dates, &[], &region, &config),
        )
        .unwrap();
        assert_eq!(s.manifest.date, today.to_string());
        assert_eq!(s.manifest.file("blocklist.csv").unwrap().rows, 1);
    }

    #[test]
    fn the_amnesty_of_the_conditions_in_force_adds_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data: dir.path().to_owned(),
            ..Config::default()
        };
        let (built_in, _) = crate::classify::load_conditions(dir.path(), None).unwrap();
        assert!(!list_config(&cfg, &built_in).amnesty_enabled);
        let with_amnesty = crate::classify::DEFAULT_CONDITIONS.replace(
            "[amnesty]\nenabled = false",
            "[amnesty]\nenabled = true\nevaluation_period_end_date = \"2026-12-31\"\n\
             amnesty_period_end_date = \"2027-06-30\"",
        );
        assert_ne!(with_amnesty, crate::classify::DEFAULT_CONDITIONS);
        std::fs::write(dir.path().join("conditions.toml"), with_amnesty).unwrap();
        let (conditions, _) = crate::classify::load_conditions(dir.path(), None).unwrap();
        let config = list_config(&cfg, &conditions);
        assert!(config.amnesty_enabled);
        assert_eq!(config.lookback_days, cfg.lists.lookback_days);
        let c = classification(vec![(
            ImeiNorm::Body(STOLEN),
            "not_on_registration_list".into(),
            None,
            Some(day("2026-12-01")),
            true,
        )]);
        let region = Region::default_for("AZ").unwrap();
        let d = day("2026-11-02");
        let s = generate_lists(
            dir.path(),
            "AZ",
            &c,
            &generation(
                list_dates(Some(d), &clock_on(d), None),
                &[],
                &region,
                &config,
            ),
        )
        .unwrap();
        let text = std::fs::read_to_string(s.dir.join("nar/notifications.csv")).unwrap();
        assert_eq!(
            text,
            "imei,imsi,msisdn,block_date,reasons,amnesty_granted\r\n"
        );
        assert!(s.manifest.config.amnesty_enabled);
    }
}
