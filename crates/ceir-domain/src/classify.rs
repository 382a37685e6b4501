//! Classification rules: conditions configured in TOML, and the DIRBS dimensions as pure
//! functions over one IMEI's facts.
//!
//! A dimension returns a [`Measure`]: whether it matched plus the numbers that decided it. The
//! engine keeps only `matched`; `ceir explain` renders the same measure with
//! [`Measure::explain`], so the text a person reads is computed by the code that classified.
//!
//! Where DIRBS-Core's SQL has a quirk that changes decisions (whole triplet spans in window
//! filters, a catalog join that drops unknown TACs when device types are exempted), it is
//! reproduced and said so, because a country moving from DIRBS must get the same decisions from
//! the same data.

use crate::catalog::TacModel;
use crate::observe::{window_mask, Day, Generation, Generations, ImeiKey, ImeiSeen, Triplet};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

// ------------------------------------------------------------------------------------------------
// Configuration
// ------------------------------------------------------------------------------------------------

/// Why a conditions file was refused. The message names the condition and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conditions: {0}")]
pub struct ConfigError(pub String);

fn cfg_err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// The conditions file as written (TOML), before validation.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    amnesty: RawAmnesty,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmnesty {
    #[serde(default)]
    enabled: bool,
    evaluation_period_end_date: Option<String>,
    amnesty_period_end_date: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    label: String,
    dimensions: Vec<RawDimension>,
    /// DIRBS's default: a condition that does not say blocks 30 days after it first matches.
    #[serde(default = "default_grace")]
    grace_period_days: u32,
    #[serde(default)]
    blocking: bool,
    #[serde(default)]
    sticky: bool,
    reason: String,
    /// DIRBS's default.
    #[serde(default = "default_ratio")]
    max_allowed_matching_ratio: f64,
    #[serde(default)]
    amnesty_eligible: bool,
}

fn default_grace() -> u32 {
    30
}

fn default_ratio() -> f64 {
    0.1
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDimension {
    module: String,
    #[serde(default)]
    parameters: toml::Table,
    #[serde(default)]
    invert: bool,
}

/// The amnesty programme (DIRBS `amnesty`): devices matching an amnesty-eligible blocking
/// condition up to the end of the evaluation period are not blocked before the amnesty ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Amnesty {
    pub enabled: bool,
    pub evaluation_period_end_date: Option<Day>,
    pub amnesty_period_end_date: Option<Day>,
}

impl Amnesty {
    /// `date` is within the evaluation period (inclusive end).
    pub fn in_evaluation(&self, date: Day) -> bool {
        self.enabled && self.evaluation_period_end_date.is_some_and(|e| date <= e)
    }
    /// `date` is after the evaluation period and within the amnesty period (inclusive end).
    pub fn in_amnesty_period(&self, date: Day) -> bool {
        match (
            self.enabled,
            self.evaluation_period_end_date,
            self.amnesty_period_end_date,
        ) {
            (true, Some(e), Some(a)) => date > e && date <= a,
            _ => false,
        }
    }
}

/// A validated set of conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    pub amnesty: Amnesty,
    pub conditions: Vec<Condition>,
}

/// One condition: the intersection of its dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub label: String,
    pub dimensions: Vec<DimensionSpec>,
    pub grace_period_days: u32,
    pub blocking: bool,
    pub sticky: bool,
    pub reason: String,
    pub max_allowed_matching_ratio: f64,
    pub amnesty_eligible: bool,
}

/// A dimension as used in a condition, possibly inverted.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionSpec {
    pub dimension: Dimension,
    pub invert: bool,
}

/// A look-back period: DIRBS accepts days or calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Months(u32),
}

impl Period {
    /// The inclusive window `[start, date]` this period covers, as DIRBS computes it: the end is
    /// the day after `date` (exclusive) and the start that minus the period.
    pub fn window(self, date: Day) -> (Day, Day) {
        let end_excl = date.plus(1);
        let start = match self {
            Period::Days(n) => end_excl.plus(-(n as i32)),
            Period::Months(n) => minus_months(end_excl, n),
        };
        (start, date)
    }

    fn describe(self) -> String {
        match self {
            Period::Days(n) => format!("{n} days"),
            Period::Months(n) => format!("{n} months"),
        }
    }
}

/// `day` minus `n` calendar months, the day of month clamped as `relativedelta` does.
fn minus_months(day: Day, n: u32) -> Day {
    let (y, m, d) = day.ymd();
    let total = y * 12 + (m as i32 - 1) - n as i32;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let nd = d.min(crate::observe::days_in_month(ny, nm));
    Day::from_ymd(ny, nm, nd).unwrap_or(day)
}

/// Every dimension ceir knows, with its parameters. Module names are DIRBS's.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    MalformedImei,
    IsTestTac,
    /// TAC not in the catalog, unless first seen less than the reporting body's delay ago.
    GsmaNotFound {
        /// Delay in days per reporting body (first two IMEI digits), 0 when absent.
        delays: Box<[u32; 100]>,
    },
    DuplicateThreshold {
        threshold: u32,
        period: Period,
        use_msisdn: bool,
    },
    DuplicateDailyAvg {
        threshold: f64,
        period: Period,
        min_seen_days: u32,
        use_msisdn: bool,
    },
    TransientImei {
        period_days: u32,
        num_msisdns: u32,
    },
    InconsistentRat,
    StolenList,
    NotOnRegistrationList {
        /// Device types (catalog wording, case-insensitive) that need no registration.
        exempted_device_types: Vec<String>,
    },
    ExistsInBarredList,
    IsBarredTac,
    ExistsInMonitoringList,
}

/// The module names, in the order the default conditions file uses them.
pub const MODULES: [&str; 12] = [
    "malformed_imei",
    "is_test_tac",
    "gsma_not_found",
    "duplicate_threshold",
    "duplicate_daily_avg",
    "transient_imei",
    "inconsistent_rat",
    "stolen_list",
    "not_on_registration_list",
    "exists_in_barred_list",
    "is_barred_tac",
    "exists_in_monitoring_list",
];

