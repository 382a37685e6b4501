//! TLS is optional: with a certificate and key, the same port speaks HTTP/2 and HTTP/1.1 by ALPN.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_domain::SystemClock;
use ceir_eir::Registry;
use ceir_store::testkit;
use std::sync::Arc;

#[tokio::test]
async fn eir_over_tls_with_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key_pem).unwrap();
    let tls =
        ceir_http::server::tls_acceptor(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
            .unwrap();
    // A key that does not exist is a clear error, not a panic.
    let Err(err) =
        ceir_http::server::tls_acceptor(&dir.path().join("cert.pem"), &dir.path().join("nope.pem"))
    else {
        panic!("a missing key is an error")
    };
    assert!(err.contains("cannot read"), "{err}");

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

    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let url = format!(
        "https://localhost:{port}/n5g-eir-eic/v1/equipment-status?pei=imei-354237107777773"
    );
    for (client, version) in [
        (
            reqwest::Client::builder()
                .add_root_certificate(root.clone())
                .resolve("localhost", ([127, 0, 0, 1], port).into())
                .build()
                .unwrap(),
            reqwest::Version::HTTP_2,
        ),
        (
            reqwest::Client::builder()
                .add_root_certificate(root.clone())
                .resolve("localhost", ([127, 0, 0, 1], port).into())
                .http1_only()
                .build()
                .unwrap(),
            reqwest::Version::HTTP_11,
        ),
    ] {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.version(), version);
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.unwrap(), r#"{"status":"WHITELISTED"}"#);
    }
    // Graceful stop: the server returns once asked.
    tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(15), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
