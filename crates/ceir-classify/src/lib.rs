//! ceir's classification engine: every configured condition over a window of operator
//! observations, with DIRBS's sticky, grace, amnesty and safety-stop semantics, kept as
//! incremental state with history under `DIR/classification`.
//!
//! The dimension logic is pure and lives in [`ceir_domain::classify`]; this crate groups the
//! observations by IMEI, evaluates in parallel, merges with the previous state and persists it.

mod engine;
mod explain;
mod state;

pub use engine::{classify, Input, ObservationBatch, Observations};
pub use explain::{
    explain, ConditionExplanation, DimensionExplanation, Explanation, ModelView, ObservedSummary,
    StateView, SubscriberRow,
};
pub use state::StateStore;

use ceir_domain::observe::{Day, ImeiNorm};
use ceir_domain::ErrorCode;

/// One classification run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunInfo {
    /// 1, 2, ... in commit order.
    pub id: u64,
    /// The run's date (DIRBS `curr_date`, else today): start, end and block dates count from it.
    pub date: Day,
    /// The last day the dimensions looked at: the given date, else the last day of data.
    pub analysis_date: Day,
    pub previous: Option<u64>,
    /// Distinct IMEIs ever seen (the safety stop's denominator, DIRBS's `network_imeis`).
    pub imeis_seen: u64,
    pub summary: Vec<ConditionSummary>,
}

/// What a run did per condition.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ConditionSummary {
    pub label: String,
    /// IMEIs meeting the condition after this run (open rows).
    pub matched: u64,
    /// Rows opened by this run.
    pub newly_matched: u64,
    /// Rows closed by this run.
    pub no_longer_matching: u64,
    /// Open rows with a block date (blocking conditions).
    pub blocking: u64,
}

/// A condition as recorded with a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConditionInfo {
    pub label: String,
    pub reason: String,
    pub blocking: bool,
    pub sticky: bool,
    pub grace_period_days: u32,
}

/// A committed classification: the run and the whole state, history included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub run: RunInfo,
    pub conditions: Vec<ConditionInfo>,
    /// Every row, open and closed, sorted by IMEI, then condition (in `conditions` order), then
    /// start.
    pub rows: Vec<StateRow>,
}

impl Classified {
    /// The rows of one IMEI (binary search over the sorted rows).
    pub fn rows_of(&self, imei: &ImeiNorm) -> &[StateRow] {
        let lo = self.rows.partition_point(|r| r.imei < *imei);
        let hi = lo + self.rows[lo..].partition_point(|r| r.imei == *imei);
        &self.rows[lo..hi]
    }
}

/// One episode of an IMEI meeting a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub imei: ImeiNorm,
    /// The condition's label.
    pub condition: String,
    /// First day the IMEI met the condition (this episode).
    pub start: Day,
    /// `None` while it still meets it.
    pub end: Option<Day>,
    /// `start + grace` for blocking conditions; `None` for informative ones (and during an
    /// amnesty evaluation period).
    pub block_date: Option<Day>,
    /// Matched during the amnesty evaluation period: never blocked before the amnesty ends.
    pub amnesty: bool,
    pub reason: String,
}

/// A condition that would flag more than its allowed share of devices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SafetyViolation {
    pub label: String,
    pub matched: u64,
    pub imeis_seen: u64,
    pub ratio: f64,
    pub max_ratio: f64,
}

/// Why classification failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("safety stop, nothing written: {}", describe_violations(.0))]
    SafetyStop(Vec<SafetyViolation>),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    #[error(transparent)]
    Config(#[from] ceir_domain::classify::ConfigError),
    /// Another run was committed since this one read the state.
    #[error("{0}")]
    Conflict(String),
}

fn describe_violations(v: &[SafetyViolation]) -> String {
    v.iter()
        .map(|v| {
            format!(
                "condition {} matches {} of {} IMEIs ({:.4}), more than its max_allowed_matching_ratio {}",
                v.label, v.matched, v.imeis_seen, v.ratio, v.max_ratio
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClassifyError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ClassifyError::SafetyStop(_) => ErrorCode::SafetyStop,
            ClassifyError::Io { .. } => ErrorCode::StoreUnavailable,
            ClassifyError::Corrupt { .. } => ErrorCode::Internal,
            ClassifyError::Config(_) => ErrorCode::InvalidInput,
            ClassifyError::Conflict(_) => ErrorCode::Conflict,
        }
    }
}