/// DIRBS's default reporting-body delays, from its analysis of GSMA allocation lag.
const DEFAULT_RBI_DELAYS: [(u8, u32); 6] =
    [(0, 32), (1, 40), (35, 20), (86, 19), (91, 20), (99, 69)];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GsmaParams {
    #[serde(default)]
    per_rbi_delays: HashMap<String, i64>,
    #[serde(default)]
    ignore_rbi_delays: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateParams {
    threshold: f64,
    period_days: Option<i64>,
    period_months: Option<i64>,
    min_seen_days: Option<i64>,
    #[serde(default)]
    use_msisdn: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TransientParams {
    period: i64,
    num_msisdns: i64,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationParams {
    #[serde(default)]
    exempted_device_types: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

impl Dimension {
    /// The DIRBS module name.
    pub fn module(&self) -> &'static str {
        match self {
            Dimension::MalformedImei => "malformed_imei",
            Dimension::IsTestTac => "is_test_tac",
            Dimension::GsmaNotFound { .. } => "gsma_not_found",
            Dimension::DuplicateThreshold { .. } => "duplicate_threshold",
            Dimension::DuplicateDailyAvg { .. } => "duplicate_daily_avg",
            Dimension::TransientImei { .. } => "transient_imei",
            Dimension::InconsistentRat => "inconsistent_rat",
            Dimension::StolenList => "stolen_list",
            Dimension::NotOnRegistrationList { .. } => "not_on_registration_list",
            Dimension::ExistsInBarredList => "exists_in_barred_list",
            Dimension::IsBarredTac => "is_barred_tac",
            Dimension::ExistsInMonitoringList => "exists_in_monitoring_list",
        }
    }

    /// Builds a dimension from its module name and TOML parameters, with DIRBS's checks.
    pub fn from_parts(module: &str, params: &toml::Table) -> Result<Dimension, String> {
        fn parse<T: serde::de::DeserializeOwned>(p: &toml::Table) -> Result<T, String> {
            toml::Value::Table(p.clone())
                .try_into()
                .map_err(|e: toml::de::Error| e.message().to_owned())
        }
        let positive = |name: &str, v: i64| -> Result<u32, String> {
            u32::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} must be a positive whole number, not {v}"))
        };
        Ok(match module {
            "malformed_imei"
            | "is_test_tac"
            | "inconsistent_rat"
            | "stolen_list"
            | "exists_in_barred_list"
            | "is_barred_tac"
            | "exists_in_monitoring_list" => {
                parse::<NoParams>(params)?;
                match module {
                    "malformed_imei" => Dimension::MalformedImei,
                    "is_test_tac" => Dimension::IsTestTac,
                    "inconsistent_rat" => Dimension::InconsistentRat,
                    "stolen_list" => Dimension::StolenList,
                    "exists_in_barred_list" => Dimension::ExistsInBarredList,
                    "is_barred_tac" => Dimension::IsBarredTac,
                    _ => Dimension::ExistsInMonitoringList,
                }
            }
            "gsma_not_found" => {
                let p: GsmaParams = parse(params)?;
                if p.ignore_rbi_delays && !p.per_rbi_delays.is_empty() {
                    return Err(
                        "ignore_rbi_delays cannot be true when per_rbi_delays is given".into(),
                    );
                }
                let mut delays = Box::new([0u32; 100]);
                if !p.ignore_rbi_delays {
                    for (rbi, d) in DEFAULT_RBI_DELAYS {
                        delays[rbi as usize] = d;
                    }
                }
                for (rbi, d) in &p.per_rbi_delays {
                    let idx = (rbi.len() == 2 && rbi.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| rbi.parse::<usize>().ok())
                        .flatten()
                        .ok_or_else(|| {
                            format!("per_rbi_delays: the reporting body {rbi:?} must be 2 digits")
                        })?;
                    delays[idx] = u32::try_from(*d).map_err(|_| {
                        format!("per_rbi_delays: the delay {d} for {rbi} must be 0 or more days")
                    })?;
                }
                Dimension::GsmaNotFound { delays }
            }
            "duplicate_threshold" | "duplicate_daily_avg" => {
                let p: DuplicateParams = parse(params)?;
                let period = match (p.period_days, p.period_months) {
                    (Some(d), None) => Period::Days(positive("period_days", d)?),
                    (None, Some(m)) => Period::Months(positive("period_months", m)?),
                    _ => return Err("give exactly one of period_days and period_months".into()),
                };
                if module == "duplicate_threshold" {
                    if p.min_seen_days.is_some() {
                        return Err("min_seen_days belongs to duplicate_daily_avg".into());
                    }
                    if p.threshold.fract() != 0.0
                        || p.threshold < 1.0
                        || p.threshold > f64::from(u32::MAX)
                    {
                        return Err(format!(
                            "threshold must be a positive whole number, not {}",
                            p.threshold
                        ));
                    }
                    Dimension::DuplicateThreshold {
                        threshold: p.threshold as u32,
                        period,
                        use_msisdn: p.use_msisdn,
                    }
                } else {
                    let min = p
                        .min_seen_days
                        .ok_or("duplicate_daily_avg needs min_seen_days")?;
                    let min_seen_days = u32::try_from(min)
                        .map_err(|_| format!("min_seen_days must be 0 or more, not {min}"))?;
                    if let Period::Days(d) = period {
                        if min_seen_days > d {
                            return Err(format!(
                                "min_seen_days ({min_seen_days}) is greater than period_days ({d})"
                            ));
                        }
                    }
                    if !(p.threshold > 0.0 && p.threshold.is_finite()) {
                        return Err(format!(
                            "threshold must be a positive number, not {}",
                            p.threshold
                        ));
                    }
                    Dimension::DuplicateDailyAvg {
                        threshold: p.threshold,
                        period,
                        min_seen_days,
                        use_msisdn: p.use_msisdn,
                    }
                }
            }
            "transient_imei" => {
                let p: TransientParams = parse(params)?;
                Dimension::TransientImei {
                    period_days: positive("period", p.period)?,
                    num_msisdns: positive("num_msisdns", p.num_msisdns)?,
                }
            }
            "not_on_registration_list" => {
                let p: RegistrationParams = parse(params)?;
                Dimension::NotOnRegistrationList {
                    exempted_device_types: p.exempted_device_types,
                }
            }
            other => {
                return Err(format!(
                    "unknown dimension module {other:?}; known: {}",
                    MODULES.join(", ")
                ))
            }
        })
    }

    /// The longest look-back this dimension needs, in days (0: uses whatever data is loaded).
    pub fn lookback_days(&self) -> u32 {
        match self {
            Dimension::DuplicateThreshold { period, .. }
            | Dimension::DuplicateDailyAvg { period, .. } => match period {
                Period::Days(d) => *d,
                Period::Months(m) => m.saturating_mul(31),
            },
            Dimension::TransientImei { period_days, .. } => *period_days,
            _ => 0,
        }
    }
}

fn parse_date(field: &str, s: &str) -> Result<Day, ConfigError> {
    Day::parse_iso(s)
        .or_else(|| Day::parse_yyyymmdd(s.as_bytes()))
        .ok_or_else(|| cfg_err(format!("amnesty.{field}: {s:?} is not a date (yyyy-mm-dd)")))
}

impl Conditions {
    /// Reads and checks a conditions file.
    pub fn from_toml(text: &str) -> Result<Conditions, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| cfg_err(e.to_string()))?;
        let amnesty = if raw.amnesty.enabled {
            let e = raw
                .amnesty
                .evaluation_period_end_date
                .as_deref()
                .ok_or_else(|| {
                    cfg_err("amnesty is enabled but evaluation_period_end_date is missing")
                })?;
            let a = raw
                .amnesty
                .amnesty_period_end_date
                .as_deref()
                .ok_or_else(|| {
                    cfg_err("amnesty is enabled but amnesty_period_end_date is missing")
                })?;
            let (e, a) = (
                parse_date("evaluation_period_end_date", e)?,
                parse_date("amnesty_period_end_date", a)?,
            );
            if a <= e {
                return Err(cfg_err(format!(
                    "amnesty_period_end_date ({a}) must be after evaluation_period_end_date ({e})"
                )));
            }
            Amnesty {
                enabled: true,
                evaluation_period_end_date: Some(e),
                amnesty_period_end_date: Some(a),
            }
        } else {
            Amnesty::default()
        };
        let mut seen = HashSet::new();
        let mut conditions = Vec::with_capacity(raw.conditions.len());
        for c in raw.conditions {
            let label = c.label.trim().to_owned();
            if label.is_empty()
                || !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(cfg_err(format!(
                    "the label {:?} must be letters, digits, '_' or '-'",
                    c.label
                )));
            }
            if !seen.insert(label.clone()) {
                return Err(cfg_err(format!("the label {label:?} is used twice")));
            }
            if c.dimensions.is_empty() {
                return Err(cfg_err(format!(
                    "condition {label}: it needs at least one dimension"
                )));
            }
            if !(c.max_allowed_matching_ratio > 0.0 && c.max_allowed_matching_ratio <= 1.0) {
                return Err(cfg_err(format!(
                    "condition {label}: max_allowed_matching_ratio must be in (0, 1], not {}",
                    c.max_allowed_matching_ratio
                )));
            }
            if c.reason.trim().is_empty() {
                return Err(cfg_err(format!("condition {label}: reason is empty")));
            }
            let mut dims = Vec::with_capacity(c.dimensions.len());
            for d in &c.dimensions {
                let dimension = Dimension::from_parts(&d.module, &d.parameters).map_err(|e| {
                    cfg_err(format!("condition {label}, dimension {}: {e}", d.module))
                })?;
                dims.push(DimensionSpec {
                    dimension,
                    invert: d.invert,
                });
            }
            conditions.push(Condition {
                label,
                dimensions: dims,
                grace_period_days: c.grace_period_days,
                blocking: c.blocking,
                sticky: c.sticky,
                reason: c.reason,
                max_allowed_matching_ratio: c.max_allowed_matching_ratio,
                amnesty_eligible: c.amnesty_eligible,
            });
        }
        Ok(Conditions {
            amnesty,
            conditions,
        })
    }

    /// The longest look-back any dimension needs, in days.
    pub fn lookback_days(&self) -> u32 {
        self.conditions
            .iter()
            .flat_map(|c| c.dimensions.iter())
            .map(|d| d.dimension.lookback_days())
            .max()
            .unwrap_or(0)
    }
}

