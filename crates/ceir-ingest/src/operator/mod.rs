//! Operator network data in the DIRBS format: `date,imei,imsi,msisdn[,rat]` rows (header in any
//! order and case), plain, gzip or zip, from files named `<operator>_<start>_<end>`.
//!
//! One streaming pass parses each row in place (no allocation per row), counts what the DIRBS
//! checks need, sketches the per-day distinct counts and folds the row into monthly triplets
//! (bounded memory, spilling sorted runs). The caller then evaluates the checks
//! ([`checks::evaluate`]) and, if the file passes, hands [`OperatorData::triplets`] to the
//! observation store.

pub mod checks;
mod dedupe;
mod hll;

pub use checks::{CheckResult, Disabled, Thresholds};
pub use dedupe::SortedTriplets;

use crate::error::{IngestError, RowError, MAX_ROW_ERRORS};
use ceir_domain::observe::{Day, IdKey, ImeiKey, OperatorFileName, RatSet, Region};
use dedupe::{Dedupe, Key};
use hll::Hll;
use memchr::memchr;
use sha2::{Digest, Sha256};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

/// Distinct triplets held in memory before a sorted run is spilled: about 170 MB of map, so a
/// whole import stays well under 1 GB.
pub const DEFAULT_TRIPLET_BUDGET: usize = 3_500_000;
/// The longest row accepted; real rows are under 100 bytes.
const MAX_ROW: usize = 64 * 1024;

/// What the reader needs besides the file.
#[derive(Debug, Clone)]
pub struct ReadOptions<'a> {
    pub region: &'a Region,
    /// Distinct triplets in memory before spilling ([`DEFAULT_TRIPLET_BUDGET`]).
    pub triplet_budget: usize,
    /// Where sorted runs go (the observation store's scratch directory).
    pub spill_dir: &'a Path,
    /// The last seven digits of catalog TACs that start with 0, for DIRBS's leading-zero
    /// suspect check; `None` (an empty catalog) skips that check.
    pub zero_tacs: Option<&'a HashSet<u32>>,
    /// Threads that parse rows; 0 for one per core ([`default_workers`]).
    pub workers: usize,
    /// Bytes of whole lines handed to a parsing thread at a time ([`DEFAULT_CHUNK`]).
    pub chunk_bytes: usize,
}

/// Bytes of whole lines per chunk: large enough that handing chunks over costs nothing, small
/// enough that the threads start at once and the few chunks queued stay a few MB.
pub const DEFAULT_CHUNK: usize = 4 << 20;

/// One parsing thread per core, at most 8: reading the file stays on one thread, which more
/// would outrun.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

/// Row counts for the checks, kept in the job record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Readable data rows (the denominator of every ratio but `malformed`).
    pub rows: u64,
    pub malformed: u64,
    pub null_imei: u64,
    pub null_imsi: u64,
    pub null_msisdn: u64,
    pub null_rat: u64,
    pub null_any: u64,
    pub unclean_imei: u64,
    pub unclean_imsi: u64,
    pub unclean_any: u64,
    pub out_of_region_imsi: u64,
    pub out_of_region_msisdn: u64,
    pub out_of_region_any: u64,
    pub non_home_imsi: u64,
    pub outside_range: u64,
    pub leading_zero: u64,
    pub leading_one: u64,
    /// 14-digit IMEIs starting with 0 ([`ceir_domain::observe::imei_leading_zero_suspect`]).
    pub fourteen_digit_zero: u64,
    pub zero_tac_suspect: Option<u64>,
    pub has_rat: bool,
}

/// Distinct identifiers seen on one day (HyperLogLog estimates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DailyCount {
    /// Days since 1970-01-01.
    pub day: i32,
    pub imeis: u64,
    pub imsis: u64,
    pub msisdns: u64,
    /// Rows with an IMEI, an IMSI and an MSISDN (DIRBS's triplets); `None` in job records from
    /// before ceir kept per-day sketches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<u64>,
}

/// One day of an import as the historic check keeps it (DIRBS's `daily_per_mno_hll_sketches`):
/// its distinct IMEIs, IMSIs and MSISDNs as HyperLogLog sketches, which later checks unite with
/// other imports' sketches of the same day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySketch {
    /// Days since 1970-01-01.
    pub day: i32,
    /// Rows with an IMEI, an IMSI and an MSISDN: a day without any is not history.
    pub complete: u64,
    /// The sketches' registers in hex.
    pub imei: String,
    pub imsi: String,
    pub msisdn: String,
}

