//! `ceir demo`: a fresh embedded store with a small, realistic data set for an Azerbaijani node.

use crate::config::{create_dir, Config};
use anyhow::{bail, Context, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::lists::{Country, EntryMeta, ListKind, NewEntry, Reason, Subject};
use ceir_domain::observe::Day;
use ceir_domain::{Clock, Imei, Imsi, SystemClock, Tac, Timestamp};
use ceir_ingest::dirbs_lists::DirbsList;
use ceir_ingest::simulate::{simulate, SimConfig, SimSummary};
use ceir_store::{ListChange, Operator, Organisation, SqlStore, Store};
use std::fmt::Write;
use std::sync::Arc;

/// The project's own illustrative catalog (see demo/README.md).
const DEMO_TACS: &str = include_str!("../demo/tacs.txt");
const MARKER: &str = ".ceir-demo";

/// Wipes a previous demo in the data directory (only one made by `ceir demo`) and opens a new store.
pub async fn fresh_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    let db = cfg.data.join("ceir.db");
    if db.exists() {
        if !cfg.data.join(MARKER).exists() {
            bail!(
                "{} holds a store that `ceir demo` did not make; choose another --data",
                cfg.data.display()
            );
        }
        // What the network month made: observations, classification runs, lists, the key.
        for d in ["observations", "classification", "lists", "simulated"] {
            let p = cfg.data.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p)
                    .with_context(|| format!("cannot remove the old demo's {}", p.display()))?;
            }
        }
        for f in ["ceir.db", "ceir.db-wal", "ceir.db-shm"] {
            let p = cfg.data.join(f);
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove the old demo store {}", p.display()))?;
            }
        }
    }
    create_dir(&cfg.data)?;
    std::fs::write(
        cfg.data.join(MARKER),
        "made by `ceir demo`; it may wipe this directory's store\n",
    )?;
    Ok(Arc::new(SqlStore::open(&cfg.store()).await?))
}

fn imei(tac: &str, serial: u32) -> Result<Imei> {
    let tac = Tac::parse(tac)?;
    Ok(Imei::from_body(
        u64::from(tac.get()) * 1_000_000 + u64::from(serial),
    )?)
}

fn org(id: &str, name: &str, kind: OrgKind, country: Country) -> Organisation {
    Organisation {
        id: id.into(),
        name: name.into(),
        kind,
        country,
    }
}

fn actor(o: &Organisation) -> AuditContext {
    AuditContext::local(Actor {
        org: o.id.clone(),
        org_kind: o.kind,
        user: "demo".into(),
        role: Role::Officer,
        scopes: ceir_domain::scope::ScopeSet::ALL,
    })
}

struct Entry<'a> {
    list: ListKind,
    subject: Subject,
    reason: Reason,
    reference: Option<&'a str>,
    country: Country,
    expires: Option<Timestamp>,
    note: Option<&'a str>,
}

fn change(e: Entry<'_>, now: Timestamp) -> Result<ListChange> {
    let meta = EntryMeta {
        reason: e.reason,
        reference: e.reference.map(Into::into),
        country: e.country,
        expires_at: e.expires,
        note: e.note.map(Into::into),
    };
    Ok(ListChange::Add(NewEntry::new(
        e.list, e.subject, meta, now,
    )?))
}