// ------------------------------------------------------------------------------------------------
// Inputs: catalog and list memberships
// ------------------------------------------------------------------------------------------------

/// What classification needs to know about a TAC's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TacInfo {
    /// "Brand Model", for explanations.
    pub name: String,
    /// The radio generations of the model: the union over every TAC of the same manufacturer and
    /// model name, as DIRBS computes it.
    pub generations: Generations,
    /// Manufacturer (or brand) and model name are known. DIRBS leaves other TACs out of the
    /// inconsistent RAT check; a known model whose bands name no generation is capable of none.
    pub capability_known: bool,
    pub device_type: Option<String>,
}

/// A fast, deterministic hasher for integer keys (FxHash's multiply): SipHash would cost more
/// than the rest of classifying an IMEI.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        // splitmix64's finaliser: hash tables index by the low bits, which a multiply alone
        // leaves correlated for keys such as IMEIs (TAC × 10^6 + serial).
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
pub type IntSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

/// The TAC catalog as classification sees it.
#[derive(Debug, Clone, Default)]
pub struct ModelCatalog {
    tacs: IntMap<u32, TacInfo>,
}

impl ModelCatalog {
    /// Builds the catalog; a model's generations are OR-ed over every TAC that shares its
    /// manufacturer (or brand) and model name.
    pub fn from_models<'a>(models: impl IntoIterator<Item = &'a TacModel>) -> ModelCatalog {
        let models: Vec<&TacModel> = models.into_iter().collect();
        let key = |m: &TacModel| -> Option<(String, String)> {
            let maker = m
                .manufacturer
                .as_deref()
                .unwrap_or(&m.brand)
                .trim()
                .to_ascii_lowercase();
            let model = m.model.trim().to_ascii_lowercase();
            (!maker.is_empty() && !model.is_empty()).then_some((maker, model))
        };
        let mut per_model: HashMap<(String, String), u8> = HashMap::new();
        for m in &models {
            if let Some(k) = key(m) {
                *per_model.entry(k).or_default() |= m.radios.bits();
            }
        }
        let mut tacs = IntMap::default();
        for m in models {
            let (generations, known) = match key(m) {
                Some(k) => (Generations(per_model.get(&k).copied().unwrap_or(0)), true),
                None => (Generations(m.radios.bits()), false),
            };
            let name = format!("{} {}", m.brand.trim(), m.model.trim())
                .trim()
                .to_owned();
            tacs.insert(
                m.tac.get(),
                TacInfo {
                    name,
                    generations,
                    capability_known: known,
                    device_type: m.device_type.as_deref().map(|t| t.trim().to_owned()),
                },
            );
        }
        ModelCatalog { tacs }
    }

    pub fn insert(&mut self, tac: u32, info: TacInfo) {
        self.tacs.insert(tac, info);
    }
    pub fn get(&self, tac: u32) -> Option<&TacInfo> {
        self.tacs.get(&tac)
    }
    pub fn len(&self) -> usize {
        self.tacs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tacs.is_empty()
    }
}