/// A read operator file: counts, sketches and its triplets, not yet checked or stored.
#[derive(Debug)]
pub struct OperatorData {
    pub file: String,
    pub name: OperatorFileName,
    pub sha256: String,
    /// Bytes of the file as given (compressed, for gz and zip).
    pub bytes: u64,
    pub counts: Counts,
    pub daily: Vec<DailyCount>,
    /// The same days' sketches, for later imports' historic checks.
    pub sketches: Vec<DaySketch>,
    /// The first [`MAX_ROW_ERRORS`] unreadable rows; `more_malformed` counts the rest.
    pub malformed_rows: Vec<RowError>,
    pub more_malformed: u64,
    /// Malformed IMEIs (upper-cased) by raw index.
    pub raw_imeis: Arc<Vec<String>>,
    /// Text of unclean IMSIs and MSISDNs by key.
    pub unclean_ids: HashMap<u64, String>,
    /// Distinct triplets (rows without an IMEI are not kept). With spilled runs this is an
    /// upper bound: a triplet in several runs counts once per run until they are merged.
    pub triplet_count: u64,
    /// Sorted runs spilled to disk (0 when everything fit in memory).
    pub runs: usize,
    dedupe: Option<Dedupe>,
}

impl OperatorData {
    /// The triplets in the store's partition order, merged from memory and spilled runs.
    pub fn triplets(self) -> io::Result<SortedTriplets> {
        match self.dedupe {
            Some(d) => d.finish(self.raw_imeis),
            None => Ok(SortedTriplets::empty(self.raw_imeis)),
        }
    }
}

