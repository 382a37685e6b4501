//! The tamper-evident audit log: who did what to which object, hash-chained so that any edited,
//! inserted or deleted record is detected, and the chain rules that verify it.
//!
//! Each record's hash is `SHA-256(previous hash || canonical(record))`, starting from
//! [`GENESIS`]. The store keeps a separate head (last sequence number and hash), updated in the
//! same transaction as each append, so that deleting the newest records is detected too.
//!
//! Records carry no secrets and no personal data by value: personal data is named by the object
//! that holds it (an IMEI, a feed range), never copied here.

use crate::authz::Actor;
use crate::ids::{Imei, Tac};
use crate::lists::ListKind;
use crate::Timestamp;
use sha2::{Digest, Sha256};
use std::fmt;

/// The hash before the first record: 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];

/// Version of [`canonical`]'s encoding; part of every hash, so a new encoding cannot be confused
/// with this one.
pub const ENCODING_VERSION: u8 = 1;

/// A request id as the HTTP layer hands it out or accepts it: 1 to 64 letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(s: &str) -> Option<RequestId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| RequestId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who acts, and in which request: what every audited store operation is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: Actor,
    /// Absent for the command line and the node's own sweeps.
    pub request_id: Option<RequestId>,
}

impl AuditContext {
    /// An action outside any HTTP request (command line, demo, expiry sweep).
    pub fn local(actor: Actor) -> AuditContext {
        AuditContext {
            actor,
            request_id: None,
        }
    }
    pub fn request(actor: Actor, request_id: Option<RequestId>) -> AuditContext {
        AuditContext { actor, request_id }
    }
}

/// What was done. The strings are stable: filters and exports match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    ListAdd,
    ListRemove,
    /// A batch mixing adds and removals.
    ListChange,
    ListExpire,
    TokenCreate,
    TokenRevoke,
    CatalogImport,
    OrgUpsert,
    PersonalDataRead,
    ClientCreate,
    ClientRevoke,
    UserCreate,
    UserDisable,
    /// A staff member signed in (password or single sign-on): a session was opened.
    SessionOpen,
    /// A staff member signed out.
    SessionEnd,
    /// A one-time code was sent to a case's contact.
    CaseOtpSend,
    /// An OAuth2 access token was issued to a client.
    AccessTokenIssue,
    /// A network (MCC-MNC) was registered or bound to an operator organisation.
    OperatorUpsert,
    CaseCreate,
    /// The golden list (IMEIs never to be blocked) was replaced.
    GoldenReplace,
}

impl AuditAction {
    pub const ALL: [AuditAction; 20] = [
        AuditAction::ListAdd,
        AuditAction::ListRemove,
        AuditAction::ListChange,
        AuditAction::ListExpire,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::CatalogImport,
        AuditAction::OrgUpsert,
        AuditAction::PersonalDataRead,
        AuditAction::ClientCreate,
        AuditAction::ClientRevoke,
        AuditAction::UserCreate,
        AuditAction::UserDisable,
        AuditAction::SessionOpen,
        AuditAction::SessionEnd,
        AuditAction::CaseOtpSend,
        AuditAction::AccessTokenIssue,
        AuditAction::OperatorUpsert,
        AuditAction::CaseCreate,
        AuditAction::GoldenReplace,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::ListAdd => "list.add",
            AuditAction::ListRemove => "list.remove",
            AuditAction::ListChange => "list.change",
            AuditAction::ListExpire => "list.expire",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::CatalogImport => "catalog.import",
            AuditAction::OrgUpsert => "org.upsert",
            AuditAction::PersonalDataRead => "personal_data.read",
            AuditAction::ClientCreate => "client.create",
            AuditAction::ClientRevoke => "client.revoke",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserDisable => "user.disable",
            AuditAction::SessionOpen => "session.open",
            AuditAction::SessionEnd => "session.end",
            AuditAction::CaseOtpSend => "case.otp_send",
            AuditAction::AccessTokenIssue => "access_token.issue",
            AuditAction::OperatorUpsert => "operator.upsert",
            AuditAction::CaseCreate => "case.create",
            AuditAction::GoldenReplace => "golden.replace",
        }
    }
    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object an action concerns, as `kind:id`. Constructors exist only for identifiers that are