/// The lists an IMEI is on, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ListFlags(pub u8);

impl ListFlags {
    /// Blocked as stolen or lost.
    pub const STOLEN: ListFlags = ListFlags(1);
    /// On the permitted (registration) list.
    pub const REGISTERED: ListFlags = ListFlags(2);
    /// Blocked for another reason (DIRBS barred list).
    pub const BARRED: ListFlags = ListFlags(4);
    /// Tracked (DIRBS monitoring list).
    pub const MONITORING: ListFlags = ListFlags(8);
    /// Its TAC is barred.
    pub const BARRED_TAC: ListFlags = ListFlags(16);
    /// Golden list: never blocked (list generation applies it).
    pub const GOLDEN: ListFlags = ListFlags(32);

    const NAMES: [(ListFlags, &'static str); 6] = [
        (ListFlags::STOLEN, "stolen/lost"),
        (ListFlags::REGISTERED, "registration"),
        (ListFlags::BARRED, "barred"),
        (ListFlags::MONITORING, "monitoring"),
        (ListFlags::BARRED_TAC, "barred TAC"),
        (ListFlags::GOLDEN, "golden"),
    ];

    /// What an IMEI entry on a registry list means for classification: blocked as stolen or
    /// lost is DIRBS's stolen list, blocked for any other reason its barred list, permitted its
    /// registration list, tracked its monitoring list.
    pub fn of_entry(
        list: crate::lists::ListKind,
        reason: crate::lists::Reason,
    ) -> Option<ListFlags> {
        use crate::lists::{ListKind, Reason};
        match list {
            ListKind::Blocked if matches!(reason, Reason::Stolen | Reason::Lost) => {
                Some(ListFlags::STOLEN)
            }
            ListKind::Blocked => Some(ListFlags::BARRED),
            ListKind::Permitted => Some(ListFlags::REGISTERED),
            ListKind::Tracked => Some(ListFlags::MONITORING),
            ListKind::Exception | ListKind::BarredTac => None,
        }
    }

    pub const fn has(self, f: ListFlags) -> bool {
        self.0 & f.0 != 0
    }
    pub const fn with(self, f: ListFlags) -> ListFlags {
        ListFlags(self.0 | f.0)
    }
    pub fn names(self) -> Vec<&'static str> {
        ListFlags::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

/// Which IMEIs (14-digit bodies) and TACs are on which list.
///
/// Kept as sorted vectors: classification visits IMEIs in order, so a [`MembershipCursor`]
/// walks them in step instead of probing a hash table a million times.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    imeis: Vec<(u64, ListFlags)>,
    barred_tacs: Vec<u32>,
}

impl Memberships {
    /// Builds the memberships from (IMEI body, list) pairs in any order, repeats allowed.
    pub fn from_lists(mut imeis: Vec<(u64, ListFlags)>, mut barred_tacs: Vec<u32>) -> Memberships {
        imeis.sort_unstable_by_key(|e| e.0);
        imeis.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 = kept.1.with(later.1);
                true
            } else {
                false
            }
        });
        barred_tacs.sort_unstable();
        barred_tacs.dedup();
        Memberships { imeis, barred_tacs }
    }

    /// Adds one membership (for small sets and tests; use [`Memberships::from_lists`] in bulk).
    pub fn insert(&mut self, imei_body: u64, list: ListFlags) {
        match self.imeis.binary_search_by_key(&imei_body, |e| e.0) {
            Ok(i) => self.imeis[i].1 = self.imeis[i].1.with(list),
            Err(i) => self.imeis.insert(i, (imei_body, list)),
        }
    }

    pub fn bar_tac(&mut self, tac: u32) {
        if let Err(i) = self.barred_tacs.binary_search(&tac) {
            self.barred_tacs.insert(i, tac);
        }
    }

    pub fn is_tac_barred(&self, tac: u32) -> bool {
        self.barred_tacs.binary_search(&tac).is_ok()
    }

    /// Every list this IMEI is on, its TAC's bar included.
    pub fn of(&self, imei: ImeiKey) -> ListFlags {
        let Some(body) = imei.as_body() else {
            return ListFlags::default();
        };
        let f = match self.imeis.binary_search_by_key(&body, |e| e.0) {
            Ok(i) => self.imeis[i].1,
            Err(_) => ListFlags::default(),
        };
        if self.is_tac_barred((body / 1_000_000) as u32) {
            f.with(ListFlags::BARRED_TAC)
        } else {
            f
        }
    }

    /// A cursor for IMEIs visited in ascending order, starting at `from`.
    pub fn cursor(&self, from: ImeiKey) -> MembershipCursor<'_> {
        MembershipCursor {
            m: self,
            pos: self.imeis.partition_point(|e| e.0 < from.0),
            tac: None,
        }
    }

    /// Every IMEI's lists, ascending by body, and the barred TACs, ascending: what a saved copy
    /// of the memberships holds.
    pub fn parts(&self) -> (&[(u64, ListFlags)], &[u32]) {
        (&self.imeis, &self.barred_tacs)
    }

    /// IMEIs on a list that DIRBS classifies even when never seen on a network (stolen, barred).
    pub fn unseen_candidates(&self) -> impl Iterator<Item = u64> + '_ {
        self.imeis
            .iter()
            .filter(|(_, f)| f.has(ListFlags::STOLEN) || f.has(ListFlags::BARRED))
            .map(|(b, _)| *b)
    }
}

/// A saved copy of the IMEI memberships with some subjects read again, as a stream, so that a
/// copy of any size is patched without being held: every entry of the bodies `touched`
/// (ascending, no repeats) in `old` (ascending by body, no repeats) is replaced by those of
/// the same bodies in `fresh` (ascending by body, repeats allowed; entries of other bodies
/// are ignored). Yields ascending by body, each body once with its lists joined.
pub fn patch_sorted<'a>(
    old: impl Iterator<Item = (u64, ListFlags)> + 'a,
    touched: &'a [u64],
    fresh: impl Iterator<Item = (u64, ListFlags)> + 'a,
) -> impl Iterator<Item = (u64, ListFlags)> + 'a {
    let (mut at_old, mut at_fresh) = (0, 0);
    let mut kept = old
        .filter(move |e| !holds_ascending(touched, &mut at_old, e.0))
        .peekable();
    let mut added = fresh
        .filter(move |e| holds_ascending(touched, &mut at_fresh, e.0))
        .peekable();
    join_sorted(std::iter::from_fn(move || {
        match (kept.peek(), added.peek()) {
            (Some(k), Some(a)) if a.0 < k.0 => added.next(),
            (Some(_), _) => kept.next(),
            (None, _) => added.next(),
        }
    }))
}

