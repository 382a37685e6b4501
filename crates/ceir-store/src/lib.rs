//! ceir's registry store: the [`Store`] trait and its SQL implementation for SQLite and PostgreSQL.
//!
//! Both engines run the same migrations and the same queries; see [`sql`] for how one body of
//! code serves both. Every write is one transaction that also appends to the ordered change feed
//! (`list_history`), which in-memory indexes follow.

pub mod accounts;
pub mod audit;
pub mod cases;
pub mod dirbs;
pub mod imports;
pub mod machine;
mod sql;
pub mod testkit;

pub use accounts::{AccountStore, NewUser, OidcIdentity, OpenedSession, Session, User};
pub use audit::{AuditFilter, AuditStore};
pub use cases::CaseStore;
pub use dirbs::{
    DirbsImport, DirbsListImport, DirbsListStore, DirbsRow, ExceptionPairing, GoldenImport,
    GoldenReport,
};
pub use imports::{DaySketch, ImportJob, ImportStore, Verdict};
pub use machine::MachineStore;
pub use sql::{SqlStore, StoreConfig};

use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::catalog::TacModel;
use ceir_domain::lists::{Country, ListKind, NewEntry, Reason, RuleError, Subject};
use ceir_domain::scope::ScopeSet;
use ceir_domain::{ErrorCode, Tac, Timestamp};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Change number `index` (0-based) of a batch broke a rule; nothing of the batch was applied.
    #[error("change {}: {source}", index + 1)]
    Rule { index: usize, source: RuleError },
    #[error("change {}: {what} is not on the {list} list{owner}", index + 1, owner = owner.as_ref().map(|o| format!(" for {o}")).unwrap_or_default())]
    NotListed {
        index: usize,
        what: String,
        list: ListKind,
        owner: Option<String>,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("refused: {0}")]
    SafetyStop(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the store holds a value it cannot read: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Db(_) | StoreError::Sqlite(_) | StoreError::Migrate(_) => {
                ErrorCode::StoreUnavailable
            }
            StoreError::Rule { source, .. } => source.code(),
            StoreError::NotListed { .. } | StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::SafetyStop(_) => ErrorCode::SafetyStop,
            StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::Corrupt(_) => ErrorCode::Internal,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One change to the lists, as asked for by an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChange {
    Add(NewEntry),
    /// Lift an entry. With `owner`, that organisation's entry; without, the actor's own entry,
    /// or every organisation's entry when the actor is a regulator.
    Remove {
        list: ListKind,
        subject: Subject,
        owner: Option<String>,
        note: Option<String>,
    },
}

impl ListChange {
    pub fn list(&self) -> ListKind {
        match self {
            ListChange::Add(e) => e.list,
            ListChange::Remove { list, .. } => *list,
        }
    }
}

/// What a history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Update,
    Remove,
    Expire,
}

impl Action {
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Remove => "remove",
            Action::Expire => "expire",
        }
    }
    pub fn parse(s: &str) -> Option<Action> {
        [Action::Add, Action::Update, Action::Remove, Action::Expire]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// The minimal form of a change that an index needs: what the subject's state is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexUpdate {
    pub seq: u64,
    pub list: ListKind,
    /// IMEI body, or TAC for the barred TAC list.
    pub subject: u64,
    /// IMSI key for exceptions, 0 otherwise.
    pub imsi: u64,
    /// List flag bits for IMEI lists; 1 or 0 for a pair or a barred TAC.
    pub state_after: u64,
}

/// A point of the change feed: a change's seq and when it was made. A copy of the memberships
/// made at one point recognises the store it came from by both: a different or restored
/// database has other times at the same seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedMark {
    pub seq: u64,
    pub at: i64,
}

/// One list membership: the list, the subject key (an IMEI body, or a TAC on `barred_tac`) and
/// the reason.
pub type Membership = (ListKind, u64, Reason);

/// Where [`Store::memberships_since`] sends a whole read, in batches.
pub type MembershipSender = tokio::sync::mpsc::Sender<Vec<Membership>>;