/// Reads an operator data file. `progress` gets the bytes of the file read so far.
pub fn read_operator_file(
    path: &Path,
    opts: &ReadOptions<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<OperatorData, IngestError> {
    let file = path.display().to_string();
    let io_err = |source| IngestError::Io {
        file: file.clone(),
        source,
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = OperatorFileName::parse(&base).map_err(|reason| IngestError::Operator {
        file: file.clone(),
        reason,
    })?;
    // Without its networks every IMSI would count as foreign and the file would fail its checks
    // with a misleading ratio: say what is wrong before reading anything.
    match opts.region.operator(&name.operator) {
        None => {
            let known: Vec<&str> = opts
                .region
                .operators
                .iter()
                .map(|o| o.id.as_str())
                .collect();
            return Err(IngestError::Operator {
                file,
                reason: format!(
                    "the operator {:?} of the file name is not one of this node's operators ({}); \
                     add it with its MCC-MNCs under [region] in the configuration, or correct the \
                     file name",
                    name.operator,
                    if known.is_empty() {
                        "none configured".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        Some(o) if o.mcc_mnc.is_empty() => {
            return Err(IngestError::Operator {
                file,
                reason: format!(
                    "the operator {:?} has no MCC-MNC under [region] in the configuration",
                    name.operator
                ),
            });
        }
        Some(_) => {}
    }
    let mut f = File::open(path).map_err(io_err)?;
    let bytes = f.metadata().map_err(io_err)?.len();
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut f, &mut magic).map_err(io_err)?;
    f.rewind().map_err(io_err)?;
    let magic = magic.get(..got).unwrap_or_default();
    let (parsed, sha) = if crate::archive::is_zip(magic) {
        // The zip's directory is at its end: hash the file in its own pass, then read the entry.
        let mut hasher = Sha256::new();
        io::copy(&mut f, &mut hasher).map_err(io_err)?;
        f.rewind().map_err(io_err)?;
        let zip_err = |e: zip::result::ZipError| IngestError::Zip {
            file: file.clone(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(BufReader::new(f)).map_err(zip_err)?;
        let entry = crate::archive::single_member(&archive, &file)?;
        let inner = archive.by_name(&entry).map_err(zip_err)?;
        let mut counted = 0u64;
        let mut on_read = |n: usize| {
            counted += n as u64;
            progress(counted.min(bytes));
        };
        (parse(&file, &name, opts, inner, &mut on_read)?, hasher)
    } else {
        let gzip = magic.starts_with(&[0x1f, 0x8b]);
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        let src = Tap {
            inner: f,
            hasher: &mut hasher,
            read: &mut read,
            progress,
        };
        let parsed = if gzip {
            parse(
                &file,
                &name,
                opts,
                flate2::read::MultiGzDecoder::new(src),
                &mut |_| {},
            )?
        } else {
            parse(&file, &name, opts, src, &mut |_| {})?
        };
        (parsed, hasher)
    };
    let runs = parsed.dedupe.as_ref().map_or(0, Dedupe::runs);
    let triplet_count = parsed
        .dedupe
        .as_ref()
        .map_or(0, |d| d.in_memory() as u64 + d.spilled);
    let mut counts = parsed.counts;
    if opts.zero_tacs.is_some() && counts.zero_tac_suspect.is_none() {
        counts.zero_tac_suspect = Some(0);
    }
    Ok(OperatorData {
        file,
        name,
        sha256: hex::encode(sha.finalize()),
        bytes,
        counts,
        daily: parsed.daily,
        sketches: parsed.sketches,
        malformed_rows: parsed.errors,
        more_malformed: parsed.more,
        raw_imeis: Arc::new(parsed.raw_imeis),
        unclean_ids: parsed.unclean,
        triplet_count,
        runs,
        dedupe: parsed.dedupe,
    })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Hashes and counts the file's bytes as they are read (before any decompression).
struct Tap<'a, 'p> {
    inner: File,
    hasher: &'a mut Sha256,
    read: &'a mut u64,
    progress: &'p mut dyn FnMut(u64),
}

impl Read for Tap<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        *self.read += n as u64;
        (self.progress)(*self.read);
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy)]
struct Cols {
    date: usize,
    imei: usize,
    imsi: usize,
    msisdn: usize,
    rat: Option<usize>,
    n: usize,
}

fn header(line: &[u8], file: &str, at: u64) -> Result<Cols, IngestError> {
    let mut found: [Option<usize>; 5] = [None; 5];
    let names = ["date", "imei", "imsi", "msisdn", "rat"];
    let mut n = 0;
    for (i, raw) in line.split(|&b| b == b',').enumerate() {
        n += 1;
        let name = String::from_utf8_lossy(unquote(raw.trim_ascii())).to_ascii_lowercase();
        let Some(slot) = names.iter().position(|c| *c == name) else {
            return Err(IngestError::Header {
                file: file.into(),
                line: at,
                reason: format!(
                    "unknown column {:?}; the header must name date, imei, imsi, msisdn and optionally rat",
                    crate::error::truncate(&name)
                ),
            });
        };
        if found[slot].replace(i).is_some() {
            return Err(IngestError::Header {
                file: file.into(),
                line: at,
                reason: format!("the column {name} appears twice"),
            });
        }
    }
    let missing: Vec<&str> = names[..4]
        .iter()
        .zip(found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| *n)
        .collect();
    match found {
        [Some(date), Some(imei), Some(imsi), Some(msisdn), rat] => Ok(Cols {
            date,
            imei,
            imsi,
            msisdn,
            rat,
            n,
        }),
        _ => Err(IngestError::Header {
            file: file.into(),
            line: at,
            reason: format!(
                "the header lacks the column(s) {}; expected date,imei,imsi,msisdn[,rat] in any order",
                missing.join(", ")
            ),
        }),
    }
}

fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

struct DayStats {
    imei: Hll,
    imsi: Hll,
    msisdn: Hll,
    complete: u64,
}

impl DayStats {
    fn new() -> DayStats {
        DayStats {
            imei: Hll::new(),
            imsi: Hll::new(),
            msisdn: Hll::new(),
            complete: 0,
        }
    }
}

/// Malformed IMEIs by raw index, shared by the parsing threads (they are rare: a lock is cheap).
#[derive(Default)]
struct RawImeis {
    texts: Vec<String>,
    index: HashMap<String, u32>,
}

/// What every parsing thread reads and nobody changes, but the raw IMEI table.
struct Shared<'o> {
    opts: &'o ReadOptions<'o>,
    start: Day,
    end: Day,
    mccs: Vec<Vec<u8>>,
    ccs: Vec<Vec<u8>>,
    home: Vec<Vec<u8>>,
    cols: Cols,
    raw: Mutex<RawImeis>,
}

impl Shared<'_> {
    fn raw(&self) -> std::sync::MutexGuard<'_, RawImeis> {
        // A thread that panicked holding it left the table whole: entries are pushed with their
        // index in one step.
        self.raw.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn raw_snapshot(&self) -> Vec<String> {
        self.raw().texts.clone()
    }
}

/// A run of whole lines for a parsing thread; `seq` orders chunks in the file.
struct Chunk {
    seq: u64,
    buf: Vec<u8>,
    len: usize,
}

/// One parsing thread: it sees every `workers`-th chunk and keeps its own counts, sketches and
/// triplets, which [`merge`] puts together.
struct Worker<'s> {
    shared: &'s Shared<'s>,
    counts: Counts,
    /// (chunk, error with its line number within the chunk): this thread's first few, in order.
    errors: Vec<(u64, RowError)>,
    unclean: HashMap<u64, String>,
    days: HashMap<i32, DayStats>,
    last_date: ([u8; 8], Day, u32, i32),
    dedupe: Dedupe,
    /// Lines in each chunk this thread read.
    chunk_lines: Vec<(u64, u64)>,
    seq: u64,
    line: u64,
}

/// A line longer than [`MAX_ROW`]: (chunk, line within it, its start). The file is refused.
type TooLong = (u64, u64, String);

/// What a parsing thread hands back.
struct WorkerOut {
    counts: Counts,
    errors: Vec<(u64, RowError)>,
    unclean: HashMap<u64, String>,
    days: HashMap<i32, DayStats>,
    dedupe: Dedupe,
    chunk_lines: Vec<(u64, u64)>,
    /// Set when this thread stopped at a line too long to be a row.
    too_long: Option<TooLong>,
}

impl<'s> Worker<'s> {
    fn new(shared: &'s Shared<'s>, id: usize, budget: usize) -> Worker<'s> {
        Worker {
            shared,
            counts: Counts::default(),
            errors: Vec::new(),
            unclean: HashMap::new(),
            days: HashMap::new(),
            last_date: ([0; 8], Day(i32::MIN), 0, 0),
            dedupe: Dedupe::new(budget, shared.opts.spill_dir, id),
            chunk_lines: Vec::new(),
            seq: 0,
            line: 0,
        }
    }

    fn run(
        mut self,
        chunks: mpsc::Receiver<Chunk>,
        spent: mpsc::Sender<Vec<u8>>,
    ) -> io::Result<WorkerOut> {
        let mut too_long = None;
        'chunks: for c in chunks {
            self.seq = c.seq;
            self.line = 0;
            let mut rest = c.buf.get(..c.len).unwrap_or_default();
            while !rest.is_empty() {
                let (line, more) = match memchr(b'\n', rest) {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &rest[rest.len()..]),
                };
                if line.len() > MAX_ROW {
                    // Dropping the receiver stops the reader.
                    let start = String::from_utf8_lossy(line.get(..80).unwrap_or(line));
                    too_long = Some((c.seq, self.line + 1, start.into_owned()));
                    break 'chunks;
                }
                self.line(line)?;
                rest = more;
            }
            self.chunk_lines.push((c.seq, self.line));
            // The reader may be gone (an error); the buffer is then simply freed.
            let _ = spent.send(c.buf);
        }
        let raw = self.shared.raw_snapshot();
        self.dedupe.seal(&raw);
        Ok(WorkerOut {
            counts: self.counts,
            errors: self.errors,
            unclean: self.unclean,
            days: self.days,
            dedupe: self.dedupe,
            chunk_lines: self.chunk_lines,
            too_long,
        })
    }

    fn bad(&mut self, field: &str, value: &[u8], reason: &str) {
        self.counts.malformed += 1;
        // This thread's first few suffice: the file's first few are among the threads' firsts.
        if self.errors.len() < MAX_ROW_ERRORS {
            let e = RowError::new(self.line, field, &String::from_utf8_lossy(value), reason);
            self.errors.push((self.seq, e));
        }
    }

    #[inline]
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        let sh = self.shared;
        let cols = sh.cols;
        let mut fields: [&[u8]; 8] = [&[]; 8];
        let mut n = 0;
        let mut rest = line;
        loop {
            let (f, more) = match memchr(b',', rest) {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if n < fields.len() {
                fields[n] = unquote(f);
            }
            n += 1;
            match more {
                Some(m) => rest = m,
                None => break,
            }
        }
        if n != cols.n {
            self.bad(
                "(row)",
                line,
                &format!("{n} fields where the header has {}", cols.n),
            );
            return Ok(());
        }
        let date = fields[cols.date];
        let (day, day_bit, month) = if date.len() == 8 && date == self.last_date.0 {
            (self.last_date.1, self.last_date.2, self.last_date.3)
        } else {
            let Some(day) = Day::parse_yyyymmdd(date) else {
                self.bad("date", date, "not a date as yyyymmdd");
                return Ok(());
            };
            // DIRBS's schema takes dates from 2000 on: an earlier one is a broken clock or field.
            if day.ymd().0 < 2000 {
                self.bad("date", date, "a date before 2000");
                return Ok(());
            }
            let month = day.month_start();
            let bit = 1u32 << (day.0 - month.0);
            let mut key = [0u8; 8];
            key.copy_from_slice(date);
            self.last_date = (key, day, bit, month.0);
            (day, bit, month.0)
        };
        let rat = match cols.rat {
            Some(i) => match RatSet::parse_dirbs(fields[i]) {
                Some(r) => Some(r),
                None => {
                    self.bad(
                        "rat",
                        fields[i],
                        "not DIRBS RAT codes (three digits each, 001-007 or 101-105, joined by |)",
                    );
                    return Ok(());
                }
            },
            None => None,
        };
        let (imei, imsi, msisdn) = (fields[cols.imei], fields[cols.imsi], fields[cols.msisdn]);
        // DIRBS's schema: an IMSI or MSISDN, when given, is 1 to 15 digits; anything else is not
        // operator data at all (an empty one is a NULL, counted below).
        for (field, v) in [("imsi", imsi), ("msisdn", msisdn)] {
            if !v.is_empty() && (v.len() > 15 || !v.iter().all(u8::is_ascii_digit)) {
                self.bad(field, v, "must be 1 to 15 digits");
                return Ok(());
            }
        }
        let c = &mut self.counts;
        c.rows += 1;
        if day < sh.start || day > sh.end {
            c.outside_range += 1;
        }
        let null_rat = rat.is_some_and(|r| r.is_empty());
        c.null_imei += u64::from(imei.is_empty());
        c.null_imsi += u64::from(imsi.is_empty());
        c.null_msisdn += u64::from(msisdn.is_empty());
        c.null_rat += u64::from(null_rat);
        c.null_any +=
            u64::from(imei.is_empty() || imsi.is_empty() || msisdn.is_empty() || null_rat);
        let body = body14(imei);
        let unclean_imei = !imei.is_empty() && body.is_none();
        let clean_imsi = (14..=15).contains(&imsi.len()) && imsi.iter().all(u8::is_ascii_digit);
        let unclean_imsi = !imsi.is_empty() && !clean_imsi;
        c.unclean_imei += u64::from(unclean_imei);
        c.unclean_imsi += u64::from(unclean_imsi);
        c.unclean_any += u64::from(unclean_imei || unclean_imsi);
        let oor_imsi = !imsi.is_empty() && !sh.mccs.iter().any(|p| imsi.starts_with(p));
        let oor_msisdn = !msisdn.is_empty() && !sh.ccs.iter().any(|p| msisdn.starts_with(p));
        c.out_of_region_imsi += u64::from(oor_imsi);
        c.out_of_region_msisdn += u64::from(oor_msisdn);
        c.out_of_region_any += u64::from(oor_imsi || oor_msisdn);
        c.non_home_imsi +=
            u64::from(!imsi.is_empty() && !sh.home.iter().any(|p| imsi.starts_with(p)));
        match imei.first() {
            Some(b'0') => c.leading_zero += 1,
            Some(b'1') => {
                c.leading_one += 1;
                if let Some(set) = sh.opts.zero_tacs {
                    if imei.len() >= 7 && imei[..7].iter().all(u8::is_ascii_digit) {
                        let v = imei[..7]
                            .iter()
                            .fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
                        if set.contains(&v) {
                            *c.zero_tac_suspect.get_or_insert(0) += 1;
                        }
                    }
                }
            }
            _ => {}
        }
        c.fourteen_digit_zero += u64::from(ceir_domain::observe::imei_leading_zero_suspect(imei));

        let imsi_key = self.id_key(imsi);
        let msisdn_key = self.id_key(msisdn);
        let (imei_key, sketched) = match body {
            Some(b) => (Some(ImeiKey::body(b)), b),
            None if imei.is_empty() => (None, 0),
            None => {
                let (k, sketched) = self.raw_imei(imei);
                (Some(k), sketched)
            }
        };
        let stats = self.days.entry(day.0).or_insert_with(DayStats::new);
        stats.complete += u64::from(!imei.is_empty() && !imsi.is_empty() && !msisdn.is_empty());
        if imei_key.is_some() {
            stats.imei.add(sketched);
        }
        if !imsi_key.is_null() {
            stats.imsi.add(imsi_key.0);
        }
        if !msisdn_key.is_null() {
            stats.msisdn.add(msisdn_key.0);
        }
        // DIRBS keeps no triplet without an IMEI: nothing could be classified by it.
        if let Some(k) = imei_key {
            let key = Key {
                imei: k.0,
                imsi: imsi_key.0,
                msisdn: msisdn_key.0,
                month,
            };
            if self.dedupe.insert(key, day_bit, rat.map_or(0, |r| r.0)) {
                let raw = sh.raw_snapshot();
                self.dedupe.spill(&raw)?;
            }
        }
        Ok(())
    }

    fn id_key(&mut self, v: &[u8]) -> IdKey {
        let k = IdKey::parse(v);
        if k.is_unclean() && !self.unclean.contains_key(&k.0) {
            self.unclean
                .insert(k.0, String::from_utf8_lossy(v).into_owned());
        }
        k
    }

    /// A malformed IMEI's key, and what the day's sketch counts for it: a key of its text (as
    /// DIRBS's sketches count `imei_norm`), at least 2^50 where a body is under 10^14. Its raw
    /// index would depend on which thread came first, and mean nothing to another import's
    /// sketch.
    fn raw_imei(&mut self, imei: &[u8]) -> (ImeiKey, u64) {
        let text = String::from_utf8_lossy(imei).to_ascii_uppercase();
        let sketched = IdKey::parse(text.as_bytes()).0;
        let mut raw = self.shared.raw();
        if let Some(i) = raw.index.get(&text) {
            return (ImeiKey::raw(*i), sketched);
        }
        let i = raw.texts.len() as u32;
        raw.texts.push(text.clone());
        raw.index.insert(text, i);
        (ImeiKey::raw(i), sketched)
    }
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.rows += o.rows;
        self.malformed += o.malformed;
        self.null_imei += o.null_imei;
        self.null_imsi += o.null_imsi;
        self.null_msisdn += o.null_msisdn;
        self.null_rat += o.null_rat;
        self.null_any += o.null_any;
        self.unclean_imei += o.unclean_imei;
        self.unclean_imsi += o.unclean_imsi;
        self.unclean_any += o.unclean_any;
        self.out_of_region_imsi += o.out_of_region_imsi;
        self.out_of_region_msisdn += o.out_of_region_msisdn;
        self.out_of_region_any += o.out_of_region_any;
        self.non_home_imsi += o.non_home_imsi;
        self.outside_range += o.outside_range;
        self.leading_zero += o.leading_zero;
        self.leading_one += o.leading_one;
        self.fourteen_digit_zero += o.fourteen_digit_zero;
        if let Some(s) = o.zero_tac_suspect {
            *self.zero_tac_suspect.get_or_insert(0) += s;
        }
    }
}

