//! The SQL implementation of [`Store`] for SQLite and PostgreSQL.
//!
//! One body of code serves both engines: `on_pool!` expands each method body once per engine, so
//! queries and logic are written once while each engine keeps its native sqlx driver (no `Any`
//! layer on the hot paths). Placeholders are `$n`, which both engines accept.

use crate::*;
use ceir_domain::audit::{AuditAction, AuditEntry, ObjectRef};
use ceir_domain::authz::Capability;
use ceir_domain::catalog::RadioSet;
use ceir_domain::credential::{self, SecretKind};
use ceir_domain::ids::{Imei, Imsi};
use ceir_domain::lists::{may_lift, EntryMeta};
use ceir_domain::status::ListFlags;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Rows per multi-row statement: under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const CHUNK: usize = 1000;

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded default: one SQLite file in WAL mode with synchronous=FULL, so every
    /// acknowledged commit survives a kill -9 or power loss.
    Sqlite { path: PathBuf },
    /// PostgreSQL; `schema` isolates a node (and each test) within one database.
    Postgres { url: String, schema: Option<String> },
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

#[macro_use]
mod audit;
mod accounts;
mod cases;
mod imports;
mod machine;
mod memberships;

/// The registry store on SQLite or PostgreSQL.
pub struct SqlStore {
    pool: Pool,
    location: String,
    /// The SQLite file, for bulk reads through a plain read-only connection.
    sqlite_path: Option<std::path::PathBuf>,
    listener: Option<tokio::sync::Mutex<PgListener>>,
    poll: Duration,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .field("location", &self.location)
            .finish()
    }
}

const FEED_CHANNEL: &str = "ceir_feed";

impl SqlStore {
    /// Opens (creating if needed) and migrates the store.
    pub async fn open(config: &StoreConfig) -> Result<SqlStore> {
        let store = match config {
            StoreConfig::Sqlite { path } => {
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await?;
                SqlStore {
                    pool: Pool::Sqlite(pool),
                    location: path.display().to_string(),
                    sqlite_path: Some(path.clone()),
                    listener: None,
                    poll: Duration::from_millis(200),
                }
            }
            StoreConfig::Postgres { url, schema } => {
                let mut opts = PgConnectOptions::from_str(url)?;
                if let Some(s) = schema {
                    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(StoreError::NotFound(format!(
                            "valid schema name (got {s:?})"
                        )));
                    }
                    let admin = PgPoolOptions::new()
                        .max_connections(1)
                        .connect_with(opts.clone())
                        .await?;
                    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                        .execute(&admin)
                        .await?;
                    admin.close().await;
                    opts = opts.options([("search_path", s.as_str())]);
                }
                let location = format!(
                    "postgres://{}:{}/{}{}",
                    opts.get_host(),
                    opts.get_port(),
                    opts.get_database().unwrap_or("postgres"),
                    schema
                        .as_ref()
                        .map(|s| format!(" (schema {s})"))
                        .unwrap_or_default()
                );
                let pool = PgPoolOptions::new()
                    .max_connections(8)
                    .connect_with(opts)
                    .await?;
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(FEED_CHANNEL).await?;
                SqlStore {
                    pool: Pool::Postgres(pool),
                    sqlite_path: None,
                    location,
                    listener: Some(tokio::sync::Mutex::new(listener)),
                    poll: Duration::from_secs(2),
                }
            }
        };
        on_pool!(&store.pool, p => MIGRATOR.run(p).await)?;
        Ok(store)
    }

    pub async fn close(&self) {
        on_pool!(&self.pool, p => p.close().await)
    }

    /// Drops a PostgreSQL schema (test clean-up).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&pool)
            .await?;
        pool.close().await;
        Ok(())
    }
}

pub(crate) fn i(v: u64) -> i64 {
    v as i64
}
pub(crate) fn u(v: i64) -> u64 {
    v as u64
}

/// The stored facts of one entry, apart from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryData {
    reason: Reason,
    reference: Option<String>,
    country: Country,
    note: Option<String>,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl EntryData {
    fn same_facts(&self, o: &EntryData) -> bool {
        self.reason == o.reason
            && self.reference == o.reference
            && self.country == o.country
            && self.note == o.note
            && self.expires_at == o.expires_at
    }
}

type Key = (ListKind, u64, u64);

