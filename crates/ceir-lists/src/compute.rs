//! The new lists of one run, computed in memory from classification rows, triplets and pairings
//! with DIRBS's rules (`src/dirbs/listgen/generator.py`).
//!
//! IMEIs become `u64` keys: a 14-digit body as itself, a malformed IMEI as [`RAW`] plus its rank
//! in the run's sorted table of malformed IMEIs, so that key order is the order lists are written
//! in (bodies ascending, then malformed IMEIs by text). Reasons become bits of a `u64` over the
//! run's sorted reason table, so a reason set compares and prints without allocating.

use crate::{BlockingCondition, ListConfig, ListInput, ListsError, Row};
use ceir_domain::observe::{Day, IdKey, ImeiNorm, RegionOperator};
use std::collections::{HashMap, HashSet};

/// The bit marking a key as a malformed IMEI's rank.
pub(crate) const RAW: u64 = 1 << 63;
/// Reason sets and operator sets are `u64` masks.
const MAX_SET: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockRow {
    pub key: u64,
    pub block_date: Day,
    pub reasons: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotifyImei {
    pub key: u64,
    pub block_date: Day,
    pub reasons: u64,
    pub amnesty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotifRow {
    pub key: u64,
    pub imsi: IdKey,
    pub msisdn: IdKey,
    pub block_date: Day,
    pub reasons: u64,
    pub amnesty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ExcRow {
    pub key: u64,
    pub imsi: IdKey,
    pub msisdn: IdKey,
}

/// One run's lists: the full lists to write and what deltas and the next run need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lists {
    pub date: Day,
    /// Sorted, distinct: bit `i` of a reason mask is `reasons[i]`.
    pub(crate) reasons: Vec<String>,
    /// Sorted, distinct: key `RAW | i` is `raw_imeis[i]`.
    pub(crate) raw_imeis: Vec<String>,
    /// Region operator ids, in the region's order; per-operator vectors below follow it.
    pub(crate) operators: Vec<String>,
    pub(crate) region_operators: Vec<RegionOperator>,
    pub(crate) blocklist: Vec<BlockRow>,
    /// IMEIs in their grace period, sorted by key (whether or not a triplet was found).
    pub(crate) notify_imeis: Vec<NotifyImei>,
    pub(crate) notifications: Vec<Vec<NotifRow>>,
    pub(crate) exceptions: Vec<Vec<ExcRow>>,
    /// Active pairings by (IMEI body, IMSI) and (IMEI body, MSISDN): what resolves a notification.
    pub(crate) paired_imsi: HashSet<(u64, IdKey)>,
    pub(crate) paired_msisdn: HashSet<(u64, IdKey)>,
    pub(crate) notify_imsi_change: bool,
    pub(crate) amnesty_column: bool,
    /// What the lists were made with, recorded in the manifest: deltas are refused against a
    /// run made otherwise.
    pub(crate) config: ListConfig,
    /// Sorted by label.
    pub(crate) blocking_conditions: Vec<BlockingCondition>,
}

impl Lists {
    pub fn blocklist_len(&self) -> usize {
        self.blocklist.len()
    }
    /// Rows of `operator`'s notification list.
    pub fn notifications_len(&self, operator: &str) -> usize {
        self.op_index(operator)
            .map_or(0, |i| self.notifications[i].len())
    }
    pub fn exceptions_len(&self, operator: &str) -> usize {
        self.op_index(operator)
            .map_or(0, |i| self.exceptions[i].len())
    }
    fn op_index(&self, operator: &str) -> Option<usize> {
        self.operators.iter().position(|o| o == operator)
    }
    pub(crate) fn is_blocklisted(&self, key: u64) -> bool {
        self.blocklist.binary_search_by_key(&key, |r| r.key).is_ok()
    }
    pub(crate) fn is_notified(&self, key: u64) -> bool {
        self.notify_imeis
            .binary_search_by_key(&key, |r| r.key)
            .is_ok()
    }
    /// Would an active pairing spare (IMEI, IMSI, MSISDN) from notification?
    pub(crate) fn is_paired(&self, key: u64, imsi: IdKey, msisdn: IdKey) -> bool {
        if key & RAW != 0 {
            return false;
        }
        self.paired_imsi.contains(&(key, imsi))
            || (!self.notify_imsi_change
                && !msisdn.is_null()
                && self.paired_msisdn.contains(&(key, msisdn)))
    }
    /// The key a malformed IMEI has in this run, if it appears in it.
    pub(crate) fn raw_key(&self, text: &str) -> Option<u64> {
        self.raw_imeis
            .binary_search_by(|s| s.as_str().cmp(text))
            .ok()
            .map(|i| RAW | i as u64)
    }
}

/// One open blocking row, reduced to what lists need.
#[derive(Debug, Clone, Copy)]
struct Open {
    key: u64,
    block_date: Day,
    reason: u64,
    amnesty: bool,
}

/// Computes the new lists. `rows` are the classification's state rows (open and closed; closed
/// and informative ones are skipped).
pub fn compute<'r>(
    input: &ListInput<'_>,
    rows: impl IntoIterator<Item = Row<'r>>,
) -> Result<Lists, ListsError> {
    let region = input.region;
    if region.operators.len() > MAX_SET {
        return Err(ListsError::Invalid(format!(
            "the region has {} operators; lists support at most {MAX_SET}",
            region.operators.len()
        )));
    }
    // Reasons of blocking conditions, sorted, so that bit order is print order.
    let mut reasons: Vec<String> = input
        .conditions
        .iter()
        .filter(|c| c.blocking)
        .map(|c| c.reason.clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    if reasons.len() > MAX_SET {
        return Err(ListsError::Invalid(format!(
            "{} distinct reasons of blocking conditions; lists support at most {MAX_SET}",
            reasons.len()
        )));
    }
    let blocking: Vec<(&str, u64)> = input
        .conditions
        .iter()
        .filter(|c| c.blocking)
        .filter_map(|c| {
            reasons
                .binary_search(&c.reason)
                .ok()
                .map(|i| (c.label.as_str(), 1u64 << i))
        })
        .collect();

    // Open blocking rows. Malformed IMEIs get provisional keys until their table is sorted.
    let mut raw_index: HashMap<String, u64> = HashMap::new();
    let mut open: Vec<Open> = Vec::new();
    for r in rows {
        let (None, Some(block_date)) = (r.end, r.block_date) else {
            continue;
        };
        // A handful of conditions: a linear scan beats hashing the label.
        let Some(&(_, reason)) = blocking.iter().find(|(l, _)| *l == r.condition) else {
            continue;
        };
        let key = match r.imei {
            ImeiNorm::Body(b) => {
                if input.golden.contains(b) {
                    continue;
                }
                *b
            }
            ImeiNorm::Raw(s) => {
                let n = raw_index.len() as u64;
                RAW | *raw_index.entry(s.clone()).or_insert(n)
            }
        };
        open.push(Open {
            key,
            block_date,
            reason,
            amnesty: r.amnesty,
        });
    }
    // Malformed IMEIs of the triplets may be notified too, so they join the table.
    let mut raw_imeis: Vec<String> = raw_index.keys().cloned().collect();
    raw_imeis.sort();
    if !raw_index.is_empty() {
        let rank: HashMap<u64, u64> = raw_imeis
            .iter()
            .enumerate()
            .map(|(i, s)| (raw_index[s], i as u64))
            .collect();
        for o in open.iter_mut().filter(|o| o.key & RAW != 0) {
            o.key = RAW | rank[&(o.key & !RAW)];
        }
    }
    // The classifier writes rows grouped by IMEI; sort only when they are not.
    if !open.is_sorted_by_key(|o| o.key) {
        open.sort_unstable_by_key(|o| o.key);
    }

    // DIRBS: blocked when some open row's block date has come (the earliest such date and the
    // reasons of those rows); otherwise notified with the earliest future date, the reasons of
    // all rows, and amnesty only when every row has it.
    let date = input.date;
    let mut blocklist = Vec::new();
    let mut notify_imeis = Vec::new();
    for group in open.chunk_by(|a, b| a.key == b.key) {
        let key = group[0].key;
        let mut blocked: Option<(Day, u64)> = None;
        let mut pending: Option<(Day, u64, bool)> = None;
        for o in group {
            if o.block_date <= date {
                let (d, m) = blocked.get_or_insert((o.block_date, 0));
                *d = (*d).min(o.block_date);
                *m |= o.reason;
            } else {
                let (d, m, a) = pending.get_or_insert((o.block_date, 0, true));
                *d = (*d).min(o.block_date);
                *m |= o.reason;
                *a &= o.amnesty;
            }
        }
        if let Some((block_date, reasons)) = blocked {
            blocklist.push(BlockRow {
                key,
                block_date,
                reasons,
            });
        } else if let Some((block_date, reasons, amnesty)) = pending {
            notify_imeis.push(NotifyImei {
                key,
                block_date,
                reasons,
                amnesty,
            });
        }
    }
    drop(open);

    let mut paired_imsi = HashSet::with_capacity(input.pairings.len());
    let mut paired_msisdn = HashSet::new();
    for p in input.pairings {
        paired_imsi.insert((p.imei, p.imsi));
        if !p.msisdn.is_null() {
            paired_msisdn.insert((p.imei, p.msisdn));
        }
    }
    let mut blocking_conditions: Vec<BlockingCondition> = input
        .conditions
        .iter()
        .filter(|c| c.blocking)
        .map(|c| BlockingCondition {
            label: c.label.clone(),
            reason: c.reason.clone(),
        })
        .collect();
    blocking_conditions.sort();
    blocking_conditions.dedup();
    let operators: Vec<String> = region.operators.iter().map(|o| o.id.clone()).collect();
    let mut lists = Lists {
        date,
        reasons,
        raw_imeis,
        notifications: vec![Vec::new(); operators.len()],
        exceptions: vec![Vec::new(); operators.len()],
        operators,
        region_operators: region.operators.clone(),
        blocklist,
        notify_imeis,
        paired_imsi,
        paired_msisdn,
        notify_imsi_change: input.config.notify_imsi_change,
        amnesty_column: input.config.amnesty_enabled,
        config: input.config.clone(),
        blocking_conditions,
    };
    notifications(input, &mut lists);
    exceptions(input, &mut lists);
    Ok(lists)
}

fn home_operator(input: &ListInput<'_>, imsi: IdKey) -> Option<usize> {
    input
        .region
        .operators
        .iter()
        .position(|o| o.mcc_mnc.iter().any(|n| imsi.starts_with(n)))
}

/// DIRBS notifications: every (IMEI, IMSI, MSISDN) seen in the lookback window for an IMEI in
/// its grace period, without a null IMSI or MSISDN, not spared by a pairing, sent to the IMSI's
/// home operator — or, for an IMSI of no known operator (a roamer), to every operator whose
/// network saw the triplet.
fn notifications(input: &ListInput<'_>, lists: &mut Lists) {
    if lists.notify_imeis.is_empty() {
        return;
    }
    let end = input.lookback_end.plus(1);
    let start = end.plus(-(input.config.lookback_days as i32));
    let op_of_batch: Vec<Option<usize>> = input
        .triplet_operators
        .iter()
        .map(|id| {
            input
                .region
                .operators
                .iter()
                .position(|o| o.id.eq_ignore_ascii_case(id))
        })
        .collect();
    // Malformed IMEIs of the batch, translated once to this run's keys.
    let raw_keys: Vec<Option<u64>> = input
        .raw_imeis
        .iter()
        .map(|s| lists.raw_key(&s.to_ascii_uppercase()))
        .collect();
    let mut hits: Vec<(u64, IdKey, IdKey, u64)> = Vec::new();
    for t in input.triplets {
        if t.days == 0 || !t.imsi.is_valid() || !t.msisdn.is_valid() {
            continue;
        }
        if t.last_seen() < start || t.first_seen() >= end {
            continue;
        }
        let key = match (t.imei.as_body(), t.imei.raw_index()) {
            (Some(b), _) => b,
            (None, Some(i)) => match raw_keys.get(i as usize).copied().flatten() {
                Some(k) => k,
                None => continue,
            },
            (None, None) => continue,
        };
        if !lists.is_notified(key) || lists.is_paired(key, t.imsi, t.msisdn) {
            continue;
        }
        let seen_on = op_of_batch
            .get(usize::from(t.operator))
            .copied()
            .flatten()
            .map_or(0, |i| 1u64 << i);
        hits.push((key, t.imsi, t.msisdn, seen_on));
    }
    hits.sort_unstable();
    for group in hits.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let (key, imsi, msisdn, _) = group[0];
        let seen_on = group.iter().fold(0u64, |m, h| m | h.3);
        let Ok(i) = lists.notify_imeis.binary_search_by_key(&key, |n| n.key) else {
            continue;
        };
        let n = lists.notify_imeis[i];
        let row = NotifRow {
            key,
            imsi,
            msisdn,
            block_date: n.block_date,
            reasons: n.reasons,
            amnesty: n.amnesty,
        };
        let targets = match home_operator(input, imsi) {
            Some(h) => 1u64 << h,
            None => seen_on,
        };
        for (op, list) in lists.notifications.iter_mut().enumerate() {
            if targets & (1 << op) != 0 {
                list.push(row);
            }
        }
    }
}

/// DIRBS exceptions: every active pairing, to the IMSI's home operator or, for an IMSI of no
/// known operator, to every operator; optionally only blocklisted IMEIs, and without barred IMEIs
/// unless configured.
fn exceptions(input: &ListInput<'_>, lists: &mut Lists) {
    let cfg = input.config;
    let all = if lists.operators.len() == MAX_SET {
        u64::MAX
    } else {
        (1u64 << lists.operators.len()) - 1
    };
    for p in input.pairings {
        if cfg.restrict_exceptions_to_blocklisted && !lists.is_blocklisted(p.imei) {
            continue;
        }
        let tac = (p.imei / 1_000_000) as u32;
        if !cfg.include_barred_in_exceptions
            && (input.barred.contains(&p.imei) || input.barred_tacs.contains(&tac))
        {
            continue;
        }
        let targets = home_operator(input, p.imsi).map_or(all, |h| 1u64 << h);
        let row = ExcRow {
            key: p.imei,
            imsi: p.imsi,
            msisdn: p.msisdn,
        };
        for (op, list) in lists.exceptions.iter_mut().enumerate() {
            if targets & (1 << op) != 0 {
                list.push(row);
            }
        }
    }
    for list in &mut lists.exceptions {
        list.sort_unstable();
        list.dedup();
    }
}
