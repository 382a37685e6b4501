//! The engine: group the observations by IMEI, evaluate every condition in parallel, then merge
//! the matches with the previous state the way DIRBS updates `classification_state`.

use crate::{
    Classified, ClassifyError, ConditionInfo, ConditionSummary, RunInfo, SafetyViolation, StateRow,
};
use ceir_domain::classify::{
    tac_of, Condition, Conditions, ImeiFacts, ListFlags, MembershipCursor, Memberships,
    ModelCatalog, Scratch, TacInfo,
};
use ceir_domain::observe::{Day, ImeiKey, ImeiNorm, ImeiSeen, Triplet};
use rayon::prelude::*;
use std::collections::HashMap;

/// A window of observations, as `ceir_observe::TripletBatch` holds them: triplets sorted by IMEI.
#[derive(Debug, Clone, Copy)]
pub struct Observations<'a> {
    /// `Triplet::operator` indexes this.
    pub operators: &'a [String],
    /// `ImeiKey::raw(i)` indexes this.
    pub raw_imeis: &'a [String],
    pub triplets: &'a [Triplet],
    /// What earlier months saw of each IMEI, sorted by key (`TripletBatch::history`).
    pub history: &'a [ImeiSeen],
}

impl<'a> Observations<'a> {
    pub const EMPTY: Observations<'static> = Observations {
        operators: &[],
        raw_imeis: &[],
        triplets: &[],
        history: &[],
    };

    /// The text of a malformed IMEI.
    pub fn raw_text(&self, k: ImeiKey) -> Option<&'a str> {
        k.raw_index()
            .and_then(|i| self.raw_imeis.get(i as usize))
            .map(String::as_str)
    }

    pub fn imei_norm(&self, k: ImeiKey) -> ImeiNorm {
        match k.as_body() {
            Some(b) => ImeiNorm::Body(b),
            None => ImeiNorm::Raw(self.raw_text(k).unwrap_or("?").to_owned()),
        }
    }

    /// The key this batch uses for an IMEI, if it has it.
    pub fn key_of(&self, imei: &ImeiNorm) -> Option<ImeiKey> {
        match imei {
            ImeiNorm::Body(b) => Some(ImeiKey::body(*b)),
            ImeiNorm::Raw(s) => self
                .raw_imeis
                .iter()
                .position(|r| r == s)
                .map(|i| ImeiKey::raw(i as u32)),
        }
    }

    /// The triplets of one IMEI.
    pub fn of(&self, k: ImeiKey) -> &'a [Triplet] {
        let t = self.triplets;
        let lo = t.partition_point(|x| x.imei < k);
        let hi = lo + t[lo..].partition_point(|x| x.imei == k);
        &t[lo..hi]
    }

    /// What earlier months saw of one IMEI.
    pub fn earlier(&self, k: ImeiKey) -> Option<ImeiSeen> {
        self.history
            .binary_search_by_key(&k, |h| h.imei)
            .ok()
            .map(|i| self.history[i])
    }

    /// Whether the IMEI was ever seen, in the loaded months or before.
    pub fn ever_seen(&self, k: ImeiKey) -> bool {
        !self.of(k).is_empty() || self.earlier(k).is_some()
    }
}

/// A window of observations, owned: what `ceir_observe::TripletBatch` holds.
#[derive(Debug, Default, Clone)]
pub struct ObservationBatch {
    pub operators: Vec<String>,
    pub raw_imeis: Vec<String>,
    pub triplets: Vec<Triplet>,
    pub history: Vec<ImeiSeen>,
}

impl ObservationBatch {
    pub fn view(&self) -> Observations<'_> {
        Observations {
            operators: &self.operators,
            raw_imeis: &self.raw_imeis,
            triplets: &self.triplets,
            history: &self.history,
        }
    }
}

