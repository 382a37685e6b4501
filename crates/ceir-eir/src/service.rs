//! The registry service: the store plus the in-memory index that follows its change feed.
//!
//! Every path that changes a list goes through the store; the index learns of the change only
//! from the feed (`catch_up`), whether the change was made here, by another process on the same
//! database, or by the expiry sweep. One path means one ordering and no double application.

use crate::index::StatusIndex;
use ceir_domain::audit::AuditContext;
use ceir_domain::lists::ListKind;
use ceir_domain::status::{decide, Basis, EquipmentStatus, ListFlags, UnlistedPolicy};
use ceir_domain::{Clock, Imei, Imsi};
use ceir_store::{ApplyReport, IndexUpdate, ListChange, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Feed rows read per round trip while catching up.
const FEED_PAGE: u32 = 50_000;

#[derive(Debug)]
pub struct Registry {
    store: Arc<dyn Store>,
    index: StatusIndex,
    clock: Arc<dyn Clock>,
    policy: UnlistedPolicy,
    /// Serialises catch-up so feed rows are applied in order, once.
    feed: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Builds the index from a consistent snapshot of the store, then applies what came after.
    pub async fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: UnlistedPolicy,
    ) -> Result<Registry, StoreError> {
        let snap = store.snapshot().await?;
        let expected = snap.flags.len();
        let index = StatusIndex::build(
            snap.flags.into_iter().map(|(k, f)| (k, ListFlags(f))),
            expected,
        );
        index.load_pairs(snap.pairs);
        index.load_barred_tacs(snap.barred_tacs);
        index.set_applied_seq(snap.seq);
        let r = Registry {
            store,
            index,
            clock,
            policy,
            feed: tokio::sync::Mutex::new(()),
        };
        r.catch_up().await?;
        Ok(r)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn index(&self) -> &StatusIndex {
        &self.index
    }
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    pub fn policy(&self) -> UnlistedPolicy {
        self.policy
    }

    /// The EIR decision for a device, optionally for a subscriber. No I/O, no allocation.
    pub fn check(&self, imei: Imei, imsi: Option<Imsi>) -> (Option<EquipmentStatus>, Basis) {
        decide(self.index.facts(imei, imsi), self.policy)
    }

    /// Applies a batch of list changes atomically, with its audit record; the change is visible
    /// to the next check.
    pub async fn apply(
        &self,
        changes: &[ListChange],
        by: &AuditContext,
    ) -> Result<ApplyReport, StoreError> {
        let report = self
            .store
            .apply(changes, by, self.clock.now(), false)
            .await?;
        self.catch_up().await?;
        Ok(report)
    }

    /// Applies every feed row after the index's position. Returns how many were applied.
    pub async fn catch_up(&self) -> Result<u64, StoreError> {
        let _guard = self.feed.lock().await;
        let mut applied = 0;
        loop {
            let rows = self
                .store
                .feed_since(self.index.applied_seq(), FEED_PAGE)
                .await?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            for u in &rows {
                self.apply_update(u);
            }
            applied += rows.len() as u64;
            self.index.set_applied_seq(last);
            if rows.len() < FEED_PAGE as usize {
                break;
            }
        }
        Ok(applied)
    }

    fn apply_update(&self, u: &IndexUpdate) {
        match u.list {
            ListKind::Blocked | ListKind::Tracked | ListKind::Permitted => self
                .index
                .set_list_flags(u.subject, ListFlags(u.state_after as u8)),
            ListKind::Exception if u.state_after != 0 => self.index.add_pair(u.subject, u.imsi),
            ListKind::Exception => self.index.remove_pair(u.subject, u.imsi),
            ListKind::BarredTac => self
                .index
                .set_tac_barred(u.subject as u32, u.state_after != 0),
        }
    }

    /// Lifts expired entries (as the system, keeping history). Returns how many.
    pub async fn sweep_expired(&self) -> Result<u64, StoreError> {
        let r = self.store.expire_due(self.clock.now()).await?;
        if r.removed > 0 {
            self.catch_up().await?;
        }
        Ok(r.removed)
    }

    /// Follows the feed until `stop` resolves: wakes on NOTIFY (PostgreSQL) or polls, and sweeps
    /// expired entries at least every `sweep_every`.
    pub async fn follow(
        self: Arc<Self>,
        sweep_every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = self.store.wait_for_feed(Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "catching up with the change feed failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if last_sweep.elapsed() >= sweep_every {
                last_sweep = tokio::time::Instant::now();
                match self.sweep_expired().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "lifted expired entries"),
                    Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
                }
            }
        }
    }
}