#[derive(sqlx::FromRow)]
struct EntryRow {
    list: String,
    subject: i64,
    imsi: i64,
    org: String,
    reason: String,
    reference: Option<String>,
    country: String,
    note: Option<String>,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    seq: i64,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn subject_of(list: ListKind, subject: i64, imsi: i64) -> Result<Subject> {
    let s = u(subject);
    Ok(match list {
        ListKind::Blocked | ListKind::Tracked | ListKind::Permitted => {
            Subject::Imei(Imei::from_body(s).map_err(|e| corrupt("subject", e))?)
        }
        ListKind::Exception => Subject::Pair(
            Imei::from_body(s).map_err(|e| corrupt("subject", e))?,
            Imsi::from_key(u(imsi)).map_err(|e| corrupt("imsi", e))?,
        ),
        ListKind::BarredTac => {
            Subject::Tac(Tac::from_u32(s as u32).map_err(|e| corrupt("tac", e))?)
        }
    })
}

impl EntryRow {
    fn data(&self) -> Result<(Key, String, EntryData)> {
        let list = ListKind::parse(&self.list).map_err(|e| corrupt("list", e))?;
        Ok((
            (list, u(self.subject), u(self.imsi)),
            self.org.clone(),
            EntryData {
                reason: Reason::parse(&self.reason).map_err(|e| corrupt("reason", e))?,
                reference: self.reference.clone(),
                country: Country::parse(&self.country).map_err(|e| corrupt("country", e))?,
                note: self.note.clone(),
                created_by: self.created_by.clone(),
                created_at: self.created_at,
                expires_at: self.expires_at,
            },
        ))
    }
    fn into_entry(self) -> Result<Entry> {
        let ((list, _, _), org, d) = self.data()?;
        Ok(Entry {
            list,
            subject: subject_of(list, self.subject, self.imsi)?,
            org,
            reason: d.reason,
            reference: d.reference,
            country: d.country,
            note: d.note,
            created_by: d.created_by,
            created_at: Timestamp(d.created_at),
            expires_at: d.expires_at.map(Timestamp),
            seq: u(self.seq),
        })
    }
}

#[derive(sqlx::FromRow)]
struct HistoryDbRow {
    seq: i64,
    at: i64,
    action: String,
    list: String,
    subject: i64,
    imsi: i64,
    org: String,
    actor_org: String,
    actor_user: String,
    reason: String,
    reference: Option<String>,
    country: String,
    note: Option<String>,
    expires_at: Option<i64>,
    state_after: i64,
}

impl HistoryDbRow {
    fn into_row(self) -> Result<HistoryRow> {
        let list = ListKind::parse(&self.list).map_err(|e| corrupt("list", e))?;
        Ok(HistoryRow {
            seq: u(self.seq),
            at: Timestamp(self.at),
            action: Action::parse(&self.action).ok_or_else(|| corrupt("action", &self.action))?,
            list,
            subject: subject_of(list, self.subject, self.imsi)?,
            org: self.org,
            actor_org: self.actor_org,
            actor_user: self.actor_user,
            reason: Reason::parse(&self.reason).map_err(|e| corrupt("reason", e))?,
            reference: self.reference,
            country: Country::parse(&self.country).map_err(|e| corrupt("country", e))?,
            note: self.note,
            expires_at: self.expires_at.map(Timestamp),
            state_after: u(self.state_after),
        })
    }
}

/// A history row waiting for its sequence number.
struct PendingHistory {
    action: Action,
    key: Key,
    org: String,
    data: EntryData,
    note: Option<String>,
    state_after: u64,
}

/// The entries of the subjects a batch touches, loaded once per chunk and changed in memory;
/// each chunk's net effect is then written with multi-row statements.
#[derive(Default)]
struct Working {
    map: HashMap<Key, BTreeMap<String, EntryData>>,
    loaded: HashSet<u64>,
    touched: Vec<(Key, String, usize)>,
    history: Vec<PendingHistory>,
}

impl Working {
    fn state_after(&self, key: Key) -> u64 {
        let on = |k: Key| self.map.get(&k).is_some_and(|m| !m.is_empty());
        match key.0 {
            ListKind::Blocked | ListKind::Tracked | ListKind::Permitted => {
                let mut f = 0u8;
                for (list, bit) in [
                    (ListKind::Blocked, ListFlags::BLOCKED),
                    (ListKind::Tracked, ListFlags::TRACKED),
                    (ListKind::Permitted, ListFlags::PERMITTED),
                ] {
                    if on((list, key.1, 0)) {
                        f |= bit;
                    }
                }
                u64::from(f)
            }
            ListKind::Exception | ListKind::BarredTac => u64::from(on(key)),
        }
    }

    fn record(
        &mut self,
        action: Action,
        key: Key,
        org: &str,
        data: EntryData,
        note: Option<String>,
    ) {
        let state_after = self.state_after(key);
        self.touched.push((key, org.to_owned(), self.history.len()));
        self.history.push(PendingHistory {
            action,
            key,
            org: org.to_owned(),
            data,
            note,
            state_after,
        });
    }

