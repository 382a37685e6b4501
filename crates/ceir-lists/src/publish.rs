//! Publishing a run under `DIR/lists`: everything is written into a temporary directory, fsynced,
//! renamed to `run-<n>`, and made current by one atomic rename of the small `CURRENT` pointer.
//! A kill at any point leaves the previous run current; a temporary run is removed by the next
//! one, which can simply be repeated. One generation publishes at a time: it holds an exclusive
//! lock on `DIR/lists/.lock` throughout (the kernel releases it when the process dies).
//!
//! Published runs are never removed or renumbered, so `runs/<n>` always means the same files: the
//! next run is numbered after the highest `run-<n>` there is, and its deltas are against that
//! run (complete once renamed, even if a kill kept it from becoming current).

use crate::compute::Lists;
use crate::csvout::{Out, Written};
use crate::delta::{self, BLOCKLIST_CHANGES, EXCEPTION_CHANGES, NOTIFICATION_CHANGES};
use crate::key::NodeKey;
use crate::manifest::{self, FileEntry, Manifest, ManifestOperator, FORMAT};
use crate::snapshot::{self, Snapshot};
use crate::{ListsError, CURRENT, LOCK, MANIFEST, SIGNATURE, SNAPSHOT};
use std::path::{Path, PathBuf};

/// What the manifest says besides the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishMeta {
    /// ISO 3166 alpha-2.
    pub country: String,
    pub classification_run: Option<u64>,
    /// Deltas against an empty base instead of the latest run: when its snapshot is lost or
    /// damaged, or the list configuration changed. The manifest says so.
    pub full_base: bool,
}

/// A published run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub run: u64,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// A published run, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunInfo {
    pub run: u64,
    pub date: String,
    pub previous_run: Option<u64>,
    pub classification_run: Option<u64>,
    pub files: usize,
    pub current: bool,
}

pub fn run_dir(root: &Path, run: u64) -> PathBuf {
    root.join(format!("run-{run}"))
}

fn parse_run(name: &str) -> Option<u64> {
    name.strip_prefix("run-")?.parse().ok()
}