/// not personal data, so an IMSI or a phone number cannot end up here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef(String);

impl ObjectRef {
    pub fn imei(i: Imei) -> ObjectRef {
        ObjectRef(format!("imei:{i}"))
    }
    pub fn tac(t: Tac) -> ObjectRef {
        ObjectRef(format!("tac:{t}"))
    }
    pub fn list(l: ListKind) -> ObjectRef {
        ObjectRef(format!("list:{l}"))
    }
    /// A batch that touched several lists.
    pub fn lists() -> ObjectRef {
        ObjectRef("lists".into())
    }
    pub fn token(id: &str) -> ObjectRef {
        ObjectRef(format!("token:{id}"))
    }
    pub fn client(id: &str) -> ObjectRef {
        ObjectRef(format!("client:{id}"))
    }
    /// A staff account, by organisation and sign-in name (names are chosen by the regulator's
    /// administrators, not personal identifiers of subscribers).
    pub fn user(org: &str, name: &str) -> ObjectRef {
        ObjectRef(format!("user:{org}/{name}"))
    }
    /// A mobile network by its MCC-MNC (a network, not a subscriber).
    pub fn network(plmn: &str) -> ObjectRef {
        ObjectRef(format!("network:{plmn}"))
    }
    pub fn org(id: &str) -> ObjectRef {
        ObjectRef(format!("org:{id}"))
    }
    /// A citizen's case, by its tracking code (the reporter's contact is never part of it).
    pub fn case(code: &crate::cases::CaseCode) -> ObjectRef {
        ObjectRef(format!("case:{code}"))
    }
    /// A page of cases read at once.
    pub fn cases() -> ObjectRef {
        ObjectRef("cases".into())
    }
    pub fn catalog() -> ObjectRef {
        ObjectRef("catalog".into())
    }
    pub fn golden() -> ObjectRef {
        ObjectRef("golden".into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record to append: what the writer knows before the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor_org: String,
    pub actor_kind: String,
    pub actor_user: String,
    pub actor_role: String,
    pub action: AuditAction,
    pub object: ObjectRef,
    pub request_id: Option<RequestId>,
    /// JSON text with counts and references; never secrets or personal data by value.
    pub detail: String,
}

impl AuditEntry {
    pub fn new(
        ctx: &AuditContext,
        action: AuditAction,
        object: ObjectRef,
        detail: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            actor_org: ctx.actor.org.clone(),
            actor_kind: ctx.actor.org_kind.as_str().to_owned(),
            actor_user: ctx.actor.user.clone(),
            actor_role: ctx.actor.role.as_str().to_owned(),
            action,
            object,
            request_id: ctx.request_id.clone(),
            detail: detail.into(),
        }
    }

    /// Numbers and chains the entry after the record whose hash is `prev`.
    pub fn seal(&self, seq: u64, at: Timestamp, prev: &[u8; 32]) -> AuditRecord {
        let mut r = AuditRecord {
            seq,
            at,
            actor_org: self.actor_org.clone(),
            actor_kind: self.actor_kind.clone(),
            actor_user: self.actor_user.clone(),
            actor_role: self.actor_role.clone(),
            action: self.action.as_str().to_owned(),
            object: self.object.as_str().to_owned(),
            request_id: self.request_id.as_ref().map(|r| r.as_str().to_owned()),
            detail: self.detail.clone(),
            prev_hash: hex::encode(prev),
            hash: String::new(),
        };
        r.hash = hex::encode(chain(prev, &r));
        r
    }
}

/// A record as stored. Text fields are kept exactly as read, not parsed: verification must judge
/// whatever the database holds, including rows an attacker wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: Timestamp,
    pub actor_org: String,
    pub actor_kind: String,
    pub actor_user: String,
    pub actor_role: String,
    pub action: String,
    pub object: String,
    pub request_id: Option<String>,
    pub detail: String,
    /// Hex SHA-256 of the previous record (or of [`GENESIS`]).
    pub prev_hash: String,
    /// Hex SHA-256 of `prev_hash || canonical(self)`.
    pub hash: String,
}

