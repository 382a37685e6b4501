//! Scopes: what a token or an OAuth2 client may be used for, independent of who holds it.
//!
//! A credential's effective rights are its holder's grants (organisation kind and role) narrowed
//! by its scopes; [`crate::authz::Actor::can`] takes both into account, so no route checks scopes
//! on its own. Every [`crate::authz::Capability`] maps to exactly one scope.

use std::fmt;

/// One scope, written as in OAuth2's space-separated `scope` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read devices, lists, history and statistics.
    ListsRead,
    /// Change any list (within the holder's grants).
    ListsWrite,
    /// Read the TAC catalog.
    CatalogRead,
    /// Replace the TAC catalog.
    CatalogWrite,
    /// Call N5g-eir `EquipmentIdentityCheck` (the scope TS 29.511 declares).
    N5gEirEic,
    /// See subscriber identifiers in full (within the holder's grants).
    SubscribersRead,
    /// Read and export the audit log.
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::ListsRead,
        Scope::ListsWrite,
        Scope::CatalogRead,
        Scope::CatalogWrite,
        Scope::N5gEirEic,
        Scope::SubscribersRead,
        Scope::AuditRead,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::ListsRead => "lists:read",
            Scope::ListsWrite => "lists:write",
            Scope::CatalogRead => "catalog:read",
            Scope::CatalogWrite => "catalog:write",
            Scope::N5gEirEic => "n5g-eir-eic",
            Scope::SubscribersRead => "subscribers:read",
            Scope::AuditRead => "audit:read",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|k| k.as_str() == s)
    }
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, parsed once from the space- (or comma-) separated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u16);

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; known scopes: lists:read lists:write catalog:read catalog:write n5g-eir-eic subscribers:read audit:read")]
pub struct UnknownScope(pub String);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);
    /// Every scope: people acting through their own session or token, and the node itself.
    pub const ALL: ScopeSet = ScopeSet(
        Scope::ListsRead.bit()
            | Scope::ListsWrite.bit()
            | Scope::CatalogRead.bit()
            | Scope::CatalogWrite.bit()
            | Scope::N5gEirEic.bit()
            | Scope::SubscribersRead.bit()
            | Scope::AuditRead.bit(),
    );
    /// The REST API's scopes: what an API token gets unless told otherwise.
    pub const REST: ScopeSet = ScopeSet(
        Scope::ListsRead.bit()
            | Scope::ListsWrite.bit()
            | Scope::CatalogRead.bit()
            | Scope::CatalogWrite.bit()
            | Scope::SubscribersRead.bit()
            | Scope::AuditRead.bit(),
    );

    pub fn of(scopes: &[Scope]) -> ScopeSet {
        ScopeSet(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }
    pub const fn contains(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }
    pub const fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
    /// Parses `"lists:read lists:write"` (OAuth2's form) or `"lists:read,lists:write"`.
    pub fn parse(s: &str) -> Result<ScopeSet, UnknownScope> {
        s.split([' ', ','])
            .filter(|p| !p.is_empty())
            .try_fold(ScopeSet::EMPTY, |acc, p| {
                Scope::parse(p)
                    .map(|sc| acc.union(ScopeSet::of(&[sc])))
                    .ok_or_else(|| UnknownScope(p.to_owned()))
            })
    }
}

/// The canonical, space-separated form, in [`Scope::ALL`] order.
impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        let s = ScopeSet::parse("n5g-eir-eic lists:read,lists:read").unwrap();
        assert_eq!(s.to_string(), "lists:read n5g-eir-eic");
        assert_eq!(ScopeSet::parse(&s.to_string()).unwrap(), s);
        assert_eq!(ScopeSet::parse("").unwrap(), ScopeSet::EMPTY);
        assert_eq!(
            ScopeSet::parse("lists:read lists:delete").unwrap_err(),
            UnknownScope("lists:delete".into())
        );
        assert_eq!(
            ScopeSet::ALL.to_string(),
            "lists:read lists:write catalog:read catalog:write n5g-eir-eic subscribers:read audit:read"
        );
        assert!(ScopeSet::REST.is_subset_of(ScopeSet::ALL));
        assert!(!ScopeSet::ALL.is_subset_of(ScopeSet::REST));
        assert!(!ScopeSet::REST.contains(Scope::N5gEirEic));
    }
}