/// What [`Store::memberships_since`] read, from one consistent snapshot of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipRead {
    /// Every membership of the lists asked for, as of `head`, was sent to the channel given,
    /// ascending by subject.
    Whole { head: FeedMark },
    /// The (list, subject) pairs changed after the mark given, up to `head`, and every
    /// membership those subjects have now on the lists asked for. Nothing was sent.
    Changes {
        head: FeedMark,
        touched: Vec<(ListKind, u64)>,
        rows: Vec<Membership>,
    },
}

impl MembershipRead {
    pub fn head(&self) -> FeedMark {
        match self {
            MembershipRead::Whole { head } | MembershipRead::Changes { head, .. } => *head,
        }
    }
}

/// An entry on a list, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub list: ListKind,
    pub subject: Subject,
    pub org: String,
    pub reason: Reason,
    pub reference: Option<String>,
    pub country: Country,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub seq: u64,
}

/// One row of history (and of the change feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub seq: u64,
    pub at: Timestamp,
    pub action: Action,
    pub list: ListKind,
    pub subject: Subject,
    pub org: String,
    pub actor_org: String,
    pub actor_user: String,
    pub reason: Reason,
    pub reference: Option<String>,
    pub country: Country,
    pub note: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub state_after: u64,
}

/// What a batch of changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Adds identical to what was already recorded: no history row.
    pub unchanged: u64,
    /// The feed position after the batch.
    pub last_seq: u64,
    /// Per change of state, for the local index (empty unless asked for).
    pub updates: Vec<IndexUpdate>,
}

/// A start-up snapshot of everything the status index holds, consistent at `seq`.
#[derive(Debug, Default)]
pub struct IndexSnapshot {
    pub seq: u64,
    /// (IMEI body, list flag bits); an IMEI on several lists appears once per list.
    pub flags: Vec<(u64, u8)>,
    pub pairs: Vec<(u64, u64)>,
    pub barred_tacs: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: Country,
}

/// An API token as stored (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub org: Organisation,
    pub user: String,
    pub role: Role,
    pub label: String,
    pub expires_at: Option<Timestamp>,
    /// What the token may be used for, within the holder's grants.
    pub scopes: ScopeSet,
}

impl TokenInfo {
    pub fn actor(&self) -> Actor {
        Actor {
            org: self.org.id.clone(),
            org_kind: self.org.kind,
            user: self.user.clone(),
            role: self.role,
            scopes: self.scopes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// MCC-MNC, e.g. "400-01".
    pub plmn: String,
    pub name: String,
    pub country: Country,
    /// The operator organisation on this node that runs the network, if any.
    pub org: Option<String>,
}

/// Where a catalog comes from and how cautious to be with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogImport<'a> {
    /// The file, for the import record.
    pub source: &'a str,
    /// "gsma" or "osmocom".
    pub format: &'a str,
    /// Refuse to drop more than this share of the current models...
    pub max_drop: f64,
    /// ...unless forced.
    pub force: bool,
}

/// Outcome of a catalog replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogReport {
    pub previous: u64,
    pub models: u64,
}

/// What the integrity check found; empty `problems` means consistent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    pub entries: u64,
    pub history: u64,
    pub seq: u64,
    pub problems: Vec<String>,
}

