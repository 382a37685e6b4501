//! Configuration: defaults, then a TOML file, then `CEIR_*` environment variables, then flags.

use anyhow::{bail, Context, Result};
use ceir_domain::lists::Country;
use ceir_domain::status::UnlistedPolicy;
use ceir_http::signin::SignInConfig;
use ceir_ingest::dirbs_lists::{DirbsList, SizeThreshold};
use ceir_store::StoreConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the HTTP server listens (REST API and N5g-eir on one port).
    pub listen: SocketAddr,
    /// Where the embedded store lives.
    pub data: PathBuf,
    /// A PostgreSQL URL; when set, the store lives there instead of in `data`.
    pub database_url: Option<String>,
    /// The PostgreSQL schema of this node.
    pub database_schema: Option<String>,
    /// This node's country (ISO 3166-1 alpha-2).
    pub country: String,
    /// What devices on no list get: permit, track, block or unknown.
    pub unlisted: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): TLS clients must present a certificate chained to one (mutual TLS).
    pub tls_client_ca: Option<PathBuf>,
    /// N5g-eir requires an OAuth2 access token with scope n5g-eir-eic.
    pub eir_require_oauth: bool,
    /// Lifetime of access tokens issued by POST /oauth2/token, in seconds.
    pub access_token_seconds: i64,
    /// Default lifetime of API tokens, in days (`ceir token create --expires-in` overrides).
    pub token_days: i64,
    /// "text" or "json" logs.
    pub log_format: String,
    /// How often expired entries are lifted, in seconds.
    pub sweep_seconds: u64,
    /// A catalog import may drop at most this share of the current models unless forced.
    pub max_catalog_drop: f64,
    /// The origin browsers use to reach this node (e.g. `https://ceir.example.gov.az`), when a
    /// proxy in front makes it differ from the Host a request carries.
    pub public_origin: Option<String>,
    /// Failed passwords in a row that lock an account...
    pub lockout_failures: u32,
    /// ...for this many minutes.
    pub lockout_minutes: i64,
    /// A staff session's absolute lifetime, in hours.
    pub session_hours: i64,
    /// A staff session unused for this many minutes ends.
    pub session_idle_minutes: i64,
    /// Requests per minute per client address on the public API.
    pub rate_public_per_minute: u32,
    /// Sign-in attempts per minute per client address.
    pub rate_login_per_minute: u32,
    /// OpenID Connect single sign-on: the provider's issuer URL (enables SSO when set).
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<String>,
    /// This node's callback URL, registered at the provider: `<public origin>/auth/oidc/callback`.
    pub oidc_redirect_url: Option<String>,
    /// How an identity finds its provisioned user: "subject" (issuer and subject recorded with
    /// `ceir user add --oidc-subject`) or "email" (a verified e-mail address).
    pub oidc_map: String,
    /// Scopes asked for besides `openid`.
    pub oidc_scopes: Vec<String>,
    /// Where citizens' one-time codes are queued for a mail or SMS relay: one JSON line per
    /// message in `<dir>/outbox.jsonl`. Without it, codes cannot be sent.
    pub outbox_dir: Option<PathBuf>,
    /// Import settings: `[import.operator]` holds the operator data check thresholds.
    pub import: ImportConfig,
    /// The networks of this node's country (`[region]`); by default those of `country`.
    pub region: Option<ceir_domain::observe::Region>,
    /// Operator list generation (`[lists]`).
    pub lists: ListsConfig,
}

/// `[lists]`: DIRBS's `list_generation` settings, under ceir's names or DIRBS's. The defaults
/// and why they were chosen are on [`ceir_lists::ListConfig`]. Whether notification lists carry
/// `amnesty_granted` is not set here: it follows the amnesty of the conditions in force.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListsConfig {
    pub lookback_days: u32,
    #[serde(alias = "restrict_exceptions_list_to_blacklisted_imeis")]
    pub restrict_exceptions_to_blocklisted: bool,
    #[serde(alias = "include_barred_imeis_in_exceptions_list")]
    pub include_barred_in_exceptions: bool,
    pub notify_imsi_change: bool,
}

impl Default for ListsConfig {
    fn default() -> Self {
        let d = ceir_lists::ListConfig::default();
        ListsConfig {
            lookback_days: d.lookback_days,
            restrict_exceptions_to_blocklisted: d.restrict_exceptions_to_blocklisted,
            include_barred_in_exceptions: d.include_barred_in_exceptions,
            notify_imsi_change: d.notify_imsi_change,
        }
    }
}

