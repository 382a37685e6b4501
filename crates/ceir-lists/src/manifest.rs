//! The manifest of a run (what files, how many rows, their SHA-256) and its detached Ed25519
//! signature, and each operator's own manifest of its files (`run-<n>/<operator>/manifest.json`,
//! signed likewise); verification names every thing that is wrong.

use crate::compute::Lists;
use crate::key::PublicKey;
use crate::{BlockingCondition, ListConfig, ListsError, CURRENT, MANIFEST, SIGNATURE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Version 2 added the configuration fingerprint and the empty-base flag.
pub const FORMAT: &str = "ceir-lists/2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOperator {
    pub id: String,
    pub name: String,
    /// The networks it runs, MCC followed by MNC (`"40001"`): how the API knows whose files
    /// these are.
    pub mcc_mnc: Vec<String>,
}

/// One file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the run's directory, `/`-separated.
    pub path: String,
    /// `blocklist`, `notifications`, `exceptions`, `snapshot` (internal), or `manifest` and
    /// `signature` (an operator's own).
    pub list: String,
    /// `full`, `delta`, `internal` or `operator` (an operator's manifest and signature).
    pub kind: String,
    /// The change type of a delta file (`blocked`, `new`, `added`, …).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub change: Option<String>,
    /// The operator the file is for; none for the node-wide copy of the blocklist and the
    /// snapshot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operator: Option<String>,
    /// Data rows, without the header.
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub run: u64,
    /// The list date, `yyyy-mm-dd`.
    pub date: String,
    /// The run the deltas are against; none when they are against an empty base (a first run,
    /// or `full_base`): every row of the lists is then in the deltas as new.
    pub previous_run: Option<u64>,
    /// Earlier runs exist, but the deltas are against an empty base on request (the latest
    /// run's snapshot was lost, or the configuration changed): reload the full lists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_base: bool,
    /// The classification run the lists come from.
    pub classification_run: Option<u64>,
    /// The node's country (ISO 3166 alpha-2).
    pub country: String,
    /// The signing key's id (see [`PublicKey::key_id`]).
    pub key_id: String,
    /// The operator this manifest is for: it lists that operator's files only, with paths
    /// relative to its directory (`run-<n>/<operator>/`, or wherever the operator saved them).
    /// None for the run's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The list settings the run was made with. Absent from `ceir-lists/1` manifests, which
    /// still read (and are listed and served), but never match: no deltas against them.
    #[serde(default)]
    pub config: ListConfig,
    /// The blocking conditions the run was made with.
    #[serde(default)]
    pub blocking_conditions: Vec<BlockingCondition>,
    pub operators: Vec<ManifestOperator>,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// How `lists` are made otherwise than the run of `base` (DIRBS's list generation sanity
/// check): the list settings, the blocking conditions, and the operators with their networks.
/// Operator names are left out: they route nothing. Empty when deltas between them are sound.
pub(crate) fn differences(base: &Manifest, lists: &Lists) -> Vec<String> {
    let mut out = Vec::new();
    let json = |c: &ListConfig| match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (was, now) = (json(&base.config), json(&lists.config));
    for (k, v) in &now {
        match was.get(k) {
            Some(w) if w == v => {}
            Some(w) => out.push(format!("{k} is {v}, was {w}")),
            None => out.push(format!("{k} is {v}, was not recorded")),
        }
    }
    for c in &lists.blocking_conditions {
        match base.blocking_conditions.iter().find(|b| b.label == c.label) {
            None => out.push(format!("blocking condition {} is new", c.label)),
            Some(b) if b.reason != c.reason => out.push(format!(
                "blocking condition {} has the reason {:?}, was {:?}",
                c.label, c.reason, b.reason
            )),
            Some(_) => {}
        }
    }
    for b in &base.blocking_conditions {
        if !lists.blocking_conditions.iter().any(|c| c.label == b.label) {
            out.push(format!("blocking condition {} is gone", b.label));
        }
    }
    for o in &lists.region_operators {
        match base.operators.iter().find(|b| b.id == o.id) {
            None => out.push(format!("operator {} is new", o.id)),
            Some(b) if b.mcc_mnc != o.mcc_mnc => out.push(format!(
                "operator {} runs {}, ran {}",
                o.id,
                o.mcc_mnc.join(","),
                b.mcc_mnc.join(",")
            )),
            Some(_) => {}
        }
    }
    for b in &base.operators {
        if !lists.region_operators.iter().any(|o| o.id == b.id) {
            out.push(format!(
                "operator {} is gone: its lists would stop without a delta telling it",
                b.id
            ));
        }
    }
    out
}