/// Why reading stopped before the end of the file.
enum Stop {
    Io(io::Error),
    /// A line without an end within [`MAX_ROW`] bytes, after the chunks sent.
    TooLong {
        sent: u64,
        start: String,
    },
}

fn too_long_at(sent: u64, line: &[u8]) -> Stop {
    Stop::TooLong {
        sent,
        start: String::from_utf8_lossy(line.get(..80).unwrap_or(line)).into_owned(),
    }
}

fn too_long(file: &str, line: u64, start: &[u8]) -> IngestError {
    IngestError::Rows {
        file: file.to_owned(),
        errors: vec![RowError::new(
            line,
            "(row)",
            &String::from_utf8_lossy(start.get(..80).unwrap_or(start)),
            format!("no line end within {MAX_ROW} bytes: not operator data"),
        )],
        more: 0,
    }
}

/// The header when `line` is not empty (a byte-order mark before it is dropped).
fn header_line(line: &[u8], file: &str, at: u64) -> Result<Option<Cols>, IngestError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Ok(None);
    }
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    header(line, file, at).map(Some)
}

/// Reads the header, then hands runs of whole lines to the parsing threads, round robin, and puts
/// their results together. Reading (with hashing and decompression) stays on this thread.
fn parse<R: Read>(
    file: &str,
    name: &OperatorFileName,
    opts: &ReadOptions<'_>,
    mut r: R,
    on_read: &mut dyn FnMut(usize),
) -> Result<Parsed, IngestError> {
    let io_err = |source| IngestError::Io {
        file: file.to_owned(),
        source,
    };
    let chunk = opts.chunk_bytes.max(1);
    let mut buf = vec![0u8; chunk];
    let (mut start, mut end, mut eof) = (0usize, 0usize, false);
    let mut header_lines = 0u64;
    // The header: the first line that is not empty.
    let cols = loop {
        match memchr(b'\n', &buf[start..end]) {
            Some(i) => {
                header_lines += 1;
                let line = &buf[start..start + i];
                start += i + 1;
                if let Some(c) = header_line(line, file, header_lines)? {
                    break c;
                }
            }
            None if eof => {
                if start < end {
                    header_lines += 1;
                    if let Some(c) = header_line(&buf[start..end], file, header_lines)? {
                        start = end;
                        break c;
                    }
                }
                return Err(IngestError::Empty { file: file.into() });
            }
            None => {
                if end - start > MAX_ROW {
                    return Err(too_long(file, header_lines + 1, &buf[start..end]));
                }
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
                if end == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                eof = read_more(&mut r, &mut buf, &mut end, on_read).map_err(io_err)?;
            }
        }
    };
    let shared = Shared::new(name, opts, cols);
    let workers = match opts.workers {
        0 => default_workers(),
        n => n,
    };
    let budget = (opts.triplet_budget / workers).max(1);
    let (spent_tx, spent_rx) = mpsc::channel::<Vec<u8>>();
    let (stop, outs) = std::thread::scope(|s| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for id in 0..workers {
            // Two chunks queued per thread keep it busy while this one reads.
            let (tx, rx) = mpsc::sync_channel::<Chunk>(2);
            let w = Worker::new(&shared, id, budget);
            let spent = spent_tx.clone();
            handles.push(s.spawn(move || w.run(rx, spent)));
            senders.push(tx);
        }
        let stop = feed(
            &mut r,
            on_read,
            &senders,
            &spent_rx,
            (buf, start, end, eof),
            chunk,
        );
        drop(senders);
        let outs: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| io::Error::other("a parsing thread panicked"))
            })
            .collect();
        (stop, outs)
    });
    let mut parts: Vec<WorkerOut> = Vec::new();
    for o in outs {
        parts.push(o.and_then(|r| r).map_err(|source| IngestError::Io {
            file: format!("{file} (spilling sorted runs)"),
            source,
        })?);
    }
    let raw = shared
        .raw
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .texts;
    // Each chunk's first line number.
    let mut lines: Vec<(u64, u64)> = parts
        .iter()
        .flat_map(|p| p.chunk_lines.iter().copied())
        .collect();
    lines.sort_unstable();
    let mut first_line = HashMap::with_capacity(lines.len());
    let mut before = header_lines;
    for (seq, n) in lines {
        first_line.insert(seq, before);
        before += n;
    }
    if let Some(Stop::Io(e)) = stop {
        return Err(io_err(e));
    }
    // The first line too long, by (chunk, line): the chunks before it were all read whole, so
    // its line number is known. The reader's comes after every chunk it sent.
    let reader = match stop {
        Some(Stop::TooLong { sent, start }) => Some((sent, 1, start)),
        _ => None,
    };
    let first = parts
        .iter_mut()
        .filter_map(|p| p.too_long.take())
        .chain(reader)
        .min_by_key(|(seq, line, _)| (*seq, *line));
    if let Some((seq, line, start)) = first {
        let at = first_line.get(&seq).copied().unwrap_or(before) + line;
        return Err(too_long(file, at, start.as_bytes()));
    }
    Ok(merge(parts, raw, &first_line, cols))
}