    /// Applies one change in memory, with the domain's rules.
    fn change(
        &mut self,
        index: usize,
        c: &ListChange,
        actor: &Actor,
        now: Timestamp,
        removal: Action,
        report: &mut ApplyReport,
    ) -> Result<()> {
        match c {
            ListChange::Add(e) => {
                let (subject, imsi) = subject_key(e.subject);
                let key = (e.list, subject, imsi);
                let EntryMeta {
                    reason,
                    reference,
                    country,
                    expires_at,
                    note,
                } = e.meta.clone();
                let mut data = EntryData {
                    reason,
                    reference,
                    country,
                    note,
                    created_by: actor.user.clone(),
                    created_at: now.0,
                    expires_at: expires_at.map(|t| t.0),
                };
                let orgs = self.map.entry(key).or_default();
                let action = match orgs.get(&actor.org) {
                    Some(old) if old.same_facts(&data) => {
                        report.unchanged += 1;
                        return Ok(());
                    }
                    Some(old) => {
                        data.created_by = old.created_by.clone();
                        data.created_at = old.created_at;
                        report.updated += 1;
                        Action::Update
                    }
                    None => {
                        report.added += 1;
                        Action::Add
                    }
                };
                orgs.insert(actor.org.clone(), data.clone());
                self.record(action, key, &actor.org, data, None);
                Ok(())
            }
            ListChange::Remove {
                list,
                subject,
                owner,
                note,
            } => {
                let (s, imsi) = subject_key(*subject);
                let key = (*list, s, imsi);
                let what = match subject {
                    Subject::Imei(i) => format!("IMEI {i}"),
                    Subject::Pair(i, m) => format!("IMEI {i} with IMSI {m}"),
                    Subject::Tac(t) => format!("TAC {t}"),
                };
                let orgs = self.map.entry(key).or_default();
                let targets: Vec<String> = match owner {
                    Some(o) => {
                        if !orgs.contains_key(o) {
                            return Err(StoreError::NotListed {
                                index,
                                what,
                                list: *list,
                                owner: Some(o.clone()),
                            });
                        }
                        vec![o.clone()]
                    }
                    None if orgs.contains_key(&actor.org) => vec![actor.org.clone()],
                    None if orgs.is_empty() => {
                        return Err(StoreError::NotListed {
                            index,
                            what,
                            list: *list,
                            owner: None,
                        });
                    }
                    None => orgs.keys().cloned().collect(),
                };
                for o in &targets {
                    may_lift(actor, o).map_err(|source| StoreError::Rule { index, source })?;
                }
                for o in targets {
                    if let Some(d) = self.map.get_mut(&key).and_then(|m| m.remove(&o)) {
                        report.removed += 1;
                        self.record(removal, key, &o, d, note.clone());
                    }
                }
                Ok(())
            }
        }
    }
}

/// `(…),(…)` placeholders for a multi-row statement. SQLite gets anonymous `?`: it resolves a
/// numbered `$n` by scanning the statement's parameter names, which makes binding thousands of
/// them quadratic (measured: 2,339 rows/s against 124,347 with `?`).
fn placeholders(rows: usize, cols: usize, numbered: bool) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            if numbered {
                s.push('$');
                s.push_str(&(r * cols + c + 1).to_string());
            } else {
                s.push('?');
            }
        }
        s.push(')');
    }
    s
}

const ENTRY_COLS: &str = "list, subject, imsi, org, reason, reference, country, note, created_by, created_at, expires_at, seq";
const HISTORY_COLS: &str = "seq, at, action, list, subject, imsi, org, actor_org, actor_user, reason, reference, country, note, expires_at, state_after";

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret of `kind` (see `ceir_domain::credential`: prefix, 178 random bits, checksum).
fn new_secret(kind: SecretKind) -> Result<String> {
    use rand::distributions::{Alphanumeric, DistString};
    let body = Alphanumeric.sample_string(&mut rand::rngs::OsRng, credential::BODY_LEN);
    credential::compose(kind, &body)
        .ok_or_else(|| StoreError::Corrupt("a generated secret has the wrong shape".into()))
}

/// A short public id for listing and revoking.
fn new_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric
        .sample_string(&mut rand::rngs::OsRng, 10)
        .to_ascii_lowercase()
}

/// Tokens made before the checksummed form: `ceir_<10-char id>_<28-char secret>`. They keep
/// working until they expire or are revoked.
fn is_legacy_token(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5 + 10 + 1 + 28
        && s.starts_with("ceir_")
        && b.get(15) == Some(&b'_')
        && b.iter()
            .enumerate()
            .all(|(i, c)| i < 5 || i == 15 || c.is_ascii_alphanumeric())
}