impl ListsConfig {
    /// The settings list generation runs with, given the amnesty of the conditions in force.
    pub fn list_config(&self, amnesty_enabled: bool) -> ceir_lists::ListConfig {
        ceir_lists::ListConfig {
            lookback_days: self.lookback_days,
            restrict_exceptions_to_blocklisted: self.restrict_exceptions_to_blocklisted,
            include_barred_in_exceptions: self.include_barred_in_exceptions,
            notify_imsi_change: self.notify_imsi_change,
            amnesty_enabled,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    pub operator: ceir_ingest::operator::Thresholds,
    /// `[import.lists.<list>]`: each DIRBS list's import size thresholds.
    pub lists: ListsImportConfig,
}

/// The DIRBS lists' import size thresholds (DIRBS's `*_list_threshold`), each defaulting to
/// DIRBS's own ([`DirbsList::threshold`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListsImportConfig {
    pub stolen: SizeVariation,
    pub registration: SizeVariation,
    pub pairing: SizeVariation,
    pub golden: SizeVariation,
    pub barred: SizeVariation,
    pub barred_tac: SizeVariation,
    pub monitoring: SizeVariation,
}

/// How much one import may shrink a list: at most `size_variation_absolute` rows (-1: no limit)
/// and to no less than `size_variation_percent` of its size (0: no limit).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizeVariation {
    pub size_variation_absolute: Option<i64>,
    pub size_variation_percent: Option<f64>,
}

impl ListsImportConfig {
    /// The import size threshold of `list`: what the configuration gives, else DIRBS's default.
    pub fn threshold(&self, list: DirbsList) -> Result<SizeThreshold> {
        let v = match list {
            DirbsList::Stolen => self.stolen,
            DirbsList::Registration => self.registration,
            DirbsList::Pairing => self.pairing,
            DirbsList::Golden => self.golden,
            DirbsList::Barred => self.barred,
            DirbsList::BarredTac => self.barred_tac,
            DirbsList::Monitoring => self.monitoring,
        };
        let d = list.threshold();
        SizeThreshold::new(
            v.size_variation_absolute.unwrap_or(d.absolute),
            v.size_variation_percent.unwrap_or(d.percent),
        )
        .map_err(|e| anyhow::anyhow!("[import.lists.{list}] {e}"))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("ceir-data"),
            database_url: None,
            database_schema: None,
            country: "AZ".into(),
            unlisted: "permit".into(),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            eir_require_oauth: false,
            access_token_seconds: 3600,
            token_days: 90,
            log_format: "text".into(),
            sweep_seconds: 60,
            max_catalog_drop: 0.1,
            public_origin: None,
            lockout_failures: 5,
            lockout_minutes: 15,
            session_hours: 8,
            session_idle_minutes: 60,
            rate_public_per_minute: 60,
            rate_login_per_minute: 10,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_redirect_url: None,
            oidc_map: "subject".into(),
            oidc_scopes: vec!["email".into(), "profile".into()],
            outbox_dir: None,
            import: ImportConfig::default(),
            region: None,
            lists: ListsConfig::default(),
        }
    }
}

/// The command-line values that override the rest.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "CEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// PostgreSQL URL (instead of the embedded store).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
}

