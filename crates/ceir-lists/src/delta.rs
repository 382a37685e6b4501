//! Delta lists: the previous run's snapshot merged with the new lists, both sorted by key, with
//! DIRBS's change types. Removed rows are written as they were; added and changed rows as they
//! are now.

use crate::compute::{BlockRow, ExcRow, Lists, NotifRow, RAW};
use crate::csvout::Out;
use crate::snapshot::Snapshot;
use crate::ListsError;
use std::cmp::Ordering;

pub(crate) const BLOCKLIST_HEADER: &str = "imei,block_date,reasons";
pub(crate) const EXCEPTIONS_HEADER: &str = "imei,imsi,msisdn";

pub(crate) fn notifications_header(amnesty: bool) -> &'static str {
    if amnesty {
        "imei,imsi,msisdn,block_date,reasons,amnesty_granted"
    } else {
        "imei,imsi,msisdn,block_date,reasons"
    }
}

/// Blocklist change types, in DIRBS's words.
pub(crate) const BLOCKLIST_CHANGES: [&str; 3] = ["blocked", "unblocked", "changed"];
pub(crate) const NOTIFICATION_CHANGES: [&str; 5] = [
    "new",
    "resolved",
    "blacklisted",
    "no_longer_seen",
    "changed",
];
pub(crate) const EXCEPTION_CHANGES: [&str; 2] = ["added", "removed"];

pub(crate) fn write_block(
    out: &mut Out,
    r: &BlockRow,
    reasons: &[String],
    raw: &[String],
) -> Result<(), ListsError> {
    out.imei(r.key, raw);
    out.comma();
    out.day(r.block_date);
    out.comma();
    out.reasons(r.reasons, reasons);
    out.end_row()
}

pub(crate) fn write_notif(
    out: &mut Out,
    r: &NotifRow,
    reasons: &[String],
    raw: &[String],
    amnesty_column: bool,
) -> Result<(), ListsError> {
    out.imei(r.key, raw);
    out.comma();
    out.id(r.imsi);
    out.comma();
    out.id(r.msisdn);
    out.comma();
    out.day(r.block_date);
    out.comma();
    out.reasons(r.reasons, reasons);
    if amnesty_column {
        out.comma();
        out.boolean(r.amnesty);
    }
    out.end_row()
}

pub(crate) fn write_exc(out: &mut Out, r: &ExcRow, raw: &[String]) -> Result<(), ListsError> {
    out.imei(r.key, raw);
    out.comma();
    out.id(r.imsi);
    out.comma();
    out.id(r.msisdn);
    out.end_row()
}

/// Key order across two runs, whose malformed IMEIs have different tables: bodies first, by
/// value, then malformed IMEIs by text.
fn cmp_key(a: u64, ta: &[String], b: u64, tb: &[String]) -> Ordering {
    match (a & RAW != 0, b & RAW != 0) {
        (false, false) => a.cmp(&b),
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => {
            let sa = ta.get((a & !RAW) as usize).map(String::as_str);
            let sb = tb.get((b & !RAW) as usize).map(String::as_str);
            sa.cmp(&sb)
        }
    }
}

/// The previous run's reason bits in the new run's table (`None` for a reason gone since).
struct ReasonMap(Vec<Option<u32>>);

impl ReasonMap {
    fn new(old: &[String], new: &[String]) -> ReasonMap {
        ReasonMap(
            old.iter()
                .map(|r| new.binary_search(r).ok().map(|i| i as u32))
                .collect(),
        )
    }
    /// Do an old and a new mask name the same reasons?
    fn same(&self, old: u64, new: u64) -> bool {
        let mut m = old;
        let mut translated = 0u64;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            match self.0.get(i).copied().flatten() {
                Some(j) => translated |= 1 << j,
                None => return false,
            }
        }
        translated == new
    }
}

/// The key an old row's IMEI has in the new run, if it appears in it.
fn new_key(old: &Snapshot, new: &Lists, key: u64) -> Option<u64> {
    if key & RAW == 0 {
        return Some(key);
    }
    old.raw_imeis
        .get((key & !RAW) as usize)
        .and_then(|s| new.raw_key(s))
}

