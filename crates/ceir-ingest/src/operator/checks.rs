//! The DIRBS operator data checks (`operator_threshold` in DIRBS's config.yml): null, unclean,
//! out-of-region and non-home-network ratios, the file's date range, leading zeros and the
//! historic per-day distinct counts. A file failing any of them is refused whole.

use super::hll::Hll;
use super::{Counts, DailyCount, DaySketch};
use ceir_domain::observe::Day;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

/// Thresholds; the defaults are DIRBS's defaults. `[import.operator]` in the config overrides
/// any of them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub null_imei_threshold: f64,
    pub null_imsi_threshold: f64,
    pub null_msisdn_threshold: f64,
    pub null_rat_threshold: f64,
    pub null_threshold: f64,
    pub unclean_imei_threshold: f64,
    pub unclean_imsi_threshold: f64,
    pub unclean_threshold: f64,
    pub out_of_region_imsi_threshold: f64,
    pub out_of_region_msisdn_threshold: f64,
    pub out_of_region_threshold: f64,
    pub non_home_network_threshold: f64,
    pub historic_imei_threshold: f64,
    pub historic_imsi_threshold: f64,
    pub historic_msisdn_threshold: f64,
    pub leading_zero_suspect_limit: f64,
    /// Days of earlier data the historic check averages over (DIRBS: 30).
    pub historic_days: usize,
    /// ceir's addition: the share of rows that cannot be read at all (wrong field count, a date
    /// that is not yyyymmdd from 2000 on, bad RAT codes, an IMSI or MSISDN that is not 1 to 15
    /// digits), which DIRBS's schema validation refuses outright.
    pub malformed_threshold: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            null_imei_threshold: 0.05,
            null_imsi_threshold: 0.05,
            null_msisdn_threshold: 0.05,
            null_rat_threshold: 0.05,
            null_threshold: 0.05,
            unclean_imei_threshold: 0.05,
            unclean_imsi_threshold: 0.05,
            unclean_threshold: 0.05,
            out_of_region_imsi_threshold: 0.1,
            out_of_region_msisdn_threshold: 0.1,
            out_of_region_threshold: 0.1,
            non_home_network_threshold: 0.2,
            historic_imei_threshold: 0.9,
            historic_imsi_threshold: 0.9,
            historic_msisdn_threshold: 0.9,
            leading_zero_suspect_limit: 0.5,
            historic_days: 30,
            malformed_threshold: 0.05,
        }
    }
}

/// Groups of checks the operator of this node turned off for one import (DIRBS's
/// `--disable-*-check` switches). A disabled check passes and is recorded as skipped, with why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disabled {
    /// NULL IMEI, IMSI, MSISDN, RAT and combined.
    pub null: bool,
    /// Unclean IMEI, IMSI and combined.
    pub clean: bool,
    /// Out-of-region IMSI, MSISDN and combined.
    pub region: bool,
    /// Non-home-network IMSIs.
    pub home: bool,
    /// IMEIs, IMSIs and MSISDNs per day against history.
    pub historic: bool,
    /// Leading zeros stripped, and the catalog's suspects.
    pub leading_zero: bool,
}

impl Disabled {
    /// The command-line switch of the group a check belongs to, when it is disabled.
    fn switch(&self, key: &str) -> Option<&'static str> {
        let groups = [
            (self.null, "null", "--disable-null-check"),
            (self.clean, "unclean", "--disable-clean-check"),
            (self.region, "out_of_region", "--disable-region-check"),
            (self.home, "non_home", "--disable-home-check"),
            (self.historic, "historic", "--disable-historic-check"),
            (
                self.leading_zero,
                "leading_zero",
                "--disable-leading-zero-check",
            ),
        ];
        groups
            .into_iter()
            .find(|(on, prefix, _)| *on && key.starts_with(prefix))
            .map(|(_, _, switch)| switch)
    }

    /// The switches that are on, as given on the command line.
    pub fn switches(&self) -> Vec<&'static str> {
        [
            (self.null, "--disable-null-check"),
            (self.clean, "--disable-clean-check"),
            (self.region, "--disable-region-check"),
            (self.home, "--disable-home-check"),
            (self.historic, "--disable-historic-check"),
            (self.leading_zero, "--disable-leading-zero-check"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| s)
        .collect()
    }
}

