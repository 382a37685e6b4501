//! The lists a CEIR keeps (ITU-T Q.5055: permitted, tracked, blocked; plus exceptions and barred
//! TACs), their reasons, and who may change what.

use crate::authz::{Actor, OrgKind};
use crate::ids::{IdError, Imei, Imsi, Tac};
use crate::Timestamp;
use std::fmt;

/// Which list an entry is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    /// Devices refused service (3GPP BLACKLISTED).
    Blocked,
    /// Devices allowed but watched (3GPP GREYLISTED): trace alerts, grace periods.
    Tracked,
    /// Registered devices (3GPP WHITELISTED).
    Permitted,
    /// An IMEI paired with given IMSIs: allowed for those subscribers even when blocked or tracked.
    Exception,
    /// Device models (TACs) refused as a whole.
    BarredTac,
}

impl ListKind {
    pub const ALL: [ListKind; 5] = [
        ListKind::Blocked,
        ListKind::Tracked,
        ListKind::Permitted,
        ListKind::Exception,
        ListKind::BarredTac,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ListKind::Blocked => "blocked",
            ListKind::Tracked => "tracked",
            ListKind::Permitted => "permitted",
            ListKind::Exception => "exception",
            ListKind::BarredTac => "barred_tac",
        }
    }

    pub fn parse(s: &str) -> Result<ListKind, IdError> {
        ListKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(IdError::Form {
                kind: "list",
                expected: "blocked, tracked, permitted, exception or barred_tac",
            })
    }

    /// The reasons an entry on this list may carry.
    pub fn allowed_reasons(self) -> &'static [Reason] {
        use Reason::*;
        match self {
            ListKind::Blocked => &[
                Stolen,
                Lost,
                Counterfeit,
                Duplicate,
                Fraud,
                Crime,
                Unregistered,
                InvalidImei,
                Other,
            ],
            ListKind::Tracked => &[
                Stolen,
                Lost,
                Counterfeit,
                Duplicate,
                Fraud,
                Crime,
                Unregistered,
                Investigation,
                Other,
            ],
            ListKind::Permitted => &[Registered, Imported, TypeApproved, Other],
            ListKind::Exception => &[Paired, Other],
            ListKind::BarredTac => &[Counterfeit, NotTypeApproved, Other],
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an entry is on its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Stolen,
    Lost,
    Counterfeit,
    Duplicate,
    Fraud,
    Crime,
    Unregistered,
    InvalidImei,
    Investigation,
    Registered,
    Imported,
    TypeApproved,
    NotTypeApproved,
    Paired,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 15] = [
        Reason::Stolen,
        Reason::Lost,
        Reason::Counterfeit,
        Reason::Duplicate,
        Reason::Fraud,
        Reason::Crime,
        Reason::Unregistered,
        Reason::InvalidImei,
        Reason::Investigation,
        Reason::Registered,
        Reason::Imported,
        Reason::TypeApproved,
        Reason::NotTypeApproved,
        Reason::Paired,
        Reason::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Stolen => "stolen",
            Reason::Lost => "lost",
            Reason::Counterfeit => "counterfeit",
            Reason::Duplicate => "duplicate",
            Reason::Fraud => "fraud",
            Reason::Crime => "crime",
            Reason::Unregistered => "unregistered",
            Reason::InvalidImei => "invalid_imei",
            Reason::Investigation => "investigation",
            Reason::Registered => "registered",
            Reason::Imported => "imported",
            Reason::TypeApproved => "type_approved",
            Reason::NotTypeApproved => "not_type_approved",
            Reason::Paired => "paired",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Result<Reason, IdError> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s).ok_or(IdError::Form {
            kind: "reason",
            expected: "stolen, lost, counterfeit, duplicate, fraud, crime, unregistered, invalid_imei, investigation, registered, imported, type_approved, not_type_approved, paired or other",
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    pub const AZ: Country = Country(*b"AZ");
    pub const UZ: Country = Country(*b"UZ");

    pub fn parse(s: &str) -> Result<Country, IdError> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Country([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
            ]))
        } else {
            Err(IdError::Form {
                kind: "country",
                expected: "an ISO 3166-1 alpha-2 code such as AZ or UZ",
            })
        }
    }
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an entry is about: a device, a device for given subscribers, or a whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Imei(Imei),
    Pair(Imei, Imsi),
    Tac(Tac),
}

