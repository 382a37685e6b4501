//! `ceir import stolen|registration|pairing|golden|barred|barred-tac|monitoring FILE [--delta]`:
//! the DIRBS lists, each file applied to the registry in one transaction as the importing
//! organisation's entries (see `ceir_ingest::dirbs_lists` for the checks and the mapping).

use anyhow::{Context, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::lists::Country;
use ceir_domain::lists::GoldenImei;
use ceir_domain::lists::{ListKind, Subject};
use ceir_domain::{Clock, SystemClock, Timestamp};
use ceir_ingest::dirbs_lists::{DirbsList, Held, KeptRow, ListKey, ListRow, SizeThreshold};
use ceir_ingest::dirbs_merge::{sort_list_from, subject_order, GoldenMerger, Merger, SortedList};
use ceir_ingest::IngestError;
use ceir_store::{
    DirbsImport, DirbsRow, Entry, GoldenImport, GoldenReport, ImportJob, ListChange, Store, Verdict,
};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The list file: CSV with a header (plain, .gz or .zip).
    file: PathBuf,
    /// The file is a delta with a change_type column (add, remove; update for stolen and
    /// registration) rather than the complete list.
    #[arg(long)]
    delta: bool,
    /// Import even if the list would shrink past its import size threshold
    /// (`[import.lists.<list>]`, by default DIRBS's).
    #[arg(long)]
    force: bool,
    /// Import as this registered organisation (default: the node's own regulator).
    #[arg(long = "as-org")]
    org: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ListImportCmd {
    /// DIRBS stolen list (imei, reporting_date, status): blocked, reason stolen.
    Stolen(ListArgs),
    /// DIRBS registration list (approved_imei, …, status, device_id): permitted, reason registered.
    Registration(ListArgs),
    /// DIRBS pairing list (imei, imsi, msisdn): exceptions, reason paired.
    Pairing(ListArgs),
    /// DIRBS golden list (golden_imei, in clear or MD5): IMEIs never to be blocked.
    Golden(ListArgs),
    /// DIRBS barred list (imei): blocked, reason other, reference "barred".
    Barred(ListArgs),
    /// DIRBS barred TAC list (tac): barred TACs.
    BarredTac(ListArgs),
    /// DIRBS monitoring list (imei): tracked, reason investigation.
    Monitoring(ListArgs),
}

impl ListImportCmd {
    fn split(self) -> (DirbsList, ListArgs) {
        match self {
            ListImportCmd::Stolen(a) => (DirbsList::Stolen, a),
            ListImportCmd::Registration(a) => (DirbsList::Registration, a),
            ListImportCmd::Pairing(a) => (DirbsList::Pairing, a),
            ListImportCmd::Golden(a) => (DirbsList::Golden, a),
            ListImportCmd::Barred(a) => (DirbsList::Barred, a),
            ListImportCmd::BarredTac(a) => (DirbsList::BarredTac, a),
            ListImportCmd::Monitoring(a) => (DirbsList::Monitoring, a),
        }
    }
}

pub async fn run(cfg: &crate::config::Config, cmd: ListImportCmd) -> Result<()> {
    let (list, a) = cmd.split();
    let size = cfg.import.lists.threshold(list)?;
    let store = crate::open_store(cfg).await?;
    let by = AuditContext::local(crate::local_actor(store.as_ref(), a.org.as_deref()).await?);
    let opts = ListOptions {
        delta: a.delta,
        size: (!a.force).then_some(size),
    };
    let len = std::fs::metadata(&a.file).map_or(0, |m| m.len());
    let pb = crate::progress(len, &format!("reading the {list} list"));
    let (result, job) = import_recorded(
        store.as_ref(),
        list,
        &a.file,
        &opts,
        &by,
        cfg.country()?,
        Some(pb.clone()),
    )
    .await;
    pb.finish_and_clear();
    let job = job?;
    let summary = result?;
    println!("{summary}; job {job}");
    // Classification reads the memberships from a copy patched with what changed since it;
    // after a large list the patch is a full read, better paid here than by the next run. Only
    // the file is brought up to date (streamed), so memory does not grow with the registry.
    let t = std::time::Instant::now();
    let source = crate::membership_cache::refresh(store.as_ref(), &cfg.data).await?;
    println!(
        "classification's copy of the list memberships brought up to date ({source}) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Imports one list file and records the job (`ceir import jobs`): accepted with its summary,
/// refused with the reason a bad file was refused, or failed. Returns the import's result and
/// the job's id.
pub async fn import_recorded(
    store: &dyn Store,
    list: DirbsList,
    file: &Path,
    opts: &ListOptions,
    by: &AuditContext,
    country: Country,
    progress: Option<ProgressBar>,
) -> (Result<Summary>, Result<String>) {
    let started = SystemClock.now();
    let result = import_tuned(
        store,
        list,
        file,
        opts,
        by,
        country,
        started,
        Tuning::default(),
        progress,
    )
    .await;
    let (verdict, rows, sha256, message) = match &result {
        Ok(s) => (Verdict::Accepted, s.rows, s.sha256.clone(), s.text.clone()),
        Err(e) => {
            let refused = e.chain().any(|c| {
                c.downcast_ref::<IngestError>()
                    .is_some_and(|i| !matches!(i, IngestError::Io { .. }))
            });
            let verdict = if refused {
                Verdict::Refused
            } else {
                Verdict::Failed
            };
            (verdict, 0, String::new(), format!("{e:#}"))
        }
    };
    let job = ImportJob {
        id: String::new(),
        kind: list.name().to_owned(),
        file: file.display().to_string(),
        sha256,
        operator: None,
        period: None,
        rows,
        triplets: 0,
        verdict,
        checks: "[]".into(),
        daily: "[]".into(),
        message: Some(message),
        started_at: started,
        finished_at: SystemClock.now(),
    };
    let id = store.record_import(&job).await.map_err(anyhow::Error::from);
    (result, id)
}

/// What an import did, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub text: String,
    /// Data rows read.
    pub rows: u64,
    /// The file's SHA-256, hex.
    pub sha256: String,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a list file is imported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListOptions {
    /// The file is a delta (`--delta`).
    pub delta: bool,
    /// The import size threshold; `None` with `--force`.
    pub size: Option<SizeThreshold>,
}

impl ListOptions {
    /// A full file with DIRBS's default threshold for `list`.
    pub fn full(list: DirbsList) -> ListOptions {
        ListOptions {
            delta: false,
            size: Some(list.threshold()),
        }
    }
}

/// How much an import holds in memory at once.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Kept rows and registry entries read per query.
    pub page: usize,
    /// Changes written per batch, and file subjects per delta chunk.
    pub batch: usize,
    /// File rows sorted in memory before a run goes to disk.
    pub segment_rows: usize,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            page: 10_000,
            batch: 20_000,
            segment_rows: ceir_ingest::dirbs_merge::SEGMENT_ROWS,
        }
    }
}