fn put(out: &mut Vec<u8>, field: &str) {
    // Lengths make the encoding unambiguous: no choice of field contents can make two different
    // records encode alike. Fields longer than 4 GiB cannot be stored in the first place.
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field.as_bytes());
}

/// The record's canonical bytes (version 1): version, seq and time as big-endian integers, then
/// each text field as a 4-byte big-endian length and its UTF-8 bytes; the request id is preceded
/// by a presence byte. The hashes themselves are not part of it.
pub fn canonical(r: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        64 + r.actor_org.len()
            + r.actor_user.len()
            + r.object.len()
            + r.detail.len()
            + r.action.len(),
    );
    out.push(ENCODING_VERSION);
    out.extend_from_slice(&r.seq.to_be_bytes());
    out.extend_from_slice(&r.at.0.to_be_bytes());
    put(&mut out, &r.actor_org);
    put(&mut out, &r.actor_kind);
    put(&mut out, &r.actor_user);
    put(&mut out, &r.actor_role);
    put(&mut out, &r.action);
    put(&mut out, &r.object);
    match &r.request_id {
        Some(id) => {
            out.push(1);
            put(&mut out, id);
        }
        None => out.push(0),
    }
    put(&mut out, &r.detail);
    out
}

/// `SHA-256(prev || canonical(r))`.
pub fn chain(prev: &[u8; 32], r: &AuditRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(r));
    h.finalize().into()
}

/// The newest record's position and hash, kept apart from the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    /// Hex.
    pub hash: String,
}

impl AuditHead {
    pub fn genesis() -> AuditHead {
        AuditHead {
            seq: 0,
            hash: hex::encode(GENESIS),
        }
    }
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    #[error("record {seq} was altered: its contents do not match its hash")]
    Edited { seq: u64 },
    #[error("record {seq} is missing (deleted): the log jumps to {next}")]
    Missing { seq: u64, next: u64 },
    #[error("record {seq} does not follow record {}: the record before it was replaced or a record was inserted", seq - 1)]
    Relinked { seq: u64 },
    #[error("record {seq} appears out of order (inserted)")]
    OutOfOrder { seq: u64 },
    #[error("records {}..={head} are missing (the newest records were deleted): the log ends at {last} but its head says {head}", last + 1)]
    Truncated { last: u64, head: u64 },
    #[error("record {seq} lies beyond the recorded head {head} (inserted)")]
    BeyondHead { seq: u64, head: u64 },
    #[error("the head's hash for record {seq} does not match the log (the head or the log was rewritten)")]
    HeadMismatch { seq: u64 },
}

impl AuditBreak {
    /// The sequence number the break is first seen at.
    pub fn seq(&self) -> u64 {
        match *self {
            AuditBreak::Edited { seq }
            | AuditBreak::Missing { seq, .. }
            | AuditBreak::Relinked { seq }
            | AuditBreak::OutOfOrder { seq }
            | AuditBreak::BeyondHead { seq, .. }
            | AuditBreak::HeadMismatch { seq } => seq,
            AuditBreak::Truncated { last, .. } => last + 1,
        }
    }
}

/// Walks the chain one record at a time (records in ascending `seq`), so a log of any size is
/// verified in constant memory.
#[derive(Debug, Clone)]
pub struct Verifier {
    next: u64,
    prev: [u8; 32],
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            next: 1,
            prev: GENESIS,
        }
    }
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Checks the next record.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), AuditBreak> {
        if r.seq > self.next {
            return Err(AuditBreak::Missing {
                seq: self.next,
                next: r.seq,
            });
        }
        if r.seq < self.next {
            return Err(AuditBreak::OutOfOrder { seq: r.seq });
        }
        if r.prev_hash != hex::encode(self.prev) {
            return Err(AuditBreak::Relinked { seq: r.seq });
        }
        let h = chain(&self.prev, r);
        if r.hash != hex::encode(h) {
            return Err(AuditBreak::Edited { seq: r.seq });
        }
        self.prev = h;
        self.next += 1;
        Ok(())
    }

    /// Records verified so far.
    pub fn count(&self) -> u64 {
        self.next - 1
    }

    /// Compares the end of the chain with the separately kept head; returns the verified head.
    pub fn finish(self, head: &AuditHead) -> Result<AuditHead, AuditBreak> {
        let last = self.next - 1;
        if head.seq > last {
            return Err(AuditBreak::Truncated {
                last,
                head: head.seq,
            });
        }
        if head.seq < last {
            return Err(AuditBreak::BeyondHead {
                seq: head.seq + 1,
                head: head.seq,
            });
        }
        let hash = hex::encode(self.prev);
        if head.hash != hash {
            return Err(AuditBreak::HeadMismatch { seq: last });
        }
        Ok(AuditHead { seq: last, hash })
    }
}

