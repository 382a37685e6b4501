//! Rows collapse into monthly triplets in a bounded hash map; when it reaches its budget the map
//! is sorted and spilled to a run file, and the runs are merged (k-way) at the end, so memory
//! stays bounded whatever the file's size.

use ceir_domain::observe::{Day, IdKey, ImeiKey, RatSet, Triplet};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub imei: u64,
    pub imsi: u64,
    pub msisdn: u64,
    pub month: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Val {
    pub days: u32,
    pub rat: u16,
}

impl Val {
    /// One triplet seen in two places (rows, threads, runs): the days and RATs of both.
    fn or(self, o: Val) -> Val {
        Val {
            days: self.days | o.days,
            rat: self.rat | o.rat,
        }
    }
}

/// Bytes of one record in a run file.
const RECORD: usize = 40;
/// I/O buffer per run file.
const RUN_BUF: usize = 1 << 20;

/// The store's partition order: month, IMEI (bodies by value, then malformed ones by text),
/// IMSI key, MSISDN key.
pub(crate) fn order(a: &Key, b: &Key, raw: &[String]) -> Ordering {
    a.month.cmp(&b.month).then_with(|| {
        let (ra, rb) = (ImeiKey(a.imei).raw_index(), ImeiKey(b.imei).raw_index());
        match (ra, rb) {
            (None, None) => a.imei.cmp(&b.imei),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => raw
                .get(x as usize)
                .map(String::as_str)
                .cmp(&raw.get(y as usize).map(String::as_str)),
        }
        .then_with(|| a.imsi.cmp(&b.imsi))
        .then_with(|| a.msisdn.cmp(&b.msisdn))
    })
}

/// One parsing thread's triplets: a map until [`Dedupe::seal`], then a sorted vector, plus the
/// runs it spilled.
#[derive(Debug)]
pub(crate) struct Dedupe {
    map: FxHashMap<Key, Val>,
    /// The map, sorted and merged (after [`Dedupe::seal`] or [`Dedupe::combine`]).
    sealed: Vec<(Key, Val)>,
    budget: usize,
    spill_dir: PathBuf,
    /// Tells the run files of parsing threads apart.
    id: usize,
    runs: Vec<PathBuf>,
    /// Triplets written to runs (with repeats across runs).
    pub spilled: u64,
}

impl Dedupe {
    pub(crate) fn new(budget: usize, spill_dir: &Path, id: usize) -> Dedupe {
        Dedupe {
            map: FxHashMap::default(),
            sealed: Vec::new(),
            budget: budget.max(1),
            spill_dir: spill_dir.to_path_buf(),
            id,
            runs: Vec::new(),
            spilled: 0,
        }
    }

    /// Folds a row in; true when the map has reached its budget and must be spilled.
    #[inline]
    pub(crate) fn insert(&mut self, key: Key, day_bit: u32, rat: u16) -> bool {
        let v = self.map.entry(key).or_insert(Val { days: 0, rat: 0 });
        *v = v.or(Val { days: day_bit, rat });
        self.map.len() >= self.budget
    }

    fn sorted(&mut self, raw: &[String]) -> Vec<(Key, Val)> {
        let mut v: Vec<(Key, Val)> = self.map.drain().collect();
        v.sort_unstable_by(|a, b| order(&a.0, &b.0, raw));
        v
    }

    /// Sorts what is in memory, on the parsing thread, so that threads sort side by side.
    pub(crate) fn seal(&mut self, raw: &[String]) {
        let v = self.sorted(raw);
        self.map = FxHashMap::default();
        self.sealed = merge_sorted(std::mem::take(&mut self.sealed), v, raw);
    }

    /// The parsing threads' sealed triplets merged into one sorted vector (a triplet several
    /// threads saw is OR-merged), with all their runs.
    pub(crate) fn combine(parts: Vec<Dedupe>, raw: &[String]) -> Option<Dedupe> {
        let mut parts = parts.into_iter();
        let mut all = parts.next()?;
        all.seal(raw);
        for mut p in parts {
            p.seal(raw);
            all.sealed = merge_sorted(
                std::mem::take(&mut all.sealed),
                std::mem::take(&mut p.sealed),
                raw,
            );
            // Moved, so that dropping `p` leaves the files to `all`.
            all.runs.append(&mut p.runs);
            all.spilled += p.spilled;
        }
        Some(all)
    }

    pub(crate) fn spill(&mut self, raw: &[String]) -> io::Result<()> {
        let v = self.sorted(raw);
        std::fs::create_dir_all(&self.spill_dir)?;
        let path = self.spill_dir.join(format!(
            "run-{}-{}-{}-{}.bin",
            std::process::id(),
            self.id,
            self.runs.len(),
            v.len()
        ));
        // Registered before writing so that a failure still removes it.
        self.runs.push(path.clone());
        let mut w = BufWriter::with_capacity(RUN_BUF, File::create(&path)?);
        for (k, val) in &v {
            let mut rec = [0u8; RECORD];
            rec[0..8].copy_from_slice(&k.imei.to_le_bytes());
            rec[8..16].copy_from_slice(&k.imsi.to_le_bytes());
            rec[16..24].copy_from_slice(&k.msisdn.to_le_bytes());
            rec[24..28].copy_from_slice(&k.month.to_le_bytes());
            rec[28..32].copy_from_slice(&val.days.to_le_bytes());
            rec[32..34].copy_from_slice(&val.rat.to_le_bytes());
            w.write_all(&rec)?;
        }
        w.flush()?;
        self.spilled += v.len() as u64;
        Ok(())
    }

