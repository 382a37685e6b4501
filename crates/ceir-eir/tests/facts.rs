//! `facts()` feeding `decide()`: the precedence rule end to end through the index.

// Test helpers outside #[test] functions parse fixed literals.
#![allow(clippy::expect_used)]

use ceir_domain::status::{decide, Basis, EquipmentStatus, ListFlags, UnlistedPolicy};
use ceir_domain::{Imei, Imsi};
use ceir_eir::StatusIndex;

use EquipmentStatus::{Blocked, Permitted, Tracked};

fn imei(s: &str) -> Imei {
    Imei::parse_network(s).expect("valid IMEI")
}
fn imsi(s: &str) -> Imsi {
    Imsi::parse(s).expect("valid IMSI")
}

fn answer(
    idx: &StatusIndex,
    i: Imei,
    s: Option<Imsi>,
    p: UnlistedPolicy,
) -> (Option<EquipmentStatus>, Basis) {
    decide(idx.facts(i, s), p)
}

#[test]
fn precedence_through_the_index() {
    let idx = StatusIndex::new();
    let p = UnlistedPolicy::Permit;
    let sub = imsi("400011234567890");
    let other = imsi("400011234567891");

    let stolen = imei("35209900176148");
    idx.set_list_flags(stolen.body(), ListFlags(ListFlags::BLOCKED));
    idx.add_pair(stolen.body(), sub.key());
    // The exception pairs this IMEI with this IMSI only.
    assert_eq!(
        answer(&idx, stolen, Some(sub), p),
        (Some(Permitted), Basis::Exception)
    );
    assert_eq!(
        answer(&idx, stolen, Some(other), p),
        (Some(Blocked), Basis::Blocked)
    );
    assert_eq!(
        answer(&idx, stolen, None, p),
        (Some(Blocked), Basis::Blocked)
    );
    idx.remove_pair(stolen.body(), sub.key());
    assert_eq!(
        answer(&idx, stolen, Some(sub), p),
        (Some(Blocked), Basis::Blocked)
    );

    // Blocked beats permitted on the same IMEI.
    let both = imei("35209900176149");
    idx.set_list_flags(
        both.body(),
        ListFlags(ListFlags::BLOCKED | ListFlags::PERMITTED),
    );
    assert_eq!(answer(&idx, both, None, p).0, Some(Blocked));

    // Tracked beats permitted.
    let watched = imei("35209900176150");
    idx.set_list_flags(
        watched.body(),
        ListFlags(ListFlags::TRACKED | ListFlags::PERMITTED),
    );
    assert_eq!(
        answer(&idx, watched, None, p),
        (Some(Tracked), Basis::Tracked)
    );

    // A barred TAC blocks a permitted device of that model, unless an exception pairs it.
    let model = imei("86000000123456");
    idx.set_list_flags(model.body(), ListFlags(ListFlags::PERMITTED));
    assert_eq!(
        answer(&idx, model, None, p),
        (Some(Permitted), Basis::Permitted)
    );
    idx.set_tac_barred(model.tac().get(), true);
    assert_eq!(
        answer(&idx, model, None, p),
        (Some(Blocked), Basis::BarredTac)
    );
    let unlisted_same_model = imei("86000000654321");
    assert_eq!(
        answer(&idx, unlisted_same_model, None, p),
        (Some(Blocked), Basis::BarredTac)
    );
    idx.add_pair(model.body(), sub.key());
    assert_eq!(
        answer(&idx, model, Some(sub), p),
        (Some(Permitted), Basis::Exception)
    );
    idx.set_tac_barred(model.tac().get(), false);
    assert_eq!(
        answer(&idx, model, Some(other), p),
        (Some(Permitted), Basis::Permitted)
    );

    // Unlisted devices follow the node's policy; listed ones never do.
    let nobody = imei("49015420323751");
    for (policy, want) in [
        (UnlistedPolicy::Permit, Some(Permitted)),
        (UnlistedPolicy::Track, Some(Tracked)),
        (UnlistedPolicy::Block, Some(Blocked)),
        (UnlistedPolicy::Unknown, None),
    ] {
        assert_eq!(
            answer(&idx, nobody, Some(sub), policy),
            (want, Basis::Unlisted(policy))
        );
        assert_eq!(answer(&idx, watched, None, policy).0, Some(Tracked));
    }
}

#[test]
fn facts_reports_each_fact() {
    let idx = StatusIndex::new();
    let i = imei("35209900176148");
    let s = imsi("001010000000001");
    assert_eq!(idx.facts(i, Some(s)), Default::default());
    idx.add_pair(i.body(), s.key());
    idx.set_tac_barred(i.tac().get(), true);
    let f = idx.facts(i, Some(s));
    assert!(f.paired && f.tac_barred && f.flags.has(ListFlags::EXCEPTED));
    assert!(!idx.facts(i, None).paired);
    // An IMSI differing only in leading zeros is a different subscriber.
    assert!(!idx.facts(i, Some(imsi("01010000000001"))).paired);
}
