//! [`CaseStore`] on SQLite and PostgreSQL: citizens' cases and their one-time codes.

use super::{corrupt, new_id, u, Pool, SqlStore};
use crate::cases::{Case, CaseStore, NewCase, OtpIssue};
use crate::{Result, StoreError};
use ceir_domain::audit::{AuditAction, AuditContext, AuditEntry, ObjectRef};
use ceir_domain::cases::{
    may_send, otp_expiry, otp_usable, CaseCode, CaseKind, CaseState, Contact, OtpState,
    OTP_SEND_WINDOW_MS, RANDOM_CHARS,
};
use ceir_domain::lists::Country;
use ceir_domain::{Imei, Timestamp};

const CASE_COLS: &str =
    "code, imei, kind, contact, country, description, state, created_at, updated_at";

type CaseRow = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
);

fn case_of(r: CaseRow) -> Result<Case> {
    let (code, imei, kind, contact, country, description, state, created_at, updated_at) = r;
    Ok(Case {
        code: CaseCode::parse(&code).map_err(|e| corrupt("case code", e))?,
        imei: Imei::from_body(u(imei)).map_err(|e| corrupt("case imei", e))?,
        kind: CaseKind::parse(&kind).ok_or_else(|| corrupt("case kind", &kind))?,
        // Never the value in the message: it is personal data.
        contact: Contact::parse(&contact).map_err(|_| corrupt("case contact", "unreadable"))?,
        country: Country::parse(&country).map_err(|e| corrupt("case country", e))?,
        description,
        state: CaseState::parse(&state).ok_or_else(|| corrupt("case state", &state))?,
        created_at: Timestamp(created_at),
        updated_at: Timestamp(updated_at),
    })
}

fn new_code(country: Country) -> Result<CaseCode> {
    use rand::RngCore;
    let mut r = [0u8; RANDOM_CHARS];
    rand::rngs::OsRng
        .try_fill_bytes(&mut r)
        .map_err(|e| StoreError::Corrupt(format!("the system's random source failed: {e}")))?;
    Ok(CaseCode::from_random(country, r))
}

/// Equal in time independent of where the inputs differ.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Tries before giving up on finding an unused code (35 random bits: a second try is already
/// unlikely to be needed).
const CODE_TRIES: usize = 5;

