//! The compact internal snapshot of a run's lists, from which the next run computes its deltas:
//! fixed-width little-endian records, about 20 bytes per blocked IMEI, read back in one pass.

use crate::compute::{BlockRow, ExcRow, Lists, NotifRow};
use crate::csvout::{Out, Written};
use crate::ListsError;
use ceir_domain::observe::{Day, IdKey};
use std::path::Path;

const MAGIC: &[u8; 8] = b"CEIRLST1";

/// A previous run's lists, as the delta needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub date: Day,
    pub reasons: Vec<String>,
    pub raw_imeis: Vec<String>,
    pub operators: Vec<String>,
    pub amnesty_column: bool,
    pub blocklist: Vec<BlockRow>,
    pub notifications: Vec<Vec<NotifRow>>,
    pub exceptions: Vec<Vec<ExcRow>>,
}

impl Snapshot {
    /// The base of a first run: every row of the new lists is a change.
    pub fn empty(date: Day) -> Snapshot {
        Snapshot {
            date,
            reasons: Vec::new(),
            raw_imeis: Vec::new(),
            operators: Vec::new(),
            amnesty_column: false,
            blocklist: Vec::new(),
            notifications: Vec::new(),
            exceptions: Vec::new(),
        }
    }

    pub fn op_index(&self, operator: &str) -> Option<usize> {
        self.operators.iter().position(|o| o == operator)
    }
}

fn strings(out: &mut Out, v: &[String]) -> Result<(), ListsError> {
    out.bytes(&(v.len() as u32).to_le_bytes())?;
    for s in v {
        out.bytes(&(s.len() as u32).to_le_bytes())?;
        out.bytes(s.as_bytes())?;
    }
    Ok(())
}

/// Writes `lists` as a snapshot (hashed like every file of a run).
pub(crate) fn write(path: &Path, l: &Lists) -> Result<Written, ListsError> {
    let mut out = Out::create(path)?;
    out.bytes(MAGIC)?;
    out.bytes(&l.date.0.to_le_bytes())?;
    strings(&mut out, &l.reasons)?;
    strings(&mut out, &l.raw_imeis)?;
    strings(&mut out, &l.operators)?;
    out.bytes(&[u8::from(l.amnesty_column)])?;
    out.bytes(&(l.blocklist.len() as u64).to_le_bytes())?;
    let mut rec = [0u8; 20];
    for r in &l.blocklist {
        rec[..8].copy_from_slice(&r.key.to_le_bytes());
        rec[8..12].copy_from_slice(&r.block_date.0.to_le_bytes());
        rec[12..].copy_from_slice(&r.reasons.to_le_bytes());
        out.bytes(&rec)?;
    }
    for list in &l.notifications {
        out.bytes(&(list.len() as u64).to_le_bytes())?;
        let mut rec = [0u8; 37];
        for r in list {
            rec[..8].copy_from_slice(&r.key.to_le_bytes());
            rec[8..16].copy_from_slice(&r.imsi.0.to_le_bytes());
            rec[16..24].copy_from_slice(&r.msisdn.0.to_le_bytes());
            rec[24..28].copy_from_slice(&r.block_date.0.to_le_bytes());
            rec[28..36].copy_from_slice(&r.reasons.to_le_bytes());
            rec[36] = u8::from(r.amnesty);
            out.bytes(&rec)?;
        }
    }
    for list in &l.exceptions {
        out.bytes(&(list.len() as u64).to_le_bytes())?;
        let mut rec = [0u8; 24];
        for r in list {
            rec[..8].copy_from_slice(&r.key.to_le_bytes());
            rec[8..16].copy_from_slice(&r.imsi.0.to_le_bytes());
            rec[16..].copy_from_slice(&r.msisdn.0.to_le_bytes());
            out.bytes(&rec)?;
        }
    }
    out.finish()
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() < n {
            return Err("truncated".into());
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn count(&mut self, record: usize) -> Result<usize, String> {
        let n = self.u64()? as usize;
        if n.checked_mul(record)
            .is_none_or(|bytes| bytes > self.b.len())
        {
            return Err(format!("a count of {n} records exceeds the file"));
        }
        Ok(n)
    }
    fn strings(&mut self) -> Result<Vec<String>, String> {
        let n = self.u32()? as usize;
        if n > self.b.len() {
            return Err("a string count exceeds the file".into());
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.u32()? as usize;
            let s = std::str::from_utf8(self.take(len)?).map_err(|e| e.to_string())?;
            v.push(s.to_owned());
        }
        Ok(v)
    }
}

pub(crate) fn read(path: &Path) -> Result<Snapshot, ListsError> {
    let bytes = std::fs::read(path).map_err(ListsError::io(path))?;
    parse(&bytes).map_err(|reason| ListsError::Snapshot {
        path: path.to_owned(),
        reason,
    })
}

fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    let mut r = Reader { b: bytes };
    if r.take(8)? != MAGIC {
        return Err("not a ceir lists snapshot".into());
    }
    let date = Day(r.i32()?);
    let reasons = r.strings()?;
    let raw_imeis = r.strings()?;
    let operators = r.strings()?;
    let amnesty_column = r.u8()? != 0;
    let n = r.count(20)?;
    let mut blocklist = Vec::with_capacity(n);
    for _ in 0..n {
        blocklist.push(BlockRow {
            key: r.u64()?,
            block_date: Day(r.i32()?),
            reasons: r.u64()?,
        });
    }
    let mut notifications = Vec::with_capacity(operators.len());
    for _ in &operators {
        let n = r.count(37)?;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            list.push(NotifRow {
                key: r.u64()?,
                imsi: IdKey(r.u64()?),
                msisdn: IdKey(r.u64()?),
                block_date: Day(r.i32()?),
                reasons: r.u64()?,
                amnesty: r.u8()? != 0,
            });
        }
        notifications.push(list);
    }
    let mut exceptions = Vec::with_capacity(operators.len());
    for _ in &operators {
        let n = r.count(24)?;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            list.push(ExcRow {
                key: r.u64()?,
                imsi: IdKey(r.u64()?),
                msisdn: IdKey(r.u64()?),
            });
        }
        exceptions.push(list);
    }
    if !r.b.is_empty() {
        return Err(format!("{} unexpected trailing bytes", r.b.len()));
    }
    Ok(Snapshot {
        date,
        reasons,
        raw_imeis,
        operators,
        amnesty_column,
        blocklist,
        notifications,
        exceptions,
    })
}