/// One thing wrong with a set of lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    ManifestUnreadable(String),
    /// A manifest format this verifier does not know.
    Format(String),
    /// The manifest names a file twice (only one entry could hold).
    DuplicatePath(String),
    SignatureMissing,
    SignatureMalformed,
    /// Signed by another key than the one given (the manifest names its key id).
    WrongKey {
        manifest_key: String,
        given_key: String,
    },
    /// The manifest was changed after signing, or signed by another key with the same id.
    SignatureInvalid,
    UnsafePath(String),
    Missing(String),
    SizeDiffers {
        path: String,
        expected: u64,
        actual: u64,
    },
    HashDiffers {
        path: String,
        expected: String,
        actual: String,
    },
    /// A file in the run's directory that the manifest does not list.
    Unlisted(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ManifestUnreadable(e) => write!(f, "the manifest is unreadable: {e}"),
            Problem::Format(v) => write!(
                f,
                "the manifest's format is {v:?}; this verifier reads {FORMAT:?}: use a ceir of the node's version"
            ),
            Problem::DuplicatePath(p) => write!(f, "{p}: named twice in the manifest"),
            Problem::SignatureMissing => write!(f, "the signature file {SIGNATURE} is missing"),
            Problem::SignatureMalformed => {
                write!(f, "the signature file {SIGNATURE} is not a hex Ed25519 signature")
            }
            Problem::WrongKey {
                manifest_key,
                given_key,
            } => write!(
                f,
                "the manifest was signed with key {manifest_key}, not with the key given ({given_key})"
            ),
            Problem::SignatureInvalid => write!(
                f,
                "the signature does not match the manifest: the manifest was altered or signed by another key"
            ),
            Problem::UnsafePath(p) => write!(f, "{p}: the manifest names a path outside the run"),
            Problem::Missing(p) => write!(f, "{p}: missing"),
            Problem::SizeDiffers {
                path,
                expected,
                actual,
            } => write!(f, "{path}: {actual} bytes, the manifest says {expected}"),
            Problem::HashDiffers {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{path}: SHA-256 {actual}, the manifest says {expected}: the file was altered"
            ),
            Problem::Unlisted(p) => write!(f, "{p}: not in the manifest"),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub manifest_path: PathBuf,
    pub manifest: Option<Manifest>,
    pub files_checked: usize,
    pub problems: Vec<Problem>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The manifest a path names: a manifest file, a run directory, or `DIR/lists` (its current run).
pub fn resolve(path: &Path) -> Result<PathBuf, ListsError> {
    if path.is_file() {
        return Ok(path.to_owned());
    }
    if path.join(MANIFEST).is_file() {
        return Ok(path.join(MANIFEST));
    }
    for lists in [path.to_owned(), path.join("lists")] {
        if let Ok(cur) = std::fs::read_to_string(lists.join(CURRENT)) {
            return Ok(lists.join(cur.trim()).join(MANIFEST));
        }
    }
    Err(ListsError::Invalid(format!(
        "{}: no manifest there; give a run directory (DIR/lists/run-<n>), its {MANIFEST}, or DIR/lists",
        path.display()
    )))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, hex::encode(h.finalize())))
}