/// Reads, checks and applies one list file in one transaction, in bounded memory: the file is
/// sorted on disk into the store's order and merged, subject by subject, with the kept rows and
/// the registry entries read in pages (a full file), or with those of the subjects it names (a
/// delta); changes are written in batches and committed at the end, or not at all.
pub async fn import(
    store: &dyn Store,
    list: DirbsList,
    file: &Path,
    opts: &ListOptions,
    by: &AuditContext,
    country: Country,
    now: Timestamp,
) -> Result<Summary> {
    import_tuned(
        store,
        list,
        file,
        opts,
        by,
        country,
        now,
        Tuning::default(),
        None,
    )
    .await
}

/// [`import`] with its memory bounds given.
#[allow(clippy::too_many_arguments)]
pub async fn import_tuned(
    store: &dyn Store,
    list: DirbsList,
    file: &Path,
    opts: &ListOptions,
    by: &AuditContext,
    country: Country,
    now: Timestamp,
    tuning: Tuning,
    progress: Option<ProgressBar>,
) -> Result<Summary> {
    let ListOptions { delta, size } = *opts;
    let mode = if delta { "delta" } else { "full" };
    let source = file.display().to_string();
    let (mut sorted, sha256) = read_sorted(file, list, delta, tuning, progress.clone()).await?;
    let rows = sorted.rows;
    let Some((kind, _)) = list.target() else {
        let mut s = import_golden(store, sorted, opts, by, now, tuning).await?;
        s.rows = rows;
        s.sha256 = sha256;
        return Ok(s);
    };
    let org = by.actor.org.as_str();
    let mut tx = store.begin_dirbs_import(list.name(), kind, by, now).await?;
    let before = tx.kept_count().await?;
    let mut m = Merger::new(list, delta, country, now)
        .with_context(|| format!("the {list} list has no registry list"))?;
    let mut w = Writer {
        list,
        kind,
        org: by.actor.org.clone(),
        note: format!("not on the {list} list {}", file.display()),
        source: source.clone(),
        wrote: false,
        tuning,
        progress: progress.inspect(|pb| {
            pb.set_length(rows);
            pb.set_position(0);
            pb.set_message(format!("merging with the stored {list} list"));
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} rows ({eta})")
            {
                pb.set_style(style.progress_chars("=> "));
            }
        }),
    };
    if delta {
        walk_delta(tx.as_mut(), &mut sorted, &mut m, &mut w).await?;
    } else {
        walk_full(tx.as_mut(), &mut sorted, &mut m, &mut w).await?;
    }
    w.flush(tx.as_mut(), &mut m).await?;
    let p = m.finish(&sorted.file, before, size)?;
    let mut notes = Vec::new();
    if p.unchanged > 0 {
        notes.push(format!("{} unchanged", p.unchanged));
    }
    if p.inactive > 0 {
        notes.push(format!("{} with a status that lists nothing", p.inactive));
    }
    if p.duplicates > 0 {
        notes.push(format!("{} repeated", p.duplicates));
    }
    if p.held_elsewhere > 0 {
        notes.push(format!(
            "{} already on the {kind} list from another source of {org}, left as they are",
            p.held_elsewhere
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    if !w.wrote {
        // Nothing to write: the transaction is dropped, and no audit record made.
        return Ok(Summary {
            text: format!(
                "{source}: {rows} rows ({mode} {list} list); no change{notes}; {} rows on the {list} list of {org}",
                p.after
            ),
            rows,
            sha256,
            ..Summary::default()
        });
    }
    let r = tx
        .commit()
        .await
        .with_context(|| format!("{source}: nothing was imported"))?;
    Ok(Summary {
        text: format!(
            "{source}: {rows} rows ({mode} {list} list); {} rows on the {list} list of {org} (was {}); \
             on the {kind} list {} added, {} updated, {} removed{notes}; feed at {}",
            p.after, p.before, r.added, r.updated, r.removed, r.last_seq
        ),
        added: r.added,
        updated: r.updated,
        removed: r.removed,
        rows,
        sha256,
    })
}

/// Reads, checks and sorts a list file on a blocking thread, hashing it on the way and showing
/// the bytes read.
async fn read_sorted(
    file: &Path,
    list: DirbsList,
    delta: bool,
    tuning: Tuning,
    progress: Option<ProgressBar>,
) -> Result<(SortedList, String)> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(SortedList, String)> {
        let name = path.display().to_string();
        let f = std::fs::File::open(&path).map_err(|source| IngestError::Io {
            file: name.clone(),
            source,
        })?;
        let mut hashed = Hashing(f, Sha256::new());
        let seg = tuning.segment_rows;
        let sorted = match progress {
            Some(pb) => sort_list_from(pb.wrap_read(&mut hashed), &name, list, delta, None, seg)?,
            None => sort_list_from(&mut hashed, &name, list, delta, None, seg)?,
        };
        Ok((sorted, hex::encode(hashed.1.finalize())))
    })
    .await?
}

