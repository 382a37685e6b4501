//! [`DirbsListStore`] on SQLite and PostgreSQL.

use super::{placeholders, subject_of, EntryRow, Pool, SqlStore, CHUNK, ENTRY_COLS};
use crate::dirbs::{DirbsListStore, GoldenReport};
use crate::{Entry, Result, StoreError};
use ceir_domain::audit::{AuditAction, AuditContext, AuditEntry, ObjectRef};
use ceir_domain::authz::Capability;
use ceir_domain::lists::{GoldenImei, ListKind, Reason, RuleError, Subject};
use ceir_domain::Timestamp;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

#[async_trait::async_trait]
impl DirbsListStore for SqlStore {
    async fn list_subjects(&self, list: ListKind) -> Result<Vec<(Subject, Reason)>> {
        let rows: Vec<(i64, i64, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT subject, imsi, reason FROM list_entry WHERE list = $1 ORDER BY subject, imsi, org")
                .bind(list.as_str())
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(|(s, imsi, r)| {
                Ok((
                    subject_of(list, s, imsi)?,
                    Reason::parse(&r).map_err(|e| super::corrupt("reason", e))?,
                ))
            })
            .collect()
    }

    async fn list_source(&self, list: ListKind, org: &str) -> Result<Vec<Entry>> {
        let rows: Vec<EntryRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, EntryRow>(&format!("SELECT {ENTRY_COLS} FROM list_entry WHERE list = $1 AND org = $2 ORDER BY subject, imsi"))
                .bind(list.as_str())
                .bind(org)
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    async fn replace_golden(
        &self,
        imeis: &[GoldenImei],
        source: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<GoldenReport> {
        // The golden list overrides blocking, so it takes the right to change the blocked list.
        if !by.actor.can(Capability::to_change(ListKind::Blocked)) {
            return Err(StoreError::Rule {
                index: 0,
                source: RuleError::Subject(format!(
                    "{} ({}) may not change the golden list",
                    by.actor.org, by.actor.org_kind
                )),
            });
        }
        let mut wanted: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for g in imeis {
            let slot = wanted.entry(g.hash.as_str()).or_insert(None);
            if slot.is_none() {
                *slot = g.imei.as_deref();
            }
        }
        let is_pg = matches!(self.pool, Pool::Postgres(_));
        let actor_org = by.actor.org.clone();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let before: Vec<(String,)> = sqlx::query_as("SELECT hashed_imei FROM golden_imei").fetch_all(&mut *tx).await?;
            let before: HashSet<String> = before.into_iter().map(|(h,)| h).collect();
            let added = wanted.keys().filter(|h| !before.contains(**h)).count() as u64;
            let removed = before.iter().filter(|h| !wanted.contains_key(h.as_str())).count() as u64;
            sqlx::query("DELETE FROM golden_imei").execute(&mut *tx).await?;
            let rows: Vec<(&str, Option<&str>)> = wanted.iter().map(|(h, im)| (*h, *im)).collect();
            for part in rows.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO golden_imei (hashed_imei, imei, org, added_at) VALUES {}",
                    placeholders(part.len(), 4, is_pg)
                );
                let mut q = sqlx::query(&sql);
                for (h, im) in part {
                    q = q.bind(*h).bind(*im).bind(actor_org.as_str()).bind(now.0);
                }
                q.execute(&mut *tx).await?;
            }
            let total: i64 = sqlx::query("SELECT COUNT(*) FROM golden_imei").fetch_one(&mut *tx).await?.try_get(0)?;
            let detail = serde_json::json!({"source": source, "previous": before.len(), "added": added, "removed": removed, "total": total}).to_string();
            let entry = AuditEntry::new(by, AuditAction::GoldenReplace, ObjectRef::golden(), detail);
            audit_append!(tx, entry, now);
            tx.commit().await?;
            Ok(GoldenReport { previous: before.len() as u64, added, removed, total: total as u64 })
        })
    }

    async fn golden_imeis(&self) -> Result<Vec<GoldenImei>> {
        let rows: Vec<(String, Option<String>)> = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT hashed_imei, imei FROM golden_imei ORDER BY hashed_imei")
                .fetch_all(p)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(hash, imei)| GoldenImei { hash, imei })
            .collect())
    }
}
