//! [`DirbsListStore`] on SQLite and PostgreSQL.

use super::*;
use crate::dirbs::{
    DirbsImport, DirbsListImport, DirbsListStore, DirbsRow, ExceptionPairing, GoldenImport,
    GoldenReport,
};
use ceir_domain::lists::{GoldenImei, RuleError};
use ceir_domain::PairingMsisdn;

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
        let mut wanted: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for g in imeis {
            let slot = wanted.entry(g.hash.as_str()).or_insert(None);
            if slot.is_none() {
                *slot = g.imei.as_deref();
            }
        }
        // The import session's path, with the whole list at hand.
        let mut tx = self.begin_golden_import(by, now).await?;
        let mut before: HashMap<String, Option<String>> = HashMap::new();
        let mut last: Option<String> = None;
        loop {
            let page = tx.after(last.as_deref(), CHUNK).await?;
            let short = page.len() < CHUNK;
            last = page.last().map(|g| g.hash.clone()).or(last);
            before.extend(page.into_iter().map(|g| (g.hash, g.imei)));
            if short {
                break;
            }
        }
        let upsert: Vec<GoldenImei> = wanted
            .iter()
            .filter(|(h, im)| before.get(**h).is_none_or(|was| was.as_deref() != **im))
            .map(|(h, im)| GoldenImei {
                hash: (*h).to_owned(),
                imei: im.map(str::to_owned),
            })
            .collect();
        let delete: Vec<String> = before
            .keys()
            .filter(|h| !wanted.contains_key(h.as_str()))
            .cloned()
            .collect();
        let report = GoldenReport {
            previous: before.len() as u64,
            added: wanted.keys().filter(|h| !before.contains_key(**h)).count() as u64,
            removed: delete.len() as u64,
            total: wanted.len() as u64,
        };
        tx.apply(&upsert, &delete).await?;
        tx.commit(source, report).await
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
        let mut tx = self
            .begin_dirbs_import(import.list, import.kind, by, now)
            .await?;
        tx.apply(import.changes, import.upsert, import.delete)
            .await?;
        tx.commit().await
    }

    async fn begin_golden_import(
        &self,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<Box<dyn GoldenImport>> {
        may_change_golden(by)?;
        let tx = match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        };
        Ok(Box::new(SqlGoldenImport {
            tx,
            by: by.clone(),
            now,
        }))
    }

    async fn begin_dirbs_import(
        &self,
        list: &str,
        kind: ListKind,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<Box<dyn DirbsImport>> {
        may_change(&by.actor, std::iter::once(kind), 0)?;
        let tx = match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        };
        let mut import = SqlDirbsImport {
            tx,
            list: list.to_owned(),
            kind,
            by: by.clone(),
            now,
            report: ApplyReport::default(),
            first_seq: None,
            changes: 0,
            adds: 0,
            first: None,
            rows_written: 0,
            rows_removed: 0,
        };
        on_tx!(&mut import.tx, tx => {
            // The feed lock first, as for every change: writers queue here.
            sqlx::query("UPDATE feed_counter SET seq = seq WHERE id = 1").execute(&mut **tx).await?;
        });
        Ok(Box::new(import))
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

/// An open transaction on either engine.
enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Expands `$body` once per engine with `$t` the transaction, as `on_pool!` does for pools.
macro_rules! on_tx {
    ($tx:expr, $t:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite($t) => $body,
            Tx::Postgres($t) => $body,
        }
    };
}
use on_tx;

/// [`DirbsImport`] on SQLite and PostgreSQL.
struct SqlDirbsImport {
    tx: Tx,
    list: String,
    kind: ListKind,
    by: AuditContext,
    now: Timestamp,
    report: ApplyReport,
    first_seq: Option<u64>,
    /// Registry changes applied, adds among them, and the first one's subject: what the audit
    /// record names (as for one batch of [`crate::Store::apply`]).
    changes: u64,
    adds: u64,
    first: Option<Subject>,
    rows_written: u64,
    rows_removed: u64,
}

impl SqlDirbsImport {
    fn is_pg(&self) -> bool {
        matches!(self.tx, Tx::Postgres(_))
    }

    /// The audit action and object of the whole import.
    fn audit_what(&self) -> (AuditAction, ObjectRef) {
        match (self.changes, self.first) {
            // Rows whose status lists nothing change no entry, and are still a change.
            (0, _) | (_, None) => (AuditAction::ListChange, ObjectRef::list(self.kind)),
            (n, Some(s)) => {
                let action = if self.adds == n {
                    AuditAction::ListAdd
                } else if self.adds == 0 {
                    AuditAction::ListRemove
                } else {
                    AuditAction::ListChange
                };
                let object = match s {
                    Subject::Imei(i) | Subject::Pair(i, _) if n == 1 => ObjectRef::imei(i),
                    Subject::Tac(t) if n == 1 => ObjectRef::tac(t),
                    _ => ObjectRef::list(self.kind),
                };
                (action, object)
            }
        }
    }
}

