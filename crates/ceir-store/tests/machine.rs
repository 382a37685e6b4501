//! Machine credentials in the store (scoped API tokens, OAuth2 clients, access tokens), on
//! SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::authz::{Capability, OrgKind, Role};
use ceir_domain::credential::{recognise, SecretKind};
use ceir_domain::lists::Country;
use ceir_domain::scope::{Scope, ScopeSet};
use ceir_domain::Timestamp;
use ceir_store::machine::{ClientCheck, NewToken};
use ceir_store::{testkit, MachineStore, Organisation, SqlStore, Store};

const T0: Timestamp = Timestamp(1_790_000_000_000);

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

async fn scoped_tokens(s: &SqlStore) {
    org(s, "az-regulator", OrgKind::Regulator).await;
    org(s, "az-police", OrgKind::LawEnforcement).await;
    let reader = ScopeSet::of(&[Scope::ListsRead]);
    let (rid, rsecret) = s
        .create_scoped_token(
            &NewToken {
                org: "az-regulator",
                user: "auditor",
                role: Role::Admin,
                label: "read only",
                scopes: reader,
                expires_at: Some(T0.plus_days(90)),
            },
            &by(),
            T0,
        )
        .await
        .unwrap();
    let t = s.authenticate(&rsecret, T0).await.unwrap().unwrap();
    assert_eq!(t.scopes, reader);
    let a = t.actor();
    assert!(a.can(Capability::ReadLists));
    assert!(
        !a.can(Capability::Block),
        "a regulator's read token cannot write"
    );
    assert!(!a.can(Capability::ReadCatalog));
    // The plain API keeps its meaning: the REST scopes, within the role.
    let (pid, psecret) = s
        .create_token("az-police", "officer", Role::Officer, "", None, &by(), T0)
        .await
        .unwrap();
    let p = s.authenticate(&psecret, T0).await.unwrap().unwrap();
    assert_eq!(p.scopes, ScopeSet::REST);
    assert!(p.actor().can(Capability::Block));
    assert!(!p.actor().can(Capability::BarTac));
    // A typo in the checksum never matches, and one character off the end neither.
    let mut typo = psecret.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(s.authenticate(&typo, T0).await.unwrap().is_none());
    assert!(s
        .authenticate(&psecret[..psecret.len() - 1], T0)
        .await
        .unwrap()
        .is_none());
    // Expiry is exclusive of the instant.
    assert!(s
        .authenticate(&rsecret, T0.plus_days(90))
        .await
        .unwrap()
        .is_none());

    let all = s.tokens(None).await.unwrap();
    assert_eq!(all.len(), 2);
    let police = s.tokens(Some("az-police")).await.unwrap();
    assert_eq!(police.len(), 1);
    assert_eq!(police[0].token.id, pid);
    assert_eq!(police[0].created_at, T0);
    s.revoke_token(&rid, &by(), T0).await.unwrap();
    let r = s.tokens(Some("az-regulator")).await.unwrap().pop().unwrap();
    assert_eq!(
        (r.token.id.as_str(), r.revoked_at),
        (rid.as_str(), Some(T0))
    );
    assert_eq!(r.token.scopes, reader);
    assert_eq!(r.token.expires_at, Some(T0.plus_days(90)));
}

