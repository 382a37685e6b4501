//! Citizens' cases and their one-time codes. A supertrait of [`crate::Store`].
//!
//! The reporter's contact is stored because codes must reach it, and is handed out only as part
//! of [`Case`]; the HTTP layer decides who sees it unmasked. One-time codes are stored as
//! digests ([`ceir_domain::cases::OneTimeCode::digest`]), never as digits.

use crate::Result;
use ceir_domain::audit::AuditContext;
use ceir_domain::cases::{CaseCode, CaseKind, CaseState, Contact};
use ceir_domain::lists::Country;
use ceir_domain::{Imei, Timestamp};

/// A report as a citizen files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub imei: Imei,
    pub kind: CaseKind,
    pub contact: Contact,
    /// The node's country; the case code starts with it.
    pub country: Country,
    pub description: Option<String>,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub code: CaseCode,
    pub imei: Imei,
    pub kind: CaseKind,
    pub contact: Contact,
    pub country: Country,
    pub description: Option<String>,
    pub state: CaseState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The outcome of asking for a new one-time code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpIssue {
    /// Stored; the caller sends the code to the case's contact.
    Issued(Case),
    /// No case has this code.
    UnknownCase,
    /// Too many codes were sent lately; another may be sent from this time.
    Limited { retry_at: Timestamp },
}

#[async_trait::async_trait]
pub trait CaseStore: Send + Sync {
    /// Files a case under a fresh code, with its `case.create` audit record (which names the
    /// case, the IMEI and the kind, never the contact), in one transaction.
    async fn create_case(&self, case: &NewCase, by: &AuditContext, now: Timestamp) -> Result<Case>;
    async fn case(&self, code: &CaseCode) -> Result<Option<Case>>;
    /// Newest first, optionally in one state, at most `limit`.
    async fn cases(&self, state: Option<CaseState>, limit: u32) -> Result<Vec<Case>>;
    /// Stores a new one-time code (by digest) for a case, replacing any earlier one, unless the
    /// hourly send limit is reached.
    async fn issue_otp(
        &self,
        code: &CaseCode,
        digest: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<OtpIssue>;
    /// Uses the case's current one-time code: the case if `digest` matches a code that is still
    /// usable (which it then no longer is); `None` otherwise, counting a wrong guess against it.
    /// An unknown case is `None` as well.
    async fn use_otp(&self, code: &CaseCode, digest: &str, now: Timestamp) -> Result<Option<Case>>;
}
