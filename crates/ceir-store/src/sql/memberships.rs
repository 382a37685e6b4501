//! Bulk reads of list memberships, whole or only what changed since a feed mark, on SQLite
//! (a plain read-only connection) and PostgreSQL (one repeatable-read transaction). A whole
//! read is collected, or sent on in batches ascending by subject, so that its reader holds a
//! batch at a time however large the registry.

use super::{corrupt, i, u, Pool, SqlStore};
use crate::{FeedMark, Membership, MembershipRead, MembershipSender, Result, StoreError};
use ceir_domain::lists::{ListKind, Reason};
use std::time::Duration;

type Rows = Vec<Membership>;

/// Memberships per batch sent.
const BATCH: usize = 8192;

/// Parses reasons, each distinct text once: the lists' entries share a few, and a read in
/// subject order alternates between them.
#[derive(Default)]
struct Reasons(Vec<(String, Reason)>);

impl Reasons {
    fn parse(&mut self, text: &str) -> Result<Reason> {
        if let Some((_, r)) = self.0.iter().find(|(t, _)| t == text) {
            return Ok(*r);
        }
        let r = Reason::parse(text).map_err(|e| corrupt("reason", e))?;
        self.0.push((text.to_owned(), r));
        Ok(r)
    }
}

/// Where a whole read goes: collected, or sent on in batches.
enum Sink {
    Collect(Rows),
    Send { to: MembershipSender, batch: Rows },
}

fn gone() -> StoreError {
    StoreError::Corrupt("the membership reader stopped before the read ended".into())
}

impl Sink {
    fn sends(&self) -> bool {
        matches!(self, Sink::Send { .. })
    }

    fn push_blocking(&mut self, row: Membership) -> Result<()> {
        match self {
            Sink::Collect(rows) => rows.push(row),
            Sink::Send { to, batch } => {
                batch.push(row);
                if batch.len() >= BATCH {
                    to.blocking_send(std::mem::take(batch))
                        .map_err(|_| gone())?;
                }
            }
        }
        Ok(())
    }

    async fn push(&mut self, row: Membership) -> Result<()> {
        match self {
            Sink::Collect(rows) => rows.push(row),
            Sink::Send { to, batch } => {
                batch.push(row);
                if batch.len() >= BATCH {
                    to.send(std::mem::take(batch)).await.map_err(|_| gone())?;
                }
            }
        }
        Ok(())
    }

    /// The rows collected; or none, once the last batch is sent.
    fn finish_blocking(self) -> Result<Rows> {
        match self {
            Sink::Collect(rows) => Ok(rows),
            Sink::Send { to, batch } => {
                if !batch.is_empty() {
                    to.blocking_send(batch).map_err(|_| gone())?;
                }
                Ok(Rows::new())
            }
        }
    }

    async fn finish(self) -> Result<Rows> {
        match self {
            Sink::Collect(rows) => Ok(rows),
            Sink::Send { to, batch } => {
                if !batch.is_empty() {
                    to.send(batch).await.map_err(|_| gone())?;
                }
                Ok(Rows::new())
            }
        }
    }
}

/// What one snapshot gave: the changes since a mark, or a whole read (its rows when collected,
/// none when sent).
enum Got {
    Changes {
        head: FeedMark,
        touched: Vec<(ListKind, u64)>,
        rows: Rows,
    },
    Whole {
        head: FeedMark,
        rows: Rows,
    },
}

fn list_of(text: &str) -> Result<ListKind> {
    ListKind::parse(text).map_err(|e| corrupt("list", e))
}

/// The lists asked for that memberships cover: exceptions (pairs) are never given.
fn wanted(lists: &[ListKind]) -> Vec<ListKind> {
    let mut v: Vec<ListKind> = lists
        .iter()
        .copied()
        .filter(|l| *l != ListKind::Exception)
        .collect();
    v.dedup();
    v
}

impl SqlStore {
    /// Changes since `since`, or a whole read sent to `whole`.
    pub(super) async fn read_memberships(
        &self,
        lists: &[ListKind],
        since: Option<FeedMark>,
        max_changes: usize,
        whole: MembershipSender,
    ) -> Result<MembershipRead> {
        let sink = Sink::Send {
            to: whole,
            batch: Rows::with_capacity(BATCH),
        };
        Ok(match self.read(lists, since, max_changes, sink).await? {
            Got::Changes {
                head,
                touched,
                rows,
            } => MembershipRead::Changes {
                head,
                touched,
                rows,
            },
            Got::Whole { head, .. } => MembershipRead::Whole { head },
        })
    }