async fn clients_and_access_tokens(s: &SqlStore) {
    org(s, "az-azercell", OrgKind::Operator).await;
    let eic = ScopeSet::of(&[Scope::N5gEirEic]);
    let (c, secret) = s
        .create_client("az-azercell", "amf-1", Role::Officer, eic, &by(), T0)
        .await
        .unwrap();
    assert_eq!(recognise(&secret), Some(SecretKind::ClientSecret));
    assert!(s
        .create_client("nobody", "amf-2", Role::Officer, eic, &by(), T0)
        .await
        .is_err());
    match s.verify_client(&c.id, &secret).await.unwrap() {
        ClientCheck::Valid(v) => assert_eq!(v, c),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.verify_client(&c.id, "ceir_cs_wrong").await.unwrap(),
        ClientCheck::BadSecret
    );
    // Another client's well-formed secret is still the wrong one.
    let (c2, secret2) = s
        .create_client(
            "az-azercell",
            "smsf",
            Role::Viewer,
            ScopeSet::REST,
            &by(),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        s.verify_client(&c.id, &secret2).await.unwrap(),
        ClientCheck::BadSecret
    );
    assert_eq!(
        s.verify_client("no-such-client", &secret).await.unwrap(),
        ClientCheck::Unknown
    );

    let exp = Timestamp(T0.0 + 3_600_000);
    let token = s
        .issue_access_token(&c.id, eic, exp, &by(), T0)
        .await
        .unwrap();
    assert_eq!(recognise(&token), Some(SecretKind::AccessToken));
    let g = s.access_token(&token, T0).await.unwrap().unwrap();
    assert_eq!(
        (g.client.id.as_str(), g.scopes, g.expires_at),
        (c.id.as_str(), eic, exp)
    );
    let a = g.actor();
    assert_eq!(a.user, format!("client:{}", c.id));
    assert!(a.can(Capability::CheckEquipment));
    assert!(!a.can(Capability::ReadLists), "scope n5g-eir-eic only");
    assert!(
        s.access_token(&token, exp).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        s.access_token(&secret, T0).await.unwrap().is_none(),
        "a client secret is no access token"
    );

    // Issuing sweeps tokens that have expired.
    let later = s
        .issue_access_token(
            &c2.id,
            ScopeSet::REST,
            Timestamp(exp.0 + 3_600_000),
            &by(),
            exp,
        )
        .await
        .unwrap();
    assert!(s.access_token(&token, T0).await.unwrap().is_none(), "swept");
    assert!(s.access_token(&later, exp).await.unwrap().is_some());

    let t3 = s
        .issue_access_token(&c.id, eic, Timestamp(exp.0 + 60_000), &by(), exp)
        .await
        .unwrap();
    s.revoke_client(&c.id, &by(), exp).await.unwrap();
    assert!(
        s.access_token(&t3, exp).await.unwrap().is_none(),
        "revoked client"
    );
    assert_eq!(
        s.verify_client(&c.id, &secret).await.unwrap(),
        ClientCheck::Unknown
    );
    assert!(s
        .issue_access_token(&c.id, eic, Timestamp(exp.0 + 60_000), &by(), exp)
        .await
        .is_err());
    assert!(
        s.revoke_client(&c.id, &by(), exp).await.is_err(),
        "already revoked"
    );
    let listed = s.clients().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed.iter().find(|x| x.id == c.id).unwrap().revoked_at,
        Some(exp)
    );
}

ceir_store::both_engines!(scoped_tokens, clients_and_access_tokens);

/// Tokens made before migration 0004 (`ceir_<id>_<secret>`, no scopes column) keep working,
/// with the REST scopes.
#[tokio::test]
async fn tokens_from_before_scopes_keep_working() {
    use sha2::Digest;
    let (s, dir) = testkit::sqlite().await.unwrap();
    org(&s, "az-police", OrgKind::LawEnforcement).await;
    let legacy = "ceir_abcdefghij_ABCDEFGHIJKLMNOPQRSTUVWXYZ01";
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("ceir.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO api_token (id, secret_hash, org, user_name, role, label, created_at) \
         VALUES ('abcdefghij', $1, 'az-police', 'old', 'officer', '', $2)",
    )
    .bind(hex::encode(sha2::Sha256::digest(legacy.as_bytes())))
    .bind(T0.0)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let t = s.authenticate(legacy, T0).await.unwrap().unwrap();
    assert_eq!((t.user.as_str(), t.scopes), ("old", ScopeSet::REST));
    assert!(t.actor().can(Capability::Block));
    assert!(s
        .authenticate("ceir_abcdefghij_ABCDEFGHIJKLMNOPQRSTUVWXYZ02", T0)
        .await
        .unwrap()
        .is_none());
}

/// Who the test acts as, for the audit record every change writes.
fn by() -> ceir_domain::audit::AuditContext {
    ceir_domain::audit::AuditContext::local(ceir_domain::authz::Actor::system("test"))
}
