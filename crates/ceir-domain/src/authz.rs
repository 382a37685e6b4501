//! Who may do what: organisations, roles and the capabilities they grant, decided in one place.

use crate::scope::{Scope, ScopeSet};
use std::fmt;

/// The kinds of organisation that use a CEIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    Regulator,
    Operator,
    LawEnforcement,
    Embassy,
    Manufacturer,
    Bank,
    PartnerNode,
    /// The node itself: expiry sweeps, imports run by the regulator's operators on the host.
    System,
}

impl OrgKind {
    pub const ALL: [OrgKind; 8] = [
        OrgKind::Regulator,
        OrgKind::Operator,
        OrgKind::LawEnforcement,
        OrgKind::Embassy,
        OrgKind::Manufacturer,
        OrgKind::Bank,
        OrgKind::PartnerNode,
        OrgKind::System,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            OrgKind::Regulator => "regulator",
            OrgKind::Operator => "operator",
            OrgKind::LawEnforcement => "law_enforcement",
            OrgKind::Embassy => "embassy",
            OrgKind::Manufacturer => "manufacturer",
            OrgKind::Bank => "bank",
            OrgKind::PartnerNode => "partner_node",
            OrgKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's role within an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Officer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Officer, Role::Viewer];
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Viewer => "viewer",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One right. Routes declare the capability they need; [`grants`] is the only place that decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Read a device's status and the lists' entries (no personal data).
    ReadLists,
    /// Block a device (stolen, lost, crime, fraud, counterfeit, …).
    Block,
    /// Put a device under tracking.
    Track,
    /// Register devices (permitted list).
    Permit,
    /// Pair IMEIs with IMSIs (exceptions).
    ManageExceptions,
    /// Bar whole device models.
    BarTac,
    /// Read the TAC catalog.
    ReadCatalog,
    /// Replace the TAC catalog.
    ManageCatalog,
    /// See subscriber identifiers (IMSI, MSISDN) in full; an operator only its own subscribers'.
    ReadSubscriberData,
    /// Read and export the audit log (the regulator's oversight).
    ReadAudit,
    /// Ask N5g-eir for a device's status (when the node requires OAuth2 there).
    CheckEquipment,
    /// Read citizens' lost and stolen reports (the reporter's contact only with
    /// [`Capability::ReadSubscriberData`]).
    ReadCases,
    /// Download generated operator lists (blocklist, notifications, exceptions) and their signed
    /// manifests; an operator only its own networks' files.
    DownloadOperatorLists,
    /// Read why a device is classified as it is (`explain`): network observations in counts,
    /// conditions, block dates. Subscriber identifiers still need
    /// [`Capability::ReadSubscriberData`].
    ReadClassification,
}

impl Capability {
    pub const ALL: [Capability; 14] = [
        Capability::ReadLists,
        Capability::Block,
        Capability::Track,
        Capability::Permit,
        Capability::ManageExceptions,
        Capability::BarTac,
        Capability::ReadCatalog,
        Capability::ManageCatalog,
        Capability::ReadSubscriberData,
        Capability::ReadAudit,
        Capability::CheckEquipment,
        Capability::ReadCases,
        Capability::DownloadOperatorLists,
        Capability::ReadClassification,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::ReadLists => "read_lists",
            Capability::Block => "block",
            Capability::Track => "track",
            Capability::Permit => "permit",
            Capability::ManageExceptions => "manage_exceptions",
            Capability::BarTac => "bar_tac",
            Capability::ReadCatalog => "read_catalog",
            Capability::ManageCatalog => "manage_catalog",
            Capability::ReadSubscriberData => "read_subscriber_data",
            Capability::ReadAudit => "read_audit",
            Capability::CheckEquipment => "check_equipment",
            Capability::ReadCases => "read_cases",
            Capability::DownloadOperatorLists => "download_operator_lists",
            Capability::ReadClassification => "read_classification",
        }
    }
    /// The scope a credential must carry to use this capability. Exhaustive on purpose: a new
    /// capability cannot be added without deciding which scope allows it.
    pub const fn scope(self) -> Scope {
        use Capability::*;
        match self {
            ReadLists | ReadCases | DownloadOperatorLists | ReadClassification => Scope::ListsRead,
            Block | Track | Permit | ManageExceptions | BarTac => Scope::ListsWrite,
            ReadCatalog => Scope::CatalogRead,
            ManageCatalog => Scope::CatalogWrite,
            CheckEquipment => Scope::N5gEirEic,
            ReadSubscriberData => Scope::SubscribersRead,
            ReadAudit => Scope::AuditRead,
        }
    }
    /// The capability needed to change a list.
    pub const fn to_change(list: crate::lists::ListKind) -> Capability {
        use crate::lists::ListKind::*;
        match list {
            Blocked => Capability::Block,
            Tracked => Capability::Track,
            Permitted => Capability::Permit,
            Exception => Capability::ManageExceptions,
            BarredTac => Capability::BarTac,
        }
    }
}

