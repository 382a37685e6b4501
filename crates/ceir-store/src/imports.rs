//! Import job records: what each data import looked at and decided. A supertrait of
//! [`crate::Store`].

use crate::Result;
use ceir_domain::observe::Day;
use ceir_domain::Timestamp;

/// What an import decided about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Checked and stored.
    Accepted,
    /// Failed a check: nothing was stored.
    Refused,
    /// The same file (by SHA-256) was stored before: nothing changed.
    Unchanged,
    /// Could not be read or stored (an I/O error, an unreadable header).
    Failed,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::Unchanged => "unchanged",
            Verdict::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Verdict> {
        [
            Verdict::Accepted,
            Verdict::Refused,
            Verdict::Unchanged,
            Verdict::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One import job as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Assigned by the store.
    pub id: String,
    /// `operator`, or a list's name for list imports.
    pub kind: String,
    pub file: String,
    pub sha256: String,
    pub operator: Option<String>,
    /// The period the file name states.
    pub period: Option<(Day, Day)>,
    /// Data rows read (readable and not).
    pub rows: u64,
    /// Distinct triplets kept.
    pub triplets: u64,
    pub verdict: Verdict,
    /// The checks (JSON array, as the importer wrote it).
    pub checks: String,
    /// Per-day distinct counts (JSON array; the historic check reads them back).
    pub daily: String,
    /// A failure's reason, or a note.
    pub message: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
}

#[async_trait::async_trait]
pub trait ImportStore: Send + Sync {
    /// Records a finished job (its `id` is ignored) and returns the id given to it.
    async fn record_import(&self, job: &ImportJob) -> Result<String>;
    /// Jobs, newest first, optionally of one kind and operator, at most `limit`.
    async fn import_jobs(
        &self,
        kind: Option<&str>,
        operator: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ImportJob>>;
}
