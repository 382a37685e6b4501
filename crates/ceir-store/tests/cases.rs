//! Citizens' cases and one-time codes in the store, on SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::audit::{AuditContext, Verifier};
use ceir_domain::authz::Actor;
use ceir_domain::cases::{
    CaseCode, CaseKind, CaseState, Contact, OneTimeCode, OTP_MAX_ATTEMPTS, OTP_SEND_WINDOW_MS,
    OTP_TTL_MS,
};
use ceir_domain::lists::Country;
use ceir_domain::{Imei, Timestamp};
use ceir_store::cases::{NewCase, OtpIssue};
use ceir_store::{AuditFilter, AuditStore, CaseStore, SqlStore};

const T0: Timestamp = Timestamp(1_790_000_000_000);

fn by() -> AuditContext {
    AuditContext::local(Actor::system("test"))
}

fn report(contact: &str) -> NewCase {
    NewCase {
        imei: Imei::parse_typed("352029831234565").unwrap(),
        kind: CaseKind::Stolen,
        contact: Contact::parse(contact).unwrap(),
        country: Country::AZ,
        description: Some("taken on the metro".into()),
    }
}

fn at(ms: i64) -> Timestamp {
    Timestamp(T0.0 + ms)
}

async fn cases_are_filed_and_audited_without_the_contact(s: &SqlStore) {
    let a = s
        .create_case(&report("aysel@mail.az"), &by(), T0)
        .await
        .unwrap();
    let b = s
        .create_case(&report("+994501234567"), &by(), at(1))
        .await
        .unwrap();
    assert_ne!(a.code, b.code);
    assert_eq!(a.code.country(), Country::AZ);
    assert_eq!(a.state, CaseState::Received);
    assert_eq!(s.case(&a.code).await.unwrap().unwrap(), a);
    assert_eq!(s.case(&b.code).await.unwrap().unwrap(), b);
    let other = CaseCode::from_random(Country::AZ, [9; 7]);
    assert_eq!(s.case(&other).await.unwrap(), None);
    let all = s.cases(None, 10).await.unwrap();
    assert_eq!(all, vec![b.clone(), a.clone()], "newest first");
    assert_eq!(
        s.cases(Some(CaseState::Received), 1).await.unwrap(),
        vec![b]
    );
    assert!(s
        .cases(Some(CaseState::Closed), 10)
        .await
        .unwrap()
        .is_empty());

    let page = s
        .audit_page(
            &AuditFilter {
                action: Some("case.create".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].object, format!("case:{}", a.code));
    assert!(page[0].detail.contains("352029831234565"));
    assert!(page[0].detail.contains("stolen"));
    for r in &page {
        assert!(!r.detail.contains("aysel"), "{}", r.detail);
        assert!(!r.detail.contains("501234567"), "{}", r.detail);
        assert!(!r.detail.contains("metro"), "{}", r.detail);
    }
    // The records chain like every other.
    let mut v = Verifier::new();
    let head = s
        .audit_scan(&AuditFilter::default(), &mut |r| {
            v.push(&r).unwrap();
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
    v.finish(&head).unwrap();
}

async fn one_time_codes_work_once(s: &SqlStore) {
    let c = s
        .create_case(&report("aysel@mail.az"), &by(), T0)
        .await
        .unwrap();
    let otp = OneTimeCode::from_random(123_456);
    let wrong = OneTimeCode::from_random(654_321);
    // No code sent yet: nothing opens the case.
    assert_eq!(
        s.use_otp(&c.code, &otp.digest(&c.code), T0).await.unwrap(),
        None
    );
    assert_eq!(
        s.issue_otp(&c.code, &otp.digest(&c.code), &by(), T0)
            .await
            .unwrap(),
        OtpIssue::Issued(c.clone())
    );
    assert_eq!(
        s.use_otp(&c.code, &wrong.digest(&c.code), at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.use_otp(&c.code, &otp.digest(&c.code), at(2))
            .await
            .unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        s.use_otp(&c.code, &otp.digest(&c.code), at(3))
            .await
            .unwrap(),
        None,
        "single use"
    );

    // Expiry.
    let otp2 = OneTimeCode::from_random(111_111);
    s.issue_otp(&c.code, &otp2.digest(&c.code), &by(), at(10))
        .await
        .unwrap();
    assert_eq!(
        s.use_otp(&c.code, &otp2.digest(&c.code), at(10 + OTP_TTL_MS))
            .await
            .unwrap(),
        None
    );

    // A new code replaces the old; five wrong guesses kill it, even for the right code after.
    let old = OneTimeCode::from_random(222_222);
    let new = OneTimeCode::from_random(333_333);
    let d = c.code;
    s.issue_otp(&d, &old.digest(&d), &by(), at(20))
        .await
        .unwrap();
    assert!(
        matches!(
            s.issue_otp(&d, &new.digest(&d), &by(), at(21))
                .await
                .unwrap(),
            OtpIssue::Limited { .. }
        ),
        "the fourth send within the hour is refused"
    );
    let later = at(OTP_SEND_WINDOW_MS + 1);
    assert!(matches!(
        s.issue_otp(&d, &new.digest(&d), &by(), later)
            .await
            .unwrap(),
        OtpIssue::Issued(_)
    ));
    assert_eq!(
        s.use_otp(&d, &old.digest(&d), later).await.unwrap(),
        None,
        "replaced"
    );
    for _ in 1..OTP_MAX_ATTEMPTS {
        assert_eq!(s.use_otp(&d, &wrong.digest(&d), later).await.unwrap(), None);
    }
    assert_eq!(
        s.use_otp(&d, &new.digest(&d), later).await.unwrap(),
        None,
        "five wrong in all"
    );

    // An unknown case: no code can be sent or used.
    let unknown = CaseCode::from_random(Country::AZ, [7; 7]);
    assert_eq!(
        s.issue_otp(&unknown, &otp.digest(&unknown), &by(), T0)
            .await
            .unwrap(),
        OtpIssue::UnknownCase
    );
    assert_eq!(
        s.use_otp(&unknown, &otp.digest(&unknown), T0)
            .await
            .unwrap(),
        None
    );
}

/// The send limit counts every code sent within the hour, and says when the next may go.
async fn three_codes_an_hour(s: &SqlStore) {
    let c = s
        .create_case(&report("+994501234567"), &by(), T0)
        .await
        .unwrap();
    for i in 0..3 {
        let otp = OneTimeCode::from_random(i);
        assert!(matches!(
            s.issue_otp(
                &c.code,
                &otp.digest(&c.code),
                &by(),
                at(i64::from(i) * 60_000)
            )
            .await
            .unwrap(),
            OtpIssue::Issued(_)
        ));
    }
    let otp = OneTimeCode::from_random(9);
    assert_eq!(
        s.issue_otp(&c.code, &otp.digest(&c.code), &by(), at(5 * 60_000))
            .await
            .unwrap(),
        OtpIssue::Limited {
            retry_at: at(OTP_SEND_WINDOW_MS)
        }
    );
    assert!(matches!(
        s.issue_otp(&c.code, &otp.digest(&c.code), &by(), at(OTP_SEND_WINDOW_MS))
            .await
            .unwrap(),
        OtpIssue::Issued(_)
    ));
}

ceir_store::both_engines!(
    cases_are_filed_and_audited_without_the_contact,
    one_time_codes_work_once,
    three_codes_an_hour
);
