//! ceir's observation store: operator network triplets (one IMEI, IMSI and MSISDN on one
//! operator's network over one month) as Apache Parquet, Hive-partitioned so that DataFusion,
//! DuckDB or Spark read the same files:
//!
//! ```text
//! DIR/observations/_manifest.json                       the only thing readers follow
//! DIR/observations/month=2026-10/operator=azercell/g00000003.triplets.parquet
//! DIR/observations/month=2026-10/operator=azercell/g00000003.imeis.parquet
//! ```
//!
//! An import writes new files under temporary names, fsyncs them, renames them to fresh
//! generation-numbered names no manifest mentions yet, then publishes every touched partition
//! with one atomic rename of `_manifest.json`. A kill at any point leaves the previous manifest,
//! and the next writer removes whatever no manifest references.

mod manifest;
mod parquet_io;

pub use manifest::{ImportRecord, Manifest, PartitionInfo};
pub use parquet_io::{imeis_schema, triplets_schema};

use ceir_domain::observe::{Day, IdKey, ImeiKey, ImeiSeen, Triplet};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// File name endings of the two tables, so external engines can select one with a glob
/// (`*/*/*.triplets.parquet`) while both live in the same Hive partition directory.
pub const TRIPLETS_SUFFIX: &str = ".triplets.parquet";
pub const IMEIS_SUFFIX: &str = ".imeis.parquet";
const MANIFEST: &str = "_manifest.json";
const LOCK: &str = "_lock";
/// Scratch space for importers (sorted runs spilled to disk), emptied when a writer starts.
const SPILL: &str = "_spill";
const TMP_SUFFIX: &str = ".tmp";

/// Why the observation store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    #[error("the observation store is damaged: {0}")]
    Corrupt(String),
    #[error("another import holds the observation store's lock ({}); wait for it to finish", .0.display())]
    Busy(PathBuf),
    #[error("the triplets handed to the store are not in order: {0}")]
    Unsorted(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ObserveError + '_ {
    move |source| ObserveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Stored triplets, ready for classification and list generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TripletBatch {
    /// `Triplet.operator` indexes this (operator ids from file names).
    pub operators: Vec<String>,
    /// `ImeiKey::raw(i)` indexes this (malformed IMEIs, upper-cased), sorted, so that key order
    /// is text order among malformed IMEIs.
    pub raw_imeis: Vec<String>,
    pub triplets: Vec<Triplet>,
    /// For [`ObservationStore::load_for_classification`]: what months before the loaded ones
    /// saw of each IMEI, one record per IMEI, sorted by key (raw keys index `raw_imeis` too).
    pub history: Vec<ImeiSeen>,
}

impl TripletBatch {
    /// The IMEI as DIRBS normalises it: 14 digits, or the malformed value.
    pub fn imei_text(&self, k: ImeiKey) -> String {
        match (k.as_body(), k.raw_index()) {
            (Some(b), _) => format!("{b:014}"),
            (None, Some(i)) => self.raw_imeis.get(i as usize).cloned().unwrap_or_default(),
            (None, None) => String::new(),
        }
    }
}

/// The texts behind the keys of one source of triplets: malformed IMEIs by raw index and
/// unclean IMSIs/MSISDNs by key (their keys are hashes, so the text must travel alongside).
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    pub raw_imeis: &'a [String],
    pub unclean_ids: &'a HashMap<u64, String>,
}

impl Texts<'_> {
    fn raw(&self, k: ImeiKey) -> &str {
        k.raw_index()
            .and_then(|i| self.raw_imeis.get(i as usize))
            .map_or("", String::as_str)
    }
}

/// The order of triplets within a partition and of an import's stream: month, then IMEI (well
/// formed by value, then malformed by text), IMSI key, MSISDN key.
pub fn triplet_order(a: &Triplet, ta: Texts<'_>, b: &Triplet, tb: Texts<'_>) -> Ordering {
    a.month
        .cmp(&b.month)
        .then_with(|| imei_order(a.imei, ta, b.imei, tb))
        .then_with(|| a.imsi.cmp(&b.imsi))
        .then_with(|| a.msisdn.cmp(&b.msisdn))
}

