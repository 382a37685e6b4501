//! Bulk reads of list memberships, whole or only what changed since a feed mark, on SQLite
//! (a plain read-only connection) and PostgreSQL (one repeatable-read transaction).

use super::{corrupt, i, u, Pool, SqlStore};
use crate::{FeedMark, MembershipRead, Result, StoreError};
use ceir_domain::lists::{ListKind, Reason};
use std::time::Duration;

type Rows = Vec<(ListKind, u64, Reason)>;

/// Parses reasons, each distinct text once: a list's entries share a few.
#[derive(Default)]
struct Reasons(Option<(String, Reason)>);

impl Reasons {
    fn parse(&mut self, text: &str) -> Result<Reason> {
        if let Some((t, r)) = &self.0 {
            if t == text {
                return Ok(*r);
            }
        }
        let r = Reason::parse(text).map_err(|e| corrupt("reason", e))?;
        self.0 = Some((text.to_owned(), r));
        Ok(r)
    }
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
    pub(super) async fn read_memberships(
        &self,
        lists: &[ListKind],
        since: Option<FeedMark>,
        max_changes: usize,
    ) -> Result<MembershipRead> {
        let lists = wanted(lists);
        if let Some(path) = self.sqlite_path.clone() {
            return tokio::task::spawn_blocking(move || {
                sqlite_read(&path, &lists, since, max_changes)
            })
            .await
            .map_err(|e| StoreError::Corrupt(format!("the membership read stopped: {e}")))?;
        }
        match &self.pool {
            Pool::Postgres(p) => pg_read(p, &lists, since, max_changes).await,
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
) -> Result<MembershipRead> {
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
                // lists must not hide changes to these. Their names are the store's constants.
                let names: Vec<String> =
                    lists.iter().map(|l| format!("'{}'", l.as_str())).collect();
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
                return Ok(MembershipRead::Changes {
                    head,
                    touched,
                    rows: out,
                });
            }
        }
    }
    // The covering index (list, subject, seq, reason) serves this without touching the table.
    let mut st =
        tx.prepare("SELECT subject, reason FROM list_entry WHERE list = ?1 ORDER BY subject")?;
    let mut out = Rows::new();
    for list in lists {
        let mut rows = st.query([list.as_str()])?;
        let mut reasons = Reasons::default();
        while let Some(r) = rows.next()? {
            let subject: i64 = r.get(0)?;
            let text = r
                .get_ref(1)?
                .as_str()
                .map_err(|e| corrupt("list_entry", e))?;
            out.push((*list, u(subject), reasons.parse(text)?));
        }
    }
    Ok(MembershipRead::Full { head, rows: out })
}

async fn pg_read(
    p: &sqlx::PgPool,
    lists: &[ListKind],
    since: Option<FeedMark>,
    max_changes: usize,
) -> Result<MembershipRead> {
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
                return Ok(MembershipRead::Changes {
                    head,
                    touched,
                    rows,
                });
            }
        }
    }
    let found: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT list, subject, reason FROM list_entry WHERE list = ANY($1)")
            .bind(&names)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    let mut reasons = Reasons::default();
    let rows = found
        .into_iter()
        .map(|(l, s, r)| Ok((list_of(&l)?, u(s), reasons.parse(&r)?)))
        .collect::<Result<Rows>>()?;
    Ok(MembershipRead::Full { head, rows })
}
