//! Properties of case codes and contacts: what is printed reads back, and a typo in a case code
//! is caught rather than pointing at someone else's case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::cases::{CaseCode, Contact, ALPHABET};
use ceir_domain::lists::Country;
use proptest::prelude::*;

fn country() -> impl Strategy<Value = Country> {
    "[A-Z]{2}".prop_map(|s| Country::parse(&s).unwrap())
}

fn code() -> impl Strategy<Value = CaseCode> {
    (country(), any::<[u8; 7]>()).prop_map(|(c, r)| CaseCode::from_random(c, r))
}

proptest! {
    #[test]
    fn case_codes_read_back(c in code()) {
        let s = c.to_string();
        prop_assert_eq!(CaseCode::parse(&s).unwrap(), c);
        prop_assert_eq!(CaseCode::parse(&s.to_ascii_lowercase()).unwrap(), c);
        prop_assert_eq!(CaseCode::parse(&s.replace('-', "")).unwrap(), c);
        prop_assert!(s.bytes().all(|b| b == b'-' || b.is_ascii_uppercase() || b.is_ascii_digit()));
    }

    /// Any one character replaced by any other (that is not the same letter in another case) is
    /// refused: by the form, the alphabet, or the check character.
    #[test]
    fn any_single_substitution_is_rejected(
        c in code(),
        pos in 0usize..12,
        with in prop::sample::select(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz- _.".to_vec()
        ),
    ) {
        let s = c.to_string().into_bytes();
        prop_assume!(!s[pos].eq_ignore_ascii_case(&with));
        let mut t = s.clone();
        t[pos] = with;
        let t = String::from_utf8(t).unwrap();
        prop_assert!(CaseCode::parse(&t).is_err(), "{} accepted for {}", t, c);
    }

    #[test]
    fn email_contacts_read_back(
        local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]",
        domain in "[a-z0-9]{1,10}(\\.[a-z]{2,6}){1,2}",
    ) {
        prop_assume!(!local.contains(".."));
        let c = Contact::parse(&format!("{local}@{domain}")).unwrap();
        prop_assert_eq!(Contact::parse(&c.to_string()).unwrap(), c.clone());
        let m = c.masked();
        prop_assert_ne!(&m, &c.to_string());
        prop_assert!(m.contains("***@"));
    }

    #[test]
    fn phone_contacts_read_back(n in 10_000u64..1_000_000_000_000_000) {
        let c = Contact::parse(&format!("+{n}")).unwrap();
        prop_assert_eq!(c.to_string(), format!("+{n}"));
        prop_assert_eq!(Contact::parse(&c.to_string()).unwrap(), c.clone());
        let m = c.masked();
        prop_assert_eq!(m.len(), c.to_string().len());
        prop_assert!(m.contains('*'));
        prop_assert!(!m.contains(&n.to_string()));
    }
}

#[test]
fn alphabet_has_no_confusables_and_no_repeats() {
    let mut seen = std::collections::HashSet::new();
    for c in ALPHABET {
        assert!(seen.insert(c));
        assert!(!b"01OI".contains(c));
    }
    assert_eq!(seen.len(), 32);
}