/// Whether ascending `sorted` holds `x`, for `x` asked in ascending order: `at` only moves
/// forward, so a whole stream costs one pass over `sorted`.
fn holds_ascending(sorted: &[u64], at: &mut usize, x: u64) -> bool {
    while sorted.get(*at).is_some_and(|s| *s < x) {
        *at += 1;
    }
    sorted.get(*at) == Some(&x)
}

/// (IMEI body, lists) ascending by body, with the lists of repeated bodies joined.
pub fn join_sorted(
    entries: impl Iterator<Item = (u64, ListFlags)>,
) -> impl Iterator<Item = (u64, ListFlags)> {
    let mut entries = entries.peekable();
    std::iter::from_fn(move || {
        let (body, mut flags) = entries.next()?;
        while let Some((_, more)) = entries.next_if(|e| e.0 == body) {
            flags = flags.with(more);
        }
        Some((body, flags))
    })
}

/// Barred TACs `old` (ascending) with the TACs `touched` replaced by those of them in `fresh`
/// (any order, repeats allowed). Ascending, without repeats.
pub fn patch_tacs(mut old: Vec<u32>, touched: &[u32], fresh: &[u32]) -> Vec<u32> {
    let mut touched = touched.to_vec();
    touched.sort_unstable();
    let touched = |t: &u32| touched.binary_search(t).is_ok();
    old.retain(|t| !touched(t));
    old.extend(fresh.iter().filter(|t| touched(t)));
    old.sort_unstable();
    old.dedup();
    old
}

/// [`Memberships::of`] for ascending IMEIs, in amortised constant time.
#[derive(Debug)]
pub struct MembershipCursor<'a> {
    m: &'a Memberships,
    pos: usize,
    tac: Option<(u32, bool)>,
}

impl MembershipCursor<'_> {
    /// The lists of `imei`; IMEIs must come in ascending order (a smaller one falls back to a
    /// search).
    pub fn of(&mut self, imei: ImeiKey) -> ListFlags {
        let Some(body) = imei.as_body() else {
            return ListFlags::default();
        };
        let v = &self.m.imeis;
        if self.pos > 0 && self.pos <= v.len() && v[self.pos - 1].0 > body {
            return self.m.of(imei);
        }
        while self.pos < v.len() && v[self.pos].0 < body {
            self.pos += 1;
        }
        let f = match v.get(self.pos) {
            Some(&(b, f)) if b == body => f,
            _ => ListFlags::default(),
        };
        let tac = (body / 1_000_000) as u32;
        let barred = match self.tac {
            Some((t, b)) if t == tac => b,
            _ => {
                let b = self.m.is_tac_barred(tac);
                self.tac = Some((tac, b));
                b
            }
        };
        if barred {
            f.with(ListFlags::BARRED_TAC)
        } else {
            f
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Evaluation
// ------------------------------------------------------------------------------------------------

/// Everything known about one IMEI for one classification.
#[derive(Debug, Clone, Copy)]
pub struct ImeiFacts<'a> {
    pub imei: ImeiKey,
    /// The text of a malformed IMEI (upper-cased as stored); `None` for a 14-digit body.
    pub raw: Option<&'a str>,
    /// This IMEI's triplets in the months loaded whole; empty for an IMEI known only from a
    /// list or from earlier months.
    pub triplets: &'a [Triplet],
    /// What earlier months (not loaded whole) saw of it.
    pub earlier: Option<ImeiSeen>,
    /// Its TAC's model, when the catalog has it.
    pub model: Option<&'a TacInfo>,
    pub lists: ListFlags,
}

impl ImeiFacts<'_> {
    /// Ever seen on a network (DIRBS `network_imeis`, which keeps every IMEI ever seen).
    pub fn seen(&self) -> bool {
        !self.triplets.is_empty() || self.earlier.is_some()
    }

    /// The first day it was ever seen.
    pub fn first_seen(&self) -> Option<Day> {
        let loaded = self
            .triplets
            .iter()
            .filter(|t| t.days != 0)
            .map(Triplet::first_seen)
            .min();
        match (loaded, self.earlier) {
            (Some(a), Some(e)) => Some(a.min(e.first_seen)),
            (a, e) => a.or(e.map(|e| e.first_seen)),
        }
    }

    /// Every radio technology it was ever seen on.
    pub fn rats_seen(&self) -> crate::observe::RatSet {
        let loaded = self
            .triplets
            .iter()
            .fold(crate::observe::RatSet::EMPTY, |a, t| a.union(t.rat));
        self.earlier.map_or(loaded, |e| loaded.union(e.rat))
    }

    /// The first `n` characters of the normalised IMEI, as DIRBS's `LEFT(imei_norm, n)`.
    fn prefix_digits(&self, n: usize) -> Option<u32> {
        match (self.imei.as_body(), self.raw) {
            (Some(b), _) => Some((b / 10u64.pow(14 - n as u32)) as u32),
            (None, Some(r)) => {
                let p = r.as_bytes().get(..n)?;
                p.iter()
                    .all(u8::is_ascii_digit)
                    .then(|| p.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
            }
            (None, None) => None,
        }
    }
}

/// The TAC DIRBS uses for an IMEI: the first 8 characters of its normalised form, when they are
/// digits (a malformed IMEI can still carry a real TAC).
pub fn tac_of(imei: ImeiKey, raw: Option<&str>) -> Option<u32> {
    match (imei.as_body(), raw) {
        (Some(b), _) => Some((b / 1_000_000) as u32),
        (None, Some(r)) => {
            let p = r.as_bytes().get(..8)?;
            p.iter()
                .all(u8::is_ascii_digit)
                .then(|| p.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
        }
        (None, None) => None,
    }
}

/// Reusable buffers, so evaluating millions of IMEIs does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    keys: Vec<u64>,
    masks: Vec<(u64, i32, u32)>,
    months: Vec<(i32, u32)>,
}

/// A dimension's verdict on one IMEI and the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure<'a> {
    pub matched: bool,
    pub inverted: bool,
    pub detail: Detail<'a>,
}