/// Writes `blocked`, `unblocked` and `changed` (in [`BLOCKLIST_CHANGES`] order).
pub(crate) fn blocklist(
    old: &Snapshot,
    new: &Lists,
    outs: &mut [Out; 3],
) -> Result<(), ListsError> {
    let map = ReasonMap::new(&old.reasons, &new.reasons);
    let (o, n) = (&old.blocklist, &new.blocklist);
    let (mut i, mut j) = (0, 0);
    let [blocked, unblocked, changed] = outs;
    while i < o.len() || j < n.len() {
        let ord = match (o.get(i), n.get(j)) {
            (Some(a), Some(b)) => cmp_key(a.key, &old.raw_imeis, b.key, &new.raw_imeis),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                write_block(unblocked, &o[i], &old.reasons, &old.raw_imeis)?;
                i += 1;
            }
            Ordering::Greater => {
                write_block(blocked, &n[j], &new.reasons, &new.raw_imeis)?;
                j += 1;
            }
            Ordering::Equal => {
                let (a, b) = (&o[i], &n[j]);
                if a.block_date != b.block_date || !map.same(a.reasons, b.reasons) {
                    write_block(changed, b, &new.reasons, &new.raw_imeis)?;
                }
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

fn cmp_triple(a: (u64, u64, u64), ta: &[String], b: (u64, u64, u64), tb: &[String]) -> Ordering {
    cmp_key(a.0, ta, b.0, tb).then((a.1, a.2).cmp(&(b.1, b.2)))
}

/// One operator's notification delta: `new`, `resolved`, `blacklisted`, `no_longer_seen`,
/// `changed` (in [`NOTIFICATION_CHANGES`] order).
pub(crate) fn notifications(
    old: &Snapshot,
    new: &Lists,
    op: usize,
    outs: &mut [Out; 5],
) -> Result<(), ListsError> {
    let map = ReasonMap::new(&old.reasons, &new.reasons);
    let empty = Vec::new();
    let o = old
        .op_index(&new.operators[op])
        .and_then(|k| old.notifications.get(k))
        .unwrap_or(&empty);
    let n = &new.notifications[op];
    let amnesty = new.amnesty_column;
    let (mut i, mut j) = (0, 0);
    let [added, resolved, blacklisted, no_longer_seen, changed] = outs;
    while i < o.len() || j < n.len() {
        let ord = match (o.get(i), n.get(j)) {
            (Some(a), Some(b)) => cmp_triple(
                (a.key, a.imsi.0, a.msisdn.0),
                &old.raw_imeis,
                (b.key, b.imsi.0, b.msisdn.0),
                &new.raw_imeis,
            ),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                let a = &o[i];
                // DIRBS's order: a pairing resolves it; else a block; else the IMEI is still in
                // grace but this subscriber was not seen; else the IMEI left the condition.
                let out = match new_key(old, new, a.key) {
                    Some(k) if new.is_paired(k, a.imsi, a.msisdn) => &mut *resolved,
                    Some(k) if new.is_blocklisted(k) => &mut *blacklisted,
                    Some(k) if new.is_notified(k) => &mut *no_longer_seen,
                    _ => &mut *resolved,
                };
                write_notif(out, a, &old.reasons, &old.raw_imeis, amnesty)?;
                i += 1;
            }
            Ordering::Greater => {
                write_notif(added, &n[j], &new.reasons, &new.raw_imeis, amnesty)?;
                j += 1;
            }
            Ordering::Equal => {
                let (a, b) = (&o[i], &n[j]);
                if a.block_date != b.block_date || !map.same(a.reasons, b.reasons) {
                    write_notif(changed, b, &new.reasons, &new.raw_imeis, amnesty)?;
                }
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

/// One operator's exception delta: `added`, `removed`.
pub(crate) fn exceptions(
    old: &Snapshot,
    new: &Lists,
    op: usize,
    outs: &mut [Out; 2],
) -> Result<(), ListsError> {
    let empty = Vec::new();
    let o = old
        .op_index(&new.operators[op])
        .and_then(|k| old.exceptions.get(k))
        .unwrap_or(&empty);
    let n = &new.exceptions[op];
    let (mut i, mut j) = (0, 0);
    let [added, removed] = outs;
    while i < o.len() || j < n.len() {
        let ord = match (o.get(i), n.get(j)) {
            (Some(a), Some(b)) => cmp_triple(
                (a.key, a.imsi.0, a.msisdn.0),
                &old.raw_imeis,
                (b.key, b.imsi.0, b.msisdn.0),
                &new.raw_imeis,
            ),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                write_exc(removed, &o[i], &old.raw_imeis)?;
                i += 1;
            }
            Ordering::Greater => {
                write_exc(added, &n[j], &new.raw_imeis)?;
                j += 1;
            }
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}