impl Config {
    pub fn load(o: &Overrides) -> Result<Config> {
        let mut c = match &o.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| {
                    format!("cannot read the configuration file {}", p.display())
                })?;
                toml::from_str(&text)
                    .with_context(|| format!("{} is not a valid ceir configuration", p.display()))?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        if let Some(d) = &o.data {
            c.data = d.clone();
        }
        if let Some(u) = &o.database_url {
            c.database_url = Some(u.clone());
        }
        c.validate()?;
        Ok(c)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = get("CEIR_LISTEN") {
            self.listen = v.parse().with_context(|| {
                format!("CEIR_LISTEN={v} is not an address like 127.0.0.1:8080")
            })?;
        }
        if let Some(v) = get("CEIR_DATA") {
            self.data = v.into();
        }
        if let Some(v) = get("CEIR_DATABASE_URL").filter(|v| !v.is_empty()) {
            self.database_url = Some(v);
        }
        if let Some(v) = get("CEIR_DATABASE_SCHEMA") {
            self.database_schema = Some(v);
        }
        if let Some(v) = get("CEIR_COUNTRY") {
            self.country = v;
        }
        if let Some(v) = get("CEIR_UNLISTED") {
            self.unlisted = v;
        }
        if let Some(v) = get("CEIR_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = get("CEIR_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
        if let Some(v) = get("CEIR_TLS_CLIENT_CA") {
            self.tls_client_ca = Some(v.into());
        }
        if let Some(v) = get("CEIR_EIR_REQUIRE_OAUTH") {
            self.eir_require_oauth = v
                .parse()
                .with_context(|| format!("CEIR_EIR_REQUIRE_OAUTH={v}: use true or false"))?;
        }
        if let Some(v) = get("CEIR_ACCESS_TOKEN_SECONDS") {
            self.access_token_seconds = v.parse().with_context(|| {
                format!("CEIR_ACCESS_TOKEN_SECONDS={v}: give a number of seconds")
            })?;
        }
        if let Some(v) = get("CEIR_TOKEN_DAYS") {
            self.token_days = v
                .parse()
                .with_context(|| format!("CEIR_TOKEN_DAYS={v}: give a number of days"))?;
        }
        if let Some(v) = get("CEIR_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("CEIR_PUBLIC_ORIGIN") {
            self.public_origin = Some(v);
        }
        for (key, field) in [
            ("CEIR_OIDC_ISSUER", &mut self.oidc_issuer),
            ("CEIR_OIDC_CLIENT_ID", &mut self.oidc_client_id),
            ("CEIR_OIDC_CLIENT_SECRET", &mut self.oidc_client_secret),
            ("CEIR_OIDC_REDIRECT_URL", &mut self.oidc_redirect_url),
        ] {
            if let Some(v) = get(key).filter(|v| !v.is_empty()) {
                *field = Some(v);
            }
        }
        if let Some(v) = get("CEIR_OIDC_MAP") {
            self.oidc_map = v;
        }
        if let Some(v) = get("CEIR_OUTBOX_DIR").filter(|v| !v.is_empty()) {
            self.outbox_dir = Some(v.into());
        }
        if let Some(v) = get("CEIR_LISTS_LOOKBACK_DAYS") {
            self.lists.lookback_days = v
                .parse()
                .with_context(|| format!("CEIR_LISTS_LOOKBACK_DAYS={v}: give a number of days"))?;
        }
        for (key, field) in [
            (
                "CEIR_LISTS_RESTRICT_EXCEPTIONS_TO_BLOCKLISTED",
                &mut self.lists.restrict_exceptions_to_blocklisted,
            ),
            (
                "CEIR_LISTS_INCLUDE_BARRED_IN_EXCEPTIONS",
                &mut self.lists.include_barred_in_exceptions,
            ),
            (
                "CEIR_LISTS_NOTIFY_IMSI_CHANGE",
                &mut self.lists.notify_imsi_change,
            ),
        ] {
            if let Some(v) = get(key) {
                *field = v
                    .parse()
                    .with_context(|| format!("{key}={v}: use true or false"))?;
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        self.country()?;
        self.policy()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("TLS needs both tls_cert and tls_key (or neither)");
        }
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() {
            bail!("tls_client_ca (mutual TLS) needs tls_cert and tls_key");
        }
        if !(60..=86_400).contains(&self.access_token_seconds) {
            bail!("access_token_seconds must be between 60 and 86400");
        }
        if self.token_days <= 0 {
            bail!("token_days must be positive; use `ceir token create --no-expiry` for a token that never expires");
        }
        if !(0.0..=1.0).contains(&self.max_catalog_drop) {
            bail!("max_catalog_drop must be between 0 and 1");
        }
        // The window is loaded into memory whole; ten years is beyond any use.
        if !(1..=3660).contains(&self.lists.lookback_days) {
            bail!(
                "lists.lookback_days is {}: give a number of days between 1 and 3660",
                self.lists.lookback_days
            );
        }
        for list in DirbsList::ALL {
            self.import.lists.threshold(list)?;
        }
        self.sign_in()?;
        Ok(())
    }

    /// Sign-in, session, rate-limit and single sign-on settings for the HTTP layer.
    pub fn sign_in(&self) -> Result<SignInConfig> {
        use ceir_http::oidc::{OidcConfig, OidcMapping};
        use ceir_http::websec::RateLimit;
        if self.lockout_failures == 0 || self.lockout_minutes <= 0 {
            bail!("lockout_failures and lockout_minutes must be positive");
        }
        if self.session_hours <= 0 || self.session_idle_minutes <= 0 {
            bail!("session_hours and session_idle_minutes must be positive");
        }
        if self.rate_public_per_minute == 0 || self.rate_login_per_minute == 0 {
            bail!("rate_public_per_minute and rate_login_per_minute must be positive");
        }
        let oidc = match &self.oidc_issuer {
            None => None,
            Some(issuer) => {
                let (Some(client_id), Some(redirect_url)) =
                    (&self.oidc_client_id, &self.oidc_redirect_url)
                else {
                    bail!("single sign-on needs oidc_client_id and oidc_redirect_url beside oidc_issuer");
                };
                let mapping = OidcMapping::parse(&self.oidc_map).with_context(|| {
                    format!("oidc_map = {:?}: use subject or email", self.oidc_map)
                })?;
                Some(OidcConfig {
                    issuer_url: issuer.clone(),
                    client_id: client_id.clone(),
                    client_secret: self.oidc_client_secret.clone(),
                    redirect_url: redirect_url.clone(),
                    mapping,
                    scopes: self.oidc_scopes.clone(),
                })
            }
        };
        let rate = |per_minute| RateLimit {
            per_minute,
            burst: per_minute,
        };
        Ok(SignInConfig {
            max_failures: self.lockout_failures,
            lockout_ms: self.lockout_minutes.saturating_mul(60_000),
            session_ttl_ms: self.session_hours.saturating_mul(3_600_000),
            session_idle_ms: self.session_idle_minutes.saturating_mul(60_000),
            public_rate: rate(self.rate_public_per_minute),
            login_rate: rate(self.rate_login_per_minute),
            tls: self.tls_cert.is_some(),
            public_origin: self.public_origin.clone(),
            oidc,
        })
    }

    /// `[region]`, or the networks `Region::default_for` knows for the node's country.
    pub fn region(&self) -> Result<ceir_domain::observe::Region> {
        match &self.region {
            Some(r) => Ok(r.clone()),
            None => ceir_domain::observe::Region::default_for(&self.country).with_context(|| {
                format!(
                    "no default networks for the country {:?}: describe them under [region] in the \
                     config (country_codes, mccs, operators)",
                    self.country
                )
            }),
        }
    }

    pub fn country(&self) -> Result<Country> {
        Country::parse(&self.country)
            .map_err(|e| anyhow::anyhow!("country {:?}: {e}", self.country))
    }

    pub fn policy(&self) -> Result<UnlistedPolicy> {
        UnlistedPolicy::parse(&self.unlisted).with_context(|| {
            format!(
                "unlisted = {:?}: use permit, track, block or unknown",
                self.unlisted
            )
        })
    }

    pub fn store(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::Postgres {
                url: url.clone(),
                schema: self.database_schema.clone(),
            },
            None => StoreConfig::Sqlite {
                path: self.data.join("ceir.db"),
            },
        }
    }