/// The numbers a dimension looked at; borrows from the facts so that measuring never allocates.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail<'a> {
    MalformedImei {
        seen: bool,
        malformed: bool,
    },
    IsTestTac {
        seen: bool,
        test: bool,
    },
    GsmaNotFound {
        seen: bool,
        in_catalog: bool,
        rbi: Option<u32>,
        delay_days: u32,
        first_seen: Option<Day>,
        date: Day,
    },
    DuplicateThreshold {
        distinct: u32,
        threshold: u32,
        period: Period,
        window: (Day, Day),
        use_msisdn: bool,
    },
    DuplicateDailyAvg {
        id_days: u64,
        days_seen: u32,
        average: f64,
        threshold: f64,
        min_seen_days: u32,
        period: Period,
        use_msisdn: bool,
    },
    TransientImei {
        msisdn_days: u64,
        per_day: u64,
        num_msisdns: u32,
        period_days: u32,
        distinct_msisdns: u32,
        progression_step: Option<u64>,
        operators: u32,
    },
    InconsistentRat {
        seen: bool,
        observed: Generations,
        model: Option<(&'a str, Generations, bool)>,
        missing: Generations,
    },
    List {
        module: &'static str,
        on_list: bool,
        seen: bool,
        requires_seen: bool,
    },
    NotOnRegistrationList {
        seen: bool,
        registered: bool,
        device_type: Option<&'a str>,
        exempt: bool,
    },
}

impl DimensionSpec {
    /// Evaluates the dimension for one IMEI on `date`. An inverted dimension matches the IMEIs
    /// seen on a network that the dimension does not match (DIRBS inverts against
    /// `network_imeis`).
    pub fn measure<'a>(
        &self,
        facts: &ImeiFacts<'a>,
        date: Day,
        scratch: &mut Scratch,
    ) -> Measure<'a> {
        let m = self.dimension.measure(facts, date, scratch);
        if self.invert {
            Measure {
                matched: facts.seen() && !m.matched,
                inverted: true,
                detail: m.detail,
            }
        } else {
            m
        }
    }

    /// Only the verdict: the engine's fast path, identical to `measure(..).matched`.
    pub fn matches(&self, facts: &ImeiFacts<'_>, date: Day, scratch: &mut Scratch) -> bool {
        if self.dimension.too_few_triplets(facts) {
            return self.invert && facts.seen();
        }
        self.measure(facts, date, scratch).matched
    }
}

/// Whether a triplet's span (first to last seen) overlaps `[start, end]`: DIRBS filters whole
/// triplets this way (`last_seen >= start AND first_seen < end + 1`) for duplicate counts and
/// transient IMEI checks.
fn span_overlaps(t: &Triplet, start: Day, end: Day) -> bool {
    t.days != 0 && t.last_seen() >= start && t.first_seen() <= end
}

/// The identifier a duplicate dimension counts, when DIRBS counts it: a valid IMSI (14 or 15
/// digits) or a valid MSISDN (12 to 15).
fn key_of(t: &Triplet, use_msisdn: bool) -> Option<crate::observe::IdKey> {
    if use_msisdn {
        t.msisdn.is_valid_msisdn().then_some(t.msisdn)
    } else {
        t.imsi.is_valid_imsi().then_some(t.imsi)
    }
}

fn digits_value(k: crate::observe::IdKey) -> u64 {
    k.0 & ((1 << 50) - 1)
}

impl Dimension {
    /// Whether the IMEI has too few triplets for this dimension to match, whatever they hold:
    /// most devices have one or two, and the counting dimensions need more. Each triplet gives
    /// at most one IMSI or MSISDN, so distinct identifiers, a daily average of identifiers and
    /// MSISDNs per day are each at most the number of triplets.
    fn too_few_triplets(&self, f: &ImeiFacts<'_>) -> bool {
        let n = f.triplets.len();
        match self {
            Dimension::DuplicateThreshold { threshold, .. } => (n as u64) < u64::from(*threshold),
            Dimension::DuplicateDailyAvg { threshold, .. } => (n as f64) < *threshold,
            Dimension::TransientImei { num_msisdns, .. } => (n as u64) < u64::from(*num_msisdns),
            _ => false,
        }
    }