/// A reader that hashes what passes through it.
struct Hashing<R>(R, Sha256);

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The golden list: hashes, merged as the other lists are (a full file with the stored list
/// read in pages; a delta with the hashes it names).
async fn import_golden(
    store: &dyn Store,
    mut sorted: SortedList,
    opts: &ListOptions,
    by: &AuditContext,
    now: Timestamp,
    tuning: Tuning,
) -> Result<Summary> {
    let ListOptions { delta, size } = *opts;
    let mode = if delta { "delta" } else { "full" };
    let source = sorted.file.clone();
    let rows = sorted.rows;
    let mut tx = store.begin_golden_import(by, now).await?;
    let before = tx.count().await?;
    let mut m = GoldenMerger::new(delta);
    let mut wrote = false;
    let hash_of = |rows: &[ListRow]| match rows.first().map(|r| &r.key) {
        Some(ListKey::Golden(g)) => Some(g.hash.clone()),
        _ => None,
    };
    if delta {
        loop {
            let mut chunk = Vec::new();
            while chunk.len() < tuning.batch {
                let rows = sorted.next_key()?;
                let Some(h) = hash_of(&rows) else { break };
                chunk.push((h, rows));
            }
            if chunk.is_empty() {
                break;
            }
            let hashes: Vec<String> = chunk.iter().map(|(h, _)| h.clone()).collect();
            let stored: HashMap<String, GoldenImei> = tx
                .of(&hashes)
                .await?
                .into_iter()
                .map(|g| (g.hash.clone(), g))
                .collect();
            for (h, rows) in chunk {
                m.hash(&rows, stored.get(&h));
            }
            wrote |= flush_golden(tx.as_mut(), &mut m).await?;
        }
    } else {
        let mut page: VecDeque<GoldenImei> = VecDeque::new();
        let (mut done, mut last): (bool, Option<String>) = (false, None);
        let mut next_rows = sorted.next_key()?;
        loop {
            if page.is_empty() && !done {
                let got = tx.after(last.as_deref(), tuning.page).await?;
                done = got.len() < tuning.page;
                last = got.last().map(|g| g.hash.clone());
                page.extend(got);
            }
            let from_file = hash_of(&next_rows);
            let (take_file, take_store) = match (&from_file, page.front()) {
                (None, None) => break,
                (Some(f), Some(s)) => (
                    f.as_bytes() <= s.hash.as_bytes(),
                    s.hash.as_bytes() <= f.as_bytes(),
                ),
                (Some(_), None) => (true, false),
                (None, Some(_)) => (false, true),
            };
            let old = if take_store { page.pop_front() } else { None };
            let rows = if take_file {
                std::mem::replace(&mut next_rows, sorted.next_key()?)
            } else {
                Vec::new()
            };
            m.hash(&rows, old.as_ref());
            if m.pending() >= tuning.batch {
                wrote |= flush_golden(tx.as_mut(), &mut m).await?;
            }
        }
        wrote |= flush_golden(tx.as_mut(), &mut m).await?;
    }
    let changed = m.changed();
    let gp = m.finish(&sorted.file, before, size)?;
    if !changed || !wrote {
        // As before streaming: a file that adds and removes no hash is no change (IMEIs in clear
        // it gives for hashes already listed are not worth an audit record); the transaction
        // is dropped.
        return Ok(Summary {
            text: format!(
                "{source}: {rows} rows ({mode} golden list); no change, {} golden IMEIs",
                gp.after
            ),
            ..Summary::default()
        });
    }
    let r = tx
        .commit(
            &source,
            GoldenReport {
                previous: gp.before,
                added: gp.added,
                removed: gp.removed,
                total: gp.after,
            },
        )
        .await
        .with_context(|| format!("{source}: nothing was imported"))?;
    Ok(Summary {
        text: format!(
            "{source}: {rows} rows ({mode} golden list); {} added, {} removed: {} golden IMEIs (was {})",
            r.added, r.removed, r.total, r.previous
        ),
        added: r.added,
        removed: r.removed,
        ..Summary::default()
    })
}

/// Writes the golden changes decided so far; whether anything was written.
async fn flush_golden(tx: &mut dyn GoldenImport, m: &mut GoldenMerger) -> Result<bool> {
    if m.failed() || m.pending() == 0 {
        return Ok(false);
    }
    let (upsert, delete) = (std::mem::take(&mut m.upsert), std::mem::take(&mut m.delete));
    tx.apply(&upsert, &delete).await?;
    Ok(true)
}

/// Writes what the merger decided, batch by batch.
struct Writer {
    list: DirbsList,
    kind: ListKind,
    org: String,
    /// The note of an entry no row lists any more.
    note: String,
    source: String,
    /// Whether anything was written.
    wrote: bool,
    tuning: Tuning,
    /// File rows merged so far, on the terminal.
    progress: Option<ProgressBar>,
}

impl Writer {
    async fn flush(&mut self, tx: &mut dyn DirbsImport, m: &mut Merger) -> Result<()> {
        let p = m.take();
        if m.failed() || p.is_empty() {
            // A refused row fails the import at the end: nothing more need be written.
            return Ok(());
        }
        let mut changes: Vec<ListChange> = p.add.into_iter().map(ListChange::Add).collect();
        changes.extend(p.remove.into_iter().map(|s| ListChange::Remove {
            list: self.kind,
            subject: s,
            owner: Some(self.org.clone()),
            note: Some(self.note.clone()),
        }));
        let (list, source) = (self.list, &self.source);
        let stored = |k: &ListKey| {
            k.subject()
                .map(|s| (s, k.msisdn().cloned()))
                .with_context(|| format!("{source}: a {list} row without a registry subject"))
        };
        let upsert = p
            .upsert
            .iter()
            .map(|r| {
                let (subject, msisdn) = stored(&r.key)?;
                Ok(DirbsRow {
                    subject,
                    msisdn,
                    fields: r.fields(list),
                })
            })
            .collect::<Result<Vec<DirbsRow>>>()?;
        let delete = p.delete.iter().map(stored).collect::<Result<Vec<_>>>()?;
        tx.apply(&changes, &upsert, &delete)
            .await
            .with_context(|| format!("{source}: nothing was imported"))?;
        self.wrote = true;
        Ok(())
    }

    fn merged(&self, rows: usize) {
        if let Some(pb) = &self.progress {
            pb.inc(rows as u64);
        }
    }

    fn kept(&self, r: DirbsRow) -> Result<KeptRow> {
        KeptRow::from_stored(self.list, r.subject, r.msisdn, &r.fields)
            .map_err(|e| anyhow::anyhow!("the store's {} list of {}: {e}", self.list, self.org))
    }
}

fn held(e: Entry) -> Held {
    Held {
        subject: e.subject,
        reference: e.reference,
        note: e.note,
    }
}

/// A full file: every subject of the file, of the kept rows and of the organisation's entries,
/// in the store's order. A page is read only once the previous one is used up, and every write
/// is of a subject at or before the last one read, so pages never see the import's own writes.
async fn walk_full(
    tx: &mut dyn DirbsImport,
    sorted: &mut SortedList,
    m: &mut Merger,
    w: &mut Writer,
) -> Result<()> {
    let size = w.tuning.page;
    let mut kept: Pages<DirbsRow> = Pages::default();
    let mut entries: Pages<Entry> = Pages::default();
    loop {
        if kept.wants() {
            kept.take(tx.kept_after(kept.last.as_ref(), size).await?, size);
        }
        if entries.wants() {
            let after = entries.last.as_ref().map(|e| e.subject);
            entries.take(tx.held_after(after, size).await?, size);
        }
        let from_file = sorted.peek()?;
        let next = [
            from_file,
            kept.buf.front().map(|r| subject_order(r.subject)),
            entries.buf.front().map(|e| subject_order(e.subject)),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        let rows = if from_file == Some(next) {
            sorted.next_subject()?
        } else {
            Vec::new()
        };
        let mut old = Vec::new();
        let mut subject = rows.first().and_then(|r| r.key.subject());
        loop {
            // A subject's rows may run on into the next page.
            if kept.wants() {
                kept.take(tx.kept_after(kept.last.as_ref(), size).await?, size);
            }
            match kept.buf.front() {
                Some(r) if subject_order(r.subject) == next => {
                    if let Some(r) = kept.buf.pop_front() {
                        subject = subject.or(Some(r.subject));
                        old.push(w.kept(r)?);
                    }
                }
                _ => break,
            }
        }
        let entry = match entries.buf.front() {
            Some(e) if subject_order(e.subject) == next => entries.buf.pop_front().map(held),
            _ => None,
        };
        if let Some(s) = subject.or(entry.as_ref().map(|e| e.subject)) {
            m.subject(s, &rows, old, entry.as_ref());
        }
        w.merged(rows.len());
        if m.pending() >= w.tuning.batch {
            w.flush(tx, m).await?;
        }
    }
    Ok(())
}

/// Stored rows or entries as a full import reads them: a page at a time, in the store's order.
struct Pages<T> {
    buf: VecDeque<T>,
    /// The last page was short: nothing more to read.
    done: bool,
    /// The last one read: where the next page starts.
    last: Option<T>,
}

impl<T> Default for Pages<T> {
    fn default() -> Self {
        Pages {
            buf: VecDeque::new(),
            done: false,
            last: None,
        }
    }
}

impl<T: Clone> Pages<T> {
    /// Whether the next page is due: the last is used up and was not short.
    fn wants(&self) -> bool {
        self.buf.is_empty() && !self.done
    }

    fn take(&mut self, page: Vec<T>, size: usize) {
        self.done = page.len() < size;
        if let Some(l) = page.last() {
            self.last = Some(l.clone());
        }
        self.buf.extend(page);
    }
}

/// A delta: only the subjects it names, with their kept rows and entries read per chunk.
async fn walk_delta(
    tx: &mut dyn DirbsImport,
    sorted: &mut SortedList,
    m: &mut Merger,
    w: &mut Writer,
) -> Result<()> {
    loop {
        let mut chunk: Vec<(Subject, Vec<ListRow>)> = Vec::new();
        while chunk.len() < w.tuning.batch {
            let rows = sorted.next_subject()?;
            let Some(s) = rows.first().and_then(|r| r.key.subject()) else {
                break;
            };
            chunk.push((s, rows));
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let subjects: Vec<Subject> = chunk.iter().map(|(s, _)| *s).collect();
        let mut kept: HashMap<(u64, u64), Vec<KeptRow>> = HashMap::new();
        for r in tx.kept_of(&subjects).await? {
            let at = subject_order(r.subject);
            kept.entry(at).or_default().push(w.kept(r)?);
        }
        let entries: HashMap<(u64, u64), Held> = tx
            .held_of(&subjects)
            .await?
            .into_iter()
            .map(|e| (subject_order(e.subject), held(e)))
            .collect();
        for (s, rows) in chunk {
            let at = subject_order(s);
            m.subject(
                s,
                &rows,
                kept.remove(&at).unwrap_or_default(),
                entries.get(&at),
            );
        }
        w.flush(tx, m).await?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ceir_domain::authz::{Actor, OrgKind, Role};
    use ceir_domain::lists::{ListKind, Reason, Subject};
    use ceir_domain::Imei;
    use ceir_store::{AuditStore, DirbsListStore, SqlStore};

    const NOW: Timestamp = Timestamp(1_790_000_000_000);

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../ceir-ingest/tests/fixtures/dirbs")
            .join(name)
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

    async fn go(s: &SqlStore, list: DirbsList, name: &str, delta: bool) -> Result<Summary> {
        let opts = ListOptions {
            delta,
            ..ListOptions::full(list)
        };
        import(
            s,
            list,
            &fixture(name),
            &opts,
            &regulator(),
            Country::AZ,
            NOW,
        )
        .await
    }

    fn imei(body: u64) -> Subject {
        Subject::Imei(Imei::from_body(body).unwrap())
    }

    async fn stolen_full_twice_then_delta_twice(s: &SqlStore) {
        let r = go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (2, 0, 0), "{r}");
        let blocked = s.list_subjects(ListKind::Blocked).await.unwrap();
        assert_eq!(
            blocked,
            vec![
                (imei(35_693_803_564_380), Reason::Stolen),
                (imei(49_015_420_323_751), Reason::Stolen)
            ]
        );
        let feed = s.feed_position().await.unwrap();
        let audit = s.audit_head().await.unwrap();
        // The same file again changes nothing, not even the audit log.
        let r = go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (0, 0, 0));
        assert!(
            r.text.contains(
                "no change (3 unchanged, 1 with a status that lists nothing, 1 repeated)"
            ),
            "{r}"
        );
        assert_eq!(s.feed_position().await.unwrap(), feed);
        assert_eq!(s.audit_head().await.unwrap(), audit);
        // The delta: one confirmed (pending to blacklist: added), one updated (new reporting
        // date), one removed, one reported (pending: kept on the stolen list, blocking nothing).
        let r = go(s, DirbsList::Stolen, "stolen_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (1, 1, 1), "{r}");
        let rows = s
            .dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r.subject, r.fields.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (
                    imei(35_209_900_176_148),
                    r#"{"reporting_date":"20260910","status":"blacklist"}"#
                ),
                (
                    imei(35_693_803_564_380),
                    r#"{"reporting_date":"20260902","status":"Blacklist"}"#
                ),
                (
                    imei(86_011_204_080_570),
                    r#"{"reporting_date":"20260912","status":"pending"}"#
                ),
            ]
        );
        let entries = s
            .list_source(ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].note.as_deref(), Some("reported 2026-09-10"));
        assert_eq!(entries[0].reference.as_deref(), Some("stolen"));
        assert_eq!(entries[1].note.as_deref(), Some("reported 2026-09-02"));
        let feed = s.feed_position().await.unwrap();
        let e = go(s, DirbsList::Stolen, "stolen_delta.csv", true)
            .await
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("line 2, imei \"490154203237518\": remove: not on the stolen list")
                && e.contains("line 5, imei \"860112040805708\": add: already on the stolen list"),
            "{e}"
        );
        assert_eq!(s.feed_position().await.unwrap(), feed);
        assert_eq!(
            s.dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
                .await
                .unwrap(),
            rows
        );
    }

    async fn every_list_maps_to_its_registry_list(s: &SqlStore) {
        for (list, full, delta, kind) in [
            (
                DirbsList::Registration,
                "registration_full.csv",
                "registration_delta.csv",
                ListKind::Permitted,
            ),
            (
                DirbsList::Pairing,
                "pairing_full.csv",
                "pairing_delta.csv",
                ListKind::Exception,
            ),
            (
                DirbsList::BarredTac,
                "barred_tac_full.csv",
                "barred_tac_delta.csv",
                ListKind::BarredTac,
            ),
            (
                DirbsList::Monitoring,
                "monitoring_full.csv",
                "monitoring_delta.csv",
                ListKind::Tracked,
            ),
        ] {
            go(s, list, full, false).await.unwrap();
            let r = go(s, list, full, false).await.unwrap();
            assert_eq!((r.added, r.updated, r.removed), (0, 0, 0), "{list}: {r}");
            let r = go(s, list, delta, true).await.unwrap();
            assert!(r.added + r.removed > 0, "{list}: {r}");
            let entries = s.list_source(kind, "az-regulator").await.unwrap();
            assert!(entries
                .iter()
                .all(|e| e.reference.as_deref() == Some(list.name())));
        }
        assert_eq!(s.list_subjects(ListKind::Permitted).await.unwrap().len(), 3);
        assert_eq!(s.list_subjects(ListKind::Exception).await.unwrap().len(), 3);
        // The pairings keep their MSISDNs: one pair has two.
        let pairings: Vec<String> = s
            .exception_pairings()
            .await
            .unwrap()
            .into_iter()
            .map(|p| format!("{},{},{}", p.imei, p.imsi, p.msisdn.unwrap()))
            .collect();
        assert_eq!(
            pairings,
            vec![
                "352099001761481,400041234567893,994701234567",
                "356938035643809,400011234567890,994501234567",
                "356938035643809,400011234567890,994501234568",
                "490154203237518,434051234567892,998901234567",
            ]
        );
        assert_eq!(s.list_subjects(ListKind::BarredTac).await.unwrap().len(), 2);
        assert_eq!(
            s.list_subjects(ListKind::Tracked).await.unwrap(),
            vec![(imei(49_015_420_323_751), Reason::Investigation)]
        );
    }

    async fn barred_and_stolen_share_the_blocked_list(s: &SqlStore) {
        go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        // Both IMEIs of the barred list are already blocked as stolen by the same organisation.
        let r = go(s, DirbsList::Barred, "barred_full.csv", false)
            .await
            .unwrap();
        assert!(
            r.text
                .contains("2 already on the blocked list from another source"),
            "{r}"
        );
        // The barred list keeps both rows, as DIRBS does, so its delta may remove B; C, which the
        // stolen list only holds as pending, is blocked as barred.
        let r = go(s, DirbsList::Barred, "barred_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (1, 0), "{r}");
        let kept: Vec<Subject> = s
            .dirbs_rows("barred", ListKind::Blocked, "az-regulator")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.subject)
            .collect();
        assert_eq!(
            kept,
            vec![imei(35_209_900_176_148), imei(35_693_803_564_380)]
        );
        let entries = s
            .list_source(ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        let refs: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.reference.as_deref())
            .collect();
        assert_eq!(refs, vec!["barred", "stolen", "stolen"]);
    }

    async fn golden_list_twice_and_bad_files(s: &SqlStore) {
        let r = go(s, DirbsList::Golden, "golden_full.csv", false)
            .await
            .unwrap();
        assert_eq!(r.added, 2);
        let audit = s.audit_head().await.unwrap();
        let r = go(s, DirbsList::Golden, "golden_full.csv", false)
            .await
            .unwrap();
        assert!(r.text.contains("no change"), "{r}");
        assert_eq!(s.audit_head().await.unwrap(), audit);
        let r = go(s, DirbsList::Golden, "golden_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (1, 1));
        assert_eq!(s.golden_imeis().await.unwrap().len(), 2);
        // A bad file changes nothing.
        let feed = s.feed_position().await.unwrap();
        let e = go(s, DirbsList::Stolen, "stolen_bad.csv", false)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("5 bad rows"), "{e:#}");
        assert_eq!(s.feed_position().await.unwrap(), feed);
    }

    /// The state an import leaves: the organisation's rows of the list and its entries.
    async fn state(
        s: &SqlStore,
        list: DirbsList,
    ) -> (Vec<DirbsRow>, Vec<(Subject, Option<String>)>) {
        let (kind, _) = list.target().unwrap();
        let rows = s
            .dirbs_rows(list.name(), kind, "az-regulator")
            .await
            .unwrap();
        let entries = s
            .list_source(kind, "az-regulator")
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.subject, e.note))
            .collect();
        (rows, entries)
    }

    fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    /// Imports with pages, batches and sort runs of a few rows end as the same imports done in
    /// one piece: pairings with several MSISDNs per IMEI and IMSI (one subject's rows across
    /// pages), registrations whose values change, golden IMEIs in clear and hashed, full files
    /// and deltas, files out of order.
    async fn small_pages_import_as_one_piece_does(s: &SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        let whole = SqlStore::open(&ceir_store::StoreConfig::Sqlite {
            path: dir.path().join("whole.db"),
        })
        .await
        .unwrap();
        let tiny = Tuning {
            page: 3,
            batch: 2,
            segment_rows: 5,
        };
        let body = |n: u64| 35_000_000_000_000 + n * 7_919;
        let pairing = |keep: &dyn Fn(u64) -> bool, extra: u64| -> Vec<String> {
            let mut l = vec!["imei,imsi,msisdn".to_owned()];
            // Descending, so the sort has work to do.
            for n in (0..40 + extra).rev().filter(|n| keep(*n)) {
                for m in 0..=(n % 3) + u64::from(n % 7 == 0 && extra > 0) {
                    l.push(format!(
                        "{},4000{:011},99450{:07}",
                        body(n),
                        n % 4,
                        n * 10 + m
                    ));
                }
            }
            l
        };
        let registration = |shift: u64| -> Vec<String> {
            let mut l = vec![
                "approved_imei,make,model,status,model_number,brand_name,device_type,radio_interface,device_id".to_owned(),
            ];
            for n in (shift..30 + shift).rev() {
                let status = if n % 5 == 0 { "" } else { "whitelist" };
                l.push(format!(
                    "{},Make,M{},{status},X{},Brand,Smartphone,2G 3G 4G,D{n}",
                    body(n),
                    n % (3 + shift),
                    n % 2
                ));
            }
            l
        };
        let steps: Vec<(DirbsList, bool, Vec<String>)> = vec![
            (DirbsList::Pairing, false, pairing(&|_| true, 0)),
            (DirbsList::Pairing, false, pairing(&|n| n % 5 != 0, 8)),
            (
                DirbsList::Pairing,
                true,
                vec![
                    "imei,imsi,msisdn,change_type".to_owned(),
                    format!("{},400000000000000,994500000999,add", body(5)),
                    format!("{},400000000000001,994500000010,remove", body(1)),
                    format!("{},400030000000003,994500000999,add", body(99)),
                ],
            ),
            (DirbsList::Registration, false, registration(0)),
            (DirbsList::Registration, false, registration(4)),
            (
                DirbsList::Registration,
                true,
                vec![
                    "approved_imei,make,model,status,model_number,brand_name,device_type,radio_interface,device_id,change_type".to_owned(),
                    format!("{},Make,M9,whitelist,X9,Brand,Smartphone,2G,D9,update", body(9)),
                    format!("{},Make,M9,whitelist,X9,Brand,Smartphone,2G,D9,remove", body(6)),
                    format!("{},Make,M9,whitelist,X9,Brand,Smartphone,2G,D99,add", body(99)),
                ],
            ),
        ];
        let golden = |from: u64, to: u64, hashed: &dyn Fn(u64) -> bool| -> Vec<String> {
            let mut l = vec!["golden_imei".to_owned()];
            for n in (from..to).rev() {
                let imei = body(n).to_string();
                l.push(if hashed(n) {
                    ceir_domain::lists::golden_hash(&imei)
                } else {
                    imei
                });
            }
            l
        };
        let mut steps = steps;
        steps.extend([
            (DirbsList::Golden, false, golden(0, 25, &|n| n % 3 == 0)),
            // Some gone, some new, and hashes given before now in clear.
            (DirbsList::Golden, false, golden(5, 33, &|n| n % 6 == 0)),
            (
                DirbsList::Golden,
                true,
                vec![
                    "golden_imei,change_type".to_owned(),
                    format!("{},add", body(99)),
                    format!("{},remove", body(7)),
                    format!(
                        "{},add",
                        ceir_domain::lists::golden_hash(&body(98).to_string())
                    ),
                ],
            ),
        ]);
        for (n, (list, delta, lines)) in steps.into_iter().enumerate() {
            let file = write(dir.path(), &format!("step{n}.csv"), &lines);
            let opts = ListOptions { delta, size: None };
            let by = regulator();
            let a = import_tuned(s, list, &file, &opts, &by, Country::AZ, NOW, tiny, None)
                .await
                .unwrap();
            let b = import_tuned(
                &whole,
                list,
                &file,
                &opts,
                &by,
                Country::AZ,
                NOW,
                Tuning::default(),
                None,
            )
            .await
            .unwrap();
            let strip = |t: &str| t.split("; feed at").next().unwrap_or_default().to_owned();
            assert_eq!(strip(&a.text), strip(&b.text), "step {n}");
            assert_eq!(
                (a.added, a.updated, a.removed),
                (b.added, b.updated, b.removed),
                "step {n}"
            );
            assert!(
                a.added + a.updated + a.removed > 0,
                "step {n} changed nothing: {a}"
            );
            if list == DirbsList::Golden {
                assert_eq!(
                    s.golden_imeis().await.unwrap(),
                    whole.golden_imeis().await.unwrap(),
                    "step {n}"
                );
            } else {
                assert_eq!(state(s, list).await, state(&whole, list).await, "step {n}");
            }
        }
        let (rows, entries) = state(s, DirbsList::Pairing).await;
        assert!(
            rows.len() > 60 && entries.len() > 30,
            "{} rows, {} entries",
            rows.len(),
            entries.len()
        );
        let problems = ceir_store::testkit::problems(&whole).await.unwrap();
        assert!(problems.is_empty(), "integrity: {problems:?}");
    }

    /// Every list import leaves a job record: accepted with its rows, SHA-256 and summary, or
    /// refused with the reason.
    async fn every_import_is_recorded_as_a_job(s: &SqlStore) {
        use ceir_store::ImportStore;
        let by = regulator();
        let opts = ListOptions::full(DirbsList::Stolen);
        let file = fixture("stolen_full.csv");
        let (r, id) =
            import_recorded(s, DirbsList::Stolen, &file, &opts, &by, Country::AZ, None).await;
        let (r, id) = (r.unwrap(), id.unwrap());
        let jobs = s.import_jobs(Some("stolen"), None, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let j = &jobs[0];
        assert_eq!((j.id.as_str(), j.verdict), (id.as_str(), Verdict::Accepted));
        let data_rows = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count() as u64;
        assert_eq!((j.rows, r.rows), (data_rows, data_rows));
        let want = hex::encode(Sha256::digest(std::fs::read(&file).unwrap()));
        assert_eq!(j.sha256, want);
        assert_eq!(j.message.as_deref(), Some(r.text.as_str()));
        let bad = fixture("stolen_bad.csv");
        let (r, id) =
            import_recorded(s, DirbsList::Stolen, &bad, &opts, &by, Country::AZ, None).await;
        assert!(r.is_err());
        let jobs = s.import_jobs(Some("stolen"), None, 10).await.unwrap();
        assert_eq!(jobs.len(), 2);
        let j = jobs
            .iter()
            .find(|j| j.id == id.as_deref().unwrap())
            .unwrap();
        assert_eq!(j.verdict, Verdict::Refused);
        assert!(
            j.message.as_deref().unwrap().contains("5 bad rows"),
            "{j:?}"
        );
    }

    ceir_store::both_engines!(
        every_import_is_recorded_as_a_job,
        small_pages_import_as_one_piece_does,
        stolen_full_twice_then_delta_twice,
        every_list_maps_to_its_registry_list,
        barred_and_stolen_share_the_blocked_list,
        golden_list_twice_and_bad_files,
    );
}