/// The registry's persistent state. Implementations must make every method atomic, and every
/// method that changes something writes its audit record in the same transaction.
#[async_trait::async_trait]
pub trait Store:
    AuditStore
    + MachineStore
    + AccountStore
    + CaseStore
    + ImportStore
    + DirbsListStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Where the data lives, without secrets (for start-up messages).
    fn location(&self) -> String;

    /// Applies a batch of list changes in one transaction, with its audit record: all or nothing.
    async fn apply(
        &self,
        changes: &[ListChange],
        by: &AuditContext,
        now: Timestamp,
        collect_updates: bool,
    ) -> Result<ApplyReport>;
    /// Removes every entry whose expiry has passed, as the system, keeping history.
    async fn expire_due(&self, now: Timestamp) -> Result<ApplyReport>;
    /// The next expiry after `now`, if any, so the sweeper can sleep until then.
    async fn next_expiry(&self) -> Result<Option<Timestamp>>;

    async fn entries_of(&self, subject_key: u64) -> Result<Vec<Entry>>;
    /// One page of a list, in (subject, seq) order, after the `(subject, seq)` of the last entry
    /// of the previous page. The seq (unique per entry) keeps subscriber identifiers out of
    /// paging cursors.
    async fn entries(
        &self,
        list: ListKind,
        after: Option<(u64, u64)>,
        limit: u32,
    ) -> Result<Vec<Entry>>;
    /// Every entry of `lists` (exceptions are never given) as (list, subject key, reason), in one
    /// pass: what classification and list generation read. The subject is an IMEI body, or a TAC
    /// on `barred_tac`. Whole `Entry` rows (org, reference, note, timestamps) made that ten
    /// times slower at a million registrations.
    async fn memberships(&self, lists: &[ListKind]) -> Result<Vec<Membership>>;
    /// [`Store::memberships`] with the feed position they were read at, sent to `whole` in
    /// batches ascending by subject, so that a reader can stream them to disk in bounded memory;
    /// or, given the mark of an earlier read that this store made, only the subjects changed
    /// since it, returned, when there are at most `max_changes` of them (otherwise, or for a
    /// mark it does not know, every membership is sent). The receiver must be drained while
    /// this runs.
    async fn memberships_since(
        &self,
        lists: &[ListKind],
        since: Option<FeedMark>,
        max_changes: usize,
        whole: MembershipSender,
    ) -> Result<MembershipRead>;
    async fn history_of(&self, subject_key: u64) -> Result<Vec<HistoryRow>>;
    async fn list_counts(&self) -> Result<Vec<(ListKind, u64)>>;

    /// Feed rows after `seq`, in order.
    async fn feed_since(&self, seq: u64, limit: u32) -> Result<Vec<IndexUpdate>>;
    async fn feed_position(&self) -> Result<u64>;
    async fn snapshot(&self) -> Result<IndexSnapshot>;

    /// Replaces the catalog in one transaction; refuses to drop more than `max_drop` of the
    /// current rows unless `force`.
    async fn replace_catalog(
        &self,
        models: &[TacModel],
        import: &CatalogImport<'_>,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<CatalogReport>;
    async fn tac(&self, tac: Tac) -> Result<Option<TacModel>>;
    async fn catalog_count(&self) -> Result<u64>;
    /// Every model of the catalog, in TAC order (classification loads it whole).
    async fn catalog_models(&self) -> Result<Vec<TacModel>>;

    async fn upsert_organisation(
        &self,
        org: &Organisation,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<()>;
    async fn organisation(&self, id: &str) -> Result<Option<Organisation>>;
    /// Creates a token with the REST scopes ([`ScopeSet::REST`]) and returns its id and the
    /// secret, shown once. [`MachineStore::create_scoped_token`] chooses the scopes.
    // The token's own fields plus who creates it, when: grouping them would only move the count.
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
    ) -> Result<(String, String)>;
    /// The token a presented secret belongs to, if valid at `now`.
    async fn authenticate(&self, secret: &str, now: Timestamp) -> Result<Option<TokenInfo>>;
    async fn revoke_token(&self, id: &str, by: &AuditContext, now: Timestamp) -> Result<()>;

    /// Registers a network (MCC-MNC) and binds it to an operator organisation, or unbinds it.
    async fn upsert_operator(&self, op: &Operator, by: &AuditContext, now: Timestamp)
        -> Result<()>;
    async fn operators(&self) -> Result<Vec<Operator>>;

    /// Checks that entries, history and the feed agree; engines' own checks too.
    async fn integrity_check(&self) -> Result<IntegrityReport>;
    /// Resolves when the feed may have moved (PostgreSQL NOTIFY; a poll interval elsewhere).
    async fn wait_for_feed(&self, max_wait: std::time::Duration);
}

/// The (subject, imsi) columns of a subject.
pub fn subject_key(s: Subject) -> (u64, u64) {
    match s {
        Subject::Imei(i) => (i.body(), 0),
        Subject::Pair(i, imsi) => (i.body(), imsi.key()),
        Subject::Tac(t) => (u64::from(t.get()), 0),
    }
}