    /// Evaluates this dimension (never inverted) for one IMEI on classification date `date`.
    pub fn measure<'a>(&self, f: &ImeiFacts<'a>, date: Day, s: &mut Scratch) -> Measure<'a> {
        let seen = f.seen();
        let (matched, detail) = match self {
            Dimension::MalformedImei => {
                let malformed = f.imei.as_body().is_none();
                (seen && malformed, Detail::MalformedImei { seen, malformed })
            }
            Dimension::IsTestTac => {
                let test = is_test_tac(f);
                (seen && test, Detail::IsTestTac { seen, test })
            }
            Dimension::GsmaNotFound { delays } => {
                let in_catalog = f.model.is_some();
                let rbi = f.prefix_digits(2);
                let delay_days = rbi.map(|r| delays[r as usize]).unwrap_or(0);
                let first_seen = f.first_seen();
                // DIRBS: min_first_seen + delay < analysis_end_date (= date + 1).
                let matched =
                    !in_catalog && first_seen.is_some_and(|fs| fs.plus(delay_days as i32) <= date);
                (
                    matched,
                    Detail::GsmaNotFound {
                        seen,
                        in_catalog,
                        rbi,
                        delay_days,
                        first_seen,
                        date,
                    },
                )
            }
            Dimension::DuplicateThreshold {
                threshold,
                period,
                use_msisdn,
            } => {
                let (start, end) = period.window(date);
                s.keys.clear();
                s.keys.extend(
                    f.triplets
                        .iter()
                        .filter(|t| span_overlaps(t, start, end))
                        .filter_map(|t| key_of(t, *use_msisdn))
                        .map(|k| k.0),
                );
                let distinct = count_distinct(&mut s.keys);
                (
                    distinct >= *threshold,
                    Detail::DuplicateThreshold {
                        distinct,
                        threshold: *threshold,
                        period: *period,
                        window: (start, end),
                        use_msisdn: *use_msisdn,
                    },
                )
            }
            Dimension::DuplicateDailyAvg {
                threshold,
                period,
                min_seen_days,
                use_msisdn,
            } => {
                let (start, end) = period.window(date);
                s.masks.clear();
                for t in f.triplets {
                    let Some(k) = key_of(t, *use_msisdn) else {
                        continue;
                    };
                    let m = t.days & window_mask(t.month, start, end);
                    if m != 0 {
                        s.masks.push((k.0, t.month.0, m));
                    }
                }
                // Per (id, month): OR of the days, so an id seen on two operators the same day
                // counts once; per month: OR over all ids for the days the IMEI was seen.
                s.masks.sort_unstable_by_key(|&(k, m, _)| (k, m));
                let mut id_days = 0u64;
                s.months.clear();
                let mut i = 0;
                while i < s.masks.len() {
                    let (k, month, mut mask) = s.masks[i];
                    let mut j = i + 1;
                    while j < s.masks.len() && s.masks[j].0 == k && s.masks[j].1 == month {
                        mask |= s.masks[j].2;
                        j += 1;
                    }
                    id_days += u64::from(mask.count_ones());
                    match s.months.iter_mut().find(|(m, _)| *m == month) {
                        Some(e) => e.1 |= mask,
                        None => s.months.push((month, mask)),
                    }
                    i = j;
                }
                let days_seen: u32 = s.months.iter().map(|(_, m)| m.count_ones()).sum();
                // DIRBS divides SUM(bigint), a numeric, by a bigint: the fraction is kept.
                let average = if days_seen == 0 {
                    0.0
                } else {
                    id_days as f64 / f64::from(days_seen)
                };
                let matched = days_seen > 0 && days_seen >= *min_seen_days && average >= *threshold;
                (
                    matched,
                    Detail::DuplicateDailyAvg {
                        id_days,
                        days_seen,
                        average,
                        threshold: *threshold,
                        min_seen_days: *min_seen_days,
                        period: *period,
                        use_msisdn: *use_msisdn,
                    },
                )
            }
            Dimension::TransientImei {
                period_days,
                num_msisdns,
            } => {
                let (start, end) = Period::Days(*period_days).window(date);
                let mut msisdn_days = 0u64;
                s.keys.clear();
                let mut first_op: Option<u16> = None;
                let mut operators = 0u32;
                for t in f.triplets {
                    if !span_overlaps(t, start, end) {
                        continue;
                    }
                    match first_op {
                        None => {
                            first_op = Some(t.operator);
                            operators = 1;
                        }
                        Some(o) if o != t.operator && operators == 1 => operators = 2,
                        _ => {}
                    }
                    // The count takes valid MSISDNs only; the progression every numeric one.
                    if t.msisdn.is_valid_msisdn() {
                        msisdn_days += u64::from(t.days_within(start, end).count_ones());
                    }
                    if t.msisdn.is_valid() {
                        s.keys.push(digits_value(t.msisdn));
                    }
                }
                // "2" stands for "more than one": only one operator matters.
                let distinct_msisdns = count_distinct(&mut s.keys);
                let progression_step = arithmetic_step(&s.keys);
                // DIRBS: SUM(bits) / period, integer division.
                let per_day = msisdn_days / u64::from(*period_days);
                let matched = per_day >= u64::from(*num_msisdns)
                    && progression_step.is_some()
                    && operators == 1;
                (
                    matched,
                    Detail::TransientImei {
                        msisdn_days,
                        per_day,
                        num_msisdns: *num_msisdns,
                        period_days: *period_days,
                        distinct_msisdns,
                        progression_step,
                        operators,
                    },
                )
            }
            Dimension::InconsistentRat => {
                let observed = f.rats_seen().generations();
                // DIRBS compares 2G, 3G and 4G only.
                let cellular =
                    Generations(Generation::G2.bit() | Generation::G3.bit() | Generation::G4.bit());
                // A model whose bands name no generation is capable of none, as in DIRBS (its
                // bitmask has only the "unknown" bit): every observed generation is missing.
                let (model, missing) = match f.model {
                    Some(m) => (
                        Some((m.name.as_str(), m.generations, m.capability_known)),
                        if m.capability_known {
                            Generations(observed.missing_from(m.generations).0 & cellular.0)
                        } else {
                            Generations(0)
                        },
                    ),
                    None => (None, Generations(0)),
                };
                (
                    seen && !missing.is_empty(),
                    Detail::InconsistentRat {
                        seen,
                        observed,
                        model,
                        missing,
                    },
                )
            }
            Dimension::StolenList => {
                list_detail("stolen_list", f.lists.has(ListFlags::STOLEN), seen, false)
            }
            Dimension::ExistsInBarredList => list_detail(
                "exists_in_barred_list",
                f.lists.has(ListFlags::BARRED),
                seen,
                false,
            ),
            Dimension::ExistsInMonitoringList => list_detail(
                "exists_in_monitoring_list",
                f.lists.has(ListFlags::MONITORING),
                seen,
                true,
            ),
            Dimension::IsBarredTac => list_detail(
                "is_barred_tac",
                f.lists.has(ListFlags::BARRED_TAC),
                seen,
                true,
            ),
            Dimension::NotOnRegistrationList {
                exempted_device_types,
            } => {
                let registered = f.lists.has(ListFlags::REGISTERED);
                let device_type = f.model.and_then(|m| m.device_type.as_deref());
                // DIRBS joins the catalog only when types are exempted: then an IMEI whose TAC
                // or device type is unknown drops out, and types compare exactly.
                let exempt = !exempted_device_types.is_empty()
                    && device_type.is_none_or(|t| exempted_device_types.iter().any(|e| e == t));
                (
                    seen && !registered && !exempt,
                    Detail::NotOnRegistrationList {
                        seen,
                        registered,
                        device_type,
                        exempt,
                    },
                )
            }
        };
        Measure {
            matched,
            inverted: false,
            detail,
        }
    }
}

fn list_detail(
    module: &'static str,
    on_list: bool,
    seen: bool,
    requires_seen: bool,
) -> (bool, Detail<'static>) {
    (
        on_list && (seen || !requires_seen),
        Detail::List {
            module,
            on_list,
            seen,
            requires_seen,
        },
    )
}

/// Sorts and deduplicates `keys` in place; returns how many remain.
fn count_distinct(keys: &mut Vec<u64>) -> u32 {
    if keys.len() > 1 {
        keys.sort_unstable();
        keys.dedup();
    }
    keys.len() as u32
}

/// The common difference of sorted distinct values, if they form an arithmetic progression of
/// at least two terms (DIRBS `have_arithmetic_progression`: with one value there is no
/// difference and the check fails).
fn arithmetic_step(sorted: &[u64]) -> Option<u64> {
    if sorted.len() < 2 {
        return None;
    }
    let step = sorted[1] - sorted[0];
    sorted
        .windows(2)
        .all(|w| w[1] - w[0] == step)
        .then_some(step)
}

