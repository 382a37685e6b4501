//! The audit log's storage: appends chained under one lock, filtered pages, and a consistent
//! scan for verification and export.
//!
//! Changes write their audit record inside their own transaction (see `Store::apply` and the
//! other audited methods), so a change and its record commit or fail together. Only actions
//! that change nothing, such as reads of personal data, append on their own.

use crate::Result;
use ceir_domain::audit::{AuditBreak, AuditEntry, AuditHead, AuditRecord, Verifier};
use ceir_domain::Timestamp;
use std::ops::ControlFlow;

/// Which records to list or export. Empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// From this time on (inclusive).
    pub since: Option<Timestamp>,
    /// Before this time (exclusive).
    pub until: Option<Timestamp>,
    pub actor_org: Option<String>,
    /// An action string such as `list.add`.
    pub action: Option<String>,
}

/// Receives scanned records in `seq` order; `Break` stops the scan.
pub type AuditSink<'a> = dyn FnMut(AuditRecord) -> ControlFlow<()> + Send + 'a;

#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record in its own transaction, chained after the current head.
    async fn audit_append(&self, entry: &AuditEntry, now: Timestamp) -> Result<AuditRecord>;
    async fn audit_head(&self) -> Result<AuditHead>;
    /// Records after `after` (a seq) that match, oldest first.
    async fn audit_page(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>>;
    /// Feeds every matching record, oldest first, to `sink`, from one consistent snapshot of the
    /// log and its head, and returns that head.
    async fn audit_scan(&self, filter: &AuditFilter, sink: &mut AuditSink<'_>)
        -> Result<AuditHead>;

    /// Walks the whole chain against its head: the verified head, or the first break.
    async fn audit_verify(&self) -> Result<std::result::Result<AuditHead, AuditBreak>> {
        let mut v = Verifier::new();
        let mut broken: Option<AuditBreak> = None;
        let head = self
            .audit_scan(&AuditFilter::default(), &mut |r| match v.push(&r) {
                Ok(()) => ControlFlow::Continue(()),
                Err(b) => {
                    broken = Some(b);
                    ControlFlow::Break(())
                }
            })
            .await?;
        Ok(match broken {
            Some(b) => Err(b),
            None => v.finish(&head),
        })
    }
}
