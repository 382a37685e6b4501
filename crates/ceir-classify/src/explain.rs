//! `ceir explain IMEI`: every condition, whether it matches and why, computed by the same
//! measures the engine uses, next to what the committed state records.

use crate::engine::Observations;
use crate::{Classified, StateRow};
use ceir_domain::classify::{
    tac_of, Conditions, ImeiFacts, ListFlags, Memberships, ModelCatalog, Scratch,
};
use ceir_domain::observe::{Day, ImeiKey, ImeiNorm};

/// What ceir knows about one IMEI and how each condition judges it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The normalised IMEI (14 digits, or the malformed value).
    pub imei: String,
    /// The date the conditions were evaluated for.
    pub date: String,
    /// The committed run the state columns come from.
    pub run: Option<u64>,
    pub tac: Option<String>,
    pub model: Option<ModelView>,
    /// Lists the device is on ("stolen/lost", "registration", …).
    pub lists: Vec<&'static str>,
    pub observed: ObservedSummary,
    pub conditions: Vec<ConditionExplanation>,
    /// The IMSI/MSISDN pairs seen with the device: only for callers allowed to read subscriber
    /// data, `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<Vec<SubscriberRow>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelView {
    pub name: String,
    /// "2G/3G/4G", model-wide.
    pub generations: String,
    pub capability_known: bool,
    pub device_type: Option<String>,
}

