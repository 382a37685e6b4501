//! What importing the DIRBS lists and classifying devices need from the registry, in bulk. A
//! supertrait of [`crate::Store`].

use crate::{ApplyReport, Entry, ListChange, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::lists::{GoldenImei, ListKind, Reason, Subject};
use ceir_domain::{Imei, Imsi, PairingMsisdn, Timestamp};

/// One row of a DIRBS list as an organisation last imported it. DIRBS keeps every row of its
/// lists, whatever the status; the registry holds the entries the rows make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirbsRow {
    /// The IMEI, the IMEI and IMSI of a pairing, or the TAC.
    pub subject: Subject,
    /// A pairing's MSISDN (`None` for other lists, and for pairings kept before migration 0009).
    pub msisdn: Option<PairingMsisdn>,
    /// The row's other columns, as the importer wrote them (a JSON object).
    pub fields: String,
}

/// One DIRBS list import, applied in one transaction by [`DirbsListStore::apply_dirbs_list`]:
/// the acting organisation's rows of the list and its registry entries that follow from them.
#[derive(Debug, Clone, Copy)]
pub struct DirbsListImport<'a> {
    /// The DIRBS list: `stolen`, `registration`, `pairing`, `barred`, `barred_tac`, `monitoring`.
    pub list: &'a str,
    /// The registry list its rows' subjects go on.
    pub kind: ListKind,
    /// Registry changes, as for [`crate::Store::apply`].
    pub changes: &'a [ListChange],
    /// Rows new or with new values.
    pub upsert: &'a [DirbsRow],
    /// Rows no longer on the list, by subject and MSISDN.
    pub delete: &'a [(Subject, Option<PairingMsisdn>)],
}

/// An exception pair of the registry with an MSISDN of the DIRBS pairing list: what the exception
/// lists give operators (DIRBS's pairings are IMEI, IMSI and MSISDN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExceptionPairing {
    pub imei: Imei,
    pub imsi: Imsi,
    /// `None` for a pair no pairing list gave an MSISDN (added by hand, or imported before
    /// migration 0009 and not since).
    pub msisdn: Option<PairingMsisdn>,
}

/// What a golden-list replacement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldenReport {
    pub previous: u64,
    pub added: u64,
    pub removed: u64,
    pub total: u64,
}

/// A DIRBS list import in progress: one transaction that reads the organisation's rows of the
/// list and its registry entries in pages, and writes the changes in batches, so that a list of
/// any size is imported in bounded memory. Nothing is visible to others until
/// [`DirbsImport::commit`]; dropping it rolls everything back.
#[async_trait::async_trait]
pub trait DirbsImport: Send {
    /// How many rows of the list the organisation held when the import began.
    async fn kept_count(&mut self) -> Result<u64>;
    /// At most `limit` of the organisation's rows of the list, after `after` (`None`: from the
    /// first), ordered by subject and then MSISDN as the database orders them.
    async fn kept_after(&mut self, after: Option<&DirbsRow>, limit: usize)
        -> Result<Vec<DirbsRow>>;
    /// The organisation's rows of the list about these subjects, in no particular order.
    async fn kept_of(&mut self, subjects: &[Subject]) -> Result<Vec<DirbsRow>>;
    /// At most `limit` of the organisation's entries on the registry list, after `after`, in
    /// subject order.
    async fn held_after(&mut self, after: Option<Subject>, limit: usize) -> Result<Vec<Entry>>;
    /// The organisation's entries on the registry list about these subjects, in no particular
    /// order.
    async fn held_of(&mut self, subjects: &[Subject]) -> Result<Vec<Entry>>;
    /// Applies one batch: registry changes (with the rules of [`crate::Store::apply`]), then rows
    /// removed and rows written. A batch must not touch a subject a later page will return.
    async fn apply(
        &mut self,
        changes: &[ListChange],
        upsert: &[DirbsRow],
        delete: &[(Subject, Option<PairingMsisdn>)],
    ) -> Result<()>;
    /// Writes the import's audit record and commits.
    async fn commit(self: Box<Self>) -> Result<ApplyReport>;
}

/// A golden-list import in progress, as [`DirbsImport`] is for the other lists: one transaction,
/// the stored hashes read in pages, changes written in batches.
#[async_trait::async_trait]
pub trait GoldenImport: Send {
    /// How many hashes the golden list held when the import began.
    async fn count(&mut self) -> Result<u64>;
    /// At most `limit` of the golden list after the hash `after`, ordered by hash as bytes.
    async fn after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<GoldenImei>>;
    /// The golden IMEIs with these hashes, in no particular order.
    async fn of(&mut self, hashes: &[String]) -> Result<Vec<GoldenImei>>;
    /// Writes hashes new or with a new IMEI in clear, and removes others.
    async fn apply(&mut self, upsert: &[GoldenImei], delete: &[String]) -> Result<()>;
    /// Writes the audit record (what the import did: `report`, from the file `source`) and
    /// commits.
    async fn commit(self: Box<Self>, source: &str, report: GoldenReport) -> Result<GoldenReport>;
}

#[async_trait::async_trait]
pub trait DirbsListStore: Send + Sync {
    /// Begins a golden-list import as the acting organisation: see [`GoldenImport`].
    async fn begin_golden_import(
        &self,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<Box<dyn GoldenImport>>;
    /// Begins a DIRBS list import of `list` (whose subjects go on the registry list `kind`) as
    /// the acting organisation: see [`DirbsImport`].
    async fn begin_dirbs_import(
        &self,
        list: &str,
        kind: ListKind,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<Box<dyn DirbsImport>>;
    /// Every entry of a list as (subject, reason), in one query: a subject listed by several
    /// organisations appears once per organisation.
    async fn list_subjects(&self, list: ListKind) -> Result<Vec<(Subject, Reason)>>;
    /// Every entry one organisation holds on a list (what a full list import compares against).
    async fn list_source(&self, list: ListKind, org: &str) -> Result<Vec<Entry>>;
    /// Replaces the golden list in one transaction, with its audit record. Duplicate hashes are
    /// kept once (the one with the IMEI in clear, if any).
    async fn replace_golden(
        &self,
        imeis: &[GoldenImei],
        source: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<GoldenReport>;
    /// The golden list, sorted by hash.
    async fn golden_imeis(&self) -> Result<Vec<GoldenImei>>;
    /// The rows of one DIRBS list an organisation last imported; `kind` is the registry list the
    /// list maps to (what its subjects are).
    async fn dirbs_rows(&self, list: &str, kind: ListKind, org: &str) -> Result<Vec<DirbsRow>>;
    /// Applies one DIRBS list import as the acting organisation in one transaction: the registry
    /// changes (with the rules of [`crate::Store::apply`]), the list's rows and one audit record.
    /// All or nothing.
    async fn apply_dirbs_list(
        &self,
        import: &DirbsListImport<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<ApplyReport>;
    /// Every exception pair on the registry, once for each MSISDN the organisation holding it
    /// gave it on the DIRBS pairing list, or once with `None` if none did; sorted by IMEI, IMSI
    /// and MSISDN. What the exception lists are made from.
    async fn exception_pairings(&self) -> Result<Vec<ExceptionPairing>>;
}