    pub fn ensure_data_dir(&self) -> Result<()> {
        if self.database_url.is_none() {
            create_dir(&self.data)?;
        }
        Ok(())
    }
}

pub fn create_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p)
        .with_context(|| format!("cannot create the data directory {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let mut c: Config =
            toml::from_str("listen = \"0.0.0.0:9000\"\ncountry = \"UZ\"\nunlisted = \"track\"")
                .unwrap();
        assert_eq!(c.listen.port(), 9000);
        c.apply_env(|k| (k == "CEIR_UNLISTED").then(|| "unknown".to_owned()))
            .unwrap();
        assert_eq!(c.policy().unwrap(), UnlistedPolicy::Unknown);
        assert_eq!(c.country().unwrap(), Country::UZ);
    }

    #[test]
    fn bad_values_say_what_to_do() {
        let e = toml::from_str::<Config>("listen = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");
        let c = Config {
            unlisted: "maybe".into(),
            ..Config::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("permit, track, block or unknown"));
        assert!(
            toml::from_str::<Config>("lisen = \"x\"").is_err(),
            "unknown keys are refused"
        );
        let c: Config = toml::from_str("tls_client_ca = \"ca.pem\"").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("tls_cert"));
        let mut c = Config::default();
        assert!(!c.eir_require_oauth);
        assert_eq!(c.token_days, 90);
        c.apply_env(|k| (k == "CEIR_EIR_REQUIRE_OAUTH").then(|| "yes".to_owned()))
            .unwrap_err();
        c.apply_env(|k| (k == "CEIR_EIR_REQUIRE_OAUTH").then(|| "true".to_owned()))
            .unwrap();
        assert!(c.eir_require_oauth);
        assert_eq!(c.outbox_dir, None);
        c.apply_env(|k| (k == "CEIR_OUTBOX_DIR").then(|| "/var/spool/ceir".to_owned()))
            .unwrap();
        assert_eq!(c.outbox_dir, Some(PathBuf::from("/var/spool/ceir")));
        let c: Config = toml::from_str("outbox_dir = \"spool\"").unwrap();
        assert_eq!(c.outbox_dir, Some(PathBuf::from("spool")));
    }

    #[test]
    fn list_settings_come_from_defaults_then_the_file_then_the_environment() {
        let d = Config::default().lists.list_config(false);
        assert_eq!(d, ceir_lists::ListConfig::default());
        assert_eq!((d.lookback_days, d.notify_imsi_change), (60, true));
        // DIRBS's names are accepted, so its list_generation block translates as is.
        let mut c: Config = toml::from_str(
            "[lists]\nlookback_days = 180\nrestrict_exceptions_list_to_blacklisted_imeis = true\n\
             include_barred_imeis_in_exceptions_list = true\nnotify_imsi_change = false",
        )
        .unwrap();
        c.validate().unwrap();
        let l = c.lists.list_config(true);
        assert_eq!(
            l,
            ceir_lists::ListConfig {
                lookback_days: 180,
                restrict_exceptions_to_blocklisted: true,
                include_barred_in_exceptions: true,
                notify_imsi_change: false,
                amnesty_enabled: true,
            }
        );
        c.apply_env(|k| match k {
            "CEIR_LISTS_LOOKBACK_DAYS" => Some("90".into()),
            "CEIR_LISTS_NOTIFY_IMSI_CHANGE" => Some("true".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (c.lists.lookback_days, c.lists.notify_imsi_change),
            (90, true)
        );
        assert!(
            c.lists.restrict_exceptions_to_blocklisted,
            "kept from the file"
        );
        let e = c
            .apply_env(|k| (k == "CEIR_LISTS_INCLUDE_BARRED_IN_EXCEPTIONS").then(|| "yes".into()))
            .unwrap_err();
        assert!(format!("{e:#}").contains("use true or false"), "{e:#}");
        let c: Config = toml::from_str("[lists]\nlookback_days = 0").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("between 1 and 3660"), "{e}");
        assert!(toml::from_str::<Config>("[lists]\namnesty_enabled = true").is_err());
    }

    #[test]
    fn list_size_thresholds_default_to_dirbs_and_are_configurable() {
        let c = Config::default();
        let t = |c: &Config, l| c.import.lists.threshold(l).unwrap();
        // DIRBS's MonitoringListThresholdConfig: -1 and 0.75; only pairing has 1000 and 0.95.
        assert_eq!(
            t(&c, DirbsList::Monitoring),
            SizeThreshold {
                absolute: -1,
                percent: 0.75
            }
        );
        assert_eq!(
            t(&c, DirbsList::Pairing),
            SizeThreshold {
                absolute: 1000,
                percent: 0.95
            }
        );
        let c: Config = toml::from_str(
            "[import.lists.monitoring]\nsize_variation_absolute = 10\n\
             [import.lists.barred_tac]\nsize_variation_percent = 0.5\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            t(&c, DirbsList::Monitoring),
            SizeThreshold {
                absolute: 10,
                percent: 0.75
            }
        );
        assert_eq!(t(&c, DirbsList::BarredTac).percent, 0.5);
        assert_eq!(t(&c, DirbsList::Stolen), DirbsList::Stolen.threshold());
        let c: Config =
            toml::from_str("[import.lists.stolen]\nsize_variation_percent = 1.5\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("[import.lists.stolen] size_variation_percent = 1.5"),
            "{e}"
        );
        let c: Config =
            toml::from_str("[import.lists.golden]\nsize_variation_absolute = -2\n").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("[import.lists.stolen]\nsize = 1\n").is_err());
        assert!(toml::from_str::<Config>("[import.lists.lost]\n").is_err());
    }

    #[test]
    fn single_sign_on_needs_client_and_callback() {
        let mut c: Config = toml::from_str(
            "oidc_issuer = \"https://id.gov.az\"\noidc_client_id = \"ceir\"\nlockout_failures = 3",
        )
        .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("oidc_redirect_url"), "{e}");
        c.apply_env(|k| {
            (k == "CEIR_OIDC_REDIRECT_URL").then(|| "https://ceir.gov.az/auth/oidc/callback".into())
        })
        .unwrap();
        let s = c.sign_in().unwrap();
        assert_eq!(s.max_failures, 3);
        let o = s.oidc.unwrap();
        assert_eq!(o.mapping, ceir_http::oidc::OidcMapping::Subject);
        assert_eq!(o.redirect_url, "https://ceir.gov.az/auth/oidc/callback");
        c.oidc_map = "name".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("subject or email"));
    }
}
