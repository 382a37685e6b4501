//! Staff accounts and sessions, run against SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::authz::{OrgKind, Role};
use ceir_domain::lists::Country;
use ceir_domain::Timestamp;
use ceir_store::{AccountStore, NewUser, OidcIdentity, Organisation, SqlStore, Store, StoreError};

const T0: Timestamp = Timestamp(1_790_000_000_000);
const HOUR: i64 = 3_600_000;

async fn org(s: &SqlStore, id: &str, kind: OrgKind) {
    s.upsert_organisation(
        &Organisation {
            id: id.into(),
            name: id.into(),
            kind,
            country: Country::AZ,
        },
        &by(),
        T0,
    )
    .await
    .unwrap();
}

fn new_user(org: &str, name: &str, role: Role) -> NewUser {
    NewUser {
        org: org.into(),
        name: name.into(),
        display_name: format!("{name} of {org}"),
        role,
        email: Some(format!("{name}@{org}.example")),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        totp_secret: None,
        oidc: None,
    }
}

async fn users_belong_to_organisations(s: &SqlStore) {
    org(s, "az-police", OrgKind::LawEnforcement).await;
    org(s, "az-regulator", OrgKind::Regulator).await;
    let u = s
        .create_user(&new_user("az-police", "aliyev", Role::Officer), &by(), T0)
        .await
        .unwrap();
    assert_eq!(u.org.kind, OrgKind::LawEnforcement);
    assert_eq!(u.actor().user, "aliyev");
    assert_eq!(u.actor().role, Role::Officer);
    assert_eq!(u.failed_attempts, 0);
    assert!(!format!("{u:?}").contains("argon2"), "Debug hides the hash");
    // The same name in another organisation is another person; twice in one is refused.
    s.create_user(&new_user("az-regulator", "aliyev", Role::Admin), &by(), T0)
        .await
        .unwrap();
    let e = s
        .create_user(&new_user("az-police", "aliyev", Role::Viewer), &by(), T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let e = s
        .create_user(&new_user("nowhere", "x", Role::Viewer), &by(), T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    assert_eq!(s.users_named(None, "aliyev").await.unwrap().len(), 2);
    assert_eq!(
        s.users_named(Some("az-police"), "aliyev").await.unwrap()[0].id,
        u.id
    );
    assert!(s
        .users_named(Some("az-police"), "nobody")
        .await
        .unwrap()
        .is_empty());
    let all = s.users().await.unwrap();
    assert_eq!(
        all.iter().map(|u| u.org.id.as_str()).collect::<Vec<_>>(),
        ["az-police", "az-regulator"]
    );
    assert_eq!(
        s.users_by_email("aliyev@az-police.example").await.unwrap()[0].id,
        u.id
    );

    // OpenID identities are unique per issuer.
    let mut sso = new_user("az-regulator", "sso", Role::Viewer);
    sso.password_hash = None;
    sso.oidc = Some(OidcIdentity {
        issuer: "https://id.gov.az".into(),
        subject: "123".into(),
    });
    let sso_user = s.create_user(&sso, &by(), T0).await.unwrap();
    assert_eq!(
        s.user_by_oidc("https://id.gov.az", "123")
            .await
            .unwrap()
            .unwrap()
            .id,
        sso_user.id
    );
    assert!(s
        .user_by_oidc("https://other", "123")
        .await
        .unwrap()
        .is_none());
    sso.name = "sso2".into();
    assert!(matches!(
        s.create_user(&sso, &by(), T0).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
}

async fn failed_sign_ins_lock_then_count_again(s: &SqlStore) {
    org(s, "az-regulator", OrgKind::Regulator).await;
    let u = s
        .create_user(&new_user("az-regulator", "admin", Role::Admin), &by(), T0)
        .await
        .unwrap();
    for i in 1..5 {
        assert!(!s.record_failed_sign_in(&u.id, T0, 5, HOUR).await.unwrap());
        assert_eq!(s.user(&u.id).await.unwrap().unwrap().failed_attempts, i);
    }
    assert!(s.record_failed_sign_in(&u.id, T0, 5, HOUR).await.unwrap());
    let locked = s.user(&u.id).await.unwrap().unwrap();
    assert!(locked.is_locked(T0));
    assert!(locked.is_locked(Timestamp(T0.0 + HOUR - 1)));
    assert!(!locked.is_locked(Timestamp(T0.0 + HOUR)));
    assert_eq!(locked.failed_attempts, 0);
    // A success clears the count.
    s.record_failed_sign_in(&u.id, T0, 5, HOUR).await.unwrap();
    assert!(s.record_sign_in(&u.id, None).await.unwrap());
    assert_eq!(s.user(&u.id).await.unwrap().unwrap().failed_attempts, 0);
}

async fn totp_steps_are_used_once(s: &SqlStore) {
    org(s, "az-regulator", OrgKind::Regulator).await;
    let u = s
        .create_user(&new_user("az-regulator", "admin", Role::Admin), &by(), T0)
        .await
        .unwrap();
    assert!(s.record_sign_in(&u.id, Some(100)).await.unwrap());
    assert!(!s.record_sign_in(&u.id, Some(100)).await.unwrap(), "replay");
    assert!(!s.record_sign_in(&u.id, Some(99)).await.unwrap(), "older");
    assert!(s.record_sign_in(&u.id, Some(101)).await.unwrap());
    assert_eq!(
        s.user(&u.id).await.unwrap().unwrap().totp_last_step,
        Some(101)
    );
}

async fn sessions_expire_idle_and_end(s: &SqlStore) {
    org(s, "az-bank", OrgKind::Bank).await;
    let u = s
        .create_user(&new_user("az-bank", "teller", Role::Viewer), &by(), T0)
        .await
        .unwrap();
    let opened = s
        .open_session(&u.id, &by(), T0, Timestamp(T0.0 + 8 * HOUR))
        .await
        .unwrap();
    assert!(opened.secret.len() >= 43 && opened.csrf_token.len() >= 43);
    assert!(!format!("{opened:?}").contains(&opened.secret));
    let got = s.session(&opened.secret, T0, HOUR).await.unwrap().unwrap();
    assert_eq!(got.user.id, u.id);
    assert_eq!(got.csrf_token, opened.csrf_token);
    assert!(s.session("wrong", T0, HOUR).await.unwrap().is_none());
    // Used every 50 minutes, it outlives the idle limit of an hour...
    for i in 1..=3 {
        let t = Timestamp(T0.0 + i * 50 * 60_000);
        assert!(s.session(&opened.secret, t, HOUR).await.unwrap().is_some());
    }
    // ...but not its absolute expiry.
    assert!(s
        .session(&opened.secret, Timestamp(T0.0 + 8 * HOUR), 100 * HOUR)
        .await
        .unwrap()
        .is_none());

    // Idle for an hour: gone, and stays gone.
    let idle = s
        .open_session(&u.id, &by(), T0, Timestamp(T0.0 + 8 * HOUR))
        .await
        .unwrap();
    assert!(s
        .session(&idle.secret, Timestamp(T0.0 + HOUR), HOUR)
        .await
        .unwrap()
        .is_none());
    assert!(s.session(&idle.secret, T0, HOUR).await.unwrap().is_none());

    // Sign-out ends one session; disabling the user ends all and refuses new sign-ins' use.
    let a = s
        .open_session(&u.id, &by(), T0, Timestamp(T0.0 + HOUR))
        .await
        .unwrap();
    let b = s
        .open_session(&u.id, &by(), T0, Timestamp(T0.0 + HOUR))
        .await
        .unwrap();
    s.end_session(&a.secret, &by(), T0).await.unwrap();
    assert!(s.session(&a.secret, T0, HOUR).await.unwrap().is_none());
    assert!(s.session(&b.secret, T0, HOUR).await.unwrap().is_some());
    s.disable_user("az-bank", "teller", &by(), T0)
        .await
        .unwrap();
    assert!(s.session(&b.secret, T0, HOUR).await.unwrap().is_none());
    let c = s
        .open_session(&u.id, &by(), T0, Timestamp(T0.0 + HOUR))
        .await
        .unwrap();
    assert!(s.session(&c.secret, T0, HOUR).await.unwrap().is_none());
    assert!(s.user(&u.id).await.unwrap().unwrap().is_disabled());
    assert!(matches!(
        s.disable_user("az-bank", "teller", &by(), T0)
            .await
            .unwrap_err(),
        StoreError::NotFound(_)
    ));
}

ceir_store::both_engines!(
    users_belong_to_organisations,
    failed_sign_ins_lock_then_count_again,
    totp_steps_are_used_once,
    sessions_expire_idle_and_end,
);

/// Who the test acts as, for the audit record every change writes.
fn by() -> ceir_domain::audit::AuditContext {
    ceir_domain::audit::AuditContext::local(ceir_domain::authz::Actor::system("test"))
}
