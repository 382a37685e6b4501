//! Mutual TLS: with `tls_client_ca`, only clients holding a certificate from that CA complete
//! the handshake. Certificates are made here by rcgen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::SystemClock;
use ceir_eir::Registry;
use ceir_store::testkit;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::sync::Arc;

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let pem = p.self_signed(&key).unwrap().pem();
    (Issuer::new(p, key), pem)
}

/// A certificate and its key, in one PEM (as reqwest's `Identity` takes them).
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut p = CertificateParams::new(vec![name.to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn only_clients_with_a_certificate_from_the_client_ca_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, server_ca_pem) = ca("ceir test server CA");
    let (server_cert, server_key) =
        leaf(&server_ca, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_ca, client_ca_pem) = ca("operator interconnect CA");
    let (stranger_ca, _) = ca("some other CA");
    let p = |f: &str| dir.path().join(f);
    std::fs::write(p("cert.pem"), &server_cert).unwrap();
    std::fs::write(p("key.pem"), &server_key).unwrap();
    std::fs::write(p("clients.pem"), &client_ca_pem).unwrap();
    std::fs::write(p("empty.pem"), "").unwrap();

    // A CA file without a certificate is a clear error.
    let Err(e) =
        ceir_http::server::tls_acceptor_mtls(&p("cert.pem"), &p("key.pem"), Some(&p("empty.pem")))
    else {
        panic!("an empty CA file is refused")
    };
    assert!(e.contains("no CA certificate"), "{e}");

    let tls = ceir_http::server::tls_acceptor_mtls(
        &p("cert.pem"),
        &p("key.pem"),
        Some(&p("clients.pem")),
    )
    .unwrap();
    let (store, _db) = testkit::sqlite().await.unwrap();
    let registry = Arc::new(
        Registry::open(
            Arc::new(store),
            Arc::new(SystemClock),
            UnlistedPolicy::Permit,
        )
        .await
        .unwrap(),
    );
    let app = ceir_http::router(ceir_http::AppState::new(registry, Country::AZ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ceir_http::server::serve(listener, app, Some(tls), async {
        let _ = rx.await;
    }));

    let root = reqwest::Certificate::from_pem(server_ca_pem.as_bytes()).unwrap();
    let client = |identity: Option<(String, String)>, h1: bool| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(root.clone())
            .resolve("localhost", ([127, 0, 0, 1], port).into());
        if h1 {
            b = b.http1_only();
        }
        if let Some((cert, key)) = identity {
            b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    let url = format!(
        "https://localhost:{port}/n5g-eir-eic/v1/equipment-status?pei=imei-354237107777773"
    );

    let amf = leaf(
        &client_ca,
        "amf-1.azercell",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    for h1 in [false, true] {
        let r = client(Some(amf.clone()), h1)
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.unwrap(), r#"{"status":"WHITELISTED"}"#);
    }

    let none = client(None, false).get(&url).send().await;
    assert!(none.is_err(), "no client certificate: {none:?}");
    let stranger = leaf(
        &stranger_ca,
        "amf-9.elsewhere",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let other = client(Some(stranger), false).get(&url).send().await;
    assert!(other.is_err(), "a certificate from another CA: {other:?}");
    // The refused handshakes did not disturb the listener.
    assert_eq!(
        client(Some(amf), false)
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(15), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
