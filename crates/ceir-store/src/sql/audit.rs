//! [`AuditStore`] for [`SqlStore`], and `audit_append!`, which writes a record inside a caller's
//! transaction so that a change and its record commit together.

use super::{u, Pool, SqlStore};
use crate::audit::{AuditFilter, AuditSink, AuditStore};
use crate::{Result, StoreError};
use ceir_domain::audit::{AuditEntry, AuditHead, AuditRecord};
use ceir_domain::Timestamp;
use futures::TryStreamExt;

pub(super) const AUDIT_COLS: &str = "seq, at, actor_org, actor_kind, actor_user, actor_role, action, object, request_id, detail, prev_hash, hash";

/// Appends `$entry` inside the open transaction `$tx` and evaluates to the sealed record.
///
/// The first statement takes the head row's lock (PostgreSQL row lock; SQLite's write lock), so
/// concurrent appenders, in this process or any other on the same database, queue there and the
/// chain's order is their commit order. Callers that also take the feed lock take it first.
macro_rules! audit_append {
    ($tx:expr, $entry:expr, $now:expr) => {{
        let (seq, prev): (i64, String) = sqlx::query_as(
            "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
        )
        .fetch_one(&mut *$tx)
        .await?;
        let prev = $crate::sql::audit::parse_hash(&prev)?;
        let rec = $entry.seal($crate::sql::u(seq), $now, &prev);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_org, actor_kind, actor_user, actor_role, action, object, request_id, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(seq)
        .bind(rec.at.0)
        .bind(&rec.actor_org)
        .bind(&rec.actor_kind)
        .bind(&rec.actor_user)
        .bind(&rec.actor_role)
        .bind(&rec.action)
        .bind(&rec.object)
        .bind(rec.request_id.as_deref())
        .bind(&rec.detail)
        .bind(&rec.prev_hash)
        .bind(&rec.hash)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&rec.hash)
            .execute(&mut *$tx)
            .await?;
        rec
    }};
}

/// The head's hash, which new records chain from. A head that is not a hash cannot be chained
/// from: appending stops until an operator looks (`ceir audit verify`).
pub(crate) fn parse_hash(s: &str) -> Result<[u8; 32]> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h)
        .map_err(|e| StoreError::Corrupt(format!("audit head hash {s:?}: {e}")))?;
    Ok(h)
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: i64,
    actor_org: String,
    actor_kind: String,
    actor_user: String,
    actor_role: String,
    action: String,
    object: String,
    request_id: Option<String>,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            seq: u(r.seq),
            at: Timestamp(r.at),
            actor_org: r.actor_org,
            actor_kind: r.actor_kind,
            actor_user: r.actor_user,
            actor_role: r.actor_role,
            action: r.action,
            object: r.object,
            request_id: r.request_id,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// The filter as SQL; parameters $1 (after) to $5 bind in [`bind_filter!`]'s order.
fn filtered(tail: &str) -> String {
    format!(
        "SELECT {AUDIT_COLS} FROM audit_log WHERE seq > $1 AND ($2 IS NULL OR at >= $2) AND ($3 IS NULL OR at < $3) \
         AND ($4 IS NULL OR actor_org = $4) AND ($5 IS NULL OR action = $5) ORDER BY seq{tail}"
    )
}

macro_rules! bind_filter {
    ($q:expr, $f:expr, $after:expr) => {
        $q.bind($crate::sql::i($after))
            .bind($f.since.map(|t| t.0))
            .bind($f.until.map(|t| t.0))
            .bind($f.actor_org.clone())
            .bind($f.action.clone())
    };
}

#[async_trait::async_trait]
impl AuditStore for SqlStore {
    async fn audit_append(&self, entry: &AuditEntry, now: Timestamp) -> Result<AuditRecord> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let rec = audit_append!(tx, entry, now);
            tx.commit().await?;
            Ok(rec)
        })
    }

    async fn audit_head(&self) -> Result<AuditHead> {
        let (seq, hash): (i64, String) = on_pool!(&self.pool, p => {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await?
        });
        Ok(AuditHead { seq: u(seq), hash })
    }

    async fn audit_page(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        let sql = filtered(" LIMIT $6");
        let rows: Vec<AuditRow> = on_pool!(&self.pool, p => {
            bind_filter!(sqlx::query_as::<_, AuditRow>(&sql), filter, after)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
        });
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn audit_scan(
        &self,
        filter: &AuditFilter,
        sink: &mut AuditSink<'_>,
    ) -> Result<AuditHead> {
        let is_pg = matches!(self.pool, Pool::Postgres(_));
        let sql = filtered("");
        on_pool!(&self.pool, p => {
            // One snapshot for the head and the rows: appends committed meanwhile are seen by
            // neither, so a busy node verifies cleanly.
            let mut tx = p.begin().await?;
            if is_pg {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
            }
            let (seq, hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
            {
                let mut rows = bind_filter!(sqlx::query_as::<_, AuditRow>(&sql), filter, 0u64).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await? {
                    if sink(row.into()).is_break() {
                        break;
                    }
                }
            }
            tx.commit().await?;
            Ok(AuditHead { seq: u(seq), hash })
        })
    }
}

/// Detail text for the audit record of a batch of list changes: counts and the feed range whose
/// history rows hold the particulars (including any IMSI, which is not copied here).
pub(super) fn list_detail(r: &crate::ApplyReport, first: Option<u64>) -> String {
    list_detail_value(r, first).to_string()
}

fn list_detail_value(r: &crate::ApplyReport, first: Option<u64>) -> serde_json::Value {
    let feed = first.filter(|f| r.last_seq >= *f).map(|f| [f, r.last_seq]);
    serde_json::json!({
        "added": r.added,
        "updated": r.updated,
        "removed": r.removed,
        "unchanged": r.unchanged,
        "feed": feed,
    })
}

/// [`list_detail`] of a DIRBS list import, with how many of the list's rows it wrote and removed
/// (their particulars, pairings' MSISDNs among them, are not copied here).
pub(super) fn dirbs_detail(
    r: &crate::ApplyReport,
    first: Option<u64>,
    list: &str,
    rows_written: u64,
    rows_removed: u64,
) -> String {
    let mut v = list_detail_value(r, first);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "dirbs_list".into(),
            serde_json::json!({
                "list": list,
                "rows_written": rows_written,
                "rows_removed": rows_removed,
            }),
        );
    }
    v.to_string()
}