    /// Distinct triplets in memory now (before the final merge).
    pub(crate) fn in_memory(&self) -> usize {
        self.map.len() + self.sealed.len()
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The triplets in partition order, each once, merged across runs.
    pub(crate) fn finish(mut self, raw: Arc<Vec<String>>) -> io::Result<SortedTriplets> {
        self.seal(&raw);
        let mem = std::mem::take(&mut self.sealed);
        let mut readers = Vec::new();
        for p in std::mem::take(&mut self.runs) {
            // Owned by a reader first, so the file goes even if opening it fails.
            let mut run = RunReader {
                reader: None,
                path: p,
            };
            run.reader = Some(BufReader::with_capacity(RUN_BUF, File::open(&run.path)?));
            readers.push(run);
        }
        let mut s = SortedTriplets {
            mem: mem.into_iter(),
            mem_head: None,
            runs: readers,
            heads: Vec::new(),
            raw,
        };
        s.mem_head = s.mem.next();
        for i in 0..s.runs.len() {
            let h = s.runs[i].next()?;
            s.heads.push(h);
        }
        Ok(s)
    }
}

/// Two sorted vectors as one, equal keys OR-merged.
fn merge_sorted(a: Vec<(Key, Val)>, b: Vec<(Key, Val)>, raw: &[String]) -> Vec<(Key, Val)> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match order(&x.0, &y.0, raw) {
                Ordering::Less => a.next(),
                Ordering::Greater => b.next(),
                Ordering::Equal => match (a.next(), b.next()) {
                    (Some((k, x)), Some((_, y))) => Some((k, x.or(y))),
                    (x, y) => x.or(y),
                },
            },
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(t) => out.push(t),
            None => return out,
        }
    }
}

impl Drop for Dedupe {
    fn drop(&mut self) {
        for p in &self.runs {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct RunReader {
    reader: Option<BufReader<File>>,
    path: PathBuf,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<(Key, Val)>> {
        let Some(r) = self.reader.as_mut() else {
            return Ok(None);
        };
        let mut rec = [0u8; RECORD];
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.reader = None;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&rec[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&rec[i..i + 4]);
            u32::from_le_bytes(b)
        };
        Ok(Some((
            Key {
                imei: u64_at(0),
                imsi: u64_at(8),
                msisdn: u64_at(16),
                month: u32_at(24) as i32,
            },
            Val {
                days: u32_at(28),
                rat: u16::from_le_bytes([rec[32], rec[33]]),
            },
        )))
    }
}

impl Drop for RunReader {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An import's triplets in partition order, merged from memory and the spilled runs.
pub struct SortedTriplets {
    mem: std::vec::IntoIter<(Key, Val)>,
    mem_head: Option<(Key, Val)>,
    runs: Vec<RunReader>,
    heads: Vec<Option<(Key, Val)>>,
    raw: Arc<Vec<String>>,
}

impl std::fmt::Debug for SortedTriplets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedTriplets")
            .field("runs", &self.runs.len())
            .finish()
    }
}

impl SortedTriplets {
    /// No triplets (a file with no data rows).
    pub(crate) fn empty(raw: Arc<Vec<String>>) -> SortedTriplets {
        SortedTriplets {
            mem: Vec::new().into_iter(),
            mem_head: None,
            runs: Vec::new(),
            heads: Vec::new(),
            raw,
        }
    }

    fn next_merged(&mut self) -> io::Result<Option<(Key, Val)>> {
        // The smallest head; runs are few (one per budget's worth of triplets), so a linear scan
        // beats a heap that would need the raw-IMEI table inside its ordering.
        let mut best: Option<Key> = self.mem_head.map(|h| h.0);
        for (k, _) in self.heads.iter().flatten() {
            if best.is_none_or(|b| order(k, &b, &self.raw) == Ordering::Less) {
                best = Some(*k);
            }
        }
        let Some(key) = best else {
            return Ok(None);
        };
        let mut val = Val { days: 0, rat: 0 };
        if let Some((k, v)) = self.mem_head {
            if k == key {
                val = val.or(v);
                self.mem_head = self.mem.next();
            }
        }
        for i in 0..self.runs.len() {
            if let Some((k, v)) = self.heads[i] {
                if k == key {
                    val = val.or(v);
                    self.heads[i] = self.runs[i].next()?;
                }
            }
        }
        Ok(Some((key, val)))
    }
}

impl Iterator for SortedTriplets {
    type Item = io::Result<Triplet>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_merged() {
            Ok(Some((k, v))) => Some(Ok(Triplet {
                imei: ImeiKey(k.imei),
                imsi: IdKey(k.imsi),
                msisdn: IdKey(k.msisdn),
                operator: 0,
                month: Day(k.month),
                days: v.days,
                rat: RatSet(v.rat),
            })),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