/// Verifies a whole log against its head.
pub fn verify<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    head: &AuditHead,
) -> Result<AuditHead, AuditBreak> {
    let mut v = Verifier::new();
    for r in records {
        v.push(r)?;
    }
    v.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{OrgKind, Role};

    fn ctx() -> AuditContext {
        AuditContext::request(
            Actor {
                org: "az-police".into(),
                org_kind: OrgKind::LawEnforcement,
                user: "officer-1".into(),
                role: Role::Officer,
                scopes: crate::scope::ScopeSet::ALL,
            },
            RequestId::parse("1a2b-3c"),
        )
    }

    fn log(n: u64) -> (Vec<AuditRecord>, AuditHead) {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for seq in 1..=n {
            let e = AuditEntry::new(
                &ctx(),
                AuditAction::ListAdd,
                ObjectRef::list(ListKind::Blocked),
                format!("{{\"added\":{seq}}}"),
            );
            let r = e.seal(seq, Timestamp(1_790_000_000_000 + seq as i64), &prev);
            let mut h = [0u8; 32];
            hex::decode_to_slice(&r.hash, &mut h).unwrap();
            prev = h;
            out.push(r);
        }
        let head = AuditHead {
            seq: n,
            hash: hex::encode(prev),
        };
        (out, head)
    }

    #[test]
    fn an_intact_log_verifies() {
        let (log, head) = log(10);
        assert_eq!(verify(&log, &head), Ok(head.clone()));
        assert_eq!(verify(&[], &AuditHead::genesis()), Ok(AuditHead::genesis()));
    }

    #[test]
    fn an_edited_field_is_found() {
        let (mut log, head) = log(10);
        log[4].actor_user = "someone-else".into();
        assert_eq!(verify(&log, &head), Err(AuditBreak::Edited { seq: 5 }));
        let (mut log, head) = super::tests::log(10);
        log[2].request_id = None;
        assert_eq!(verify(&log, &head), Err(AuditBreak::Edited { seq: 3 }));
    }

    #[test]
    fn a_deleted_middle_record_is_found() {
        let (mut log, head) = log(10);
        log.remove(3);
        assert_eq!(
            verify(&log, &head),
            Err(AuditBreak::Missing { seq: 4, next: 5 })
        );
    }

    #[test]
    fn a_replaced_record_with_a_recomputed_hash_breaks_the_next_link() {
        let (mut log, head) = log(10);
        let mut prev = [0u8; 32];
        hex::decode_to_slice(&log[5].prev_hash, &mut prev).unwrap();
        let forged = AuditEntry::new(
            &ctx(),
            AuditAction::ListRemove,
            ObjectRef::list(ListKind::Blocked),
            "{}",
        )
        .seal(6, log[5].at, &prev);
        log[5] = forged;
        assert_eq!(verify(&log, &head), Err(AuditBreak::Relinked { seq: 7 }));
    }

    #[test]
    fn a_deleted_tail_is_found_by_the_head() {
        let (mut log, head) = log(10);
        log.truncate(8);
        assert_eq!(
            verify(&log, &head),
            Err(AuditBreak::Truncated { last: 8, head: 10 })
        );
        assert_eq!(AuditBreak::Truncated { last: 8, head: 10 }.seq(), 9);
    }

    #[test]
    fn a_record_appended_behind_the_heads_back_is_found() {
        let (mut log, head) = log(10);
        let mut prev = [0u8; 32];
        hex::decode_to_slice(&log[9].hash, &mut prev).unwrap();
        let forged = AuditEntry::new(&ctx(), AuditAction::OrgUpsert, ObjectRef::org("x"), "{}")
            .seal(11, log[9].at, &prev);
        log.push(forged);
        assert_eq!(
            verify(&log, &head),
            Err(AuditBreak::BeyondHead { seq: 11, head: 10 })
        );
        let wrong = AuditHead {
            seq: 10,
            hash: hex::encode([7u8; 32]),
        };
        assert_eq!(
            verify(&log[..10], &wrong),
            Err(AuditBreak::HeadMismatch { seq: 10 })
        );
    }

    #[test]
    fn the_encoding_is_unambiguous_between_adjacent_fields() {
        let (log, _) = log(1);
        let mut a = log[0].clone();
        let mut b = log[0].clone();
        a.actor_org = "ab".into();
        a.actor_kind = "c".into();
        b.actor_org = "a".into();
        b.actor_kind = "bc".into();
        assert_ne!(canonical(&a), canonical(&b));
        let mut c = log[0].clone();
        c.request_id = Some(String::new());
        let mut d = log[0].clone();
        d.request_id = None;
        assert_ne!(canonical(&c), canonical(&d));
    }

    #[test]
    fn the_hash_is_pinned() {
        // A change of encoding must be deliberate: it would invalidate every stored chain.
        let e = AuditEntry::new(
            &ctx(),
            AuditAction::TokenCreate,
            ObjectRef::token("t1"),
            "{}",
        );
        let r = e.seal(1, Timestamp(0), &GENESIS);
        assert_eq!(r.prev_hash, "0".repeat(64));
        let mut expected = Sha256::new();
        expected.update(GENESIS);
        let mut enc = vec![1u8];
        enc.extend_from_slice(&1u64.to_be_bytes());
        enc.extend_from_slice(&0i64.to_be_bytes());
        for f in [
            "az-police",
            "law_enforcement",
            "officer-1",
            "officer",
            "token.create",
            "token:t1",
        ] {
            enc.extend_from_slice(&(f.len() as u32).to_be_bytes());
            enc.extend_from_slice(f.as_bytes());
        }
        enc.push(1);
        enc.extend_from_slice(&7u32.to_be_bytes());
        enc.extend_from_slice(b"1a2b-3c");
        enc.extend_from_slice(&2u32.to_be_bytes());
        enc.extend_from_slice(b"{}");
        expected.update(&enc);
        assert_eq!(r.hash, hex::encode(expected.finalize()));
    }

    proptest::proptest! {
        /// Any change to any one field of any record is found, at that record.
        #[test]
        fn any_single_edit_is_found_where_it_is(n in 1u64..40, at in 0usize..40, field in 0usize..9, junk in "[a-z0-9{}:]{0,12}") {
            let (mut log, head) = log(n);
            let at = at % log.len();
            let r = &mut log[at];
            let before = r.clone();
            match field {
                0 => r.actor_org.push_str(&junk),
                1 => r.actor_user = junk.clone(),
                2 => r.action.push('x'),
                3 => r.object.push_str(&junk),
                4 => r.detail.push_str(&junk),
                5 => r.request_id = if r.request_id.is_some() { None } else { Some(junk.clone()) },
                6 => r.at = Timestamp(r.at.0 + 1),
                7 => r.actor_role.push('x'),
                _ => r.actor_kind = junk.clone(),
            }
            proptest::prop_assume!(*r != before);
            let seq = at as u64 + 1;
            proptest::prop_assert_eq!(verify(&log, &head), Err(AuditBreak::Edited { seq }));
        }

        /// Deleting any run of records is found: in the middle by the gap, at the end by the head.
        #[test]
        fn any_deletion_is_found(n in 2u64..40, from in 0usize..40, len in 1usize..5) {
            let (mut log, head) = log(n);
            let from = from % log.len();
            let to = (from + len).min(log.len());
            log.drain(from..to);
            let err = verify(&log, &head).unwrap_err();
            proptest::prop_assert_eq!(err.seq(), from as u64 + 1);
        }
    }

    #[test]
    fn request_ids_and_actions_parse() {
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("a b").is_none());
        assert!(RequestId::parse(&"a".repeat(65)).is_none());
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("list.nothing"), None);
    }
}