/// Imports the simulated month as an operator would send it, the DIRBS lists that go with it,
/// classifies it and generates the operator lists; returns what to tell the user.
async fn network_month(
    store: &dyn Store,
    cfg: &Config,
    sim: &SimSummary,
    by: &AuditContext,
    now: Timestamp,
) -> Result<String> {
    let local = format!("{}{}", std::path::MAIN_SEPARATOR, cfg.country);
    let ours = |f: &&ceir_ingest::simulate::SimFile| {
        f.path
            .parent()
            .and_then(|p| p.parent())
            .is_some_and(|p| p.to_string_lossy().ends_with(&local))
    };
    let files: Vec<_> = sim
        .operator_files
        .iter()
        .filter(ours)
        .map(|f| f.path.clone())
        .collect();
    println!(
        "Importing a month of simulated operator data ({} files)…",
        files.len()
    );
    crate::operator_import::import_operator(
        cfg,
        store,
        &files,
        Default::default(),
        Default::default(),
    )
    .await?;
    let country = Country::parse(&cfg.country)?;
    for f in sim.list_files.iter().filter(ours) {
        let name = f.path.file_stem().map(|n| n.to_string_lossy().into_owned());
        let Some(list) = name.as_deref().and_then(DirbsList::parse) else {
            continue;
        };
        let opts = crate::lists_import::ListOptions::full(list);
        crate::lists_import::import(store, list, &f.path, &opts, by, country, now).await?;
    }
    crate::classify::classify(
        store,
        &cfg.data,
        &crate::classify::ClassifyArgs {
            date: None,
            conditions: None,
            no_safety_check: false,
        },
    )
    .await?;
    // The simulated month stands for the present: the lists are made as of its last day, the
    // classification's date, rather than today's.
    let classified = ceir_classify::StateStore::open(&cfg.data.join("classification"))?
        .current()?
        .map(|c| c.run.date.to_string());
    crate::lists_cmd::run(
        cfg,
        Some(store),
        &SystemClock,
        crate::lists_cmd::ListsCmd::Generate {
            date: classified,
            full_base: false,
            conditions: None,
        },
    )
    .await?;
    let rows: u64 = sim.operator_files.iter().filter(ours).map(|f| f.rows).sum();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nA month of simulated network data ({rows} rows from {} operators, in {}), classified, with operator lists in {}:",
        files.len(),
        cfg.data.join("simulated").display(),
        cfg.data.join("lists").display()
    );
    let data = cfg.data.display();
    if let Some(cloned) = sim.scenarios.cloned_imeis.first.first() {
        let imei = cloned.split_whitespace().next().unwrap_or(cloned);
        let _ = writeln!(
            s,
            "  ceir explain --data {data} {imei}        # a cloned IMEI"
        );
    }
    let _ = writeln!(
        s,
        "  ceir sql --data {data} \"SELECT operator, count(*) FROM triplets GROUP BY operator\""
    );
    let _ = writeln!(s, "  ceir lists verify --data {data} {}/lists", data);
    Ok(s)
}