/// Counts only: no subscriber identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ObservedSummary {
    pub triplets: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Distinct days seen (all operators).
    pub days_seen: u64,
    pub distinct_imsis: u64,
    pub distinct_msisdns: u64,
    pub operators: Vec<String>,
    /// RAT names observed ("GERAN", "E-UTRAN").
    pub rats: Vec<&'static str>,
    /// Their generations, "2G/4G".
    pub generations: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConditionExplanation {
    pub label: String,
    pub reason: String,
    pub blocking: bool,
    /// Whether the device meets the condition on `date` (all dimensions match).
    pub matches: bool,
    pub dimensions: Vec<DimensionExplanation>,
    /// The recorded episodes for this condition, oldest first.
    pub state: Vec<StateView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DimensionExplanation {
    pub module: &'static str,
    pub inverted: bool,
    pub matches: bool,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateView {
    pub start: String,
    pub end: Option<String>,
    pub block_date: Option<String>,
    pub amnesty: bool,
}

impl From<&StateRow> for StateView {
    fn from(r: &StateRow) -> StateView {
        StateView {
            start: r.start.to_string(),
            end: r.end.map(|d| d.to_string()),
            block_date: r.block_date.map(|d| d.to_string()),
            amnesty: r.amnesty,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriberRow {
    pub imsi: Option<String>,
    pub msisdn: Option<String>,
    pub operator: String,
    pub first_seen: String,
    pub last_seen: String,
    pub days_seen: u32,
    pub rats: String,
}

/// Explains one IMEI. `observations` may be the full window or just this IMEI's triplets.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    imei: &ImeiNorm,
    conditions: &Conditions,
    observations: &Observations<'_>,
    catalog: &ModelCatalog,
    memberships: &Memberships,
    state: Option<&Classified>,
    date: Day,
    show_subscribers: bool,
) -> Explanation {
    let key = observations.key_of(imei);
    let triplets = key.map(|k| observations.of(k)).unwrap_or(&[]);
    let (key, raw) = match imei {
        ImeiNorm::Body(b) => (ImeiKey::body(*b), None),
        ImeiNorm::Raw(s) => (key.unwrap_or(ImeiKey::raw(u32::MAX)), Some(s.as_str())),
    };
    let tac = tac_of(key, raw);
    let model = tac.and_then(|t| catalog.get(t));
    let mut lists = memberships.of(key);
    if raw.is_some() && tac.is_some_and(|t| memberships.is_tac_barred(t)) {
        lists = lists.with(ListFlags::BARRED_TAC);
    }
    let facts = ImeiFacts {
        imei: key,
        raw,
        triplets,
        earlier: observations.earlier(key),
        model,
        lists,
    };
    let mut scratch = Scratch::default();
    let rows = state.map(|s| s.rows_of(imei)).unwrap_or(&[]);
    let conds = conditions
        .conditions
        .iter()
        .map(|c| {
            let dimensions: Vec<DimensionExplanation> = c
                .dimensions
                .iter()
                .map(|d| {
                    let m = d.measure(&facts, date, &mut scratch);
                    DimensionExplanation {
                        module: d.dimension.module(),
                        inverted: d.invert,
                        matches: m.matched,
                        explanation: m.explain(),
                    }
                })
                .collect();
            ConditionExplanation {
                label: c.label.clone(),
                reason: c.reason.clone(),
                blocking: c.blocking,
                matches: dimensions.iter().all(|d| d.matches),
                dimensions,
                state: rows
                    .iter()
                    .filter(|r| r.condition == c.label)
                    .map(StateView::from)
                    .collect(),
            }
        })
        .collect();

    let mut observed = ObservedSummary {
        triplets: triplets.len() as u64,
        ..ObservedSummary::default()
    };
    let mut imsis: Vec<u64> = triplets
        .iter()
        .filter(|t| t.imsi.is_valid())
        .map(|t| t.imsi.0)
        .collect();
    imsis.sort_unstable();
    imsis.dedup();
    let mut msisdns: Vec<u64> = triplets
        .iter()
        .filter(|t| t.msisdn.is_valid())
        .map(|t| t.msisdn.0)
        .collect();
    msisdns.sort_unstable();
    msisdns.dedup();
    observed.distinct_imsis = imsis.len() as u64;
    observed.distinct_msisdns = msisdns.len() as u64;
    let mut ops: Vec<u16> = triplets.iter().map(|t| t.operator).collect();
    ops.sort_unstable();
    ops.dedup();
    observed.operators = ops
        .iter()
        .map(|o| {
            observations
                .operators
                .get(*o as usize)
                .cloned()
                .unwrap_or_else(|| format!("#{o}"))
        })
        .collect();
    let live: Vec<_> = triplets.iter().filter(|t| t.days != 0).collect();
    observed.first_seen = facts.first_seen().map(|d| d.to_string());
    observed.last_seen = live
        .iter()
        .map(|t| t.last_seen())
        .max()
        .or(facts.earlier.map(|e| e.last_seen))
        .map(|d| d.to_string());
    let mut days: Vec<(i32, u32)> = Vec::new();
    for t in &live {
        match days.iter_mut().find(|(m, _)| *m == t.month.0) {
            Some(e) => e.1 |= t.days,
            None => days.push((t.month.0, t.days)),
        }
    }
    observed.days_seen = days.iter().map(|(_, m)| u64::from(m.count_ones())).sum();
    let rats = facts.rats_seen();
    observed.rats = rats.iter().map(|r| r.name).collect();
    observed.generations = rats.generations().names().join("/");

    let subscribers = show_subscribers.then(|| {
        triplets
            .iter()
            .map(|t| SubscriberRow {
                imsi: t.imsi.digits(),
                msisdn: t.msisdn.digits(),
                operator: observations
                    .operators
                    .get(t.operator as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", t.operator)),
                first_seen: t.first_seen().to_string(),
                last_seen: t.last_seen().to_string(),
                days_seen: t.days.count_ones(),
                rats: t.rat.to_dirbs(),
            })
            .collect()
    });

    Explanation {
        imei: imei.to_string(),
        date: date.to_string(),
        run: state.map(|s| s.run.id),
        tac: tac.map(|t| format!("{t:08}")),
        model: model.map(|m| ModelView {
            name: m.name.clone(),
            generations: m.generations.names().join("/"),
            capability_known: m.capability_known,
            device_type: m.device_type.clone(),
        }),
        lists: facts.lists.names(),
        observed,
        conditions: conds,
        subscribers,
    }
}

impl Explanation {
    /// The text `ceir explain` prints.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "IMEI {} (evaluated for {}{})",
            self.imei,
            self.date,
            self.run
                .map(|r| format!(", state of classification run {r}"))
                .unwrap_or_default()
        );
        match (&self.tac, &self.model) {
            (Some(t), Some(m)) => {
                let _ = writeln!(
                    s,
                    "TAC {t}: {} ({}{}){}",
                    m.name,
                    if m.generations.is_empty() {
                        "radios unknown"
                    } else {
                        &m.generations
                    },
                    if m.capability_known {
                        ""
                    } else {
                        ", capability unknown"
                    },
                    m.device_type
                        .as_deref()
                        .map(|d| format!(", {d}"))
                        .unwrap_or_default()
                );
            }
            (Some(t), None) => {
                let _ = writeln!(s, "TAC {t}: not in the catalog");
            }
            _ => {
                let _ = writeln!(s, "malformed IMEI: no TAC");
            }
        }
        let lists = if self.lists.is_empty() {
            "none".to_owned()
        } else {
            self.lists.join(", ")
        };
        let _ = writeln!(s, "Lists: {lists}");
        let o = &self.observed;
        if o.triplets == 0 {
            let _ = writeln!(s, "Observed: not seen in the loaded observations");
        } else {
            let _ =
                writeln!(
                s,
                "Observed: {} to {} on {} days, {} IMSIs, {} MSISDNs, operators {}, RATs {} ({})",
                o.first_seen.as_deref().unwrap_or("?"),
                o.last_seen.as_deref().unwrap_or("?"),
                o.days_seen,
                o.distinct_imsis,
                o.distinct_msisdns,
                o.operators.join(", "),
                o.rats.join(", "),
                if o.generations.is_empty() { "no cellular generation" } else { &o.generations }
            );
        }
        for c in &self.conditions {
            let _ = writeln!(
                s,
                "\n[{}] {} — {}{}",
                if c.matches { "MATCH" } else { "no" },
                c.label,
                c.reason,
                if c.blocking {
                    " (blocking)"
                } else {
                    " (informative)"
                }
            );
            for d in &c.dimensions {
                let _ = writeln!(
                    s,
                    "  {} {}{}: {}",
                    if d.matches { "+" } else { "-" },
                    d.module,
                    if d.inverted { " (inverted)" } else { "" },
                    d.explanation
                );
            }
            for st in &c.state {
                let _ = writeln!(
                    s,
                    "  state: since {}{}{}{}",
                    st.start,
                    st.end
                        .as_deref()
                        .map(|e| format!(" until {e}"))
                        .unwrap_or_default(),
                    st.block_date
                        .as_deref()
                        .map(|b| format!(", block date {b}"))
                        .unwrap_or_default(),
                    if st.amnesty { ", amnesty granted" } else { "" }
                );
            }
        }
        if let Some(subs) = &self.subscribers {
            let _ = writeln!(
                s,
                "\nSubscribers seen with this device:{}",
                if subs.is_empty() { " none" } else { "" }
            );
            for r in subs {
                let _ = writeln!(
                    s,
                    "  IMSI {} MSISDN {} on {}: {} to {}, {} days, RAT {}",
                    r.imsi.as_deref().unwrap_or("-"),
                    r.msisdn.as_deref().unwrap_or("-"),
                    r.operator,
                    r.first_seen,
                    r.last_seen,
                    r.days_seen,
                    if r.rats.is_empty() { "-" } else { &r.rats }
                );
            }
        }
        s
    }
}