impl Subject {
    /// The subject a list takes, or why this one does not fit.
    pub fn check_fits(self, list: ListKind) -> Result<(), String> {
        match (list, self) {
            (ListKind::Blocked | ListKind::Tracked | ListKind::Permitted, Subject::Imei(_))
            | (ListKind::Exception, Subject::Pair(..))
            | (ListKind::BarredTac, Subject::Tac(_)) => Ok(()),
            (ListKind::Exception, _) => Err("an exception pairs an IMEI with an IMSI".into()),
            (ListKind::BarredTac, _) => Err("the barred TAC list takes TACs (8 digits)".into()),
            _ => Err(format!("the {list} list takes IMEIs")),
        }
    }
}

/// The facts recorded with every entry: who, why, from where, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub reason: Reason,
    /// An outside reference, e.g. a police report number.
    pub reference: Option<String>,
    pub country: Country,
    pub expires_at: Option<Timestamp>,
    pub note: Option<String>,
}

/// A proposed addition to a list, checked by [`NewEntry::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub list: ListKind,
    pub subject: Subject,
    pub meta: EntryMeta,
}

/// Why a list change was refused by the domain rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Subject(String),
    #[error("the {list} list does not take the reason {reason}; it takes: {allowed}")]
    Reason {
        list: ListKind,
        reason: Reason,
        allowed: String,
    },
    #[error("expiry {expires:?} is not after now {now:?}")]
    Expiry { expires: Timestamp, now: Timestamp },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("only {owner}, which placed this entry, or a regulator may lift it")]
    NotOwner { owner: String },
}

impl RuleError {
    pub fn code(&self) -> crate::ErrorCode {
        match self {
            RuleError::NotOwner { .. } => crate::ErrorCode::NotOwner,
            _ => crate::ErrorCode::InvalidRequest,
        }
    }
}

pub const MAX_TEXT: usize = 500;

impl NewEntry {
    pub fn new(
        list: ListKind,
        subject: Subject,
        meta: EntryMeta,
        now: Timestamp,
    ) -> Result<NewEntry, RuleError> {
        subject.check_fits(list).map_err(RuleError::Subject)?;
        if !list.allowed_reasons().contains(&meta.reason) {
            let allowed: Vec<&str> = list.allowed_reasons().iter().map(|r| r.as_str()).collect();
            return Err(RuleError::Reason {
                list,
                reason: meta.reason,
                allowed: allowed.join(", "),
            });
        }
        if let Some(e) = meta.expires_at {
            if e <= now {
                return Err(RuleError::Expiry { expires: e, now });
            }
        }
        for (field, v) in [("reference", &meta.reference), ("note", &meta.note)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > MAX_TEXT) {
                return Err(RuleError::TooLong {
                    field,
                    max: MAX_TEXT,
                });
            }
        }
        Ok(NewEntry {
            list,
            subject,
            meta,
        })
    }
}

/// May this actor lift an entry placed by `owner_org`? The placing organisation or a regulator.
pub fn may_lift(actor: &Actor, owner_org: &str) -> Result<(), RuleError> {
    if actor.org == owner_org
        || actor.org_kind == OrgKind::Regulator
        || actor.org_kind == OrgKind::System
    {
        Ok(())
    } else {
        Err(RuleError::NotOwner {
            owner: owner_org.to_owned(),
        })
    }
}

/// An IMEI of the golden list (DIRBS): never to be blocked. DIRBS keeps these as the MD5 of the
/// normalised IMEI, so that a list can be supplied pre-hashed; `imei` is the normalised IMEI when
/// the list gave it in clear.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoldenImei {
    /// 32 lower-case hex digits.
    pub hash: String,
    pub imei: Option<String>,
}

impl GoldenImei {
    /// From a normalised IMEI (`ImeiNorm`'s text: the 14-digit body, or the upper-cased value).
    pub fn from_norm(imei_norm: &str) -> GoldenImei {
        GoldenImei {
            hash: golden_hash(imei_norm),
            imei: Some(imei_norm.to_owned()),
        }
    }
}

/// DIRBS's golden-list key: `MD5(normalize_imei(imei))` as lower-case hex.
pub fn golden_hash(imei_norm: &str) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(imei_norm.as_bytes()))
}

#[cfg(test)]
mod golden_tests {
    use super::*;

    #[test]
    fn golden_hash_is_md5_of_the_normalised_imei() {
        // RFC 1321's test vectors.
        assert_eq!(golden_hash(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(golden_hash("abc"), "900150983cd24fb0d6963f7d28e17f72");
        let g = GoldenImei::from_norm("35693803564380");
        // As PostgreSQL's md5() gives it, which DIRBS uses.
        assert_eq!(g.hash, "572e1163cfd9dc7aadfa5a5894d64d42");
        assert_eq!(g.imei.as_deref(), Some("35693803564380"));
    }
}