fn safe(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Checks a manifest's signature with `key` and every file it lists (size and SHA-256), and
/// names files beside it that it does not list.
///
/// `path` names a run (its directory, its manifest, or `DIR/lists` for the current run) or an
/// operator's download (its directory or manifest). With `operator`, the run's manifest gives
/// way to that operator's own; an operator the manifest does not know is an error, as are an
/// operator's manifest for another operator.
pub fn verify(
    path: &Path,
    key: &PublicKey,
    operator: Option<&str>,
) -> Result<Verification, ListsError> {
    let manifest_path = resolve(path)?;
    let v = verify_manifest(&manifest_path, key)?;
    let (Some(want), Some(m)) = (operator, &v.manifest) else {
        return Ok(v);
    };
    match &m.operator {
        Some(o) if o == want => Ok(v),
        Some(o) => Err(ListsError::Invalid(format!(
            "{} is {o}'s manifest, not {want}'s: check --operator or the directory",
            manifest_path.display()
        ))),
        None if m.operators.iter().any(|o| o.id == want) => {
            let dir = manifest_path.parent().unwrap_or(Path::new(""));
            let own = dir.join(want).join(MANIFEST);
            if !own.is_file() {
                let mut v = v;
                v.problems
                    .push(Problem::Missing(format!("{want}/{MANIFEST}")));
                return Ok(v);
            }
            verify_manifest(&own, key)
        }
        None => Err(ListsError::Invalid(format!(
            "run {} has no operator {want:?}; its operators are {}: check --operator",
            m.run,
            m.operators
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn verify_manifest(manifest_path: &Path, key: &PublicKey) -> Result<Verification, ListsError> {
    let dir = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bytes = std::fs::read(manifest_path).map_err(ListsError::io(manifest_path))?;
    let mut v = Verification {
        manifest_path: manifest_path.to_owned(),
        manifest: None,
        files_checked: 0,
        problems: Vec::new(),
    };
    match std::fs::read_to_string(dir.join(SIGNATURE)) {
        Err(_) => v.problems.push(Problem::SignatureMissing),
        Ok(text) => {
            let mut sig = [0u8; 64];
            if hex::decode_to_slice(text.trim(), &mut sig).is_err() {
                v.problems.push(Problem::SignatureMalformed);
            } else if !key.verify(&bytes, &sig) {
                v.problems.push(Problem::SignatureInvalid);
            }
        }
    }
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            v.problems.push(Problem::ManifestUnreadable(e.to_string()));
            return Ok(v);
        }
    };
    if manifest.format != FORMAT {
        v.problems
            .insert(0, Problem::Format(manifest.format.clone()));
    }
    if manifest.key_id != key.key_id() {
        // Named first: it explains the invalid signature.
        v.problems.insert(
            0,
            Problem::WrongKey {
                manifest_key: manifest.key_id.clone(),
                given_key: key.key_id(),
            },
        );
    }
    let mut seen = std::collections::HashSet::new();
    for f in &manifest.files {
        if !seen.insert(f.path.as_str()) {
            v.problems.push(Problem::DuplicatePath(f.path.clone()));
            continue;
        }
        if !safe(&f.path) {
            v.problems.push(Problem::UnsafePath(f.path.clone()));
            continue;
        }
        v.files_checked += 1;
        match sha256_file(&dir.join(&f.path)) {
            Err(_) => v.problems.push(Problem::Missing(f.path.clone())),
            Ok((size, _)) if size != f.bytes => v.problems.push(Problem::SizeDiffers {
                path: f.path.clone(),
                expected: f.bytes,
                actual: size,
            }),
            Ok((_, sha)) if sha != f.sha256 => v.problems.push(Problem::HashDiffers {
                path: f.path.clone(),
                expected: f.sha256.clone(),
                actual: sha,
            }),
            Ok(_) => {}
        }
    }
    let mut present = Vec::new();
    list_files(&dir, "", &mut present);
    present.sort();
    for p in present {
        if p != MANIFEST && p != SIGNATURE && !seen.contains(p.as_str()) {
            v.problems.push(Problem::Unlisted(p));
        }
    }
    v.manifest = Some(manifest);
    Ok(v)
}

fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            list_files(&e.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}
