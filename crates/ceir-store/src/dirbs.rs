//! What importing the DIRBS lists and classifying devices need from the registry, in bulk. A
//! supertrait of [`crate::Store`].

use crate::{Entry, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::lists::{GoldenImei, ListKind, Reason, Subject};
use ceir_domain::Timestamp;

/// What a golden-list replacement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldenReport {
    pub previous: u64,
    pub added: u64,
    pub removed: u64,
    pub total: u64,
}

#[async_trait::async_trait]
pub trait DirbsListStore: Send + Sync {
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
}