/// Rows of `dirbs_list_row` as read.
fn dirbs_row(
    kind: ListKind,
    (s, imsi, msisdn, fields): (i64, i64, String, String),
) -> Result<DirbsRow> {
    Ok(DirbsRow {
        subject: subject_of(kind, s, imsi)?,
        msisdn: stored_msisdn(msisdn)?,
        fields,
    })
}

/// `$k,…` or `?,…` for `n` values after `skip` other parameters: sqlx's SQLite driver numbers
/// `?` by itself, so one statement may not mix the two.
fn in_list(n: usize, skip: usize, is_pg: bool) -> String {
    (1..=n)
        .map(|k| {
            if is_pg {
                format!("${}", k + skip)
            } else {
                "?".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The subjects' keys, and their IMEI bodies (or TACs) sorted: what the rows are selected by
/// (a pair's other IMSIs come too and are filtered out by key).
fn keys_of(subjects: &[Subject]) -> (HashSet<(u64, u64)>, Vec<u64>) {
    let wanted: HashSet<(u64, u64)> = subjects.iter().map(|s| crate::subject_key(*s)).collect();
    let mut bodies: Vec<u64> = wanted.iter().map(|k| k.0).collect();
    bodies.sort_unstable();
    bodies.dedup();
    (wanted, bodies)
}

/// `SELECT cols FROM table` of one list and organisation, for `n` subjects.
fn of_subjects(cols: &str, table: &str, n: usize, is_pg: bool) -> String {
    format!(
        "SELECT {cols} FROM {table} WHERE list = {} AND org = {} AND subject IN ({})",
        in_list(1, 0, is_pg),
        in_list(1, 1, is_pg),
        in_list(n, 2, is_pg)
    )
}

#[async_trait::async_trait]
impl DirbsImport for SqlDirbsImport {
    async fn kept_count(&mut self) -> Result<u64> {
        let (list, org) = (self.list.clone(), self.by.actor.org.clone());
        let n: i64 = on_tx!(&mut self.tx, tx => {
            sqlx::query("SELECT COUNT(*) FROM dirbs_list_row WHERE list = $1 AND org = $2")
                .bind(&list)
                .bind(&org)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?
        });
        Ok(u(n))
    }

    async fn kept_after(
        &mut self,
        after: Option<&DirbsRow>,
        limit: usize,
    ) -> Result<Vec<DirbsRow>> {
        let (list, org, kind) = (self.list.clone(), self.by.actor.org.clone(), self.kind);
        let (s, imsi, msisdn) = match after {
            Some(r) => {
                let (s, imsi) = crate::subject_key(r.subject);
                (
                    i(s),
                    i(imsi),
                    r.msisdn
                        .as_ref()
                        .map_or(String::new(), |m| m.as_str().to_owned()),
                )
            }
            None => (-1, -1, String::new()),
        };
        let rows: Vec<(i64, i64, String, String)> = on_tx!(&mut self.tx, tx => {
            sqlx::query_as(
                "SELECT subject, imsi, msisdn, fields FROM dirbs_list_row \
                 WHERE list = $1 AND org = $2 AND (subject, imsi, msisdn) > ($3, $4, $5) \
                 ORDER BY subject, imsi, msisdn LIMIT $6",
            )
            .bind(&list)
            .bind(&org)
            .bind(s)
            .bind(imsi)
            .bind(msisdn)
            .bind(limit as i64)
            .fetch_all(&mut **tx)
            .await?
        });
        rows.into_iter().map(|r| dirbs_row(kind, r)).collect()
    }

    async fn kept_of(&mut self, subjects: &[Subject]) -> Result<Vec<DirbsRow>> {
        let (list, org, kind, is_pg) = (
            self.list.clone(),
            self.by.actor.org.clone(),
            self.kind,
            self.is_pg(),
        );
        let (wanted, bodies) = keys_of(subjects);
        let mut out = Vec::new();
        for part in bodies.chunks(CHUNK) {
            let sql = of_subjects(
                "subject, imsi, msisdn, fields",
                "dirbs_list_row",
                part.len(),
                is_pg,
            );
            let rows: Vec<(i64, i64, String, String)> = on_tx!(&mut self.tx, tx => {
                let mut q = sqlx::query_as(&sql).bind(&list).bind(&org);
                for b in part {
                    q = q.bind(i(*b));
                }
                q.fetch_all(&mut **tx).await?
            });
            for r in rows {
                if wanted.contains(&(u(r.0), u(r.1))) {
                    out.push(dirbs_row(kind, r)?);
                }
            }
        }
        Ok(out)
    }

    async fn held_after(&mut self, after: Option<Subject>, limit: usize) -> Result<Vec<Entry>> {
        let (org, kind) = (self.by.actor.org.clone(), self.kind);
        let (s, imsi) = after.map_or((-1, -1), |a| {
            let (s, imsi) = crate::subject_key(a);
            (i(s), i(imsi))
        });
        let rows: Vec<EntryRow> = on_tx!(&mut self.tx, tx => {
            sqlx::query_as::<_, EntryRow>(&format!(
                "SELECT {ENTRY_COLS} FROM list_entry WHERE list = $1 AND org = $2 AND (subject, imsi) > ($3, $4) \
                 ORDER BY subject, imsi LIMIT $5"
            ))
            .bind(kind.as_str())
            .bind(&org)
            .bind(s)
            .bind(imsi)
            .bind(limit as i64)
            .fetch_all(&mut **tx)
            .await?
        });
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    async fn held_of(&mut self, subjects: &[Subject]) -> Result<Vec<Entry>> {
        let (org, kind, is_pg) = (self.by.actor.org.clone(), self.kind, self.is_pg());
        let (wanted, bodies) = keys_of(subjects);
        let mut out = Vec::new();
        for part in bodies.chunks(CHUNK) {
            let sql = of_subjects(ENTRY_COLS, "list_entry", part.len(), is_pg);
            let rows: Vec<EntryRow> = on_tx!(&mut self.tx, tx => {
                let mut q = sqlx::query_as::<_, EntryRow>(&sql).bind(kind.as_str()).bind(&org);
                for b in part {
                    q = q.bind(i(*b));
                }
                q.fetch_all(&mut **tx).await?
            });
            for r in rows {
                let e = r.into_entry()?;
                if wanted.contains(&crate::subject_key(e.subject)) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    async fn apply(
        &mut self,
        changes: &[ListChange],
        upsert: &[DirbsRow],
        delete: &[(Subject, Option<PairingMsisdn>)],
    ) -> Result<()> {
        let base = self.changes as usize;
        may_change(&self.by.actor, changes.iter().map(ListChange::list), base)?;
        let is_pg = self.is_pg();
        let (actor, now) = (self.by.actor.clone(), self.now);
        let d = DirbsListImport {
            list: &self.list,
            kind: self.kind,
            changes,
            upsert,
            delete,
        };
        let (report, first_seq) = (&mut self.report, &mut self.first_seq);
        on_tx!(&mut self.tx, tx => {
            let tx = &mut **tx;
            for (chunk_no, chunk) in changes.chunks(CHUNK).enumerate() {
                apply_chunk!(tx, chunk, base + chunk_no * CHUNK, &actor, now, Action::Remove, false, report, *first_seq, is_pg);
            }
            write_dirbs_rows!(tx, &d, actor.org.as_str(), is_pg);
        });
        if self.first.is_none() {
            self.first = changes.first().map(|c| match c {
                ListChange::Add(e) => e.subject,
                ListChange::Remove { subject, .. } => *subject,
            });
        }
        self.changes += changes.len() as u64;
        self.adds += changes
            .iter()
            .filter(|c| matches!(c, ListChange::Add(_)))
            .count() as u64;
        self.rows_written += upsert.len() as u64;
        self.rows_removed += delete.len() as u64;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<ApplyReport> {
        let detail = audit::dirbs_detail(
            &self.report,
            self.first_seq,
            &self.list,
            self.rows_written,
            self.rows_removed,
        );
        let (action, object) = self.audit_what();
        let entry = AuditEntry::new(&self.by, action, object, detail);
        let (now, is_pg) = (self.now, self.is_pg());
        let mut report = std::mem::take(&mut self.report);
        match self.tx {
            Tx::Sqlite(mut tx) => {
                audit_append!(tx, entry, now);
                finish_feed!(tx, report, is_pg);
                tx.commit().await?;
            }
            Tx::Postgres(mut tx) => {
                audit_append!(tx, entry, now);
                finish_feed!(tx, report, is_pg);
                tx.commit().await?;
            }
        }
        Ok(report)
    }
}

/// The golden list overrides blocking, so it takes the right to change the blocked list.
fn may_change_golden(by: &AuditContext) -> Result<()> {
    if by.actor.can(Capability::to_change(ListKind::Blocked)) {
        return Ok(());
    }
    Err(StoreError::Rule {
        index: 0,
        source: RuleError::Subject(format!(
            "{} ({}) may not change the golden list",
            by.actor.org, by.actor.org_kind
        )),
    })
}

/// [`GoldenImport`] on SQLite and PostgreSQL.
struct SqlGoldenImport {
    tx: Tx,
    by: AuditContext,
    now: Timestamp,
}

impl SqlGoldenImport {
    fn is_pg(&self) -> bool {
        matches!(self.tx, Tx::Postgres(_))
    }
}

#[async_trait::async_trait]
impl GoldenImport for SqlGoldenImport {
    async fn count(&mut self) -> Result<u64> {
        let n: i64 = on_tx!(&mut self.tx, tx => {
            sqlx::query("SELECT COUNT(*) FROM golden_imei").fetch_one(&mut **tx).await?.try_get(0)?
        });
        Ok(u(n))
    }

    async fn after(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<GoldenImei>> {
        // Byte order on both engines, whatever PostgreSQL's collation: the merge compares bytes.
        let c = if self.is_pg() { " COLLATE \"C\"" } else { "" };
        let sql = format!(
            "SELECT hashed_imei, imei FROM golden_imei WHERE hashed_imei{c} > $1 ORDER BY hashed_imei{c} LIMIT $2"
        );
        let rows: Vec<(String, Option<String>)> = on_tx!(&mut self.tx, tx => {
            sqlx::query_as(&sql)
                .bind(after.unwrap_or(""))
                .bind(limit as i64)
                .fetch_all(&mut **tx)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(hash, imei)| GoldenImei { hash, imei })
            .collect())
    }

    async fn of(&mut self, hashes: &[String]) -> Result<Vec<GoldenImei>> {
        let is_pg = self.is_pg();
        let mut out = Vec::new();
        for part in hashes.chunks(CHUNK) {
            let sql = format!(
                "SELECT hashed_imei, imei FROM golden_imei WHERE hashed_imei IN ({})",
                in_list(part.len(), 0, is_pg)
            );
            let rows: Vec<(String, Option<String>)> = on_tx!(&mut self.tx, tx => {
                let mut q = sqlx::query_as(&sql);
                for h in part {
                    q = q.bind(h.as_str());
                }
                q.fetch_all(&mut **tx).await?
            });
            out.extend(
                rows.into_iter()
                    .map(|(hash, imei)| GoldenImei { hash, imei }),
            );
        }
        Ok(out)
    }

    async fn apply(&mut self, upsert: &[GoldenImei], delete: &[String]) -> Result<()> {
        let is_pg = self.is_pg();
        let (org, now) = (self.by.actor.org.clone(), self.now);
        on_tx!(&mut self.tx, tx => {
            for part in delete.chunks(CHUNK) {
                let sql = format!("DELETE FROM golden_imei WHERE hashed_imei IN ({})", in_list(part.len(), 0, is_pg));
                let mut q = sqlx::query(&sql);
                for h in part {
                    q = q.bind(h.as_str());
                }
                q.execute(&mut **tx).await?;
            }
            for part in upsert.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO golden_imei (hashed_imei, imei, org, added_at) VALUES {} \
                     ON CONFLICT (hashed_imei) DO UPDATE SET imei = excluded.imei",
                    placeholders(part.len(), 4, is_pg)
                );
                let mut q = sqlx::query(&sql);
                for g in part {
                    q = q.bind(g.hash.as_str()).bind(g.imei.as_deref()).bind(org.as_str()).bind(now.0);
                }
                q.execute(&mut **tx).await?;
            }
        });
        Ok(())
    }

    async fn commit(self: Box<Self>, source: &str, report: GoldenReport) -> Result<GoldenReport> {
        let detail = serde_json::json!({
            "source": source,
            "previous": report.previous,
            "added": report.added,
            "removed": report.removed,
            "total": report.total,
        })
        .to_string();
        let entry = AuditEntry::new(
            &self.by,
            AuditAction::GoldenReplace,
            ObjectRef::golden(),
            detail,
        );
        let now = self.now;
        match self.tx {
            Tx::Sqlite(mut tx) => {
                audit_append!(tx, entry, now);
                tx.commit().await?;
            }
            Tx::Postgres(mut tx) => {
                audit_append!(tx, entry, now);
                tx.commit().await?;
            }
        }
        Ok(report)
    }
}