/// Applies one chunk of registry changes (at most [`CHUNK`]) inside the open transaction `$tx`
/// (a connection): loads every entry of the chunk's subjects, applies the rules, and writes the net
/// effect, the history rows and the feed counter. `$base` numbers the chunk's changes in errors.
/// A macro, as `on_pool!` bodies are: it expands once per engine.
macro_rules! apply_chunk {
    ($tx:expr, $chunk:expr, $base:expr, $actor:expr, $now:expr, $removal:expr, $collect:expr, $report:expr, $first_seq:expr, $is_pg:expr) => {{
        let chunk: &[ListChange] = $chunk;
        let mut w = Working::default();
        let subjects: Vec<u64> = chunk
            .iter()
            .map(|c| match c {
                ListChange::Add(e) => subject_key(e.subject).0,
                ListChange::Remove { subject, .. } => subject_key(*subject).0,
            })
            .filter(|s| w.loaded.insert(*s))
            .collect();
        for part in subjects.chunks(CHUNK) {
            let sql = format!(
                "SELECT {ENTRY_COLS} FROM list_entry WHERE subject IN ({})",
                (1..=part.len()).map(|n| if $is_pg { format!("${n}") } else { "?".to_owned() }).collect::<Vec<_>>().join(",")
            );
            let mut q = sqlx::query_as::<_, EntryRow>(&sql);
            for s in part {
                q = q.bind(i(*s));
            }
            for row in q.fetch_all(&mut *$tx).await? {
                let (key, org, data) = row.data()?;
                w.map.entry(key).or_default().insert(org, data);
            }
        }
        for (n, c) in chunk.iter().enumerate() {
            w.change($base + n, c, $actor, $now, $removal, &mut *$report)?;
        }
        if !w.history.is_empty() {
            let count = w.history.len() as i64;
            let end: i64 = sqlx::query("UPDATE feed_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq")
                .bind(count)
                .fetch_one(&mut *$tx)
                .await?
                .try_get(0)?;
            let first = end - count + 1;
            $first_seq.get_or_insert(u(first));
            // Net effect per (key, org): the last history row that touched it.
            let mut last: HashMap<(Key, String), usize> = HashMap::new();
            for (key, org, h) in w.touched.drain(..) {
                last.insert((key, org), h);
            }
            let mut upserts = Vec::new();
            for ((key, org), h) in &last {
                let seq = first + *h as i64;
                match w.map.get(key).and_then(|m| m.get(org)) {
                    Some(d) => upserts.push((*key, org.clone(), d.clone(), seq)),
                    None => {
                        sqlx::query("DELETE FROM list_entry WHERE list = $1 AND subject = $2 AND imsi = $3 AND org = $4")
                            .bind(key.0.as_str())
                            .bind(i(key.1))
                            .bind(i(key.2))
                            .bind(org)
                            .execute(&mut *$tx)
                            .await?;
                    }
                }
            }
            for part in upserts.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO list_entry ({ENTRY_COLS}) VALUES {} ON CONFLICT (list, subject, imsi, org) DO UPDATE SET \
                     reason = excluded.reason, reference = excluded.reference, country = excluded.country, note = excluded.note, \
                     created_by = excluded.created_by, created_at = excluded.created_at, expires_at = excluded.expires_at, seq = excluded.seq",
                    placeholders(part.len(), 12, $is_pg)
                );
                let mut q = sqlx::query(&sql);
                for (key, org, d, seq) in part {
                    q = q
                        .bind(key.0.as_str())
                        .bind(i(key.1))
                        .bind(i(key.2))
                        .bind(org.clone())
                        .bind(d.reason.as_str())
                        .bind(d.reference.clone())
                        .bind(d.country.as_str().to_owned())
                        .bind(d.note.clone())
                        .bind(d.created_by.clone())
                        .bind(d.created_at)
                        .bind(d.expires_at)
                        .bind(*seq);
                }
                q.execute(&mut *$tx).await?;
            }
            for (part_no, part) in w.history.chunks(CHUNK).enumerate() {
                let sql = format!("INSERT INTO list_history ({HISTORY_COLS}) VALUES {}", placeholders(part.len(), 15, $is_pg));
                let mut q = sqlx::query(&sql);
                for (n, h) in part.iter().enumerate() {
                    let seq = first + (part_no * CHUNK + n) as i64;
                    q = q
                        .bind(seq)
                        .bind($now.0)
                        .bind(h.action.as_str())
                        .bind(h.key.0.as_str())
                        .bind(i(h.key.1))
                        .bind(i(h.key.2))
                        .bind(h.org.clone())
                        .bind($actor.org.clone())
                        .bind($actor.user.clone())
                        .bind(h.data.reason.as_str())
                        .bind(h.data.reference.clone())
                        .bind(h.data.country.as_str().to_owned())
                        .bind(h.note.clone().or_else(|| h.data.note.clone()))
                        .bind(h.data.expires_at)
                        .bind(i(h.state_after));
                    if $collect {
                        $report.updates.push(IndexUpdate {
                            seq: u(seq),
                            list: h.key.0,
                            subject: h.key.1,
                            imsi: h.key.2,
                            state_after: h.state_after,
                        });
                    }
                }
                q.execute(&mut *$tx).await?;
            }
            $report.last_seq = u(end);
        }
    }};
}