/// Reads once more into `buf[*end..]` (which has room); true at the end of the input.
fn read_more<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    end: &mut usize,
    on_read: &mut dyn FnMut(usize),
) -> io::Result<bool> {
    loop {
        match r.read(buf.get_mut(*end..).unwrap_or_default()) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                on_read(n);
                *end += n;
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends chunks of whole lines to the threads until the end of the input; `None` at the end.
fn feed<R: Read>(
    r: &mut R,
    on_read: &mut dyn FnMut(usize),
    senders: &[mpsc::SyncSender<Chunk>],
    spent: &mpsc::Receiver<Vec<u8>>,
    (mut buf, start, mut end, mut eof): (Vec<u8>, usize, usize, bool),
    chunk: usize,
) -> Option<Stop> {
    buf.copy_within(start..end, 0);
    end -= start;
    let mut seq = 0u64;
    loop {
        while !eof && end < chunk.min(buf.len()) {
            match read_more(r, &mut buf, &mut end, on_read) {
                Ok(at_end) => eof = at_end,
                Err(e) => return Some(Stop::Io(e)),
            }
        }
        let cut = if eof {
            end
        } else {
            match memchr::memrchr(b'\n', &buf[..end]) {
                Some(i) => i + 1,
                None if end > MAX_ROW => return Some(too_long_at(seq, &buf[..end])),
                None => {
                    // One line longer than a chunk (but within MAX_ROW): read on.
                    if end == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                    match read_more(r, &mut buf, &mut end, on_read) {
                        Ok(at_end) => eof = at_end,
                        Err(e) => return Some(Stop::Io(e)),
                    }
                    continue;
                }
            }
        };
        if cut == 0 {
            return None;
        }
        let mut next = spent.try_recv().unwrap_or_default();
        if next.len() < chunk.max(end - cut) {
            next.resize(chunk.max(end - cut), 0);
        }
        next[..end - cut].copy_from_slice(&buf[cut..end]);
        let full = std::mem::replace(&mut buf, next);
        end -= cut;
        let to = senders.get((seq % senders.len() as u64) as usize)?;
        if to
            .send(Chunk {
                seq,
                buf: full,
                len: cut,
            })
            .is_err()
        {
            // The thread stopped on an error, which the caller reports.
            return None;
        }
        seq += 1;
        if eof && end == 0 {
            return None;
        }
        if !eof && end > MAX_ROW {
            return Some(too_long_at(seq, &buf[..end]));
        }
    }
}

impl<'o> Shared<'o> {
    fn new(name: &OperatorFileName, opts: &'o ReadOptions<'o>, cols: Cols) -> Shared<'o> {
        let bytes = |v: &[String]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let home = opts
            .region
            .operator(&name.operator)
            .map(|o| bytes(&o.mcc_mnc))
            .unwrap_or_default();
        // DIRBS's out-of-region IMSI check uses the MCCs of this operator's own networks (an
        // MCC is the first three digits of an MCC-MNC), not every MCC of the region.
        let mut mccs: Vec<Vec<u8>> = home
            .iter()
            .map(|p| p.get(..3).unwrap_or(p).to_vec())
            .collect();
        mccs.sort();
        mccs.dedup();
        Shared {
            opts,
            start: name.start,
            end: name.end,
            mccs,
            ccs: bytes(&opts.region.country_codes),
            home,
            cols,
            raw: Mutex::new(RawImeis::default()),
        }
    }
}

/// The threads' results put together, in file order where order shows.
struct Parsed {
    counts: Counts,
    daily: Vec<DailyCount>,
    sketches: Vec<DaySketch>,
    errors: Vec<RowError>,
    more: u64,
    raw_imeis: Vec<String>,
    unclean: HashMap<u64, String>,
    dedupe: Option<Dedupe>,
}

fn merge(
    parts: Vec<WorkerOut>,
    raw: Vec<String>,
    first_line: &HashMap<u64, u64>,
    cols: Cols,
) -> Parsed {
    let mut counts = Counts::default();
    let mut errors = Vec::new();
    let mut unclean: HashMap<u64, String> = HashMap::new();
    let mut days: HashMap<i32, DayStats> = HashMap::new();
    let mut dedupes = Vec::new();
    for p in parts {
        counts.add(&p.counts);
        errors.extend(p.errors.into_iter().map(|(seq, mut e)| {
            e.line += first_line.get(&seq).copied().unwrap_or_default();
            e
        }));
        for (k, text) in p.unclean {
            // Two texts with one key (a hash collision): the smaller, whichever thread saw it.
            match unclean.entry(k) {
                Entry::Vacant(v) => {
                    v.insert(text);
                }
                Entry::Occupied(mut o) => {
                    if text < *o.get() {
                        o.insert(text);
                    }
                }
            }
        }
        for (day, s) in p.days {
            match days.entry(day) {
                Entry::Vacant(v) => {
                    v.insert(s);
                }
                Entry::Occupied(mut o) => {
                    let u = o.get_mut();
                    u.imei.union(&s.imei);
                    u.imsi.union(&s.imsi);
                    u.msisdn.union(&s.msisdn);
                    u.complete += s.complete;
                }
            }
        }
        dedupes.push(p.dedupe);
    }
    errors.sort_by_key(|e| e.line);
    errors.truncate(MAX_ROW_ERRORS);
    let more = counts.malformed - errors.len() as u64;
    counts.has_rat = cols.rat.is_some();
    let mut days: Vec<(i32, DayStats)> = days.into_iter().collect();
    days.sort_by_key(|(d, _)| *d);
    let daily = days
        .iter()
        .map(|(d, s)| DailyCount {
            day: *d,
            imeis: s.imei.estimate(),
            imsis: s.imsi.estimate(),
            msisdns: s.msisdn.estimate(),
            complete: Some(s.complete),
        })
        .collect();
    let sketches = days
        .iter()
        .map(|(d, s)| DaySketch {
            day: *d,
            complete: s.complete,
            imei: s.imei.to_hex(),
            imsi: s.imsi.to_hex(),
            msisdn: s.msisdn.to_hex(),
        })
        .collect();
    let dedupe = Dedupe::combine(dedupes, &raw);
    Parsed {
        counts,
        daily,
        sketches,
        errors,
        more,
        raw_imeis: raw,
        unclean,
        dedupe,
    }
}

/// The first 14 characters as a number when they are digits: DIRBS's imei_norm.
#[inline]
fn body14(imei: &[u8]) -> Option<u64> {
    let head = imei.get(..14)?;
    let mut v = 0u64;
    for &b in head {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}