#[async_trait::async_trait]
impl CaseStore for SqlStore {
    async fn create_case(&self, case: &NewCase, by: &AuditContext, now: Timestamp) -> Result<Case> {
        let code: CaseCode = on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let mut stored = None;
            for _ in 0..CODE_TRIES {
                let code = new_code(case.country)?;
                let done = sqlx::query(
                    "INSERT INTO citizen_case (code, imei, kind, contact, country, description, state, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (code) DO NOTHING",
                )
                .bind(code.to_string())
                .bind(case.imei.body() as i64)
                .bind(case.kind.as_str())
                .bind(case.contact.to_string())
                .bind(case.country.as_str())
                .bind(case.description.as_deref())
                .bind(CaseState::Received.as_str())
                .bind(now.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 1 {
                    stored = Some(code);
                    break;
                }
            }
            let code = stored.ok_or_else(|| StoreError::Conflict("no free case code found; retry".into()))?;
            // The IMEI and the kind, never the contact or the description (free text the
            // reporter may have filled with personal data).
            let detail = serde_json::json!({"imei": case.imei.to_string(), "kind": case.kind.as_str()}).to_string();
            let entry = AuditEntry::new(by, AuditAction::CaseCreate, ObjectRef::case(&code), detail);
            audit_append!(tx, entry, now);
            tx.commit().await?;
            code
        });
        Ok(Case {
            code,
            imei: case.imei,
            kind: case.kind,
            contact: case.contact.clone(),
            country: case.country,
            description: case.description.clone(),
            state: CaseState::Received,
            created_at: now,
            updated_at: now,
        })
    }

    async fn case(&self, code: &CaseCode) -> Result<Option<Case>> {
        let row: Option<CaseRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(&format!("SELECT {CASE_COLS} FROM citizen_case WHERE code = $1"))
                .bind(code.to_string())
                .fetch_optional(p)
                .await?
        });
        row.map(case_of).transpose()
    }

    async fn cases(&self, state: Option<CaseState>, limit: u32) -> Result<Vec<Case>> {
        let rows: Vec<CaseRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(&format!(
                "SELECT {CASE_COLS} FROM citizen_case WHERE ($1 IS NULL OR state = $1) \
                 ORDER BY created_at DESC, code LIMIT $2"
            ))
            .bind(state.map(|s| s.as_str()))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(case_of).collect()
    }

    async fn issue_otp(
        &self,
        code: &CaseCode,
        digest: &str,
        by: &AuditContext,
        now: Timestamp,
    ) -> Result<OtpIssue> {
        let key = code.to_string();
        // Neither the code nor the contact: only that one was sent.
        let entry = AuditEntry::new(by, AuditAction::CaseOtpSend, ObjectRef::case(code), "{}");
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            // A write first: it takes the case's row lock (PostgreSQL) or the write lock
            // (SQLite), so concurrent requests for one case count their sends one at a time.
            let found = sqlx::query("UPDATE citizen_case SET updated_at = updated_at WHERE code = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if found == 0 {
                return Ok(OtpIssue::UnknownCase);
            }
            let sent: Vec<(i64,)> = sqlx::query_as(
                "SELECT sent_at FROM case_otp WHERE case_code = $1 AND sent_at > $2",
            )
            .bind(&key)
            .bind(now.0 - OTP_SEND_WINDOW_MS)
            .fetch_all(&mut *tx)
            .await?;
            let sent: Vec<Timestamp> = sent.into_iter().map(|(t,)| Timestamp(t)).collect();
            if let Err(retry_at) = may_send(&sent, now) {
                return Ok(OtpIssue::Limited { retry_at });
            }
            sqlx::query("UPDATE case_otp SET superseded = 1 WHERE case_code = $1 AND superseded = 0")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO case_otp (id, case_code, code_hash, sent_at, expires_at, attempts, superseded) \
                 VALUES ($1, $2, $3, $4, $5, 0, 0)",
            )
            .bind(new_id())
            .bind(&key)
            .bind(digest)
            .bind(now.0)
            .bind(otp_expiry(now).0)
            .execute(&mut *tx)
            .await?;
            let row: CaseRow = sqlx::query_as(&format!("SELECT {CASE_COLS} FROM citizen_case WHERE code = $1"))
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
            audit_append!(tx, entry, now);
            tx.commit().await?;
            Ok(OtpIssue::Issued(case_of(row)?))
        })
    }

    async fn use_otp(&self, code: &CaseCode, digest: &str, now: Timestamp) -> Result<Option<Case>> {
        let key = code.to_string();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            // The row lock first, as in `issue_otp`: two guesses at once cannot both be the
            // fifth, and a code cannot be used twice.
            let found = sqlx::query("UPDATE citizen_case SET updated_at = updated_at WHERE code = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if found == 0 {
                return Ok(None);
            }
            let current: Option<(String, String, i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT id, code_hash, expires_at, attempts, used_at FROM case_otp \
                 WHERE case_code = $1 AND superseded = 0",
            )
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id, stored, expires_at, attempts, used_at)) = current else {
                return Ok(None);
            };
            let state = OtpState {
                expires_at: Timestamp(expires_at),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                used_at: used_at.map(Timestamp),
            };
            if otp_usable(&state, now).is_err() {
                return Ok(None);
            }
            if !same_digest(&stored, digest) {
                sqlx::query("UPDATE case_otp SET attempts = attempts + 1 WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(None);
            }
            sqlx::query("UPDATE case_otp SET used_at = $1 WHERE id = $2")
                .bind(now.0)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let row: CaseRow = sqlx::query_as(&format!("SELECT {CASE_COLS} FROM citizen_case WHERE code = $1"))
                .bind(&key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(case_of(row)?))
        })
    }
}