/// Does an organisation kind with a role hold a capability? The single authorization table.
pub fn grants(kind: OrgKind, role: Role, cap: Capability) -> bool {
    use Capability::*;
    use OrgKind::*;
    let writes = role != Role::Viewer;
    match cap {
        ReadLists | ReadCatalog => true,
        Block | Track => writes && matches!(kind, Regulator | LawEnforcement | System),
        Permit => writes && matches!(kind, Regulator | Manufacturer | System),
        ManageExceptions => writes && matches!(kind, Regulator | Operator | System),
        BarTac | ManageCatalog => writes && matches!(kind, Regulator | System),
        // Those who act on subscribers: the regulator, police investigating, and operators for
        // their own subscribers (the PLMN check is in `sees_subscriber`). Viewers never do.
        ReadSubscriberData => {
            writes && matches!(kind, Regulator | LawEnforcement | Operator | System)
        }
        // Oversight is the regulator's, at every role: reading the log changes nothing.
        ReadAudit => matches!(kind, Regulator | System),
        // Network functions of operators; the regulator and the node for their own checks.
        CheckEquipment => matches!(kind, Regulator | Operator | System),
        // Those who act on reports: police confirm them, the regulator oversees, an embassy
        // helps its citizens who report from abroad. Reading changes nothing: every role.
        ReadCases => matches!(kind, Regulator | LawEnforcement | Embassy | System),
        // Operators enforce the lists in their EIRs (their own files only, checked by the
        // route); the regulator oversees all of them. Reading changes nothing: every role.
        DownloadOperatorLists => matches!(kind, Regulator | Operator | System),
        // How a device came to be flagged tells about network usage: those who act on devices
        // on networks (regulator, police, operators), not citizens, banks or vendors.
        ReadClassification => matches!(kind, Regulator | LawEnforcement | Operator | System),
    }
}

/// The one decision: the holder's grants, narrowed by the credential's scopes.
pub fn permits(kind: OrgKind, role: Role, scopes: ScopeSet, cap: Capability) -> bool {
    grants(kind, role, cap) && scopes.contains(cap.scope())
}

/// May `actor` see this subscriber's identifier in full? `own_plmns` are the networks the actor's
/// organisation runs (empty unless it is an operator): an operator sees only its subscribers.
pub fn sees_subscriber(
    actor: &Actor,
    home: crate::ids::Plmn,
    own_plmns: &[crate::ids::Plmn],
) -> bool {
    actor.can(Capability::ReadSubscriberData)
        && (actor.org_kind != OrgKind::Operator || own_plmns.contains(&home))
}

/// May `actor` see a citizen reporter's contact in full? The same people who may see subscriber
/// identifiers: a contact identifies a person as surely as an MSISDN does.
pub fn sees_contact(actor: &Actor) -> bool {
    actor.can(Capability::ReadSubscriberData)
}

/// Who is acting: an organisation, a person or client within it, their role, and the scopes of
/// the credential they act through ([`ScopeSet::ALL`] for people and the node itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub org: String,
    pub org_kind: OrgKind,
    pub user: String,
    pub role: Role,
    pub scopes: ScopeSet,
}

