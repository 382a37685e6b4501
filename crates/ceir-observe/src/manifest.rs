//! `_manifest.json`: the one file readers follow. It names the current file of every partition
//! and the imports merged so far; it is replaced only by an atomic rename.

use crate::{io_err, publish_file, ObserveError};
use ceir_domain::observe::Day;
use std::path::Path;

/// The manifest's format version; a reader refuses a newer one rather than misread it.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Increases by one with every published import; file names carry it.
    pub generation: u64,
    pub partitions: Vec<PartitionInfo>,
    pub imports: Vec<ImportRecord>,
}

/// One (month, operator) partition as currently published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionInfo {
    /// `yyyy-mm`.
    pub month: String,
    pub operator: String,
    pub triplets_file: String,
    pub imeis_file: String,
    pub triplets: u64,
    pub imeis: u64,
    /// ISO dates of the first and last day any triplet was seen.
    pub first_day: String,
    pub last_day: String,
}

impl PartitionInfo {
    pub fn month_day(&self) -> Result<Day, ObserveError> {
        Day::parse_iso(&format!("{}-01", self.month))
            .ok_or_else(|| ObserveError::Corrupt(format!("partition month {:?}", self.month)))
    }
    pub fn last_day(&self) -> Result<Day, ObserveError> {
        Day::parse_iso(&self.last_day)
            .ok_or_else(|| ObserveError::Corrupt(format!("partition last day {:?}", self.last_day)))
    }
}

/// A file merged into the store, so the same file is never merged twice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportRecord {
    pub sha256: String,
    pub operator: String,
    pub file: String,
    pub generation: u64,
}

impl Manifest {
    /// The manifest at `path`; an empty one when there is none yet.
    pub fn read(path: &Path) -> Result<Manifest, ObserveError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    format: FORMAT,
                    ..Manifest::default()
                })
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| ObserveError::Corrupt(format!("{}: {e}", path.display())))?;
        if m.format > FORMAT {
            return Err(ObserveError::Corrupt(format!(
                "{} has format {}, newer than this ceir understands ({FORMAT}); upgrade ceir",
                path.display(),
                m.format
            )));
        }
        Ok(m)
    }

    pub(crate) fn publish(&self, path: &Path) -> Result<(), ObserveError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| ObserveError::Corrupt(format!("manifest: {e}")))?;
        publish_file(path, &bytes)
    }
}