/// Everything one run needs.
#[derive(Debug)]
pub struct Input<'a> {
    pub conditions: &'a Conditions,
    pub observations: Observations<'a>,
    pub catalog: &'a ModelCatalog,
    pub memberships: &'a Memberships,
    /// The last committed state; consumed, so that its rows move instead of being copied.
    pub previous: Option<Classified>,
    /// The run's date (DIRBS `curr_date`, else today): start, end and block dates and the
    /// amnesty periods count from it.
    pub date: Day,
    /// The last day the dimensions look at (the day before DIRBS's analysis end date): the
    /// given date, else the last day of data.
    pub analysis_date: Day,
    /// `false` disables the safety stop (DIRBS `--no-safety-check`).
    pub safety_check: bool,
}

/// The facts of one IMEI, the catalog looked up with a one-entry cache (IMEIs arrive sorted,
/// so neighbours share their TAC) and the history read with a cursor.
struct FactsBuilder<'a> {
    obs: Observations<'a>,
    catalog: &'a ModelCatalog,
    memberships: MembershipCursor<'a>,
    barred_tacs: &'a Memberships,
    last_tac: Option<(u32, Option<&'a TacInfo>)>,
    history_pos: usize,
}

impl<'a> FactsBuilder<'a> {
    fn new(obs: Observations<'a>, input: &'a Input<'_>, from: ImeiKey) -> FactsBuilder<'a> {
        FactsBuilder {
            obs,
            catalog: input.catalog,
            memberships: input.memberships.cursor(from),
            barred_tacs: input.memberships,
            last_tac: None,
            history_pos: obs.history.partition_point(|h| h.imei < from),
        }
    }

    /// IMEIs must come in ascending order.
    fn facts(&mut self, imei: ImeiKey, triplets: &'a [Triplet]) -> ImeiFacts<'a> {
        let raw = self.obs.raw_text(imei);
        // A malformed IMEI still has a TAC when its first 8 characters are digits (DIRBS).
        let tac = tac_of(imei, raw);
        let model = tac.and_then(|tac| match self.last_tac {
            Some((t, m)) if t == tac => m,
            _ => {
                let m = self.catalog.get(tac);
                self.last_tac = Some((tac, m));
                m
            }
        });
        let h = self.obs.history;
        while self.history_pos < h.len() && h[self.history_pos].imei < imei {
            self.history_pos += 1;
        }
        let earlier = h.get(self.history_pos).filter(|x| x.imei == imei).copied();
        let mut lists = self.memberships.of(imei);
        if imei.as_body().is_none() && tac.is_some_and(|t| self.barred_tacs.is_tac_barred(t)) {
            lists = lists.with(ListFlags::BARRED_TAC);
        }
        ImeiFacts {
            imei,
            raw,
            triplets,
            earlier,
            model,
            lists,
        }
    }
}

fn condition_matches(c: &Condition, f: &ImeiFacts<'_>, date: Day, s: &mut Scratch) -> bool {
    c.dimensions.iter().all(|d| d.matches(f, date, s))
}

/// Per condition, the IMEI keys that match, in key order; and how many IMEIs were ever seen.
fn evaluate(input: &Input<'_>) -> (Vec<Vec<ImeiKey>>, u64) {
    let conds = &input.conditions.conditions;
    let obs = input.observations;
    let date = input.analysis_date;
    let trip = obs.triplets;
    // Chunks cut at IMEI boundaries, several per thread so that uneven IMEIs balance out.
    let n_chunks = (rayon::current_num_threads() * 16).max(1);
    let mut bounds = vec![0usize];
    for i in 1..n_chunks {
        let mut p = (i * trip.len() / n_chunks).max(*bounds.last().unwrap_or(&0));
        while p > 0 && p < trip.len() && trip[p].imei == trip[p - 1].imei {
            p += 1;
        }
        if p > *bounds.last().unwrap_or(&0) && p < trip.len() {
            bounds.push(p);
        }
    }
    bounds.push(trip.len());
    let chunks: Vec<(Vec<Vec<ImeiKey>>, u64)> = bounds
        .par_windows(2)
        .map(|w| {
            let slice = &trip[w[0]..w[1]];
            let from = slice.first().map_or(ImeiKey(0), |t| t.imei);
            let mut fb = FactsBuilder::new(obs, input, from);
            let mut scratch = Scratch::default();
            let mut out = vec![Vec::new(); conds.len()];
            let mut seen = 0u64;
            let mut i = 0;
            while i < slice.len() {
                let k = slice[i].imei;
                let mut j = i + 1;
                while j < slice.len() && slice[j].imei == k {
                    j += 1;
                }
                seen += 1;
                let f = fb.facts(k, &slice[i..j]);
                for (ci, c) in conds.iter().enumerate() {
                    if condition_matches(c, &f, date, &mut scratch) {
                        out[ci].push(k);
                    }
                }
                i = j;
            }
            (out, seen)
        })
        .collect();
    // IMEIs seen only in earlier months: still seen, as in DIRBS's network_imeis.
    let chunk = (obs.history.len() / n_chunks).max(4096);
    let earlier: Vec<(Vec<Vec<ImeiKey>>, u64)> = obs
        .history
        .par_chunks(chunk)
        .map(|part| {
            let from = part.first().map_or(ImeiKey(0), |h| h.imei);
            let mut fb = FactsBuilder::new(obs, input, from);
            let mut scratch = Scratch::default();
            let mut out = vec![Vec::new(); conds.len()];
            let mut seen = 0u64;
            for h in part {
                if !obs.of(h.imei).is_empty() {
                    continue;
                }
                seen += 1;
                let f = fb.facts(h.imei, &[]);
                for (ci, c) in conds.iter().enumerate() {
                    if condition_matches(c, &f, date, &mut scratch) {
                        out[ci].push(h.imei);
                    }
                }
            }
            (out, seen)
        })
        .collect();
    let mut matched = vec![Vec::new(); conds.len()];
    let mut seen = 0;
    let mut added = false;
    for (k, (out, s)) in chunks.into_iter().chain(earlier).enumerate() {
        seen += s;
        for (m, o) in matched.iter_mut().zip(out) {
            added |= k >= bounds.len() - 1 && !o.is_empty();
            m.extend(o);
        }
    }
    // IMEIs on the stolen or barred lists are classified even if never seen, as in DIRBS.
    let mut unseen: Vec<u64> = input
        .memberships
        .unseen_candidates()
        .filter(|b| !obs.ever_seen(ImeiKey::body(*b)))
        .collect();
    if !unseen.is_empty() {
        unseen.sort_unstable();
        let mut fb = FactsBuilder::new(obs, input, ImeiKey(0));
        let mut scratch = Scratch::default();
        for b in unseen {
            let f = fb.facts(ImeiKey::body(b), &[]);
            for (ci, c) in conds.iter().enumerate() {
                if condition_matches(c, &f, date, &mut scratch) {
                    matched[ci].push(ImeiKey::body(b));
                    added = true;
                }
            }
        }
    }
    if added {
        matched.par_iter_mut().for_each(|m| m.sort_unstable());
    }
    (matched, seen)
}

/// Matches as normalised IMEIs in `ImeiNorm` order (bodies by number, then raw values by text).
fn to_norms(obs: &Observations<'_>, keys: Vec<ImeiKey>) -> Vec<ImeiNorm> {
    let first_raw = keys.partition_point(|k| k.as_body().is_some());
    let mut out: Vec<ImeiNorm> = keys.iter().map(|k| obs.imei_norm(*k)).collect();
    out[first_raw..].sort_unstable();
    out
}

/// One condition's rows after this run, plus its summary.
struct Merged {
    rows: Vec<StateRow>,
    summary: ConditionSummary,
}

fn merge_condition(
    cond: &Condition,
    conditions: &Conditions,
    matched: Vec<ImeiNorm>,
    mut previous: Vec<StateRow>,
    date: Day,
) -> Merged {
    let in_eval = conditions.amnesty.in_evaluation(date);
    let in_amnesty_period = conditions.amnesty.in_amnesty_period(date);
    let amnesty_end = conditions.amnesty.amnesty_period_end_date;
    let eligible = cond.amnesty_eligible;
    // The block date a row opened today gets (DIRBS `sticky_block_date`).
    let new_block =
        (cond.blocking && !(eligible && in_eval)).then(|| date.plus(cond.grace_period_days as i32));
    // Open rows first, in IMEI order, so one merge pass pairs them with the matches.
    previous.sort_by(|a, b| {
        a.end
            .is_some()
            .cmp(&b.end.is_some())
            .then_with(|| a.imei.cmp(&b.imei))
    });
    let n_open = previous.partition_point(|r| r.end.is_none());
    let closed = previous.split_off(n_open);
    let open = previous;

    let mut summary = ConditionSummary {
        label: cond.label.clone(),
        ..ConditionSummary::default()
    };
    let mut rows = Vec::with_capacity(matched.len() + closed.len() + open.len() / 8);
    let mut open = open.into_iter().peekable();
    let mut matched = matched.into_iter().peekable();
    let new_row = |imei: ImeiNorm| StateRow {
        imei,
        condition: cond.label.clone(),
        start: date,
        end: None,
        block_date: new_block,
        amnesty: eligible && in_eval,
        reason: cond.reason.clone(),
    };
    loop {
        let ord = match (open.peek(), matched.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(o), Some(m)) => o.imei.cmp(m),
        };
        match ord {
            std::cmp::Ordering::Greater => {
                if let Some(m) = matched.next() {
                    summary.newly_matched += 1;
                    rows.push(new_row(m));
                }
            }
            std::cmp::Ordering::Equal | std::cmp::Ordering::Less => {
                let still = ord == std::cmp::Ordering::Equal;
                if still {
                    matched.next();
                }
                let Some(mut row) = open.next() else { break };
                if still || cond.sticky {
                    // DIRBS changes an open row's block date only when blocking flips, or to
                    // move amnesty rows to the amnesty end; otherwise the dates stay.
                    let flips = row.block_date.is_none() != new_block.is_none();
                    if flips || (in_amnesty_period && row.amnesty) {
                        row.block_date = if row.amnesty && !in_eval {
                            amnesty_end
                        } else {
                            new_block
                        };
                        if in_eval {
                            row.amnesty = eligible;
                        }
                    }
                    if !cond.blocking {
                        row.block_date = None;
                    }
                    if row.reason != cond.reason {
                        row.reason.clone_from(&cond.reason);
                    }
                } else {
                    row.end = Some(date);
                    summary.no_longer_matching += 1;
                }
                rows.push(row);
            }
        }
    }
    for r in &rows {
        if r.end.is_none() {
            summary.matched += 1;
            if r.block_date.is_some() {
                summary.blocking += 1;
            }
        }
    }
    // History joins in (IMEI, start) order; `closed` kept the previous state's order.
    let rows = if closed.is_empty() {
        rows
    } else {
        merge_sorted(vec![rows, closed], |a, b| {
            a.imei.cmp(&b.imei).then(a.start.cmp(&b.start))
        })
    };
    Merged { rows, summary }
}

/// Merges lists each sorted by `cmp` into one; ties go to the earlier list.
fn merge_sorted<T>(lists: Vec<Vec<T>>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
    let total = lists.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let mut iters: Vec<std::vec::IntoIter<T>> = lists.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<T>> = iters.iter_mut().map(Iterator::next).collect();
    loop {
        let mut best: Option<usize> = None;
        for (i, h) in heads.iter().enumerate() {
            if let Some(x) = h {
                let better = match best.and_then(|b| heads[b].as_ref()) {
                    None => true,
                    Some(y) => cmp(x, y) == std::cmp::Ordering::Less,
                };
                if better {
                    best = Some(i);
                }
            }
        }
        let Some(b) = best else { break };
        let next = iters[b].next();
        if let Some(x) = std::mem::replace(&mut heads[b], next) {
            out.push(x);
        }
    }
    out
}

/// Classifies the observations on `input.date` and returns the new state, not yet committed.
/// A condition over its safety ratio stops the run with [`ClassifyError::SafetyStop`].
pub fn classify(input: Input<'_>) -> Result<Classified, ClassifyError> {
    let (matched, imeis_seen) = evaluate(&input);
    let Input {
        conditions,
        observations,
        previous,
        date,
        analysis_date,
        safety_check,
        ..
    } = input;
    let (prev_id, prev_rows) = match previous {
        Some(p) => (Some(p.run.id), p.rows),
        None => (None, Vec::new()),
    };
    // Previous rows by condition label.
    let index: HashMap<&str, usize> = conditions
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| (c.label.as_str(), i))
        .collect();
    let n = conditions.conditions.len();
    let mut per_cond: Vec<Vec<StateRow>> = vec![Vec::new(); n];
    let mut orphans: Vec<StateRow> = Vec::new();
    for r in prev_rows {
        match index.get(r.condition.as_str()) {
            Some(&i) => per_cond[i].push(r),
            None => orphans.push(r),
        }
    }
    let merged: Vec<Merged> = conditions
        .conditions
        .par_iter()
        .zip(matched.into_par_iter())
        .zip(per_cond.into_par_iter())
        .map(|((c, m), prev)| {
            merge_condition(c, conditions, to_norms(&observations, m), prev, date)
        })
        .collect();