impl Actor {
    /// The node acting on its own behalf (expiry sweeps, local administration).
    pub fn system(user: &str) -> Actor {
        Actor {
            org: "system".into(),
            org_kind: OrgKind::System,
            user: user.into(),
            role: Role::Admin,
            scopes: ScopeSet::ALL,
        }
    }
    pub fn can(&self, cap: Capability) -> bool {
        permits(self.org_kind, self.role, self.scopes, cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy, written out: a change to `grants` must change this table too.
    #[test]
    fn grants_table() {
        let mut table = String::new();
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                let caps: Vec<&str> = Capability::ALL
                    .iter()
                    .filter(|c| grants(kind, role, **c))
                    .map(|c| c.as_str())
                    .collect();
                table.push_str(&format!(
                    "{}/{}: {}\n",
                    kind.as_str(),
                    role.as_str(),
                    caps.join(" ")
                ));
            }
        }
        let read = "read_lists read_catalog";
        let cases = "read_lists read_catalog read_cases";
        let oversee =
            "read_lists read_catalog read_audit check_equipment read_cases download_operator_lists read_classification";
        let eir =
            "read_lists read_catalog check_equipment download_operator_lists read_classification";
        let police = "read_lists read_catalog read_cases read_classification";
        let expected = format!(
            "regulator/admin: read_lists block track permit manage_exceptions bar_tac read_catalog manage_catalog read_subscriber_data read_audit check_equipment read_cases download_operator_lists read_classification
regulator/officer: read_lists block track permit manage_exceptions bar_tac read_catalog manage_catalog read_subscriber_data read_audit check_equipment read_cases download_operator_lists read_classification
regulator/viewer: {oversee}
operator/admin: read_lists manage_exceptions read_catalog read_subscriber_data check_equipment download_operator_lists read_classification
operator/officer: read_lists manage_exceptions read_catalog read_subscriber_data check_equipment download_operator_lists read_classification
operator/viewer: {eir}
law_enforcement/admin: read_lists block track read_catalog read_subscriber_data read_cases read_classification
law_enforcement/officer: read_lists block track read_catalog read_subscriber_data read_cases read_classification
law_enforcement/viewer: {police}
embassy/admin: {cases}
embassy/officer: {cases}
embassy/viewer: {cases}
manufacturer/admin: read_lists permit read_catalog
manufacturer/officer: read_lists permit read_catalog
manufacturer/viewer: {read}
bank/admin: {read}
bank/officer: {read}
bank/viewer: {read}
partner_node/admin: {read}
partner_node/officer: {read}
partner_node/viewer: {read}
system/admin: read_lists block track permit manage_exceptions bar_tac read_catalog manage_catalog read_subscriber_data read_audit check_equipment read_cases download_operator_lists read_classification
system/officer: read_lists block track permit manage_exceptions bar_tac read_catalog manage_catalog read_subscriber_data read_audit check_equipment read_cases download_operator_lists read_classification
system/viewer: {oversee}
"
        );
        assert_eq!(table, expected);
    }

    #[test]
    fn operators_see_only_their_own_subscribers() {
        use crate::ids::Plmn;
        let azercell = Plmn::parse("400-01").unwrap();
        let bakcell = Plmn::parse("400-02").unwrap();
        let actor = |org_kind, role| Actor {
            org: "x".into(),
            org_kind,
            user: "u".into(),
            role,
            scopes: ScopeSet::ALL,
        };
        let op = actor(OrgKind::Operator, Role::Officer);
        assert!(sees_subscriber(&op, azercell, &[azercell]));
        assert!(!sees_subscriber(&op, bakcell, &[azercell]));
        assert!(!sees_subscriber(
            &actor(OrgKind::Operator, Role::Viewer),
            azercell,
            &[azercell]
        ));
        assert!(sees_subscriber(
            &actor(OrgKind::LawEnforcement, Role::Officer),
            bakcell,
            &[]
        ));
        assert!(sees_subscriber(
            &actor(OrgKind::Regulator, Role::Admin),
            bakcell,
            &[]
        ));
        assert!(!sees_subscriber(
            &actor(OrgKind::Regulator, Role::Viewer),
            bakcell,
            &[]
        ));
        assert!(!sees_subscriber(
            &actor(OrgKind::Bank, Role::Admin),
            bakcell,
            &[]
        ));
        assert!(!sees_subscriber(
            &actor(OrgKind::Embassy, Role::Admin),
            bakcell,
            &[]
        ));
    }

    /// Scopes only narrow: a credential never gains a right its holder lacks, and loses exactly
    /// the capabilities whose scope it does not carry.
    #[test]
    fn scopes_narrow_grants() {
        for kind in OrgKind::ALL {
            for role in Role::ALL {
                for cap in Capability::ALL {
                    assert_eq!(
                        permits(kind, role, ScopeSet::ALL, cap),
                        grants(kind, role, cap)
                    );
                    assert!(!permits(kind, role, ScopeSet::EMPTY, cap));
                    let only = ScopeSet::of(&[cap.scope()]);
                    assert_eq!(permits(kind, role, only, cap), grants(kind, role, cap));
                    for other in Scope::ALL.into_iter().filter(|s| *s != cap.scope()) {
                        assert!(!permits(kind, role, ScopeSet::of(&[other]), cap));
                    }
                }
            }
        }
        let reader = Actor {
            scopes: ScopeSet::of(&[Scope::ListsRead]),
            ..Actor::system("t")
        };
        assert!(reader.can(Capability::ReadLists));
        assert!(!reader.can(Capability::Block));
        assert!(!reader.can(Capability::ReadCatalog));
    }
}
