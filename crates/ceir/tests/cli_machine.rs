//! `ceir token` and `ceir client` as an administrator runs them, and a served node that requires
//! OAuth2 on N5g-eir (`CEIR_EIR_REQUIRE_OAUTH=true`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn ceir(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ceir"));
    c.arg("--data")
        .arg(data)
        .env_remove("CEIR_DATABASE_URL")
        .env_remove("CEIR_CONFIG")
        .env_remove("CEIR_EIR_REQUIRE_OAUTH")
        .env_remove("CEIR_TOKEN_DAYS");
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn tokens_have_scopes_and_expiry_and_list_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = run(ceir(d).args([
        "token",
        "org",
        "az-police",
        "--name",
        "Police",
        "--kind",
        "law_enforcement",
        "--country",
        "AZ",
    ]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "dash",
        "--scope",
        "lists:read",
        "--expires-in",
        "30d",
    ]));
    assert!(ok, "{err}");
    assert!(out.contains("scope \"lists:read\""), "{out}");
    let secret = out.lines().nth(1).unwrap().to_owned();
    assert!(
        secret.starts_with("ceir_") && secret.len() == 41,
        "{secret}"
    );
    let (ok, out, _) = run(ceir(d).args(["token", "create", "--org", "az-police", "--user", "u"]));
    assert!(ok);
    assert!(
        out.contains("scope \"lists:read lists:write catalog:read catalog:write subscribers:read audit:read\""),
        "{out}"
    );
    assert!(
        !out.contains("expires never"),
        "a default lifetime applies: {out}"
    );
    let (ok, out, _) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "batch",
        "--no-expiry",
    ]));
    assert!(ok && out.contains("expires never"), "{out}");

    let (ok, out, _) = run(ceir(d).args(["token", "list", "--org", "az-police"]));
    assert!(ok);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.contains("lists:read") && out.contains("active"),
        "{out}"
    );
    assert!(!out.contains(&secret), "no secrets in the list");

    // Refusals say what to do.
    let (ok, _, err) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "u",
        "--scope",
        "n5g-eir-eic",
    ]));
    assert!(!ok && err.contains("ceir client create"), "{err}");
    let (ok, _, err) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "u",
        "--scope",
        "lists:delete",
    ]));
    assert!(!ok && err.contains("unknown scope"), "{err}");
    let (ok, _, err) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "u",
        "--expires-in",
        "soon",
    ]));
    assert!(!ok && err.contains("90d"), "{err}");
    let (ok, _, _) = run(ceir(d).args([
        "token",
        "create",
        "--org",
        "az-police",
        "--user",
        "u",
        "--expires-in",
        "1d",
        "--no-expiry",
    ]));
    assert!(!ok, "--expires-in and --no-expiry conflict");
}

#[test]
fn a_registered_network_function_calls_n5g_eir_with_an_access_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = run(ceir(d).args([
        "token",
        "org",
        "azercell",
        "--name",
        "Azercell",
        "--kind",
        "operator",
        "--country",
        "AZ",
    ]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(ceir(d).args([
        "client",
        "create",
        "--org",
        "azercell",
        "--name",
        "amf-1",
        "--scope",
        "n5g-eir-eic",
    ]));
    assert!(ok, "{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (id, secret) = (field("client_id"), field("client_secret"));
    assert!(secret.starts_with("ceir_cs_"), "{out}");
    let (ok, list, _) = run(ceir(d).args(["client", "list"]));
    assert!(ok && list.contains(&id) && list.contains("amf-1") && !list.contains(&secret));

    let mut child = ceir(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CEIR_EIR_REQUIRE_OAUTH", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let eir = format!("http://{addr}/n5g-eir-eic/v1/equipment-status?pei=imei-352029831234565");
    rt.block_on(async {
        let r = client.get(&eir).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = client
            .post(format!("http://{addr}/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        let r = client.get(&eir).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    });
    let _ = child.kill();
    let _ = child.wait();

    let (ok, out, _) = run(ceir(d).args(["client", "revoke", &id]));
    assert!(ok && out.contains("revoked"), "{out}");
    let (ok, _, err) = run(ceir(d).args(["client", "revoke", &id]));
    assert!(!ok && err.contains("NOT_FOUND"), "{err}");
}