/// Why a check the operator of this node disabled did not run.
pub const DISABLED: &str = "disabled by operator of this node";

/// One check's outcome, as the report and the job record show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Stable key (DIRBS's metric key where there is one): `null_imei`, `historic_imsi`, ...
    pub key: String,
    pub name: String,
    pub measured: f64,
    pub threshold: f64,
    pub passed: bool,
    /// `None` when the check ran; why it did not otherwise (it then passes).
    pub skipped: Option<String>,
}

impl CheckResult {
    fn ratio(key: &str, name: &str, count: u64, of: u64, threshold: f64) -> CheckResult {
        let measured = if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        };
        CheckResult {
            key: key.into(),
            name: name.into(),
            measured,
            threshold,
            passed: measured <= threshold,
            skipped: None,
        }
    }

    fn skipped(key: &str, name: &str, why: &str) -> CheckResult {
        CheckResult {
            key: key.into(),
            name: name.into(),
            measured: 0.0,
            threshold: 0.0,
            passed: true,
            skipped: Some(why.into()),
        }
    }

    /// `name: measured 0.0710 > threshold 0.0500` and the like.
    pub fn describe(&self) -> String {
        if let Some(why) = &self.skipped {
            return format!("{}: skipped ({why})", self.name);
        }
        let (cmp, verdict) = match (self.key.starts_with("historic_"), self.passed) {
            (true, true) => (">=", "passed"),
            (true, false) => ("<", "FAILED"),
            (false, true) => ("<=", "passed"),
            (false, false) => (">", "FAILED"),
        };
        format!(
            "{}: measured {} {cmp} threshold {} — {verdict}",
            self.name,
            fmt_num(self.measured),
            fmt_num(self.threshold)
        )
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The average per day of the distinct counts, over the days given.
pub fn daily_average(days: &[DailyCount]) -> Option<(f64, f64, f64)> {
    if days.is_empty() {
        return None;
    }
    let n = days.len() as f64;
    let sum = days.iter().fold((0u64, 0u64, 0u64), |a, d| {
        (a.0 + d.imeis, a.1 + d.imsis, a.2 + d.msisdns)
    });
    Some((sum.0 as f64 / n, sum.1 as f64 / n, sum.2 as f64 / n))
}

/// The history the historic check compares with, as DIRBS makes it: the latest `days` days of
/// this operator on which a row had an IMEI, an IMSI and an MSISDN, each day's sketches of every
/// earlier import that saw it united (an operator may send a day in several files). `legacy` are
/// the per-day counts of imports recorded before sketches were kept (newest import first): they
/// stand in for the days no sketch covers, as [`history_window`] makes them.
pub fn history(
    sketches: &[DaySketch],
    legacy: &[Vec<DailyCount>],
    days: usize,
) -> Result<Vec<DailyCount>, String> {
    let mut united: BTreeMap<i32, (Hll, Hll, Hll, u64)> = BTreeMap::new();
    for s in sketches {
        let read = |h: &str, what: &str| {
            Hll::from_hex(h).map_err(|e| format!("the {what} sketch of day {}: {e}", Day(s.day)))
        };
        let (imei, imsi, msisdn) = (
            read(&s.imei, "IMEI")?,
            read(&s.imsi, "IMSI")?,
            read(&s.msisdn, "MSISDN")?,
        );
        match united.entry(s.day) {
            Entry::Vacant(v) => {
                v.insert((imei, imsi, msisdn, s.complete));
            }
            Entry::Occupied(mut o) => {
                let u = o.get_mut();
                u.0.union(&imei);
                u.1.union(&imsi);
                u.2.union(&msisdn);
                u.3 += s.complete;
            }
        }
    }
    let sketched: HashSet<i32> = united.keys().copied().collect();
    let mut by_day: BTreeMap<i32, DailyCount> = united
        .into_iter()
        .filter(|(_, u)| u.3 > 0)
        .map(|(day, (imei, imsi, msisdn, _))| {
            // Complete rows of overlapping files cannot be told apart: only their presence counts.
            let c = DailyCount {
                day,
                imeis: imei.estimate(),
                imsis: imsi.estimate(),
                msisdns: msisdn.estimate(),
                complete: None,
            };
            (day, c)
        })
        .collect();
    for d in history_window(legacy, usize::MAX) {
        if !sketched.contains(&d.day) {
            by_day.entry(d.day).or_insert(d);
        }
    }
    Ok(by_day.into_values().rev().take(days).collect())
}

/// Of earlier imports' per-day counts (newest import first), the most recent import's count for
/// each day, for the latest `days` days: the history of imports recorded without sketches.
pub fn history_window(earlier: &[Vec<DailyCount>], days: usize) -> Vec<DailyCount> {
    let mut by_day: BTreeMap<i32, DailyCount> = BTreeMap::new();
    for import in earlier {
        for d in import {
            // Newest import first: keep the first seen for each day.
            by_day.entry(d.day).or_insert(*d);
        }
    }
    by_day.into_values().rev().take(days).collect()
}

/// Runs every check but those `disabled`. `history` is [`history`] of this operator's earlier
/// accepted imports; `today` is for "the file's end date is in the future".
pub fn evaluate(
    c: &Counts,
    period: (Day, Day),
    today: Day,
    daily: &[DailyCount],
    history: &[DailyCount],
    t: &Thresholds,
    disabled: &Disabled,
) -> Vec<CheckResult> {
    let mut out = run_all(c, period, today, daily, history, t);
    for r in &mut out {
        if let Some(switch) = disabled.switch(&r.key) {
            *r = CheckResult::skipped(&r.key, &r.name, &format!("{DISABLED} ({switch})"));
        }
    }
    out
}

fn run_all(
    c: &Counts,
    period: (Day, Day),
    today: Day,
    daily: &[DailyCount],
    history: &[DailyCount],
    t: &Thresholds,
) -> Vec<CheckResult> {
    let n = c.rows;
    let mut out = vec![
        CheckResult::ratio(
            "malformed",
            "unreadable rows",
            c.malformed,
            c.rows + c.malformed,
            t.malformed_threshold,
        ),
        CheckResult::ratio(
            "null_imei",
            "NULL IMEI data",
            c.null_imei,
            n,
            t.null_imei_threshold,
        ),
        CheckResult::ratio(
            "null_imsi",
            "NULL IMSI data",
            c.null_imsi,
            n,
            t.null_imsi_threshold,
        ),
        CheckResult::ratio(
            "null_msisdn",
            "NULL MSISDN data",
            c.null_msisdn,
            n,
            t.null_msisdn_threshold,
        ),
    ];
    if c.has_rat {
        out.push(CheckResult::ratio(
            "null_rat",
            "NULL RAT data",
            c.null_rat,
            n,
            t.null_rat_threshold,
        ));
    } else {
        out.push(CheckResult::skipped(
            "null_rat",
            "NULL RAT data",
            "the file has no rat column",
        ));
    }
    out.extend([
        CheckResult::ratio(
            "null",
            "NULL data (combined)",
            c.null_any,
            n,
            t.null_threshold,
        ),
        CheckResult::ratio(
            "unclean_imei",
            "unclean IMEI data",
            c.unclean_imei,
            n,
            t.unclean_imei_threshold,
        ),
        CheckResult::ratio(
            "unclean_imsi",
            "unclean IMSI data",
            c.unclean_imsi,
            n,
            t.unclean_imsi_threshold,
        ),
        CheckResult::ratio(
            "unclean",
            "unclean data (combined)",
            c.unclean_any,
            n,
            t.unclean_threshold,
        ),
        CheckResult::ratio(
            "out_of_region_imsi",
            "out-of-region IMSI data",
            c.out_of_region_imsi,
            n,
            t.out_of_region_imsi_threshold,
        ),
        CheckResult::ratio(
            "out_of_region_msisdn",
            "out-of-region MSISDN data",
            c.out_of_region_msisdn,
            n,
            t.out_of_region_msisdn_threshold,
        ),
        CheckResult::ratio(
            "out_of_region",
            "out-of-region data (combined)",
            c.out_of_region_any,
            n,
            t.out_of_region_threshold,
        ),
        CheckResult::ratio(
            "non_home_imsi",
            "non-home network IMSI data",
            c.non_home_imsi,
            n,
            t.non_home_network_threshold,
        ),
    ]);
    out.push(CheckResult {
        key: "data_daterange".into(),
        name: format!("rows outside the file's dates {} to {}", period.0, period.1),
        measured: c.outside_range as f64,
        threshold: 0.0,
        passed: c.outside_range == 0,
        skipped: None,
    });
    let ahead = (period.1 .0 - today.0).max(0);
    out.push(CheckResult {
        key: "end_date_future".into(),
        name: format!(
            "days the file's end date {} lies after today {today}",
            period.1
        ),
        measured: f64::from(ahead),
        threshold: 0.0,
        passed: ahead == 0,
        skipped: None,
    });
    out.push(CheckResult {
        key: "leading_zero".into(),
        name: "IMEIs starting with 1 (vs. with 0: leading zeros stripped?)".into(),
        measured: c.leading_one as f64,
        threshold: c.leading_zero as f64,
        passed: c.leading_one <= c.leading_zero,
        skipped: None,
    });
    match c.zero_tac_suspect {
        Some(s) if c.leading_one > 1 => out.push(CheckResult::ratio(
            "leading_zero_suspect",
            "IMEIs starting with 1 that match a catalog TAC once a 0 is put in front",
            s,
            c.leading_one,
            t.leading_zero_suspect_limit,
        )),
        Some(_) => out.push(CheckResult::skipped(
            "leading_zero_suspect",
            "leading-zero suspect IMEIs",
            "at most one IMEI starts with 1",
        )),
        None => out.push(CheckResult::skipped(
            "leading_zero_suspect",
            "leading-zero suspect IMEIs",
            "the TAC catalog is empty: import one with `ceir import tac`",
        )),
    }
    let now = daily_average(daily);
    let hist = daily_average(history);
    let historic = [
        ("historic_imei", "IMEI per day", t.historic_imei_threshold),
        ("historic_imsi", "IMSI per day", t.historic_imsi_threshold),
        (
            "historic_msisdn",
            "MSISDN per day",
            t.historic_msisdn_threshold,
        ),
    ];
    for (i, (key, name, ratio)) in historic.into_iter().enumerate() {
        match (now, hist) {
            (Some(now), Some(hist)) => {
                let pick = |v: (f64, f64, f64)| [v.0, v.1, v.2][i];
                let min = ratio * pick(hist);
                out.push(CheckResult {
                    key: key.into(),
                    name: format!(
                        "distinct {name} (average over {} days; history {:.1} over {} days, ratio {ratio})",
                        daily.len(),
                        pick(hist),
                        history.len()
                    ),
                    measured: (pick(now) * 10.0).round() / 10.0,
                    threshold: (min * 10.0).round() / 10.0,
                    passed: pick(now) >= min,
                    skipped: None,
                });
            }
            _ => out.push(CheckResult::skipped(
                key,
                &format!("distinct {name}"),
                "no earlier data of this operator",
            )),
        }
    }
    out
}