/// The current run, from `CURRENT`.
pub fn current_run(root: &Path) -> Result<Option<u64>, ListsError> {
    let p = root.join(CURRENT);
    match std::fs::read_to_string(&p) {
        Ok(t) => parse_run(t.trim()).map(Some).ok_or_else(|| {
            ListsError::Invalid(format!(
                "{} does not name a run (run-<n>): {:?}",
                p.display(),
                t.trim()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ListsError::Io { path: p, source: e }),
    }
}

/// Published runs, newest first.
pub fn runs(root: &Path) -> Result<Vec<RunInfo>, ListsError> {
    let Some(current) = current_run(root)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let rd = std::fs::read_dir(root).map_err(ListsError::io(root))?;
    for e in rd.flatten() {
        let Some(run) = parse_run(&e.file_name().to_string_lossy()) else {
            continue;
        };
        if run > current {
            continue;
        }
        let Ok(bytes) = std::fs::read(e.path().join(MANIFEST)) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        out.push(RunInfo {
            run,
            date: m.date,
            previous_run: m.previous_run,
            classification_run: m.classification_run,
            files: m.files.len(),
            current: run == current,
        });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.run));
    Ok(out)
}

/// Takes the publication lock, or says who holds it. Kept until the returned file is dropped.
fn lock(root: &Path) -> Result<std::fs::File, ListsError> {
    let path = root.join(LOCK);
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(ListsError::io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(ListsError::Busy(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(ListsError::Io { path, source: e }),
    }
}

fn sync_dir(path: &Path) -> Result<(), ListsError> {
    let d = std::fs::File::open(path).map_err(ListsError::io(path))?;
    d.sync_all().map_err(ListsError::io(path))
}

/// Removes what a killed run left before its rename: temporary directories and pointer. Runs
/// are never removed: once renamed, a run is complete and may have been downloaded.
fn clean(root: &Path) -> Result<(), ListsError> {
    let rd = std::fs::read_dir(root).map_err(ListsError::io(root))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") || name == format!("{CURRENT}.tmp") {
            let p = e.path();
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(ListsError::io(&p))?;
        }
    }
    Ok(())
}

/// A written file and where it goes in the manifest.
struct Made {
    written: Written,
    rel: String,
    list: &'static str,
    kind: &'static str,
    change: Option<&'static str>,
    operator: Option<String>,
}

impl Made {
    fn entry(&self) -> FileEntry {
        FileEntry {
            path: self.rel.clone(),
            list: self.list.into(),
            kind: self.kind.into(),
            change: self.change.map(Into::into),
            operator: self.operator.clone(),
            rows: self.written.rows,
            bytes: self.written.bytes,
            sha256: self.written.sha256.clone(),
        }
    }
}

/// The highest `run-<n>` directory, current or not.
fn highest_run(root: &Path) -> Result<Option<u64>, ListsError> {
    let rd = std::fs::read_dir(root).map_err(ListsError::io(root))?;
    Ok(rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| parse_run(&e.file_name().to_string_lossy()))
        .max())
}

/// The base run's snapshot, checked against its manifest so a damaged base is never used, and
/// only if `lists` are made as that run's were.
fn previous(root: &Path, run: u64, lists: &Lists) -> Result<Snapshot, ListsError> {
    let dir = run_dir(root, run);
    let bad = |reason: String| ListsError::Base { run, reason };
    let mpath = dir.join(MANIFEST);
    let bytes = std::fs::read(&mpath).map_err(|e| bad(format!("{}: {e}", mpath.display())))?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{}: {e}", mpath.display())))?;
    let differences = manifest::differences(&m, lists);
    if !differences.is_empty() {
        return Err(ListsError::ConfigChanged { run, differences });
    }
    let path = dir.join(SNAPSHOT);
    let Some(entry) = m.file(SNAPSHOT) else {
        return Err(bad(format!("its manifest does not list {SNAPSHOT}")));
    };
    let (_, sha) =
        manifest::sha256_file(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if sha != entry.sha256 {
        return Err(bad(format!(
            "{}: its SHA-256 differs from the manifest's",
            path.display()
        )));
    }
    snapshot::read(&path).map_err(|e| bad(e.to_string()))
}

fn full_blocklist(dir: &Path, l: &Lists) -> Result<Vec<Made>, ListsError> {
    let mut out = Out::csv(&dir.join("blocklist.csv"), delta::BLOCKLIST_HEADER)?;
    for r in &l.blocklist {
        delta::write_block(&mut out, r, &l.reasons, &l.raw_imeis)?;
    }
    Ok(vec![Made {
        written: out.finish()?,
        rel: "blocklist.csv".into(),
        list: "blocklist",
        kind: "full",
        change: None,
        operator: None,
    }])
}

fn delta_blocklist(dir: &Path, old: &Snapshot, l: &Lists) -> Result<Vec<Made>, ListsError> {
    let name = |c: &str| format!("blocklist_delta_{c}.csv");
    let mut outs = [
        Out::csv(
            &dir.join(name(BLOCKLIST_CHANGES[0])),
            delta::BLOCKLIST_HEADER,
        )?,
        Out::csv(
            &dir.join(name(BLOCKLIST_CHANGES[1])),
            delta::BLOCKLIST_HEADER,
        )?,
        Out::csv(
            &dir.join(name(BLOCKLIST_CHANGES[2])),
            delta::BLOCKLIST_HEADER,
        )?,
    ];
    delta::blocklist(old, l, &mut outs)?;
    let mut made = Vec::new();
    for (out, change) in outs.into_iter().zip(BLOCKLIST_CHANGES) {
        made.push(Made {
            written: out.finish()?,
            rel: name(change),
            list: "blocklist",
            kind: "delta",
            change: Some(change),
            operator: None,
        });
    }
    Ok(made)
}

/// One operator's notification and exception lists, full and delta.
fn operator_lists(
    dir: &Path,
    old: &Snapshot,
    l: &Lists,
    op: usize,
) -> Result<Vec<Made>, ListsError> {
    let id = &l.operators[op];
    let opdir = dir.join(id);
    let mut made = Vec::new();
    let push = |made: &mut Vec<Made>, out: Out, file: String, list, kind, change| {
        out.finish().map(|written| {
            made.push(Made {
                written,
                rel: format!("{id}/{file}"),
                list,
                kind,
                change,
                operator: Some(id.clone()),
            })
        })
    };
    let nh = delta::notifications_header(l.amnesty_column);
    let mut full = Out::csv(&opdir.join("notifications.csv"), nh)?;
    for r in &l.notifications[op] {
        delta::write_notif(&mut full, r, &l.reasons, &l.raw_imeis, l.amnesty_column)?;
    }
    push(
        &mut made,
        full,
        "notifications.csv".into(),
        "notifications",
        "full",
        None,
    )?;
    let name = |c: &str| format!("notifications_delta_{c}.csv");
    let mut outs = [
        Out::csv(&opdir.join(name(NOTIFICATION_CHANGES[0])), nh)?,
        Out::csv(&opdir.join(name(NOTIFICATION_CHANGES[1])), nh)?,
        Out::csv(&opdir.join(name(NOTIFICATION_CHANGES[2])), nh)?,
        Out::csv(&opdir.join(name(NOTIFICATION_CHANGES[3])), nh)?,
        Out::csv(&opdir.join(name(NOTIFICATION_CHANGES[4])), nh)?,
    ];
    delta::notifications(old, l, op, &mut outs)?;
    for (out, change) in outs.into_iter().zip(NOTIFICATION_CHANGES) {
        push(
            &mut made,
            out,
            name(change),
            "notifications",
            "delta",
            Some(change),
        )?;
    }

    let eh = delta::EXCEPTIONS_HEADER;
    let mut full = Out::csv(&opdir.join("exceptions.csv"), eh)?;
    for r in &l.exceptions[op] {
        delta::write_exc(&mut full, r, &l.raw_imeis)?;
    }
    push(
        &mut made,
        full,
        "exceptions.csv".into(),
        "exceptions",
        "full",
        None,
    )?;
    let name = |c: &str| format!("exceptions_delta_{c}.csv");
    let mut outs = [
        Out::csv(&opdir.join(name(EXCEPTION_CHANGES[0])), eh)?,
        Out::csv(&opdir.join(name(EXCEPTION_CHANGES[1])), eh)?,
    ];
    delta::exceptions(old, l, op, &mut outs)?;
    for (out, change) in outs.into_iter().zip(EXCEPTION_CHANGES) {
        push(
            &mut made,
            out,
            name(change),
            "exceptions",
            "delta",
            Some(change),
        )?;
    }
    Ok(made)
}

/// Gives each operator its copy of the node-wide blocklist files: a hard link where the file
/// system allows (no second copy of ten million rows), a copy otherwise.
fn link_blocklists(dir: &Path, l: &Lists, shared: &[Made]) -> Result<Vec<Made>, ListsError> {
    let mut made = Vec::new();
    for id in &l.operators {
        for m in shared {
            let rel = format!("{id}/{}", m.rel);
            let to = dir.join(&rel);
            if std::fs::hard_link(&m.written.path, &to).is_err() {
                std::fs::copy(&m.written.path, &to).map_err(ListsError::io(&to))?;
                std::fs::File::open(&to)
                    .and_then(|f| f.sync_all())
                    .map_err(ListsError::io(&to))?;
            }
            made.push(Made {
                written: Written {
                    path: to,
                    ..m.written.clone()
                },
                rel,
                list: m.list,
                kind: m.kind,
                change: m.change,
                operator: Some(id.clone()),
            });
        }
    }
    Ok(made)
}

/// Writes `lists` as the next run under `root` (`DIR/lists`), with deltas against the latest run
/// (or an empty base with `meta.full_base`), signs its manifest with `key`, and makes it current.
pub fn publish(
    root: &Path,
    lists: &Lists,
    key: &NodeKey,
    meta: &PublishMeta,
) -> Result<RunSummary, ListsError> {
    std::fs::create_dir_all(root).map_err(ListsError::io(root))?;
    // Held to the end: another generation's clean() would remove this one's temporary run.
    let _lock = lock(root)?;
    clean(root)?;
    // CURRENT lags the highest run only after a kill between the rename and its switch; either
    // may be missing after a restore.
    let current = match current_run(root) {
        Ok(c) => c,
        // Garbage in the pointer: the run directories say which is latest, and it is rewritten.
        Err(ListsError::Invalid(_)) => None,
        Err(e) => return Err(e),
    };
    let latest = current.max(highest_run(root)?);
    let (old, previous_run) = match latest {
        Some(l) if !meta.full_base => (previous(root, l, lists)?, Some(l)),
        _ => (Snapshot::empty(lists.date), None),
    };
    let full_base = meta.full_base && latest.is_some();
    let run = latest.map_or(1, |l| l + 1);
    let tmp = root.join(format!(".tmp-run-{run}"));
    std::fs::create_dir_all(&tmp).map_err(ListsError::io(&tmp))?;
    for id in &lists.operators {
        let d = tmp.join(id);
        std::fs::create_dir_all(&d).map_err(ListsError::io(&d))?;
    }

    // Two cores: the full blocklist and the snapshot on one, the deltas and operator lists on
    // the other.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| -> Result<Vec<Made>, ListsError> {
            let mut made = full_blocklist(&tmp, lists)?;
            made.push(Made {
                written: snapshot::write(&tmp.join(SNAPSHOT), lists)?,
                rel: SNAPSHOT.into(),
                list: "snapshot",
                kind: "internal",
                change: None,
                operator: None,
            });
            Ok(made)
        });
        let b = s.spawn(|| -> Result<Vec<Made>, ListsError> {
            let mut made = delta_blocklist(&tmp, &old, lists)?;
            for op in 0..lists.operators.len() {
                made.extend(operator_lists(&tmp, &old, lists, op)?);
            }
            Ok(made)
        });
        (a.join(), b.join())
    });
    let joined = |r: std::thread::Result<Result<Vec<Made>, ListsError>>| {
        r.unwrap_or_else(|_| Err(ListsError::Invalid("a list writer thread panicked".into())))
    };
    let mut made = joined(a)?;
    made.extend(joined(b)?);
    drop(old);
    let shared: Vec<Made> = made
        .iter()
        .filter(|m| m.list == "blocklist")
        .map(|m| Made {
            written: m.written.clone(),
            rel: m.rel.clone(),
            list: m.list,
            kind: m.kind,
            change: m.change,
            operator: None,
        })
        .collect();
    made.extend(link_blocklists(&tmp, lists, &shared)?);

    let mut files: Vec<FileEntry> = made.iter().map(Made::entry).collect();
    let mut manifest = Manifest {
        format: FORMAT.into(),
        run,
        date: lists.date.to_string(),
        previous_run,
        full_base,
        classification_run: meta.classification_run,
        country: meta.country.clone(),
        key_id: key.public().key_id(),
        operator: None,
        config: lists.config.clone(),
        blocking_conditions: lists.blocking_conditions.clone(),
        operators: lists
            .region_operators
            .iter()
            .map(|o| ManifestOperator {
                id: o.id.clone(),
                name: o.name.clone(),
                mcc_mnc: o.mcc_mnc.clone(),
            })
            .collect(),
        files: Vec::new(),
    };
    // Each operator's own signed manifest: what it downloads and verifies, naming no other
    // operator's files or row counts. The run's manifest pins them by hash.
    for o in &manifest.operators {
        let prefix = format!("{}/", o.id);
        let mut own: Vec<FileEntry> = files
            .iter()
            .filter(|f| f.operator.as_deref() == Some(o.id.as_str()))
            .filter_map(|f| {
                let path = f.path.strip_prefix(&prefix)?.to_owned();
                Some(FileEntry { path, ..f.clone() })
            })
            .collect();
        own.sort_by(|a, b| a.path.cmp(&b.path));
        let m = Manifest {
            operator: Some(o.id.clone()),
            operators: vec![o.clone()],
            files: own,
            ..manifest.clone()
        };
        let opdir = tmp.join(&o.id);
        for (name, bytes, list) in sign(&opdir, &m, key)? {
            files.push(FileEntry {
                path: format!("{prefix}{name}"),
                list: list.into(),
                kind: "operator".into(),
                change: None,
                operator: Some(o.id.clone()),
                rows: 0,
                bytes: bytes.len() as u64,
                sha256: manifest::sha256_hex(&bytes),
            });
        }
        sync_dir(&opdir)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    manifest.files = files;
    sign(&tmp, &manifest, key)?;
    sync_dir(&tmp)?;

    let dir = run_dir(root, run);
    std::fs::rename(&tmp, &dir).map_err(ListsError::io(&dir))?;
    sync_dir(root)?;
    let pointer = root.join(format!("{CURRENT}.tmp"));
    write_synced(&pointer, format!("run-{run}\n").as_bytes())?;
    std::fs::rename(&pointer, root.join(CURRENT)).map_err(ListsError::io(root.join(CURRENT)))?;
    sync_dir(root)?;
    Ok(RunSummary { run, dir, manifest })
}

/// A signed file: its name, bytes and list (`manifest` or `signature`).
type SignedFile = (&'static str, Vec<u8>, &'static str);

/// Writes `m` and its signature into `dir`.
fn sign(dir: &Path, m: &Manifest, key: &NodeKey) -> Result<[SignedFile; 2], ListsError> {
    let bytes = m.to_bytes();
    write_synced(&dir.join(MANIFEST), &bytes)?;
    let sig = format!("{}\n", hex::encode(key.sign(&bytes))).into_bytes();
    write_synced(&dir.join(SIGNATURE), &sig)?;
    Ok([(MANIFEST, bytes, "manifest"), (SIGNATURE, sig, "signature")])
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ListsError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(ListsError::io(path))?;
    f.write_all(bytes).map_err(ListsError::io(path))?;
    f.sync_all().map_err(ListsError::io(path))
}
