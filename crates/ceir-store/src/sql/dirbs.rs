//! [`DirbsListStore`] on SQLite and PostgreSQL.

use super::{placeholders, subject_of, Action, EntryRow, Pool, SqlStore, CHUNK, ENTRY_COLS};
use crate::dirbs::{DirbsListImport, DirbsListStore, DirbsRow, ExceptionPairing, GoldenReport};
use crate::{ApplyReport, Entry, Result, StoreError};
use ceir_domain::audit::{AuditAction, AuditContext, AuditEntry, ObjectRef};
use ceir_domain::authz::Capability;
use ceir_domain::lists::{GoldenImei, ListKind, Reason, RuleError, Subject};
use ceir_domain::{PairingMsisdn, Timestamp};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

/// Writes a DIRBS list import's rows inside the open transaction `$tx`, for organisation `$org`:
/// removals, then new and changed rows, in multi-row statements.
macro_rules! write_dirbs_rows {
    ($tx:expr, $d:expr, $org:expr, $is_pg:expr) => {{
        let d: &$crate::DirbsListImport<'_> = $d;
        let org: &str = $org;
        let msisdn = |m: &Option<ceir_domain::PairingMsisdn>| {
            m.as_ref().map_or(String::new(), |m| m.as_str().to_owned())
        };
        for part in d.delete.chunks(CHUNK) {
            let sql = format!(
                "DELETE FROM dirbs_list_row WHERE (list, org, subject, imsi, msisdn) IN (VALUES {})",
                placeholders(part.len(), 5, $is_pg)
            );
            let mut q = sqlx::query(&sql);
            for (subject, m) in part {
                let (s, imsi) = $crate::subject_key(*subject);
                q = q
                    .bind(d.list)
                    .bind(org)
                    .bind($crate::sql::i(s))
                    .bind($crate::sql::i(imsi))
                    .bind(msisdn(m));
            }
            q.execute(&mut *$tx).await?;
        }
        for part in d.upsert.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO dirbs_list_row (list, org, subject, imsi, msisdn, fields) VALUES {} \
                 ON CONFLICT (list, org, subject, imsi, msisdn) DO UPDATE SET fields = excluded.fields",
                placeholders(part.len(), 6, $is_pg)
            );
            let mut q = sqlx::query(&sql);
            for r in part {
                let (s, imsi) = $crate::subject_key(r.subject);
                q = q
                    .bind(d.list)
                    .bind(org)
                    .bind($crate::sql::i(s))
                    .bind($crate::sql::i(imsi))
                    .bind(msisdn(&r.msisdn))
                    .bind(r.fields.as_str());
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}

/// A stored MSISDN column: '' is none.
fn stored_msisdn(m: String) -> Result<Option<PairingMsisdn>> {
    if m.is_empty() {
        return Ok(None);
    }
    PairingMsisdn::parse(&m)
        .map(Some)
        .map_err(|e| super::corrupt("pairing msisdn", e))
}

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

    async fn dirbs_rows(&self, list: &str, kind: ListKind, org: &str) -> Result<Vec<DirbsRow>> {
        let rows: Vec<(i64, i64, String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT subject, imsi, msisdn, fields FROM dirbs_list_row WHERE list = $1 AND org = $2 \
                 ORDER BY subject, imsi, msisdn",
            )
            .bind(list)
            .bind(org)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(s, imsi, msisdn, fields)| {
                Ok(DirbsRow {
                    subject: subject_of(kind, s, imsi)?,
                    msisdn: stored_msisdn(msisdn)?,
                    fields,
                })
            })
            .collect()
    }

    async fn apply_dirbs_list(
        &self,
        import: &DirbsListImport<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<ApplyReport> {
        self.apply_inner(import.changes, by, now, false, Action::Remove, Some(import))
            .await
    }

    async fn exception_pairings(&self) -> Result<Vec<ExceptionPairing>> {
        // Each holder's own pairing rows give its pair's MSISDNs.
        let rows: Vec<(i64, i64, Option<String>)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT e.subject, e.imsi, r.msisdn FROM list_entry e \
                 LEFT JOIN dirbs_list_row r ON r.list = 'pairing' AND r.org = e.org \
                 AND r.subject = e.subject AND r.imsi = e.imsi \
                 WHERE e.list = $1",
            )
            .bind(ListKind::Exception.as_str())
            .fetch_all(p)
            .await?
        });
        let mut pairs: BTreeMap<(u64, u64), (Subject, Vec<PairingMsisdn>)> = BTreeMap::new();
        for (s, imsi, msisdn) in rows {
            let subject = subject_of(ListKind::Exception, s, imsi)?;
            let slot = pairs
                .entry(crate::subject_key(subject))
                .or_insert_with(|| (subject, Vec::new()));
            if let Some(m) = stored_msisdn(msisdn.unwrap_or_default())? {
                slot.1.push(m);
            }
        }
        let mut out = Vec::with_capacity(pairs.len());
        for (subject, mut msisdns) in pairs.into_values() {
            let Subject::Pair(imei, imsi) = subject else {
                return Err(super::corrupt("exception subject", format!("{subject:?}")));
            };
            msisdns.sort();
            msisdns.dedup();
            if msisdns.is_empty() {
                out.push(ExceptionPairing {
                    imei,
                    imsi,
                    msisdn: None,
                });
            }
            out.extend(msisdns.into_iter().map(|m| ExceptionPairing {
                imei,
                imsi,
                msisdn: Some(m),
            }));
        }
        out.sort();
        Ok(out)
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
