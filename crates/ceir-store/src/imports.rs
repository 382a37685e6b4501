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

/// One day of an accepted operator data import, for later imports' historic checks: its
/// distinct IMEIs, IMSIs and MSISDNs as HyperLogLog sketches (registers in hex, as the importer
/// writes them) and how many of its rows had all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySketch {
    pub day: Day,
    pub complete_rows: u64,
    pub imei: String,
    pub imsi: String,
    pub msisdn: String,
}

#[async_trait::async_trait]
pub trait ImportStore: Send + Sync {
    /// Records a finished job (its `id` is ignored) and returns the id given to it.
    async fn record_import(&self, job: &ImportJob) -> Result<String>;
    /// Records a finished operator data job with its days' sketches, in one transaction.
    async fn record_operator_import(&self, job: &ImportJob, days: &[DaySketch]) -> Result<String>;
    /// The sketches an operator's imports kept of its latest `days` days on which any of them
    /// saw a row with an IMEI, an IMSI and an MSISDN: every import's sketch of each such day,
    /// newest day first.
    async fn operator_day_sketches(&self, operator: &str, days: u32) -> Result<Vec<DaySketch>>;
    /// Jobs, newest first, optionally of one kind and operator, at most `limit`.
    async fn import_jobs(
        &self,
        kind: Option<&str>,
        operator: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ImportJob>>;
}
