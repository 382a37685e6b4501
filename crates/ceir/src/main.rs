//! `ceir`: the one binary. Commands wire the crates together; no logic lives here.

mod audit;
mod classify;
mod config;
mod demo;
mod lists_cmd;
mod lists_import;
mod machine;
mod membership_cache;
mod operator_import;
mod simulate;
mod sql;

use anyhow::{bail, Context, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::authz::{Actor, OrgKind, Role};
use ceir_domain::lists::{EntryMeta, ListKind, NewEntry, Reason, Subject};
use ceir_domain::{Clock, Imei, Imsi, SystemClock, Tac};
use ceir_eir::Registry;
use ceir_store::{ListChange, SqlStore, Store};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "ceir",
    version,
    about = "Central Equipment Identity Register: device lists, the 5G EIR service and the TAC catalog."
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node: REST API and N5g-eir (HTTP/1.1 and HTTP/2 on one port).
    Serve(ServeArgs),
    /// Run the whole system on a fresh embedded store loaded with a demo data set.
    Demo(DemoArgs),
    /// Import data files.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Add, remove and show list entries.
    #[command(subcommand)]
    List(ListCmd),
    /// A device's status, the lists it is on and its model.
    Check {
        /// 15-digit IMEI (check digit verified).
        imei: String,
        /// Check as this subscriber would be (exceptions pair IMEIs with IMSIs).
        #[arg(long)]
        imsi: Option<String>,
    },
    /// Organisations and API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// OAuth2 clients for network functions (client credentials, POST /oauth2/token).
    #[command(subcommand)]
    Client(machine::ClientCmd),
    /// Staff accounts: local passwords (with optional TOTP) and single sign-on identities.
    #[command(subcommand)]
    User(UserCmd),
    /// Verify that the store's entries, history and change feed agree.
    Verify,
    /// SQL over the observation store (tables triplets and imeis; partition columns month and
    /// operator) and the current classification (table classification), e.g.
    /// `ceir sql "SELECT operator, count(*) FROM triplets GROUP BY 1"`.
    Sql {
        /// One SQL statement (Apache DataFusion's dialect).
        statement: String,
        /// table, csv or json (one object per line).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The tamper-evident audit log: verify its chain, export it.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Generate a month of realistic operator data, its TAC catalog and DIRBS lists.
    Simulate(simulate::SimulateArgs),
    /// Classify every device seen on the networks under the configured conditions.
    Classify(classify::ClassifyArgs),
    /// Every condition for one IMEI: whether it matches and why, block date, lists.
    Explain(classify::ExplainArgs),
    /// Operator lists (blocklist, notifications, exceptions): generate, verify, list runs.
    #[command(subcommand)]
    Lists(lists_cmd::ListsCmd),
    /// This node's identity: the public key its list manifests are signed with.
    #[command(subcommand)]
    Node(lists_cmd::NodeCmd),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// What devices on no list get: permit, track, block or unknown (N5g-eir 404).
    #[arg(long)]
    unlisted: Option<String>,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// What devices on no list get. The demo answers "unknown" so every outcome can be seen.
    #[arg(long, default_value = "unknown")]
    unlisted: String,
    /// Load the demo and exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Debug, Subcommand)]
enum ImportCmd {
    /// Replace the TAC catalog from a GSMA TAC database file (pipe-delimited, plain or zipped)
    /// or an Osmocom tacdb CSV export.
    Tac {
        file: PathBuf,
        /// Replace even if the new file drops more than max_catalog_drop of the current models.
        #[arg(long)]
        force: bool,
    },
    /// Import operator network data dumps (DIRBS format: date,imei,imsi,msisdn[,rat]; plain,
    /// .gz or .zip; named <operator>_<yyyymmdd>_<yyyymmdd>) into the observation store.
    Operator {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        tuning: operator_import::Tuning,
        #[command(flatten)]
        disable: operator_import::DisableChecks,
    },
    /// The import job records, newest first.
    Jobs {
        /// Only jobs of this kind (operator, ...).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    #[command(flatten)]
    List(lists_import::ListImportCmd),
}

#[derive(Debug, clap::Args)]
struct Acting {
    /// Act for this registered organisation (default: the node's own regulator).
    #[arg(long = "as-org")]
    org: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ListCmd {
    /// Add IMEIs (or a pair, or a TAC) to a list. All or nothing.
    Add {
        /// blocked, tracked, permitted, exception or barred_tac.
        list: String,
        /// IMEIs (15 digits), or TACs for barred_tac.
        ids: Vec<String>,
        /// A file with one IMEI (or TAC) per line; `#` starts a comment.
        #[arg(long)]
        file: Option<PathBuf>,
        /// For exception: the IMSI paired with the IMEI.
        #[arg(long)]
        imsi: Option<String>,
        #[arg(long)]
        reason: String,
        /// Outside reference, e.g. a police report number.
        #[arg(long)]
        reference: Option<String>,
        /// Country of origin (default: this node's).
        #[arg(long)]
        country: Option<String>,
        /// Lapses after this date (yyyy-mm-dd or RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Lift an entry; history is kept.
    Remove {
        list: String,
        /// IMEI, or TAC for barred_tac.
        id: String,
        #[arg(long)]
        imsi: Option<String>,
        /// Whose entry to lift (default: yours; a regulator lifts all).
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Show a list's entries, or with an IMEI, that device's entries and history.
    Show {
        /// A list name, or an IMEI.
        what: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Register (or update) an organisation.
    Org {
        id: String,
        #[arg(long)]
        name: String,
        /// regulator, operator, law_enforcement, embassy, manufacturer, bank or partner_node.
        #[arg(long)]
        kind: String,
        /// For an embassy: the country it represents (it is located in this node's country).
        #[arg(long)]
        country: String,
        /// For an operator: a network it runs, as MCC-MNC (repeat for several). Binds the
        /// network to the organisation, which then sees its own subscribers' identifiers.
        #[arg(long = "plmn")]
        plmns: Vec<String>,
    },
    /// Create an API token; the secret is shown once.
    Create(machine::TokenCreate),
    /// API tokens with their scopes and expiry (never their secrets).
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

/// Every log line passes through [`ceir_domain::redact::redact`] on its way to stderr, so that a
/// subscriber identifier, contact or token echoed by any library never reaches the log.
struct RedactingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over one whole event per call, so no value is split across calls.
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(ceir_domain::redact::redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user in a registered organisation.
    Add {
        #[arg(long)]
        org: String,
        /// The sign-in name, unique within the organisation.
        #[arg(long)]
        name: String,
        /// admin, officer or viewer.
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// For single sign-on by e-mail (oidc_map = "email").
        #[arg(long)]
        email: Option<String>,
        /// Read a password for local sign-in from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Add a TOTP second factor; its otpauth:// URI is printed once.
        #[arg(long, requires = "password_stdin")]
        totp: bool,
        /// For single sign-on by subject: the `sub` the identity provider gives this person.
        #[arg(long)]
        oidc_subject: Option<String>,
        /// The provider's issuer (default: the configured oidc_issuer).
        #[arg(long, requires = "oidc_subject")]
        oidc_issuer: Option<String>,
    },
    /// List users (never their secrets).
    List,
    /// Disable a user and end their sessions; the account is kept for the record.
    Disable {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CEIR_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingWriter(std::io::stderr()));
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

/// Rust ignores SIGPIPE, so `ceir import jobs | head` would panic on the first write after
/// `head` exits. A command-line tool should end quietly instead, as the default action does.
#[cfg(unix)]
#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: sets the disposition of one signal to its default before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An error of the command line rather than of what it asked for: exit code 1, as clap's own.
/// Exit code 2 is every other failure, among them a verification that found problems.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> std::process::ExitCode {
    #[cfg(unix)]
    default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return if e.use_stderr() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  because: {cause}");
            }
            if let Some(code) = e
                .chain()
                .find_map(|c| c.downcast_ref::<ceir_store::StoreError>())
                .map(|s| s.code())
            {
                eprintln!("  [{code}] {}", code.hint());
            }
            if e.downcast_ref::<UsageError>().is_some() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::from(2)
            }
        }
    }
}

async fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    cfg.ensure_data_dir()?;
    let store = SqlStore::open(&cfg.store()).await.with_context(|| match cfg.database_url {
        Some(_) => "cannot open the PostgreSQL store; check database_url and that the server is running".to_owned(),
        None => format!("cannot open the embedded store in {}", cfg.data.display()),
    })?;
    Ok(Arc::new(store))
}

/// The node's own regulator: who local commands act as unless told otherwise.
async fn local_actor(store: &dyn Store, org: Option<&str>) -> Result<Actor> {
    let user = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    match org {
        None => Ok(Actor {
            org: "regulator".into(),
            org_kind: OrgKind::Regulator,
            user,
            role: Role::Admin,
            scopes: ceir_domain::scope::ScopeSet::ALL,
        }),
        Some(id) => {
            let o = store.organisation(id).await?.with_context(|| {
                format!("no organisation {id:?}; register it with `ceir token org`")
            })?;
            Ok(Actor {
                org: o.id,
                org_kind: o.kind,
                user,
                role: Role::Officer,
                scopes: ceir_domain::scope::ScopeSet::ALL,
            })
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let mut cfg = Config::load(&cli.overrides)?;
    match cli.command {
        Command::Serve(a) => {
            if let Some(l) = a.listen {
                cfg.listen = l;
            }
            if let Some(u) = a.unlisted {
                cfg.unlisted = u;
            }
            init_tracing(cfg.log_format == "json");
            let store = open_store(&cfg).await?;
            serve(cfg, store, None).await
        }
        Command::Demo(a) => {
            if cli.overrides.data.is_none() && std::env::var_os("CEIR_DATA").is_none() {
                cfg.data = PathBuf::from("ceir-demo");
            }
            cfg.listen = a.listen;
            cfg.unlisted = a.unlisted;
            cfg.policy()?;
            init_tracing(cfg.log_format == "json");
            if cfg.database_url.is_some() {
                bail!("the demo runs on the embedded store; drop --database-url");
            }
            // So that a citizen's report can be followed in the demo: codes land in a file.
            if cfg.outbox_dir.is_none() {
                cfg.outbox_dir = Some(cfg.data.join("outbox"));
            }
            let store = demo::fresh_store(&cfg).await?;
            let intro = demo::load(store.as_ref(), &cfg).await?;
            if a.no_serve {
                println!("{intro}");
                return Ok(());
            }
            serve(cfg, store, Some(intro)).await
        }
        Command::Import(ImportCmd::Tac { file, force }) => {
            let store = open_store(&cfg).await?;
            import_tac(store.as_ref(), &file, force, cfg.max_catalog_drop).await
        }
        Command::Import(ImportCmd::Operator {
            files,
            tuning,
            disable,
        }) => {
            let store = open_store(&cfg).await?;
            operator_import::import_operator(&cfg, store.as_ref(), &files, tuning, disable.into())
                .await
        }
        Command::Import(ImportCmd::Jobs {
            kind,
            operator,
            limit,
        }) => {
            let store = open_store(&cfg).await?;
            operator_import::list_jobs(store.as_ref(), kind.as_deref(), operator.as_deref(), limit)
                .await
        }
        Command::Import(ImportCmd::List(cmd)) => lists_import::run(&cfg, cmd).await,
        Command::Sql { statement, format } => sql::run(&cfg, &statement, &format).await,
        Command::List(cmd) => list(&cfg, cmd).await,
        Command::Check { imei, imsi } => {
            let store = open_store(&cfg).await?;
            let imei = Imei::parse_typed(&imei).context("not a valid IMEI")?;
            let imsi = imsi
                .map(|s| Imsi::parse(&s))
                .transpose()
                .context("not a valid IMSI")?;
            let reg = Registry::open(store, Arc::new(SystemClock), cfg.policy()?).await?;
            let (status, basis) = reg.check(imei, imsi);
            let state = ceir_http::AppState::new(Arc::new(reg), cfg.country()?);
            let view = ceir_http::api::device_view(&state, &Actor::system("cli"), imei)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
            println!("IMEI     {}", view.imei);
            println!(
                "status   {} ({}), decided by: {}",
                status.map(|s| s.as_str()).unwrap_or("unknown"),
                status
                    .map(|s| s.wire())
                    .unwrap_or("404 ERROR_EQUIPMENT_UNKNOWN"),
                ceir_http::api::basis_str(basis)
            );
            match &view.model {
                Some(m) => println!(
                    "model    {} {} ({}), TAC {}",
                    m.brand, m.model, m.radios, m.tac
                ),
                None => println!("model    TAC {} is not in the catalog", view.tac),
            }
            if let Some(r) = ceir_domain::invalid::classify(imei) {
                println!("warning  {}", r.description);
            }
            for e in &view.entries {
                println!(
                    "on list  {:<10} {:<13} by {} ({}) since {}{}{}",
                    e.list,
                    e.reason,
                    e.org,
                    e.country,
                    e.created_at,
                    e.reference
                        .as_ref()
                        .map(|r| format!(", ref {r}"))
                        .unwrap_or_default(),
                    e.expires_at
                        .as_ref()
                        .map(|x| format!(", until {x}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Token(cmd) => token(&cfg, cmd).await,
        Command::Simulate(a) => tokio::task::spawn_blocking(move || simulate::run(a)).await?,
        Command::Audit(cmd) => {
            let store = open_store(&cfg).await?;
            audit::run(store.as_ref(), cmd).await
        }
        Command::Client(cmd) => machine::client(open_store(&cfg).await?.as_ref(), cmd).await,
        Command::Classify(a) => {
            classify::classify(open_store(&cfg).await?.as_ref(), &cfg.data, &a).await
        }
        Command::Explain(a) => {
            classify::explain(open_store(&cfg).await?.as_ref(), &cfg.data, &a).await
        }
        Command::User(cmd) => user(&cfg, cmd).await,
        Command::Lists(cmd @ lists_cmd::ListsCmd::Generate { .. }) => {
            let store = open_store(&cfg).await?;
            lists_cmd::run(&cfg, Some(store.as_ref()), &SystemClock, cmd).await
        }
        Command::Lists(cmd) => lists_cmd::run(&cfg, None, &SystemClock, cmd).await,
        Command::Node(cmd) => lists_cmd::node(&cfg, cmd),
        Command::Verify => {
            let store = open_store(&cfg).await?;
            let r = store.integrity_check().await?;
            println!(
                "{} entries, {} history rows, feed at {}",
                r.entries, r.history, r.seq
            );
            if r.problems.is_empty() {
                println!("consistent");
                Ok(())
            } else {
                for p in &r.problems {
                    println!("problem: {p}");
                }
                bail!("{} integrity problems found", r.problems.len())
            }
        }
    }
}

async fn serve(cfg: Config, store: Arc<dyn Store>, intro: Option<String>) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let started = std::time::Instant::now();
    let registry = Arc::new(Registry::open(store.clone(), clock, cfg.policy()?).await?);
    tracing::info!(
        imeis = registry.index().len(),
        seq = registry.index().applied_seq(),
        ms = started.elapsed().as_millis() as u64,
        "status index built"
    );
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(
            ceir_http::server::tls_acceptor_mtls(c, k, cfg.tls_client_ca.as_deref())
                .map_err(anyhow::Error::msg)?,
        ),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? choose another with --listen",
                cfg.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(
        registry
            .clone()
            .follow(std::time::Duration::from_secs(cfg.sweep_seconds), stop_rx),
    );
    let machine =
        ceir_http::oauth::MachineAuth::new(cfg.eir_require_oauth, cfg.access_token_seconds);
    let sign_in = ceir_http::signin::SignIn::new(cfg.sign_in()?).map_err(anyhow::Error::msg)?;
    let sso = sign_in.oidc.is_some();
    let outbox = cfg.outbox_dir.clone().map(ceir_http::cases::Outbox::new);
    if let Some(o) = &outbox {
        println!(
            "citizens' one-time codes are queued in {}",
            o.file().display()
        );
    }
    let state =
        ceir_http::AppState::build_with_outbox(registry, cfg.country()?, machine, sign_in, outbox);
    state
        .classification
        .store(Some(Arc::new(classify::explain_source(&cfg.data)?)));
    let _ = state.lists_root.set(lists_cmd::lists_root(&cfg.data));
    let app = ceir_http::router(state);
    println!(
        "ceir listening on {scheme}://{addr} (HTTP/1.1 and HTTP/2{})",
        if tls.is_some() {
            " over TLS"
        } else {
            " prior knowledge"
        }
    );
    println!("store: {} at {}", store.backend(), store.location());
    println!("unlisted devices: {}", cfg.unlisted);
    if cfg.eir_require_oauth {
        println!("N5g-eir requires an OAuth2 access token (scope n5g-eir-eic)");
    }
    if cfg.tls_client_ca.is_some() {
        println!("TLS clients must present a certificate from tls_client_ca");
    }
    if sso {
        println!(
            "single sign-on: {}",
            cfg.oidc_issuer.as_deref().unwrap_or("")
        );
    }
    if let Some(i) = intro {
        println!("{i}");
    }
    ceir_http::server::serve(listener, app, tls, shutdown_signal()).await?;
    let _ = stop_tx.send(true);
    let _ = follower.await;
    println!("ceir stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

pub async fn import_tac(
    store: &dyn Store,
    file: &std::path::Path,
    force: bool,
    max_drop: f64,
) -> Result<()> {
    let len = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let pb = progress(len, "reading");
    let path = file.to_owned();
    let pb2 = pb.clone();
    let catalog = tokio::task::spawn_blocking(move || {
        ceir_ingest::read_catalog(&path, &mut |n| pb2.set_position(n))
    })
    .await??;
    pb.finish_and_clear();
    let actor = AuditContext::local(local_actor(store, None).await?);
    let fmt = format!("{:?}", catalog.format).to_lowercase();
    let source = file.display().to_string();
    let import = ceir_store::CatalogImport {
        source: &source,
        format: &fmt,
        max_drop,
        force,
    };
    let r = store
        .replace_catalog(&catalog.models, &import, &actor, SystemClock.now())
        .await?;
    println!(
        "imported {} models from {} ({fmt} format{}); the catalog had {} and now has {}",
        catalog.models.len(),
        file.display(),
        if catalog.duplicates > 0 {
            format!(", {} duplicate TACs: later rows kept", catalog.duplicates)
        } else {
            String::new()
        },
        r.previous,
        r.models
    );
    Ok(())
}

fn read_ids(ids: Vec<String>, file: Option<PathBuf>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = ids
        .into_iter()
        .enumerate()
        .map(|(n, s)| (format!("argument {}", n + 1), s))
        .collect();
    if let Some(f) = file {
        let r = std::io::BufReader::new(
            std::fs::File::open(&f).with_context(|| format!("cannot open {}", f.display()))?,
        );
        for (n, line) in r.lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}: not text", f.display(), n + 1))?;
            let t = line.split('#').next().unwrap_or("").trim();
            if !t.is_empty() {
                out.push((format!("{}:{}", f.display(), n + 1), t.to_owned()));
            }
        }
    }
    if out.is_empty() {
        bail!("name at least one IMEI (or TAC), or give --file");
    }
    Ok(out)
}

async fn list(cfg: &Config, cmd: ListCmd) -> Result<()> {
    let store = open_store(cfg).await?;
    let now = SystemClock.now();
    match cmd {
        ListCmd::Add {
            list,
            ids,
            file,
            imsi,
            reason,
            reference,
            country,
            expires,
            note,
            acting,
        } => {
            let list = ListKind::parse(&list)?;
            let reason = Reason::parse(&reason)?;
            let country = match country {
                Some(c) => ceir_domain::lists::Country::parse(&c)?,
                None => cfg.country()?,
            };
            let expires_at = expires
                .map(|e| {
                    ceir_http::api::parse_time("--expires", &e)
                        .map_err(|e| anyhow::anyhow!(e.detail))
                })
                .transpose()?;
            let imsi = imsi
                .map(|s| Imsi::parse(&s))
                .transpose()
                .context("--imsi")?;
            let ids = read_ids(ids, file)?;
            let pb = ProgressBar::new(ids.len() as u64);
            let mut changes = Vec::with_capacity(ids.len());
            for (at, id) in &ids {
                let subject = match (list, imsi) {
                    (ListKind::BarredTac, _) => {
                        Subject::Tac(Tac::parse(id).with_context(|| format!("{at}: {id:?}"))?)
                    }
                    (ListKind::Exception, Some(m)) => Subject::Pair(
                        Imei::parse_typed(id).with_context(|| format!("{at}: {id:?}"))?,
                        m,
                    ),
                    (ListKind::Exception, None) => {
                        bail!("an exception pairs IMEIs with an IMSI: add --imsi")
                    }
                    _ => Subject::Imei(
                        Imei::parse_typed(id).with_context(|| format!("{at}: {id:?}"))?,
                    ),
                };
                let meta = EntryMeta {
                    reason,
                    reference: reference.clone(),
                    country,
                    expires_at,
                    note: note.clone(),
                };
                changes.push(ListChange::Add(
                    NewEntry::new(list, subject, meta, now).with_context(|| at.clone())?,
                ));
                pb.inc(1);
            }
            pb.finish_and_clear();
            let actor =
                AuditContext::local(local_actor(store.as_ref(), acting.org.as_deref()).await?);
            let spinner = ProgressBar::new_spinner();
            spinner.set_message(format!(
                "writing {} entries in one transaction",
                changes.len()
            ));
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            let r = store
                .apply(&changes, &actor, now, false)
                .await
                .map_err(|e| name_line(e, &ids))?;
            spinner.finish_and_clear();
            println!(
                "{list}: {} added, {} updated, {} unchanged (feed at {})",
                r.added, r.updated, r.unchanged, r.last_seq
            );
            Ok(())
        }
        ListCmd::Remove {
            list,
            id,
            imsi,
            owner,
            note,
            acting,
        } => {
            let list = ListKind::parse(&list)?;
            let subject = match list {
                ListKind::BarredTac => Subject::Tac(Tac::parse(&id)?),
                ListKind::Exception => Subject::Pair(
                    Imei::parse_typed(&id)?,
                    Imsi::parse(
                        imsi.as_deref()
                            .context("lifting an exception needs --imsi")?,
                    )?,
                ),
                _ => Subject::Imei(Imei::parse_typed(&id)?),
            };
            let actor =
                AuditContext::local(local_actor(store.as_ref(), acting.org.as_deref()).await?);
            let r = store
                .apply(
                    &[ListChange::Remove {
                        list,
                        subject,
                        owner,
                        note,
                    }],
                    &actor,
                    now,
                    false,
                )
                .await?;
            println!(
                "{list}: {} entries lifted (feed at {})",
                r.removed, r.last_seq
            );
            Ok(())
        }
        ListCmd::Show { what, limit } => {
            if let Ok(list) = ListKind::parse(&what) {
                let entries = store.entries(list, None, limit).await?;
                if list == ListKind::Exception && !entries.is_empty() {
                    // The exception list shows subscribers' IMSIs: recorded before it is shown.
                    let by = AuditContext::local(local_actor(store.as_ref(), None).await?);
                    let entry = ceir_domain::audit::AuditEntry::new(
                        &by,
                        ceir_domain::audit::AuditAction::PersonalDataRead,
                        ceir_domain::audit::ObjectRef::list(list),
                        serde_json::json!({"route": "cli list show", "fields": ["imsi"], "entries": entries.len()}).to_string(),
                    );
                    store.audit_append(&entry, now).await?;
                }
                let total = store
                    .list_counts()
                    .await?
                    .into_iter()
                    .find(|(l, _)| *l == list)
                    .map(|(_, n)| n)
                    .unwrap_or(0);
                println!(
                    "{list}: {total} entries{}",
                    if total > u64::from(limit) {
                        format!(" (first {limit} shown; --limit for more)")
                    } else {
                        String::new()
                    }
                );
                for e in entries {
                    let v = ceir_http::api::EntryView::new(
                        e,
                        &ceir_http::api::SubscriberVisibility::local_admin(),
                    );
                    let id = v.imei.clone().or(v.tac.clone()).unwrap_or_default();
                    println!(
                        "{id:<16} {:<16} {:<13} {:<14} {} {}",
                        v.imsi.unwrap_or_default(),
                        v.reason,
                        v.org,
                        v.created_at,
                        v.reference.unwrap_or_default()
                    );
                }
                return Ok(());
            }
            let imei = Imei::parse_typed(&what).with_context(|| format!("{what:?} is neither a list (blocked, tracked, permitted, exception, barred_tac) nor an IMEI"))?;
            for h in store.history_of(imei.body()).await? {
                let v = ceir_http::api::HistoryView::new(
                    h,
                    &ceir_http::api::SubscriberVisibility::local_admin(),
                );
                println!(
                    "#{:<6} {} {:<7} {:<10} {:<13} entry of {:<14} by {}/{}{}",
                    v.seq,
                    v.at,
                    v.action,
                    v.list,
                    v.reason,
                    v.org,
                    v.actor_org,
                    v.actor_user,
                    v.note.map(|n| format!(" — {n}")).unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

/// Names the file line (or argument) of a change that the store refused.
fn name_line(e: ceir_store::StoreError, ids: &[(String, String)]) -> anyhow::Error {
    let at = match &e {
        ceir_store::StoreError::Rule { index, .. }
        | ceir_store::StoreError::NotListed { index, .. } => {
            ids.get(*index).map(|(a, v)| format!("{a} ({v})"))
        }
        _ => None,
    };
    match at {
        Some(a) => anyhow::Error::new(e).context(format!("refused at {a}; nothing was changed")),
        None => anyhow::Error::new(e),
    }
}

async fn token(cfg: &Config, cmd: TokenCmd) -> Result<()> {
    let store = open_store(cfg).await?;
    let now = SystemClock.now();
    let by = AuditContext::local(local_actor(store.as_ref(), None).await?);
    match cmd {
        TokenCmd::Org {
            id,
            name,
            kind,
            country,
            plmns,
        } => {
            let kind = OrgKind::parse(&kind).context("kind: use regulator, operator, law_enforcement, embassy, manufacturer, bank or partner_node")?;
            let country = ceir_domain::lists::Country::parse(&country)?;
            let home = cfg.country()?;
            if matches!(kind, OrgKind::Embassy | OrgKind::PartnerNode) && country == home {
                bail!("an {kind} on this node belongs to the partner country (it is located in {home}); give --country of the country it represents");
            }
            if !plmns.is_empty() && kind != OrgKind::Operator {
                bail!("--plmn binds networks to an operator; {id} is a {kind}");
            }
            let plmns = plmns
                .iter()
                .map(|p| ceir_domain::ids::Plmn::parse(p).map(|p| p.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .context("--plmn takes MCC-MNC, e.g. 400-01")?;
            store
                .upsert_organisation(
                    &ceir_store::Organisation {
                        id: id.clone(),
                        name,
                        kind,
                        country,
                    },
                    &by,
                    now,
                )
                .await?;
            let known = store.operators().await?;
            for plmn in &plmns {
                let existing = known.iter().find(|o| &o.plmn == plmn);
                store
                    .upsert_operator(
                        &ceir_store::Operator {
                            plmn: plmn.clone(),
                            name: existing.map_or_else(|| id.clone(), |o| o.name.clone()),
                            country: existing.map_or(country, |o| o.country),
                            org: Some(id.clone()),
                        },
                        &by,
                        now,
                    )
                    .await?;
            }
            println!("organisation {id} ({kind}) registered");
            if !plmns.is_empty() {
                println!("networks bound to {id}: {}", plmns.join(", "));
            }
        }
        TokenCmd::Create(a) => machine::create_token(cfg, store.as_ref(), a).await?,
        TokenCmd::List { org } => machine::list_tokens(store.as_ref(), org.as_deref()).await?,
        TokenCmd::Revoke { id } => {
            store.revoke_token(&id, &by, now).await?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

async fn user(cfg: &Config, cmd: UserCmd) -> Result<()> {
    let store = open_store(cfg).await?;
    let now = SystemClock.now();
    let by = AuditContext::local(local_actor(store.as_ref(), None).await?);
    match cmd {
        UserCmd::Add {
            org,
            name,
            role,
            display_name,
            email,
            password_stdin,
            totp,
            oidc_subject,
            oidc_issuer,
        } => {
            let role = Role::parse(&role).context("role: use admin, officer or viewer")?;
            if !password_stdin && oidc_subject.is_none() && email.is_none() {
                bail!("the user could never sign in: give --password-stdin, --oidc-subject or --email");
            }
            let password_hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                let password = line.trim_end_matches(['\r', '\n']);
                Some(ceir_http::credentials::hash_password(password)?)
            } else {
                None
            };
            let (totp_secret, totp_uri) = if totp {
                let (secret, uri) =
                    ceir_http::credentials::new_totp(&format!("{org}/{name}"), "ceir")?;
                (Some(secret), Some(uri))
            } else {
                (None, None)
            };
            let oidc = match oidc_subject {
                None => None,
                Some(subject) => Some(ceir_store::OidcIdentity {
                    issuer: oidc_issuer.or_else(|| cfg.oidc_issuer.clone()).context(
                        "--oidc-subject needs the provider: --oidc-issuer or oidc_issuer in the configuration",
                    )?,
                    subject,
                }),
            };
            let u = store
                .create_user(
                    &ceir_store::NewUser {
                        org,
                        display_name: display_name.unwrap_or_else(|| name.clone()),
                        name,
                        role,
                        email,
                        password_hash,
                        totp_secret,
                        oidc,
                    },
                    &by,
                    now,
                )
                .await?;
            println!(
                "user {} of {} ({}, {}) created",
                u.name,
                u.org.id,
                u.org.kind,
                u.role.as_str()
            );
            if let Some(uri) = totp_uri {
                println!("{uri}");
                eprintln!("add this to an authenticator app now; it is shown once");
            }
        }
        UserCmd::List => {
            for u in store.users().await? {
                let mut how = Vec::new();
                if u.password_hash.is_some() {
                    how.push("password");
                }
                if u.totp_secret.is_some() {
                    how.push("totp");
                }
                if u.oidc.is_some() {
                    how.push("sso-subject");
                }
                if u.email.is_some() {
                    how.push("sso-email");
                }
                let state = if u.is_disabled() {
                    "disabled"
                } else if u.is_locked(now) {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<16} {:<16} {:<8} {:<8} {}",
                    u.org.id,
                    u.name,
                    u.role.as_str(),
                    state,
                    how.join(",")
                );
            }
        }
        UserCmd::Disable { org, name } => {
            store.disable_user(&org, &name, &by, now).await?;
            println!("user {name} of {org} disabled; their sessions are ended");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RedactingWriter;
    use std::io::Write;

    #[test]
    fn log_writer_masks_what_it_is_given() {
        let mut w = RedactingWriter(Vec::new());
        w.write_all(b"store failure: Key (imsi)=(400011234567890) exists; contact a@b.az\n")
            .unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert_eq!(
            out,
            "store failure: Key (imsi)=(***************) exists; contact <email>\n"
        );
    }
}