    if safety_check && imeis_seen > 0 {
        let violations: Vec<SafetyViolation> = conditions
            .conditions
            .iter()
            .zip(&merged)
            .filter_map(|(c, m)| {
                let allowed = c.max_allowed_matching_ratio * imeis_seen as f64;
                (m.summary.matched as f64 > allowed).then(|| SafetyViolation {
                    label: c.label.clone(),
                    matched: m.summary.matched,
                    imeis_seen,
                    ratio: (m.summary.matched as f64 / imeis_seen as f64).min(1.0),
                    max_ratio: c.max_allowed_matching_ratio,
                })
            })
            .collect();
        if !violations.is_empty() {
            return Err(ClassifyError::SafetyStop(violations));
        }
    }

    // A condition no longer configured no longer holds: its open rows close today.
    for r in &mut orphans {
        if r.end.is_none() {
            r.end = Some(date);
        }
    }
    // Every list is sorted by (IMEI, start) and the lists come in condition order, so a k-way
    // merge by IMEI gives (IMEI, condition, start) order without a sort.
    let mut summary = Vec::with_capacity(n);
    let mut lists = Vec::with_capacity(n + 1);
    for m in merged {
        summary.push(m.summary);
        lists.push(m.rows);
    }
    // Conditions no longer configured come last, by label.
    orphans.sort_by(|a, b| {
        a.imei
            .cmp(&b.imei)
            .then_with(|| a.condition.cmp(&b.condition))
            .then(a.start.cmp(&b.start))
    });
    lists.push(orphans);
    let rows = merge_sorted(lists, |a, b| a.imei.cmp(&b.imei));
    Ok(Classified {
        run: RunInfo {
            id: prev_id.map_or(1, |p| p + 1),
            date,
            analysis_date,
            previous: prev_id,
            imeis_seen,
            summary,
        },
        conditions: conditions
            .conditions
            .iter()
            .map(|c| ConditionInfo {
                label: c.label.clone(),
                reason: c.reason.clone(),
                blocking: c.blocking,
                sticky: c.sticky,
                grace_period_days: c.grace_period_days,
            })
            .collect(),
        rows,
    })
}