    /// Every membership, collected.
    pub(super) async fn read_all_memberships(&self, lists: &[ListKind]) -> Result<Rows> {
        match self
            .read(lists, None, 0, Sink::Collect(Rows::new()))
            .await?
        {
            Got::Whole { rows, .. } => Ok(rows),
            Got::Changes { .. } => Err(StoreError::Corrupt(
                "a read without a mark gave changes".into(),
            )),
        }
    }

    async fn read(
        &self,
        lists: &[ListKind],
        since: Option<FeedMark>,
        max_changes: usize,
        sink: Sink,
    ) -> Result<Got> {
        let lists = wanted(lists);
        if let Some(path) = self.sqlite_path.clone() {
            return tokio::task::spawn_blocking(move || {
                sqlite_read(&path, &lists, since, max_changes, sink)
            })
            .await
            .map_err(|e| StoreError::Corrupt(format!("the membership read stopped: {e}")))?;
        }
        match &self.pool {
            Pool::Postgres(p) => pg_read(p, &lists, since, max_changes, sink).await,
            Pool::Sqlite(_) => Err(StoreError::Corrupt(
                "an SQLite store without its file".into(),
            )),
        }
    }
}

fn sqlite_read(
    path: &std::path::Path,
    lists: &[ListKind],
    since: Option<FeedMark>,
    max_changes: usize,
    mut sink: Sink,
) -> Result<Got> {
    use rusqlite::{OpenFlags, OptionalExtension};
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // No memory map: every mapped page a whole read touches stays in the process's resident
    // set, up to the map's size (it was 1 GiB); SQLite's small page cache reads no slower here
    // (BENCHMARKS.md, "Integer key columns").
    conn.pragma_update(None, "mmap_size", 0i64)?;
    // One read transaction: under WAL, one consistent snapshot of the feed and every list,
    // beside the pool's writers.
    let tx = conn.unchecked_transaction()?;
    let head = tx
        .query_row(
            "SELECT seq, at FROM list_history ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .optional()?
        .map_or(FeedMark::default(), |(seq, at)| FeedMark {
            seq: u(seq),
            at,
        });
    // The lists are the store's constants, so they can be written into the SQL.
    let names: Vec<String> = lists.iter().map(|l| format!("'{}'", l.as_str())).collect();
    if let Some(mark) = since.filter(|m| m.seq <= head.seq) {
        let known = mark.seq == 0
            || tx
                .query_row(
                    "SELECT at FROM list_history WHERE seq = ?1",
                    [i(mark.seq)],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                == Some(mark.at);
        if known {
            let mut touched = Vec::new();
            {
                // The lists are filtered in SQL, before the limit: a burst of changes to other
                // lists must not hide changes to these.
                let mut st = tx.prepare(&format!(
                    "SELECT DISTINCT list, subject FROM list_history WHERE seq > ?1 AND list IN ({}) LIMIT ?2",
                    names.join(", ")
                ))?;
                let limit = i64::try_from(max_changes.saturating_add(1)).unwrap_or(i64::MAX);
                let mut rows = st.query(rusqlite::params![i(mark.seq), limit])?;
                while let Some(r) = rows.next()? {
                    let list = list_of(r.get_ref(0)?.as_str().map_err(|e| corrupt("list", e))?)?;
                    touched.push((list, u(r.get(1)?)));
                }
            }
            if touched.len() <= max_changes {
                let mut subjects: Vec<u64> = touched.iter().map(|t| t.1).collect();
                subjects.sort_unstable();
                subjects.dedup();
                let mut st =
                    tx.prepare("SELECT list, reason FROM list_entry WHERE subject = ?1")?;
                let mut out = Rows::new();
                let mut reasons = Reasons::default();
                for s in subjects {
                    let mut rows = st.query([i(s)])?;
                    while let Some(r) = rows.next()? {
                        let list =
                            list_of(r.get_ref(0)?.as_str().map_err(|e| corrupt("list", e))?)?;
                        if lists.contains(&list) {
                            let text = r.get_ref(1)?.as_str().map_err(|e| corrupt("reason", e))?;
                            out.push((list, s, reasons.parse(text)?));
                        }
                    }
                }
                return Ok(Got::Changes {
                    head,
                    touched,
                    rows: out,
                });
            }
        }
    }
    // One scan of the covering index (list, subject, seq, reason) per list, all open at once
    // and merged here in subject order: SQLite's own merge of a compound select took four times
    // as long as the scans (BENCHMARKS.md, "A streamed memberships copy").
    let mut statements = lists
        .iter()
        .map(|l| {
            tx.prepare(&format!(
                "SELECT subject, reason FROM list_entry WHERE list = '{}' ORDER BY subject",
                l.as_str()
            ))
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut cursors = Vec::with_capacity(lists.len());
    for (st, list) in statements.iter_mut().zip(lists) {
        cursors.push((*list, st.query([])?));
    }
    let mut reasons = Reasons::default();
    let mut heads = Vec::with_capacity(cursors.len());
    for (list, rows) in &mut cursors {
        heads.push(next_of(*list, rows, &mut reasons)?);
    }
    while let Some(k) = (0..heads.len())
        .filter_map(|k| heads.get(k).copied().flatten().map(|h| (h.1, k)))
        .min()
        .map(|(_, k)| k)
    {
        let (Some(cursor), Some(head)) = (cursors.get_mut(k), heads.get_mut(k)) else {
            break;
        };
        let next = next_of(cursor.0, &mut cursor.1, &mut reasons)?;
        if let Some(row) = std::mem::replace(head, next) {
            sink.push_blocking(row)?;
        }
    }
    Ok(Got::Whole {
        head,
        rows: sink.finish_blocking()?,
    })
}

/// The next membership of one list's scan.
fn next_of(
    list: ListKind,
    rows: &mut rusqlite::Rows<'_>,
    reasons: &mut Reasons,
) -> Result<Option<Membership>> {
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let text = r
        .get_ref(1)?
        .as_str()
        .map_err(|e| corrupt("list_entry", e))?;
    Ok(Some((list, u(r.get(0)?), reasons.parse(text)?)))
}

async fn pg_read(
    p: &sqlx::PgPool,
    lists: &[ListKind],
    since: Option<FeedMark>,
    max_changes: usize,
    mut sink: Sink,
) -> Result<Got> {
    use futures::TryStreamExt;
    let mut tx = p.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let head: Option<(i64, i64)> =
        sqlx::query_as("SELECT seq, at FROM list_history ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let head = head.map_or(FeedMark::default(), |(seq, at)| FeedMark {
        seq: u(seq),
        at,
    });
    let names: Vec<&str> = lists.iter().map(|l| l.as_str()).collect();
    if let Some(mark) = since.filter(|m| m.seq <= head.seq) {
        let at: Option<i64> = if mark.seq == 0 {
            Some(mark.at)
        } else {
            sqlx::query_scalar("SELECT at FROM list_history WHERE seq = $1")
                .bind(i(mark.seq))
                .fetch_optional(&mut *tx)
                .await?
        };
        if at == Some(mark.at) {
            let limit = i64::try_from(max_changes.saturating_add(1)).unwrap_or(i64::MAX);
            let found: Vec<(String, i64)> = sqlx::query_as(
                "SELECT DISTINCT list, subject FROM list_history WHERE seq > $1 AND list = ANY($2) LIMIT $3",
            )
            .bind(i(mark.seq))
            .bind(&names)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            if found.len() <= max_changes {
                let touched = found
                    .into_iter()
                    .map(|(l, s)| Ok((list_of(&l)?, u(s))))
                    .collect::<Result<Vec<_>>>()?;
                let mut subjects: Vec<i64> = touched.iter().map(|t| i(t.1)).collect();
                subjects.sort_unstable();
                subjects.dedup();
                let found: Vec<(String, i64, String)> = sqlx::query_as(
                    "SELECT list, subject, reason FROM list_entry WHERE subject = ANY($1) AND list = ANY($2)",
                )
                .bind(&subjects)
                .bind(&names)
                .fetch_all(&mut *tx)
                .await?;
                let mut reasons = Reasons::default();
                let rows = found
                    .into_iter()
                    .map(|(l, s, r)| Ok((list_of(&l)?, u(s), reasons.parse(&r)?)))
                    .collect::<Result<Rows>>()?;
                tx.commit().await?;
                return Ok(Got::Changes {
                    head,
                    touched,
                    rows,
                });
            }
        }
    }
    // Streamed row by row; sent in subject order, which PostgreSQL sorts within work_mem,
    // spilling to disk, not in this process.
    let sql = if sink.sends() {
        "SELECT list, subject, reason FROM list_entry WHERE list = ANY($1) ORDER BY subject"
    } else {
        "SELECT list, subject, reason FROM list_entry WHERE list = ANY($1)"
    };
    let mut reasons = Reasons::default();
    {
        let mut found = sqlx::query_as::<_, (String, i64, String)>(sql)
            .bind(&names)
            .fetch(&mut *tx);
        while let Some((l, s, r)) = found.try_next().await? {
            sink.push((list_of(&l)?, u(s), reasons.parse(&r)?)).await?;
        }
    }
    tx.commit().await?;
    Ok(Got::Whole {
        head,
        rows: sink.finish().await?,
    })
}
