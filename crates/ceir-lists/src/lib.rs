//! Operator lists after DIRBS `dirbs-listgen`: one blocklist, per-operator notification and
//! exception lists, full and delta files between runs, a signed manifest per run and one per
//! operator.
//!
//! The pipeline is: [`compute`] the new lists from classification rows, network triplets and
//! pairings (pure, in memory); [`publish`] them, one generation at a time, under
//! `DIR/lists/run-<n>/` beside the deltas against the latest run's snapshot (refused if that run
//! was made with other settings, conditions or operators), with manifests signed by the node's
//! key, made current by one atomic rename of `CURRENT`. [`verify`] checks what an operator
//! received.
//!
//! Inputs are plain values built from ceir-domain types so that the classification engine and the
//! observation store plug in through a thin adapter (see [`ListInput`] and [`Row`]).

mod compute;
mod csvout;
mod delta;
mod key;
mod manifest;
mod publish;
mod snapshot;

pub use compute::{compute, Lists};
pub use key::{KeyError, NodeKey, PublicKey};
pub use manifest::{verify, FileEntry, Manifest, ManifestOperator, Problem, Verification};
pub use publish::{current_run, publish, run_dir, runs, PublishMeta, RunInfo, RunSummary};

use ceir_domain::observe::{Day, IdKey, ImeiNorm, Region, Triplet};
use std::collections::HashSet;
use std::path::PathBuf;

/// The `DIR/lists` file names, shared by the writer, the verifier and the HTTP routes.
pub const CURRENT: &str = "CURRENT";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.json.sig";
pub const SNAPSHOT: &str = "snapshot.bin";
/// Held (an exclusive lock on the file) by the one list generation that may publish at a time.
pub const LOCK: &str = ".lock";

/// DIRBS `list_generation` settings (`[lists]` in ceir's configuration).
///
/// The defaults are DIRBS's code defaults (`dirbs/config/list_generation.py`), not the values of
/// its sample `etc/config.yml` (180 days, `notify_imsi_change: false`); each field says why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListConfig {
    /// Days of triplets, up to the end of the lookback window, that say which subscribers to
    /// notify. 60: a notification is for whoever uses the device now, and the window is loaded
    /// into memory whole, so a longer one costs in proportion for subscribers long gone.
    pub lookback_days: u32,
    /// Exception lists only for IMEIs on the blocklist (DIRBS
    /// `restrict_exceptions_list_to_blacklisted_imeis`). False: an operator learns of a
    /// pairing before the device's block date comes.
    pub restrict_exceptions_to_blocklisted: bool,
    /// Keep barred IMEIs and IMEIs of barred TACs on exception lists (DIRBS
    /// `include_barred_imeis_in_exceptions_list`). False: a pairing does not let a barred
    /// device onto a network.
    pub include_barred_in_exceptions: bool,
    /// When false, a pairing with the same MSISDN also spares a triplet from notification (a
    /// subscriber who changed SIM but kept the number). True: EIRs match exceptions by IMEI and
    /// IMSI, so with a new SIM the device will be blocked unless paired again, and the
    /// subscriber should be told.
    pub notify_imsi_change: bool,
    /// Adds DIRBS's `amnesty_granted` column to notification lists: set from the amnesty of the
    /// conditions in force, not configured on its own.
    pub amnesty_enabled: bool,
}

impl Default for ListConfig {
    fn default() -> Self {
        ListConfig {
            lookback_days: 60,
            restrict_exceptions_to_blocklisted: false,
            include_barred_in_exceptions: false,
            notify_imsi_change: true,
            amnesty_enabled: false,
        }
    }
}

/// A blocking condition as a manifest records it: what the lists' reasons come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BlockingCondition {
    pub label: String,
    pub reason: String,
}

/// A condition of the classification: only blocking ones make lists; the reason is what lists
/// print (as DIRBS takes it from the condition's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub label: String,
    pub reason: String,
    pub blocking: bool,
}

/// One classification state row, borrowed (the classifier's `StateRow` maps onto it field by
/// field, without copying strings).
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub imei: &'a ImeiNorm,
    /// The condition's label.
    pub condition: &'a str,
    /// `None` while the IMEI still meets the condition.
    pub end: Option<Day>,
    /// When it gets blocked; `None` for informative conditions.
    pub block_date: Option<Day>,
    pub amnesty: bool,
}

/// An IMEI–IMSI pairing (the exception list), with the MSISDN when the pairing list has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pairing {
    /// The 14-digit IMEI body.
    pub imei: u64,
    pub imsi: IdKey,
    /// [`IdKey::NULL`] when unknown.
    pub msisdn: IdKey,
}

/// Everything list generation reads besides the classification rows.
#[derive(Debug, Clone)]
pub struct ListInput<'a> {
    /// The list date: blocked when `block_date <= date`, notified when later.
    pub date: Day,
    /// The last day of the lookback window: the list date when given, else the last day of the
    /// observations, as DIRBS's analysis end date (operator data lags the list date).
    pub lookback_end: Day,
    pub conditions: &'a [Condition],
    /// Network triplets of the lookback window (at least), sorted by IMEI
    /// (`TripletBatch::triplets`).
    pub triplets: &'a [Triplet],
    /// The batch's operator table (`TripletBatch::operators`): what `Triplet::operator` indexes.
    pub triplet_operators: &'a [String],
    /// The batch's malformed IMEIs (`TripletBatch::raw_imeis`): what `ImeiKey::raw` indexes.
    pub raw_imeis: &'a [String],
    /// Active pairings (exceptions).
    pub pairings: &'a [Pairing],
    /// IMEI bodies that must never be blocked nor notified (DIRBS golden list).
    pub golden: &'a HashSet<u64>,
    /// Barred IMEI bodies and barred TACs: kept off exception lists unless configured.
    pub barred: &'a HashSet<u64>,
    pub barred_tacs: &'a HashSet<u32>,
    pub region: &'a Region,
    pub config: &'a ListConfig,
}

/// What can go wrong generating, publishing or reading lists.
#[derive(Debug, thiserror::Error)]
pub enum ListsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable lists snapshot: {reason}")]
    Snapshot { path: PathBuf, reason: String },
    /// The latest run cannot serve as the base of the deltas.
    #[error("run-{run}, the latest run, cannot be the base of the deltas: {reason}. Publish the next run with deltas against an empty base instead (`ceir lists generate --full-base`): its manifest says so, operators reload the full lists, and run-{run} and earlier stay published")]
    Base { run: u64, reason: String },
    /// The lists are made otherwise than the base run's (DIRBS refuses such deltas too).
    #[error("the lists are now made differently from run-{run}, the base of the deltas: {}. Deltas across such a change would misreport it as changes of devices: restore the previous settings, or publish with deltas against an empty base (`ceir lists generate --full-base`), after which operators reload the full lists", differences.join("; "))]
    ConfigChanged { run: u64, differences: Vec<String> },
    #[error("another list generation is running (it holds the lock on {0}); wait for it to finish, then run again")]
    Busy(PathBuf),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl ListsError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ListsError {
        let path = path.into();
        move |source| ListsError::Io { path, source }
    }
}