/// Well-formed IMEIs by value, before malformed ones by text.
pub fn imei_order(a: ImeiKey, ta: Texts<'_>, b: ImeiKey, tb: Texts<'_>) -> Ordering {
    match (a.as_body(), b.as_body()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => ta.raw(a).cmp(tb.raw(b)),
    }
}

/// What an import did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The file (by SHA-256) was imported before: nothing was written.
    pub already_imported: bool,
    /// Triplets handed in.
    pub incoming: u64,
    /// Per touched partition: month label, triplets before and after.
    pub partitions: Vec<(String, u64, u64)>,
    /// The manifest generation now current.
    pub generation: u64,
}

/// An import's identity, recorded in the manifest so that the same file is never merged twice.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub operator: &'a str,
    pub sha256: &'a str,
    /// The file name, for the record.
    pub file: &'a str,
    pub texts: Texts<'a>,
}

/// The observation store under `DIR/observations`.
#[derive(Debug, Clone)]
pub struct ObservationStore {
    root: PathBuf,
}

impl ObservationStore {
    /// `root` = DIR/observations; creates it if missing.
    pub fn open(root: &Path) -> Result<ObservationStore, ObserveError> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        Ok(ObservationStore {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current manifest (empty before the first import).
    pub fn manifest(&self) -> Result<Manifest, ObserveError> {
        Manifest::read(&self.root.join(MANIFEST))
    }

    /// Every stored triplet with at least one day in [start, end] (inclusive), all operators,
    /// merged across imports (days and RAT sets OR-ed), sorted by (imei, imsi, msisdn, operator,
    /// month). Day masks are returned whole; `Triplet::days_within` narrows them to the window.
    pub fn load(&self, start: Day, end: Day) -> Result<TripletBatch, ObserveError> {
        self.load_with(start, end, false, None)
    }

    /// What classification reads for an analysis window `[start, end]`:
    /// - every triplet of the months that overlap it, whole: dimensions window their own counts,
    ///   while first sightings and radio technologies are asked of the whole history;
    /// - for every earlier month, each IMEI's first and last sighting and RATs, from the per-IMEI
    ///   aggregates ([`TripletBatch::history`]): DIRBS keeps every IMEI ever seen
    ///   (`network_imeis`), so a device silent for a while is still "seen".
    ///
    /// Triplets first seen after `end` are left out, so that a run for a past date sees the data
    /// as it was then.
    pub fn load_for_classification(
        &self,
        start: Day,
        end: Day,
    ) -> Result<TripletBatch, ObserveError> {
        self.load_with(start, end, true, None)
    }

    /// [`ObservationStore::load_for_classification`] for one IMEI (as DIRBS normalises it),
    /// reading only the row groups and rows that hold it: what one explanation needs.
    pub fn load_imei_for_classification(
        &self,
        imei_norm: &str,
        start: Day,
        end: Day,
    ) -> Result<TripletBatch, ObserveError> {
        self.load_with(start, end, true, Some(imei_norm))
    }

    fn load_with(
        &self,
        start: Day,
        end: Day,
        whole: bool,
        only: Option<&str>,
    ) -> Result<TripletBatch, ObserveError> {
        let manifest = self.manifest()?;
        let mut operators: Vec<String> = Vec::new();
        let mut raw_index: HashMap<String, u32> = HashMap::new();
        let mut raw_imeis: Vec<String> = Vec::new();
        let mut intern = |text: String| -> u32 {
            let next = raw_imeis.len() as u32;
            *raw_index.entry(text).or_insert_with_key(|t| {
                raw_imeis.push(t.clone());
                next
            })
        };
        let mut triplets = Vec::new();
        let mut history: Vec<ImeiSeen> = Vec::new();
        for p in &manifest.partitions {
            let month = p.month_day()?;
            if month > end {
                continue;
            }
            let dir = self.partition_dir(&p.month, &p.operator);
            if month.next_month_start() <= start {
                if whole {
                    let part = parquet_io::read_imeis_seen(&dir.join(&p.imeis_file), only)?;
                    for mut h in part.seen {
                        if let Some(i) = h.imei.raw_index() {
                            let text = part.raw_imeis.get(i as usize).cloned().unwrap_or_default();
                            h.imei = ImeiKey::raw(intern(text));
                        }
                        history.push(h);
                    }
                }
                continue;
            }
            let op = match operators.iter().position(|o| *o == p.operator) {
                Some(i) => i,
                None => {
                    operators.push(p.operator.clone());
                    operators.len() - 1
                }
            };
            let op = u16::try_from(op)
                .map_err(|_| ObserveError::Corrupt("more than 65,535 operators".into()))?;
            let mut part = parquet_io::read_triplets(&dir.join(&p.triplets_file), month, only)?;
            // Filtered in place: a month's triplets are not copied a second time.
            let texts = &part.raw_imeis;
            part.triplets.retain_mut(|t| {
                let keep = if whole {
                    t.days != 0 && t.first_seen() <= end
                } else {
                    t.days_within(start, end) != 0
                };
                if keep {
                    if let Some(i) = t.imei.raw_index() {
                        let text = texts.get(i as usize).cloned().unwrap_or_default();
                        t.imei = ImeiKey::raw(intern(text));
                    }
                    t.operator = op;
                }
                keep
            });
            if triplets.is_empty() {
                triplets = part.triplets;
            } else {
                triplets.append(&mut part.triplets);
            }
        }
        // Renumber malformed IMEIs in text order, so that key order is text order.
        let mut order: Vec<u32> = (0..raw_imeis.len() as u32).collect();
        order.sort_by(|a, b| raw_imeis[*a as usize].cmp(&raw_imeis[*b as usize]));
        let mut new_of = vec![0u32; raw_imeis.len()];
        for (new, old) in order.iter().enumerate() {
            new_of[*old as usize] = new as u32;
        }
        let sorted_raw: Vec<String> = order
            .iter()
            .map(|i| std::mem::take(&mut raw_imeis[*i as usize]))
            .collect();
        let renumber = |k: ImeiKey| match k.raw_index() {
            Some(i) => ImeiKey::raw(new_of[i as usize]),
            None => k,
        };
        for t in &mut triplets {
            t.imei = renumber(t.imei);
        }
        triplets.sort_unstable_by_key(|t| (t.imei, t.imsi, t.msisdn, t.operator, t.month));
        for h in &mut history {
            h.imei = renumber(h.imei);
        }
        history.sort_unstable_by_key(|h| h.imei);
        history.dedup_by(|later, kept| {
            if later.imei == kept.imei {
                *kept = kept.merge(*later);
                true
            } else {
                false
            }
        });
        Ok(TripletBatch {
            operators,
            raw_imeis: sorted_raw,
            triplets,
            history,
        })
    }

    /// The last day any stored data covers (None when empty): classification's default date.
    pub fn last_day(&self) -> Result<Option<Day>, ObserveError> {
        let m = self.manifest()?;
        let mut last = None;
        for p in &m.partitions {
            let d = p.last_day()?;
            if last.is_none_or(|l| d > l) {
                last = Some(d);
            }
        }
        Ok(last)
    }

    fn partition_dir(&self, month: &str, operator: &str) -> PathBuf {
        self.root
            .join(format!("month={month}"))
            .join(format!("operator={operator}"))
    }

    /// Takes the store's write lock (one import at a time) and removes what an interrupted
    /// import left behind: temporary files, files no manifest references, spilled runs.
    pub fn writer(&self) -> Result<Writer, ObserveError> {
        let lock_path = self.root.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(ObserveError::Busy(lock_path)),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let w = Writer {
            store: self.clone(),
            _lock: lock,
        };
        w.clean()?;
        Ok(w)
    }
}

/// The one writer of a store (it holds the lock file until dropped).
#[derive(Debug)]
pub struct Writer {
    store: ObservationStore,
    _lock: File,
}

impl Writer {
    /// Where an importer may spill sorted runs; emptied when a writer starts.
    pub fn spill_dir(&self) -> Result<PathBuf, ObserveError> {
        let d = self.store.root.join(SPILL);
        fs::create_dir_all(&d).map_err(io_err(&d))?;
        Ok(d)
    }

    /// Whether a file with this SHA-256 was imported before.
    pub fn contains_import(&self, sha256: &str) -> Result<bool, ObserveError> {
        Ok(self
            .store
            .manifest()?
            .imports
            .iter()
            .any(|i| i.sha256 == sha256))
    }

    /// Removes everything in the store's directories that the current manifest does not
    /// reference: temporary files of an interrupted import, files of superseded generations.
    pub fn clean(&self) -> Result<Vec<PathBuf>, ObserveError> {
        let root = &self.store.root;
        let manifest = self.store.manifest()?;
        let mut keep = std::collections::HashSet::new();
        for p in &manifest.partitions {
            let dir = self.store.partition_dir(&p.month, &p.operator);
            keep.insert(dir.join(&p.triplets_file));
            keep.insert(dir.join(&p.imeis_file));
        }
        let mut removed = Vec::new();
        for month in read_dir(root)? {
            let name = file_name(&month);
            if name.ends_with(TMP_SUFFIX) {
                remove(&month, &mut removed)?;
                continue;
            }
            if name == SPILL {
                for f in read_dir(&month)? {
                    remove(&f, &mut removed)?;
                }
                continue;
            }
            if !name.starts_with("month=") || !month.is_dir() {
                continue;
            }
            for op in read_dir(&month)? {
                if !file_name(&op).starts_with("operator=") || !op.is_dir() {
                    continue;
                }
                for f in read_dir(&op)? {
                    let n = file_name(&f);
                    let ours = n.ends_with(TMP_SUFFIX)
                        || n.ends_with(TRIPLETS_SUFFIX)
                        || n.ends_with(IMEIS_SUFFIX);
                    if ours && !keep.contains(&f) {
                        remove(&f, &mut removed)?;
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Merges one import's triplets into the store and publishes the result atomically.
    ///
    /// `triplets` must come in [`triplet_order`] (month first) with distinct keys; their
    /// `operator` field is ignored (the import's operator applies). Each touched partition is
    /// rewritten as the OR-merge of its current file and the new triplets, so that importing
    /// the same data twice gives the same files.
    pub fn import<I>(
        &mut self,
        inc: &Incoming<'_>,
        triplets: I,
    ) -> Result<ImportOutcome, ObserveError>
    where
        I: Iterator<Item = std::io::Result<Triplet>>,
    {
        let mut manifest = self.store.manifest()?;
        if manifest.imports.iter().any(|i| i.sha256 == inc.sha256) {
            return Ok(ImportOutcome {
                already_imported: true,
                generation: manifest.generation,
                ..ImportOutcome::default()
            });
        }
        let generation = manifest.generation + 1;
        let mut outcome = ImportOutcome {
            generation,
            ..ImportOutcome::default()
        };
        let mut written: Vec<PartitionInfo> = Vec::new();
        let mut iter = triplets.peekable();
        let mut prev: Option<Triplet> = None;
        loop {
            let first = match iter.peek() {
                None => break,
                Some(Err(_)) => {
                    return Err(match iter.next() {
                        Some(Err(e)) => io_err(&self.store.root.join(SPILL))(e),
                        _ => ObserveError::Corrupt("lost an error".into()),
                    })
                }
                Some(Ok(t)) => *t,
            };
            let month = first.month;
            let label = month.label_checked()?;
            let dir = self.store.partition_dir(&label, inc.operator);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let current = manifest
                .partitions
                .iter()
                .find(|p| p.month == label && p.operator == inc.operator)
                .cloned();
            let existing = match &current {
                Some(p) => parquet_io::read_triplets(&dir.join(&p.triplets_file), month, None)?,
                None => parquet_io::Part::default(),
            };
            let before = existing.triplets.len() as u64;
            let mut count_in = 0u64;
            let this_month = std::iter::from_fn(|| match iter.peek() {
                Some(Ok(t)) if t.month == month => iter.next(),
                Some(Err(_)) => iter.next(),
                _ => None,
            });
            let checked = this_month.map(|r| {
                let t = r.map_err(io_err(&self.store.root.join(SPILL)))?;
                if let Some(p) = &prev {
                    if triplet_order(p, inc.texts, &t, inc.texts) != Ordering::Less {
                        return Err(ObserveError::Unsorted(format!(
                            "IMEI {:?} month {} after {:?}",
                            t.imei, t.month, p.imei
                        )));
                    }
                }
                if t.days == 0 {
                    return Err(ObserveError::Unsorted(format!(
                        "a triplet of IMEI {:?} has no day",
                        t.imei
                    )));
                }
                prev = Some(t);
                count_in += 1;
                Ok(t)
            });
            let name = format!("g{generation:08}");
            let stats =
                parquet_io::write_partition(&dir, &name, month, &existing, checked, inc.texts)?;
            outcome.incoming += count_in;
            outcome
                .partitions
                .push((label.clone(), before, stats.triplets));
            written.push(PartitionInfo {
                month: label,
                operator: inc.operator.to_owned(),
                triplets_file: format!("{name}{TRIPLETS_SUFFIX}"),
                imeis_file: format!("{name}{IMEIS_SUFFIX}"),
                triplets: stats.triplets,
                imeis: stats.imeis,
                first_day: stats.first_day.to_string(),
                last_day: stats.last_day.to_string(),
            });
        }
        for p in written {
            manifest
                .partitions
                .retain(|q| !(q.month == p.month && q.operator == p.operator));
            manifest.partitions.push(p);
        }
        manifest
            .partitions
            .sort_by(|a, b| (&a.month, &a.operator).cmp(&(&b.month, &b.operator)));
        manifest.generation = generation;
        manifest.imports.push(ImportRecord {
            sha256: inc.sha256.to_owned(),
            operator: inc.operator.to_owned(),
            file: inc.file.to_owned(),
            generation,
        });
        manifest.publish(&self.store.root.join(MANIFEST))?;
        // Superseded files go now; if this is interrupted, the next writer removes them.
        self.clean()?;
        Ok(outcome)
    }
}

trait MonthLabel {
    fn label_checked(self) -> Result<String, ObserveError>;
}

impl MonthLabel for Day {
    fn label_checked(self) -> Result<String, ObserveError> {
        if self.month_start() != self {
            return Err(ObserveError::Unsorted(format!(
                "a triplet's month {self} is not the first day of a month"
            )));
        }
        Ok(self.month_label())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, ObserveError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        out.push(e.map_err(io_err(dir))?.path());
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn remove(p: &Path, removed: &mut Vec<PathBuf>) -> Result<(), ObserveError> {
    let r = if p.is_dir() {
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    };
    match r {
        Ok(()) => {
            removed.push(p.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(p)(e)),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced, then one
/// rename and a directory fsync: readers see the old content or the new, never a mix.
pub(crate) fn publish_file(path: &Path, bytes: &[u8]) -> Result<(), ObserveError> {
    use std::io::Write as _;
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(path)
}

pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

/// Makes a rename in `path`'s directory durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), ObserveError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// The text of an IMSI or MSISDN key: its digits, or the unclean value it was made from.
pub(crate) fn id_text<'a>(
    k: IdKey,
    texts: Texts<'a>,
    buf: &'a mut String,
) -> Result<Option<&'a str>, ObserveError> {
    if k.is_null() {
        return Ok(None);
    }
    if k.is_valid() {
        buf.clear();
        let len = (k.0 >> 50) as usize;
        let v = k.0 & ((1 << 50) - 1);
        use std::fmt::Write as _;
        let _ = write!(buf, "{v:0len$}");
        return Ok(Some(buf.as_str()));
    }
    texts
        .unclean_ids
        .get(&k.0)
        .map(|s| Some(s.as_str()))
        .ok_or_else(|| {
            ObserveError::Corrupt(format!("no text for the unclean identifier key {:#x}", k.0))
        })
}