/// Loads the demo and returns what to tell the user.
pub async fn load(store: &dyn Store, cfg: &Config) -> Result<String> {
    let now = SystemClock.now();
    let (az, uz) = (Country::AZ, Country::UZ);
    let regulator = org(
        "regulator",
        "Azerbaijan national regulator (demo)",
        OrgKind::Regulator,
        az,
    );
    let police = org(
        "az-police",
        "Azerbaijan police (demo)",
        OrgKind::LawEnforcement,
        az,
    );
    let azercell = org("azercell", "Azercell", OrgKind::Operator, az);
    let orgs = [
        regulator.clone(),
        police.clone(),
        azercell.clone(),
        org("bakcell", "Bakcell", OrgKind::Operator, az),
        org("nar", "Nar", OrgKind::Operator, az),
        org("naxtel", "Naxtel", OrgKind::Operator, az),
        org(
            "uz-embassy-baku",
            "Embassy of Uzbekistan in Baku (demo)",
            OrgKind::Embassy,
            uz,
        ),
        org(
            "uz-node",
            "Uzbekistan national CEIR node (demo)",
            OrgKind::PartnerNode,
            uz,
        ),
        org("demo-bank", "A bank in Baku (demo)", OrgKind::Bank, az),
    ];
    let reg_actor = AuditContext::local(Actor {
        org: regulator.id.clone(),
        org_kind: OrgKind::Regulator,
        user: "demo".into(),
        role: Role::Admin,
        scopes: ceir_domain::scope::ScopeSet::ALL,
    });
    for o in &orgs {
        store.upsert_organisation(o, &reg_actor, now).await?;
    }
    // MCC-MNC allocations of both countries (ITU-T E.212 national plans).
    // The partner country's networks have no organisation on this node.
    for (plmn, name, c, org) in [
        ("400-01", "Azercell", az, Some("azercell")),
        ("400-02", "Bakcell", az, Some("bakcell")),
        ("400-04", "Nar", az, Some("nar")),
        ("400-06", "Naxtel", az, Some("naxtel")),
        ("434-04", "Beeline Uzbekistan", uz, None),
        ("434-05", "Ucell", uz, None),
        ("434-06", "Perfectum Mobile", uz, None),
        ("434-07", "Mobiuz", uz, None),
    ] {
        store
            .upsert_operator(
                &Operator {
                    plmn: plmn.into(),
                    name: name.into(),
                    country: c,
                    org: org.map(String::from),
                },
                &reg_actor,
                now,
            )
            .await?;
    }
    // A month of simulated network data for both countries; its models join the demo catalog.
    let sim_dir = cfg.data.join("simulated");
    let month = Day::of(now).month_start().plus(-1).month_start();
    let sim = simulate(
        &sim_dir,
        &SimConfig {
            countries: vec!["AZ".into(), "UZ".into()],
            month,
            subscribers: 2000,
            seed: 1,
            gzip: false,
            rows: None,
            imeis: None,
            bad_dates: false,
        },
    )
    .context("cannot simulate the demo's network month")?;
    let mut catalog =
        ceir_ingest::read_catalog_from(DEMO_TACS.as_bytes(), "demo/tacs.txt", &mut |_| {})?;
    let sim_catalog = ceir_ingest::read_catalog(&sim.catalog.path, &mut |_| {})?;
    let known: std::collections::HashSet<Tac> = catalog.models.iter().map(|m| m.tac).collect();
    catalog.models.extend(
        sim_catalog
            .models
            .into_iter()
            .filter(|m| !known.contains(&m.tac)),
    );
    catalog.models.sort_by_key(|m| m.tac);
    store
        .replace_catalog(
            &catalog.models,
            &ceir_store::CatalogImport {
                source: "demo/tacs.txt",
                format: "gsma",
                max_drop: 1.0,
                force: true,
            },
            &reg_actor,
            now,
        )
        .await?;

    let stolen = imei("35202983", 123_456)?; // iPhone 15
    let lost = imei("35008133", 555_001)?; // Galaxy S23
    let stolen_uz = imei("86813306", 321)?; // Redmi Note 12
    let tracked = imei("35076175", 880_042)?; // Galaxy A54
    let permitted = imei("35085437", 100_200)?; // iPhone 14 Pro
    let paired = imei("86769904", 424_242)?; // Redmi 9A
    let counterfeit = imei("35999901", 1)?; // TAC barred as counterfeit
    let unknown = imei("35423710", 777_777)?; // Nokia 3310 3G, on no list
    let imsi = Imsi::parse("400011234567890")?;
    let counterfeit_tac = Tac::parse("35999901")?;

    let police_changes = vec![
        change(
            Entry {
                list: ListKind::Blocked,
                subject: Subject::Imei(stolen),
                reason: Reason::Stolen,
                reference: Some("AZ-POL-2026-0412"),
                country: az,
                expires: None,
                note: Some("snatched in Baku metro"),
            },
            now,
        )?,
        change(
            Entry {
                list: ListKind::Blocked,
                subject: Subject::Imei(lost),
                reason: Reason::Lost,
                reference: Some("AZ-LOST-2026-0118"),
                country: az,
                expires: None,
                note: Some("reported by its owner"),
            },
            now,
        )?,
        change(
            Entry {
                list: ListKind::Tracked,
                subject: Subject::Imei(tracked),
                reason: Reason::Investigation,
                reference: Some("AZ-POL-2026-0777"),
                country: az,
                expires: Some(now.plus_days(90)),
                note: None,
            },
            now,
        )?,
    ];
    store
        .apply(&police_changes, &actor(&police), now, false)
        .await?;

    let mut reg_changes = vec![
        change(
            Entry {
                list: ListKind::Blocked,
                subject: Subject::Imei(stolen_uz),
                reason: Reason::Stolen,
                reference: Some("UZ-IIV-2026-3310"),
                country: uz,
                expires: None,
                note: Some("shared by the Uzbekistan node"),
            },
            now,
        )?,
        change(
            Entry {
                list: ListKind::Blocked,
                subject: Subject::Imei(paired),
                reason: Reason::Unregistered,
                reference: None,
                country: az,
                expires: None,
                note: Some("imported without registration"),
            },
            now,
        )?,
        change(
            Entry {
                list: ListKind::BarredTac,
                subject: Subject::Tac(counterfeit_tac),
                reason: Reason::Counterfeit,
                reference: Some("REG-2026-17"),
                country: az,
                expires: None,
                note: Some("TAC never allocated; clone model"),
            },
            now,
        )?,
        change(
            Entry {
                list: ListKind::Permitted,
                subject: Subject::Imei(permitted),
                reason: Reason::Registered,
                reference: None,
                country: az,
                expires: None,
                note: None,
            },
            now,
        )?,
    ];
    // A realistic tail of registered devices, spread over the catalog's models.
    for (n, m) in catalog.models.iter().enumerate() {
        for k in 0..5u32 {
            let i = Imei::from_body(
                u64::from(m.tac.get()) * 1_000_000 + 10_000 + u64::from(k) * 1_013 + n as u64,
            )?;
            reg_changes.push(change(
                Entry {
                    list: ListKind::Permitted,
                    subject: Subject::Imei(i),
                    reason: Reason::Registered,
                    reference: None,
                    country: az,
                    expires: None,
                    note: None,
                },
                now,
            )?);
        }
    }
    store.apply(&reg_changes, &reg_actor, now, false).await?;

    let pair = change(
        Entry {
            list: ListKind::Exception,
            subject: Subject::Pair(paired, imsi),
            reason: Reason::Paired,
            reference: None,
            country: az,
            expires: None,
            note: Some("subscriber's own phone, paired by the operator"),
        },
        now,
    )?;
    store.apply(&[pair], &actor(&azercell), now, false).await?;

    let (_, reg_token) = store
        .create_token(
            "regulator",
            "demo-admin",
            Role::Admin,
            "demo",
            None,
            &reg_actor,
            now,
        )
        .await?;
    let (_, bank_token) = store
        .create_token(
            "demo-bank",
            "demo-bank-app",
            Role::Viewer,
            "demo",
            None,
            &reg_actor,
            now,
        )
        .await?;
    std::fs::write(cfg.data.join("demo-token"), format!("{reg_token}\n"))
        .context("cannot write the demo token file")?;
    let password = demo_admin(store, now).await?;
    std::fs::write(cfg.data.join("demo-password"), format!("{password}\n"))
        .context("cannot write the demo password file")?;

    let network = network_month(store, cfg, &sim, &reg_actor, now).await?;

    let base = format!("http://{}", cfg.listen);
    let eir = |i: Imei, supi: Option<Imsi>| {
        format!(
            "curl --http2-prior-knowledge '{base}/n5g-eir-eic/v1/equipment-status?pei=imei-{i}{}'",
            supi.map(|s| format!("&supi=imsi-{s}")).unwrap_or_default()
        )
    };
    let mut s = String::new();
    let counts = store.list_counts().await?;
    let _ = writeln!(s, "\nDemo loaded: {} organisations, 8 operators (Azerbaijan 400-xx, Uzbekistan 434-xx), {} device models,", orgs.len(), catalog.models.len());
    let _ = writeln!(
        s,
        "list entries: {}",
        counts
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "{network}");
    let _ = writeln!(
        s,
        "\nThe 5G EIR (N5g-eir) over HTTP/2, one device per outcome:"
    );
    for (what, cmd) in [
        ("blocked, stolen        -> BLACKLISTED", eir(stolen, None)),
        ("blocked, lost          -> BLACKLISTED", eir(lost, None)),
        (
            "barred TAC, counterfeit -> BLACKLISTED",
            eir(counterfeit, None),
        ),
        ("tracked                -> GREYLISTED", eir(tracked, None)),
        (
            "permitted              -> WHITELISTED",
            eir(permitted, None),
        ),
        (
            "blocked, but paired    -> WHITELISTED for its subscriber",
            eir(paired, Some(imsi)),
        ),
        (
            "same device, any other subscriber -> BLACKLISTED",
            eir(paired, Some(Imsi::parse("400029999999999")?)),
        ),
        (
            "on no list             -> 404 ERROR_EQUIPMENT_UNKNOWN",
            eir(unknown, None),
        ),
    ] {
        let _ = writeln!(s, "  # {what}\n  {cmd}");
    }
    let spare = format!("{:014}0", stolen.body());
    let _ = writeln!(s, "  # phones send a spare 0 for the check digit; the EIR accepts it:\n  curl --http2-prior-knowledge '{base}/n5g-eir-eic/v1/equipment-status?pei=imei-{spare}'");
    let _ = writeln!(
        s,
        "\nThe REST API (token of the regulator's demo admin, also in {}):",
        cfg.data.join("demo-token").display()
    );
    let _ = writeln!(s, "  export TOKEN={reg_token}");
    let _ = writeln!(
        s,
        "  curl -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/devices/{stolen}"
    );
    let _ = writeln!(
        s,
        "  curl -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/lists/blocked"
    );
    let _ = writeln!(s, "  curl -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"imei\":\"{unknown}\",\"reason\":\"stolen\",\"reference\":\"AZ-POL-1\"}}' {base}/api/v1/lists/blocked/entries");
    let _ = writeln!(s, "  a bank's read-only token: {bank_token}");
    let _ = writeln!(
        s,
        "  OpenAPI document: {base}/openapi.json   metrics: {base}/metrics"
    );
    let _ = writeln!(
        s,
        "\nStaff sign-in at {base}/login as the regulator's local admin (password also in {}):",
        cfg.data.join("demo-password").display()
    );
    let _ = writeln!(s, "  user name: admin   password: {password}");
    Ok(s)
}

/// The regulator's local administrator, with a fresh random password the demo shows once.
async fn demo_admin(store: &dyn Store, now: Timestamp) -> Result<String> {
    use rand::distributions::{Alphanumeric, DistString};
    let password = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let hash = ceir_http::credentials::hash_password(&password)?;
    store
        .create_user(
            &ceir_store::NewUser {
                org: "regulator".into(),
                name: "admin".into(),
                display_name: "Demo administrator".into(),
                role: Role::Admin,
                email: None,
                password_hash: Some(hash),
                totp_secret: None,
                oidc: None,
            },
            &AuditContext::local(Actor::system("demo")),
            now,
        )
        .await?;
    Ok(password)
}