/// DIRBS test TACs: the IMEI starts with `00`, its first 8 characters are digits, and digits
/// 3–4 are `10` followed by 01–17, or are `44`, `86` or `91`.
fn is_test_tac(f: &ImeiFacts<'_>) -> bool {
    let Some(tac8) = f.prefix_digits(8) else {
        return false;
    };
    let first6 = tac8 / 100;
    if first6 / 10_000 != 0 {
        return false;
    }
    let d34 = first6 / 100 % 100;
    let d56 = first6 % 100;
    (d34 == 10 && (1..=17).contains(&d56)) || matches!(d34, 44 | 86 | 91)
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

impl Measure<'_> {
    /// A sentence with the numbers that decided this measure. Never names an IMSI or MSISDN.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        let not_seen = "never seen on any network";
        match &self.detail {
            Detail::MalformedImei { seen, malformed } => {
                if !seen {
                    s.push_str(not_seen);
                } else if *malformed {
                    s.push_str("the IMEI is not 14 digits after normalisation");
                } else {
                    s.push_str("the IMEI has 14 digits");
                }
            }
            Detail::IsTestTac { seen, test } => {
                if !seen {
                    s.push_str(not_seen);
                } else if *test {
                    s.push_str("the TAC is in a test range (00 + 44/86/91, or 0010 + 01..17)");
                } else {
                    s.push_str("the TAC is not in a test range");
                }
            }
            Detail::GsmaNotFound {
                seen,
                in_catalog,
                rbi,
                delay_days,
                first_seen,
                date,
            } => {
                if *in_catalog {
                    s.push_str("the TAC is in the catalog");
                } else if !seen {
                    let _ = write!(s, "the TAC is not in the catalog; {not_seen}");
                } else {
                    let rbi = rbi
                        .map(|r| format!("{r:02}"))
                        .unwrap_or_else(|| "none".into());
                    let fs = first_seen.map(|d| d.to_string()).unwrap_or_default();
                    let _ = write!(
                        s,
                        "the TAC is not in the catalog; first seen {fs}, reporting body {rbi} allows {delay_days} days of allocation delay, so it counts from {} (classification date {date})",
                        first_seen.map(|d| d.plus(*delay_days as i32).to_string()).unwrap_or_default()
                    );
                }
            }
            Detail::DuplicateThreshold {
                distinct,
                threshold,
                period,
                window,
                use_msisdn,
            } => {
                let what = if *use_msisdn { "MSISDNs" } else { "IMSIs" };
                let _ = write!(
                    s,
                    "{distinct} distinct valid {what} over {} ({} to {}; threshold {threshold})",
                    period.describe(),
                    window.0,
                    window.1
                );
            }
            Detail::DuplicateDailyAvg {
                id_days,
                days_seen,
                average,
                threshold,
                min_seen_days,
                period,
                use_msisdn,
            } => {
                let what = if *use_msisdn { "MSISDN" } else { "IMSI" };
                let _ = write!(
                    s,
                    "{id_days} {what}-days over {days_seen} days seen in the last {}: daily average {average:.3} (threshold {threshold}); seen on {days_seen} days (minimum {min_seen_days})",
                    period.describe()
                );
            }
            Detail::TransientImei {
                msisdn_days,
                per_day,
                num_msisdns,
                period_days,
                distinct_msisdns,
                progression_step,
                operators,
            } => {
                let ap = match progression_step {
                    Some(step) => format!("in arithmetic progression (step {step})"),
                    None => "not in arithmetic progression".into(),
                };
                let ops = if *operators > 1 {
                    "more than one operator".to_owned()
                } else {
                    format!("{operators} operator")
                };
                let _ = write!(
                    s,
                    "{msisdn_days} MSISDN-days over {period_days} days = {per_day} per day (threshold {num_msisdns}); {distinct_msisdns} distinct MSISDNs {ap}; seen on {ops}"
                );
            }
            Detail::InconsistentRat {
                seen,
                observed,
                model,
                missing,
            } => {
                let obs = observed.names().join("/");
                let obs = if obs.is_empty() {
                    "none".to_owned()
                } else {
                    obs
                };
                match model {
                    _ if !seen => s.push_str(not_seen),
                    None => {
                        let _ = write!(s, "observed on {obs}; the TAC is not in the catalog");
                    }
                    Some((name, gens, known)) => {
                        let caps = gens.names().join("/");
                        if !known {
                            let _ = write!(
                                s,
                                "observed on {obs}; the catalog gives no manufacturer or model name for {name}, so it is left out (as DIRBS does)"
                            );
                        } else if gens.is_empty() {
                            let _ = write!(
                                s,
                                "observed on {obs}; the catalog's bands for {name} name no radio technology, so it counts as capable of none (as DIRBS does)"
                            );
                        } else if missing.is_empty() {
                            let _ = write!(s, "observed on {obs}; {name} supports {caps}");
                        } else {
                            let _ = write!(
                                s,
                                "observed on {obs}; {name} supports only {caps}, not {}",
                                missing.names().join("/")
                            );
                        }
                    }
                }
            }
            Detail::List {
                module,
                on_list,
                seen,
                requires_seen,
            } => {
                let list = match *module {
                    "stolen_list" => "the blocked list as stolen or lost",
                    "exists_in_barred_list" => "the barred list",
                    "exists_in_monitoring_list" => "the monitoring list",
                    _ => "the barred TAC list (its TAC)",
                };
                let _ = write!(s, "on {list}: {}", yes(*on_list));
                if *requires_seen && !seen {
                    let _ = write!(s, "; {not_seen}");
                }
            }
            Detail::NotOnRegistrationList {
                seen,
                registered,
                device_type,
                exempt,
            } => {
                if !seen {
                    s.push_str(not_seen);
                } else {
                    let _ = write!(s, "on the registration list: {}", yes(*registered));
                    match device_type {
                        Some(t) => {
                            let _ = write!(
                                s,
                                "; device type {t}{}",
                                if *exempt { " (exempted)" } else { "" }
                            );
                        }
                        // DIRBS joins the catalog when types are exempted: no type, no match.
                        None if *exempt => {
                            s.push_str("; device type unknown, so left out while device types are exempted (as DIRBS does)");
                        }
                        None => {}
                    }
                }
            }
        }
        if self.inverted {
            format!("inverted (matches when the dimension does not): {s}")
        } else {
            s
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