/// Before the commit of changes in `$tx`: the report's feed position (the current one if the
/// changes wrote no history), and on PostgreSQL the notification that wakes feed followers.
macro_rules! finish_feed {
    ($tx:expr, $report:expr, $is_pg:expr) => {{
        if $report.last_seq == 0 {
            $report.last_seq = u(sqlx::query("SELECT seq FROM feed_counter WHERE id = 1")
                .fetch_one(&mut *$tx)
                .await?
                .try_get(0)?);
        } else if $is_pg {
            // Delivered on commit, so woken followers always find the rows.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(FEED_CHANNEL)
                .bind($report.last_seq.to_string())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl SqlStore {
    async fn apply_inner(
        &self,
        changes: &[ListChange],
        by: &AuditContext,
        now: Timestamp,
        collect: bool,
        removal: Action,
    ) -> Result<ApplyReport> {
        let actor = &by.actor;
        may_change(actor, changes.iter().map(ListChange::list), 0)?;
        let is_pg = matches!(self.pool, Pool::Postgres(_));
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            // Take the feed lock first: writers queue here, and sequence order is commit order.
            sqlx::query("UPDATE feed_counter SET seq = seq WHERE id = 1").execute(&mut *tx).await?;
            let mut report = ApplyReport::default();
            let mut first_seq: Option<u64> = None;
            for (chunk_no, chunk) in changes.chunks(CHUNK).enumerate() {
                apply_chunk!(tx, chunk, chunk_no * CHUNK, actor, now, removal, collect, &mut report, first_seq, is_pg);
            }
            let detail = audit::list_detail(&report, first_seq);
            let entry = AuditEntry::new(by, list_action(changes, removal), list_object(changes), detail);
            audit_append!(tx, entry, now);
            finish_feed!(tx, report, is_pg);
            tx.commit().await?;
            Ok(report)
        })
    }
}

/// Refuses changes to a list the actor may not change; `base` numbers the first in the error.
fn may_change(actor: &Actor, lists: impl Iterator<Item = ListKind>, base: usize) -> Result<()> {
    for (n, list) in lists.enumerate() {
        if !actor.can(Capability::to_change(list)) {
            return Err(StoreError::Rule {
                index: base + n,
                source: ceir_domain::lists::RuleError::Subject(format!(
                    "{} ({}, {}) may not change the {} list",
                    actor.org,
                    actor.org_kind,
                    actor.role.as_str(),
                    list
                )),
            });
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TacRow {
    tac: i64,
    brand: String,
    model: String,
    marketing_name: Option<String>,
    manufacturer: Option<String>,
    device_type: Option<String>,
    os: Option<String>,
    bands: Option<String>,
    radio_interface: Option<String>,
    allocation_date: Option<String>,
    radios: i64,
}

impl TacRow {
    fn into_model(self) -> Result<TacModel> {
        Ok(TacModel {
            tac: Tac::from_u32(self.tac as u32).map_err(|e| corrupt("tac", e))?,
            brand: self.brand,
            model: self.model,
            marketing_name: self.marketing_name,
            manufacturer: self.manufacturer,
            device_type: self.device_type,
            os: self.os,
            bands: self.bands,
            radio_interface: self.radio_interface,
            allocation_date: self.allocation_date,
            radios: RadioSet::from_bits(self.radios as u8)
                .ok_or_else(|| corrupt("radios", self.radios))?,
        })
    }
}

/// The audit action of a batch: what all its changes do, or a mixed change.
fn list_action(changes: &[ListChange], removal: Action) -> AuditAction {
    let adds = changes
        .iter()
        .filter(|c| matches!(c, ListChange::Add(_)))
        .count();
    match (adds, removal) {
        (n, _) if n == changes.len() => AuditAction::ListAdd,
        (0, Action::Expire) => AuditAction::ListExpire,
        (0, _) => AuditAction::ListRemove,
        _ => AuditAction::ListChange,
    }
}

/// What a batch concerns: the device or model for a single change (a pair is named by its IMEI,
/// the IMSI being personal data), else the list, else all lists.
fn list_object(changes: &[ListChange]) -> ObjectRef {
    let subject = |c: &ListChange| match c {
        ListChange::Add(e) => e.subject,
        ListChange::Remove { subject, .. } => *subject,
    };
    match changes {
        [one] => match subject(one) {
            Subject::Imei(i) | Subject::Pair(i, _) => ObjectRef::imei(i),
            Subject::Tac(t) => ObjectRef::tac(t),
        },
        [first, rest @ ..] if rest.iter().all(|c| c.list() == first.list()) => {
            ObjectRef::list(first.list())
        }
        _ => ObjectRef::lists(),
    }
}

fn parse_org(id: String, name: String, kind: String, country: String) -> Result<Organisation> {
    Ok(Organisation {
        kind: OrgKind::parse(&kind).ok_or_else(|| corrupt("organisation kind", &kind))?,
        country: Country::parse(&country).map_err(|e| corrupt("country", e))?,
        id,
        name,
    })
}

#[async_trait::async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn apply(
        &self,
        changes: &[ListChange],
        by: &AuditContext,
        now: Timestamp,
        collect_updates: bool,
    ) -> Result<ApplyReport> {
        self.apply_inner(changes, by, now, collect_updates, Action::Remove)
            .await
    }

    async fn expire_due(&self, now: Timestamp) -> Result<ApplyReport> {
        let rows: Vec<EntryRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, EntryRow>(&format!(
                "SELECT {ENTRY_COLS} FROM list_entry WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT 100000"
            ))
            .bind(now.0)
            .fetch_all(p)
            .await?
        });
        let mut changes = Vec::with_capacity(rows.len());
        for r in rows {
            let e = r.into_entry()?;
            changes.push(ListChange::Remove {
                list: e.list,
                subject: e.subject,
                owner: Some(e.org),
                note: Some("expired".into()),
            });
        }
        if changes.is_empty() {
            return Ok(ApplyReport::default());
        }
        self.apply_inner(
            &changes,
            &AuditContext::local(Actor::system("expiry")),
            now,
            true,
            Action::Expire,
        )
        .await
    }

    async fn next_expiry(&self) -> Result<Option<Timestamp>> {
        let v: Option<i64> = on_pool!(&self.pool, p => {
            sqlx::query("SELECT MIN(expires_at) FROM list_entry WHERE expires_at IS NOT NULL").fetch_one(p).await?.try_get(0)?
        });
        Ok(v.map(Timestamp))
    }

    async fn entries_of(&self, subject_key: u64) -> Result<Vec<Entry>> {
        let rows: Vec<EntryRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, EntryRow>(&format!("SELECT {ENTRY_COLS} FROM list_entry WHERE subject = $1 ORDER BY seq"))
                .bind(i(subject_key))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    async fn entries(
        &self,
        list: ListKind,
        after: Option<(u64, u64)>,
        limit: u32,
    ) -> Result<Vec<Entry>> {
        // Two statements, not one with `$n = 1 OR …`: such an OR keeps both engines from
        // seeking `list_entry_page`, and every page rescanned the list from its start.
        let rows: Vec<EntryRow> = match after {
            None => on_pool!(&self.pool, p => {
                sqlx::query_as::<_, EntryRow>(&format!(
                    "SELECT {ENTRY_COLS} FROM list_entry WHERE list = $1 ORDER BY subject, seq LIMIT $2"
                ))
                .bind(list.as_str())
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
            }),
            Some((s, q)) => on_pool!(&self.pool, p => {
                sqlx::query_as::<_, EntryRow>(&format!(
                    "SELECT {ENTRY_COLS} FROM list_entry WHERE list = $1 AND (subject, seq) > ($2, $3) \
                     ORDER BY subject, seq LIMIT $4"
                ))
                .bind(list.as_str())
                .bind(i(s))
                .bind(i(q))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
            }),
        };
        rows.into_iter().map(EntryRow::into_entry).collect()
    }

    async fn memberships(&self, lists: &[ListKind]) -> Result<Vec<Membership>> {
        self.read_all_memberships(lists).await
    }

    async fn memberships_since(
        &self,
        lists: &[ListKind],
        since: Option<FeedMark>,
        max_changes: usize,
        whole: MembershipSender,
    ) -> Result<MembershipRead> {
        self.read_memberships(lists, since, max_changes, whole)
            .await
    }

    async fn history_of(&self, subject_key: u64) -> Result<Vec<HistoryRow>> {
        let rows: Vec<HistoryDbRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, HistoryDbRow>(&format!("SELECT {HISTORY_COLS} FROM list_history WHERE subject = $1 ORDER BY seq"))
                .bind(i(subject_key))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(HistoryDbRow::into_row).collect()
    }

    async fn list_counts(&self) -> Result<Vec<(ListKind, u64)>> {
        let rows: Vec<(String, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, (String, i64)>("SELECT list, COUNT(*) FROM list_entry GROUP BY list ORDER BY list").fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(l, n)| Ok((ListKind::parse(&l).map_err(|e| corrupt("list", e))?, u(n))))
            .collect()
    }

    async fn feed_since(&self, seq: u64, limit: u32) -> Result<Vec<IndexUpdate>> {
        let rows: Vec<(i64, String, i64, i64, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, (i64, String, i64, i64, i64)>(
                "SELECT seq, list, subject, imsi, state_after FROM list_history WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(i(seq))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(seq, list, subject, imsi, state)| {
                Ok(IndexUpdate {
                    seq: u(seq),
                    list: ListKind::parse(&list).map_err(|e| corrupt("list", e))?,
                    subject: u(subject),
                    imsi: u(imsi),
                    state_after: u(state),
                })
            })
            .collect()
    }

    async fn feed_position(&self) -> Result<u64> {
        let v: i64 = on_pool!(&self.pool, p => {
            sqlx::query("SELECT seq FROM feed_counter WHERE id = 1").fetch_one(p).await?.try_get(0)?
        });
        Ok(u(v))
    }

    async fn snapshot(&self) -> Result<IndexSnapshot> {
        let is_pg = matches!(self.pool, Pool::Postgres(_));
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            if is_pg {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
            }
            let seq: i64 = sqlx::query("SELECT seq FROM feed_counter WHERE id = 1").fetch_one(&mut *tx).await?.try_get(0)?;
            let mut snap = IndexSnapshot { seq: u(seq), ..IndexSnapshot::default() };
            {
                // The flag bit comes out of SQL as an integer: no string per row.
                let sql = format!(
                    "SELECT subject, CAST(CASE list WHEN 'blocked' THEN {} WHEN 'tracked' THEN {} ELSE {} END AS BIGINT) \
                     FROM list_entry WHERE list IN ('blocked', 'tracked', 'permitted')",
                    ListFlags::BLOCKED,
                    ListFlags::TRACKED,
                    ListFlags::PERMITTED
                );
                let mut rows = sqlx::query_as::<_, (i64, i64)>(&sql).fetch(&mut *tx);
                while let Some((subject, bit)) = rows.try_next().await? {
                    let bit = bit as u8;
                    snap.flags.push((u(subject), bit));
                }
            }
            snap.pairs = sqlx::query_as::<_, (i64, i64)>("SELECT DISTINCT subject, imsi FROM list_entry WHERE list = 'exception'")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(a, b)| (u(a), u(b)))
                .collect();
            snap.barred_tacs = sqlx::query_as::<_, (i64,)>("SELECT DISTINCT subject FROM list_entry WHERE list = 'barred_tac'")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(t,)| t as u32)
                .collect();
            tx.commit().await?;
            Ok(snap)
        })
    }

    async fn replace_catalog(
        &self,
        models: &[TacModel],
        import: &CatalogImport<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<CatalogReport> {
        let actor = &by.actor;
        let CatalogImport {
            source,
            format,
            max_drop,
            force,
        } = *import;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let previous: i64 = sqlx::query("SELECT COUNT(*) FROM tac_model").fetch_one(&mut *tx).await?.try_get(0)?;
            let new = models.len() as i64;
            if !force && previous > 0 && (new as f64) < (previous as f64) * (1.0 - max_drop) {
                return Err(StoreError::SafetyStop(format!(
                    "the new catalog has {new} models where the current one has {previous}: it would drop {:.1}% of the rows, more than the allowed {:.1}%",
                    100.0 * (previous - new) as f64 / previous as f64,
                    100.0 * max_drop
                )));
            }
            sqlx::query("DELETE FROM tac_model").execute(&mut *tx).await?;
            for part in models.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO tac_model (tac, brand, model, marketing_name, manufacturer, device_type, os, bands, radio_interface, allocation_date, radios) \
                     VALUES {} ON CONFLICT (tac) DO UPDATE SET brand = excluded.brand, model = excluded.model, marketing_name = excluded.marketing_name, \
                     manufacturer = excluded.manufacturer, device_type = excluded.device_type, os = excluded.os, bands = excluded.bands, \
                     radio_interface = excluded.radio_interface, allocation_date = excluded.allocation_date, radios = excluded.radios",
                    placeholders(part.len(), 11, matches!(self.pool, Pool::Postgres(_)))
                );
                let mut q = sqlx::query(&sql);
                for m in part {
                    q = q
                        .bind(i64::from(m.tac.get()))
                        .bind(m.brand.clone())
                        .bind(m.model.clone())
                        .bind(m.marketing_name.clone())
                        .bind(m.manufacturer.clone())
                        .bind(m.device_type.clone())
                        .bind(m.os.clone())
                        .bind(m.bands.clone())
                        .bind(m.radio_interface.clone())
                        .bind(m.allocation_date.clone())
                        .bind(i64::from(m.radios.bits()));
                }
                q.execute(&mut *tx).await?;
            }
            let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM tac_import").fetch_one(&mut *tx).await?.try_get(0)?;
            sqlx::query("INSERT INTO tac_import (id, at, source, format, models, previous, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(now.0)
                .bind(source)
                .bind(format)
                .bind(new)
                .bind(previous)
                .bind(format!("{}/{}", actor.org, actor.user))
                .execute(&mut *tx)
                .await?;
            let stored: i64 = sqlx::query("SELECT COUNT(*) FROM tac_model").fetch_one(&mut *tx).await?.try_get(0)?;
            let detail = serde_json::json!({"import": id, "format": format, "models": stored, "previous": previous, "forced": force}).to_string();
            let entry = AuditEntry::new(by, AuditAction::CatalogImport, ObjectRef::catalog(), detail);
            audit_append!(tx, entry, now);
            tx.commit().await?;
            Ok(CatalogReport { previous: u(previous), models: u(stored) })
        })
    }

    async fn tac(&self, tac: Tac) -> Result<Option<TacModel>> {
        let row: Option<TacRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, TacRow>(
                "SELECT tac, brand, model, marketing_name, manufacturer, device_type, os, bands, radio_interface, allocation_date, radios FROM tac_model WHERE tac = $1",
            )
            .bind(i64::from(tac.get()))
            .fetch_optional(p)
            .await?
        });
        row.map(TacRow::into_model).transpose()
    }

    async fn catalog_models(&self) -> Result<Vec<TacModel>> {
        let rows: Vec<TacRow> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, TacRow>(
                "SELECT tac, brand, model, marketing_name, manufacturer, device_type, os, bands, radio_interface, allocation_date, radios FROM tac_model ORDER BY tac",
            )
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(TacRow::into_model).collect()
    }

    async fn catalog_count(&self) -> Result<u64> {
        let n: i64 = on_pool!(&self.pool, p => {
            sqlx::query("SELECT COUNT(*) FROM tac_model").fetch_one(p).await?.try_get(0)?
        });
        Ok(u(n))
    }

    async fn upsert_organisation(
        &self,
        org: &Organisation,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<()> {
        let detail = serde_json::json!({"name": org.name, "kind": org.kind.as_str(), "country": org.country.as_str()}).to_string();
        let entry = AuditEntry::new(by, AuditAction::OrgUpsert, ObjectRef::org(&org.id), detail);
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO organisation (id, name, kind, country, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, country = excluded.country",
            )
            .bind(&org.id)
            .bind(&org.name)
            .bind(org.kind.as_str())
            .bind(org.country.as_str())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn organisation(&self, id: &str) -> Result<Option<Organisation>> {
        let row: Option<(String, String, String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, (String, String, String, String)>("SELECT id, name, kind, country FROM organisation WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?
        });
        row.map(|(a, b, c, d)| parse_org(a, b, c, d)).transpose()
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_token(
        &self,
        org: &str,
        user: &str,
        role: Role,
        label: &str,
        expires_at: Option<Timestamp>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<(String, String)> {
        self.create_scoped_token(
            &crate::machine::NewToken {
                org,
                user,
                role,
                label,
                scopes: ScopeSet::REST,
                expires_at,
            },
            by,
            now,
        )
        .await
    }

    async fn authenticate(&self, secret: &str, now: Timestamp) -> Result<Option<TokenInfo>> {
        // Strings of the wrong shape or with a bad checksum never reach the database.
        if credential::recognise(secret) != Some(SecretKind::ApiToken) && !is_legacy_token(secret) {
            return Ok(None);
        }
        type R = (
            String,
            String,
            String,
            String,
            Option<i64>,
            Option<i64>,
            String,
            String,
            String,
            String,
            String,
        );
        let row: Option<R> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, R>(
                "SELECT t.id, t.user_name, t.role, t.label, t.expires_at, t.revoked_at, o.id, o.name, o.kind, o.country, t.scopes \
                 FROM api_token t JOIN organisation o ON o.id = t.org WHERE t.secret_hash = $1",
            )
            .bind(hash_secret(secret))
            .fetch_optional(p)
            .await?
        });
        let Some((
            id,
            user,
            role,
            label,
            expires_at,
            revoked_at,
            oid,
            oname,
            okind,
            ocountry,
            scopes,
        )) = row
        else {
            return Ok(None);
        };
        if revoked_at.is_some() || expires_at.is_some_and(|e| e <= now.0) {
            return Ok(None);
        }
        Ok(Some(TokenInfo {
            id,
            org: parse_org(oid, oname, okind, ocountry)?,
            user,
            role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
            label,
            expires_at: expires_at.map(Timestamp),
            scopes: ScopeSet::parse(&scopes).map_err(|e| corrupt("token scopes", e))?,
        }))
    }

    async fn revoke_token(&self, id: &str, by: &AuditContext, now: Timestamp) -> Result<()> {
        let entry = AuditEntry::new(by, AuditAction::TokenRevoke, ObjectRef::token(id), "{}");
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE api_token SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(now.0).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("active token {id:?}")));
            }
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn upsert_operator(
        &self,
        op: &Operator,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<()> {
        // Binding a network to an organisation decides whose subscribers it sees: audited.
        let detail = serde_json::json!({"plmn": op.plmn, "name": op.name, "country": op.country.as_str(), "org": op.org}).to_string();
        let entry = AuditEntry::new(
            by,
            AuditAction::OperatorUpsert,
            ObjectRef::network(&op.plmn),
            detail,
        );
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO operator (plmn, name, country, org) VALUES ($1, $2, $3, $4) ON CONFLICT (plmn) DO UPDATE SET name = excluded.name, country = excluded.country, org = excluded.org")
                .bind(&op.plmn)
                .bind(&op.name)
                .bind(op.country.as_str())
                .bind(op.org.as_deref())
                .execute(&mut *tx)
                .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn operators(&self) -> Result<Vec<Operator>> {
        type Row = (String, String, String, Option<String>);
        let rows: Vec<Row> = on_pool!(&self.pool, p => {
            sqlx::query_as::<_, Row>("SELECT plmn, name, country, org FROM operator ORDER BY plmn").fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(plmn, name, c, org)| {
                Ok(Operator {
                    plmn,
                    name,
                    country: Country::parse(&c).map_err(|e| corrupt("country", e))?,
                    org,
                })
            })
            .collect()
    }

    async fn integrity_check(&self) -> Result<IntegrityReport> {
        let is_sqlite = matches!(self.pool, Pool::Sqlite(_));
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let mut r = IntegrityReport::default();
            if is_sqlite {
                let ok: String = sqlx::query("PRAGMA integrity_check").fetch_one(&mut *tx).await?.try_get(0)?;
                if ok != "ok" {
                    r.problems.push(format!("sqlite integrity_check: {ok}"));
                }
            }
            let seq: i64 = sqlx::query("SELECT seq FROM feed_counter WHERE id = 1").fetch_one(&mut *tx).await?.try_get(0)?;
            let (count, max): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MAX(seq) FROM list_history").fetch_one(&mut *tx).await?;
            r.seq = u(seq);
            r.history = u(count);
            if max.unwrap_or(0) != seq || count != seq {
                r.problems.push(format!("feed counter {seq} but history has {count} rows up to {}", max.unwrap_or(0)));
            }
            let entries = sqlx::query_as::<_, EntryRow>(&format!("SELECT {ENTRY_COLS} FROM list_entry")).fetch_all(&mut *tx).await?;
            r.entries = entries.len() as u64;
            let orphans: i64 = sqlx::query(
                "SELECT COUNT(*) FROM list_entry e WHERE NOT EXISTS (SELECT 1 FROM list_history h WHERE h.seq = e.seq AND h.list = e.list \
                 AND h.subject = e.subject AND h.imsi = e.imsi AND h.org = e.org AND h.action IN ('add', 'update'))",
            )
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if orphans > 0 {
                r.problems.push(format!("{orphans} entries without their history row"));
            }
            let mut w = Working::default();
            for row in entries {
                let (key, org, data) = row.data()?;
                w.map.entry(key).or_default().insert(org, data);
            }
            // The newest history row of each subject must state the subject's current state.
            let latest = sqlx::query_as::<_, (String, i64, i64, i64, i64)>(
                "SELECT list, subject, imsi, seq, state_after FROM list_history ORDER BY seq",
            )
            .fetch_all(&mut *tx)
            .await?;
            let mut newest: HashMap<(u8, u64, u64), (ListKind, u64)> = HashMap::new();
            for (list, subject, imsi, _seq, state) in latest {
                let list = ListKind::parse(&list).map_err(|e| corrupt("list", e))?;
                let group = match list {
                    ListKind::Blocked | ListKind::Tracked | ListKind::Permitted => 0,
                    ListKind::Exception => 1,
                    ListKind::BarredTac => 2,
                };
                newest.insert((group, u(subject), u(imsi)), (list, u(state)));
            }
            for ((_, subject, imsi), (list, state)) in newest {
                let actual = w.state_after((list, subject, imsi));
                if actual != state {
                    r.problems.push(format!("{list} {subject}/{imsi}: history says state {state}, entries say {actual}"));
                }
            }
            tx.commit().await?;
            Ok(r)
        })
    }

    async fn wait_for_feed(&self, max_wait: Duration) {
        match &self.listener {
            Some(l) => {
                let mut l = l.lock().await;
                // An error (connection lost) falls back to the poll interval; sqlx reconnects.
                if let Ok(Err(_)) = tokio::time::timeout(max_wait, l.recv()).await {
                    tokio::time::sleep(self.poll.min(max_wait)).await;
                }
            }
            None => tokio::time::sleep(self.poll.min(max_wait)).await,
        }
    }
}

// After the macros it uses.
mod dirbs;
