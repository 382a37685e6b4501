//! The status precedence rule: from the lists a device is on to the one answer an EIR gives.
//!
//! The rule, highest first:
//! 1. An exception pairing this IMEI with the requesting IMSI: **permitted**.
//! 2. Blocked, or its TAC barred: **blocked**.
//! 3. Tracked: **tracked**.
//! 4. Permitted: **permitted**.
//! 5. On no list: the node's [`UnlistedPolicy`] (ITU-T Q.Sup73 permissive or restrictive mode).

/// The lists an IMEI is on, as a bit set; the in-memory index stores exactly this per IMEI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ListFlags(pub u8);

impl ListFlags {
    pub const BLOCKED: u8 = 1;
    pub const TRACKED: u8 = 2;
    pub const PERMITTED: u8 = 4;
    /// Some exception pairs this IMEI with an IMSI; look the pair up.
    pub const EXCEPTED: u8 = 8;
    pub const NONE: ListFlags = ListFlags(0);

    pub const fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The three answers of an EIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EquipmentStatus {
    Permitted,
    Tracked,
    Blocked,
}

impl EquipmentStatus {
    /// The value 3GPP puts on the wire (TS 29.511 `EquipmentStatus`).
    pub const fn wire(self) -> &'static str {
        match self {
            EquipmentStatus::Permitted => "WHITELISTED",
            EquipmentStatus::Tracked => "GREYLISTED",
            EquipmentStatus::Blocked => "BLACKLISTED",
        }
    }
    /// The ITU-T Q.5055 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EquipmentStatus::Permitted => "permitted",
            EquipmentStatus::Tracked => "tracked",
            EquipmentStatus::Blocked => "blocked",
        }
    }
}

/// What to answer for a device on no list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnlistedPolicy {
    /// Permissive mode: unlisted devices are allowed.
    #[default]
    Permit,
    /// Restrictive mode, soft: unlisted devices are tracked.
    Track,
    /// Restrictive mode, hard: unlisted devices are blocked.
    Block,
    /// The node knows only listed devices and answers "unknown equipment" (N5g-eir 404).
    Unknown,
}

impl UnlistedPolicy {
    pub fn parse(s: &str) -> Option<UnlistedPolicy> {
        match s {
            "permit" => Some(UnlistedPolicy::Permit),
            "track" => Some(UnlistedPolicy::Track),
            "block" => Some(UnlistedPolicy::Block),
            "unknown" => Some(UnlistedPolicy::Unknown),
            _ => None,
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            UnlistedPolicy::Permit => "permit",
            UnlistedPolicy::Track => "track",
            UnlistedPolicy::Block => "block",
            UnlistedPolicy::Unknown => "unknown",
        }
    }
}

/// Everything the rule needs about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    pub flags: ListFlags,
    pub tac_barred: bool,
    /// The requesting IMSI is paired with this IMEI on the exception list.
    pub paired: bool,
}

/// Why the answer is what it is (for `ceir check` and the API; the EIR wire answer drops it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Exception,
    Blocked,
    BarredTac,
    Tracked,
    Permitted,
    Unlisted(UnlistedPolicy),
}

/// The precedence rule. `None` means "unknown equipment".
pub fn decide(f: Facts, policy: UnlistedPolicy) -> (Option<EquipmentStatus>, Basis) {
    use EquipmentStatus::*;
    if f.paired {
        return (Some(Permitted), Basis::Exception);
    }
    if f.flags.has(ListFlags::BLOCKED) {
        return (Some(Blocked), Basis::Blocked);
    }
    if f.tac_barred {
        return (Some(Blocked), Basis::BarredTac);
    }
    if f.flags.has(ListFlags::TRACKED) {
        return (Some(Tracked), Basis::Tracked);
    }
    if f.flags.has(ListFlags::PERMITTED) {
        return (Some(Permitted), Basis::Permitted);
    }
    let s = match policy {
        UnlistedPolicy::Permit => Some(Permitted),
        UnlistedPolicy::Track => Some(Tracked),
        UnlistedPolicy::Block => Some(Blocked),
        UnlistedPolicy::Unknown => None,
    };
    (s, Basis::Unlisted(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: u8, tac_barred: bool, paired: bool) -> Facts {
        Facts {
            flags: ListFlags(flags),
            tac_barred,
            paired,
        }
    }

    #[test]
    fn precedence_table() {
        use EquipmentStatus::*;
        let p = UnlistedPolicy::Permit;
        let cases = [
            (
                f(ListFlags::BLOCKED | ListFlags::EXCEPTED, false, true),
                Some(Permitted),
            ),
            (
                f(ListFlags::BLOCKED | ListFlags::EXCEPTED, false, false),
                Some(Blocked),
            ),
            (
                f(ListFlags::BLOCKED | ListFlags::PERMITTED, false, false),
                Some(Blocked),
            ),
            (f(ListFlags::PERMITTED, true, false), Some(Blocked)),
            (
                f(ListFlags::TRACKED | ListFlags::PERMITTED, false, false),
                Some(Tracked),
            ),
            (f(ListFlags::PERMITTED, false, false), Some(Permitted)),
            (f(0, false, false), Some(Permitted)),
        ];
        for (facts, want) in cases {
            assert_eq!(decide(facts, p).0, want, "{facts:?}");
        }
    }

    #[test]
    fn unlisted_policies() {
        let none = Facts::default();
        assert_eq!(
            decide(none, UnlistedPolicy::Track).0,
            Some(EquipmentStatus::Tracked)
        );
        assert_eq!(
            decide(none, UnlistedPolicy::Block).0,
            Some(EquipmentStatus::Blocked)
        );
        assert_eq!(decide(none, UnlistedPolicy::Unknown).0, None);
        // A listed device is known even when the node answers only for listed devices.
        assert_eq!(
            decide(
                f(ListFlags::PERMITTED, false, false),
                UnlistedPolicy::Unknown
            )
            .0,
            Some(EquipmentStatus::Permitted)
        );
    }
}
