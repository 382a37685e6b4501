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
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;
use std::sync::Arc;

/// Distinct triplets held in memory before a sorted run is spilled: about 170 MB of map, so a
/// whole import stays well under 1 GB.
pub const DEFAULT_TRIPLET_BUDGET: usize = 3_500_000;
/// The longest row accepted; real rows are under 100 bytes.
const MAX_ROW: usize = 64 * 1024;
const READ_CHUNK: usize = 4 << 20;

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
    dedupe: Dedupe,
}

impl OperatorData {
    /// The triplets in the store's partition order, merged from memory and spilled runs.
    pub fn triplets(self) -> io::Result<SortedTriplets> {
        self.dedupe.finish(self.raw_imeis)
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
    let mut parser = Parser::new(&file, &name, opts);
    if crate::archive::is_zip(magic) {
        // The zip's directory is at its end: hash the file in its own pass, then read the entry.
        let mut hasher = Sha256::new();
        io::copy(&mut f, &mut hasher).map_err(io_err)?;
        parser.sha = Some(hasher);
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
        parser.run(inner, false, &mut on_read)?;
    } else {
        let hashing = magic.starts_with(&[0x1f, 0x8b]);
        let mut hasher = Sha256::new();
        let mut read = 0u64;
        let src = Tap {
            inner: f,
            hasher: &mut hasher,
            read: &mut read,
            progress,
        };
        if hashing {
            parser.run(flate2::read::MultiGzDecoder::new(src), true, &mut |_| {})?;
        } else {
            parser.run(src, true, &mut |_| {})?;
        }
        parser.sha = Some(hasher);
    }
    parser.finish(bytes)
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

struct Parser<'o> {
    file: String,
    opts: &'o ReadOptions<'o>,
    start: Day,
    end: Day,
    name: OperatorFileName,
    mccs: Vec<Vec<u8>>,
    ccs: Vec<Vec<u8>>,
    home: Vec<Vec<u8>>,
    cols: Option<Cols>,
    line: u64,
    counts: Counts,
    errors: Vec<RowError>,
    more: u64,
    raw_imeis: Vec<String>,
    raw_index: HashMap<String, u32>,
    unclean: HashMap<u64, String>,
    days: HashMap<i32, DayStats>,
    last_date: ([u8; 8], Day, u32, i32),
    dedupe: Dedupe,
    triplets_seen: u64,
    sha: Option<Sha256>,
}

impl<'o> Parser<'o> {
    fn new(file: &str, name: &OperatorFileName, opts: &'o ReadOptions<'o>) -> Parser<'o> {
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
        Parser {
            file: file.to_owned(),
            opts,
            start: name.start,
            end: name.end,
            name: name.clone(),
            mccs,
            ccs: bytes(&opts.region.country_codes),
            home,
            cols: None,
            line: 0,
            counts: Counts::default(),
            errors: Vec::new(),
            more: 0,
            raw_imeis: Vec::new(),
            raw_index: HashMap::new(),
            unclean: HashMap::new(),
            days: HashMap::new(),
            last_date: ([0; 8], Day(i32::MIN), 0, 0),
            dedupe: Dedupe::new(opts.triplet_budget, opts.spill_dir),
            triplets_seen: 0,
            sha: None,
        }
    }

    /// Splits the stream into lines with a reusable buffer; a row never allocates.
    fn run<R: Read>(
        &mut self,
        mut r: R,
        _outer_progress: bool,
        on_read: &mut dyn FnMut(usize),
    ) -> Result<(), IngestError> {
        let mut buf = vec![0u8; READ_CHUNK];
        let (mut start, mut end) = (0usize, 0usize);
        let mut eof = false;
        loop {
            match memchr(b'\n', &buf[start..end]) {
                Some(i) => {
                    let line_end = start + i;
                    self.line(&buf[start..line_end])?;
                    start = line_end + 1;
                }
                None if eof => {
                    if start < end {
                        self.line(&buf[start..end])?;
                    }
                    return Ok(());
                }
                None => {
                    if end - start > MAX_ROW {
                        return Err(IngestError::Rows {
                            file: self.file.clone(),
                            errors: vec![RowError::new(
                                self.line + 1,
                                "(row)",
                                &String::from_utf8_lossy(&buf[start..start + 80]),
                                format!("no line end within {MAX_ROW} bytes: not operator data"),
                            )],
                            more: 0,
                        });
                    }
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                    let n = r.read(&mut buf[end..]).map_err(|source| IngestError::Io {
                        file: self.file.clone(),
                        source,
                    })?;
                    on_read(n);
                    if n == 0 {
                        eof = true;
                    }
                    end += n;
                }
            }
        }
    }

    fn bad(&mut self, field: &str, value: &[u8], reason: &str) {
        self.counts.malformed += 1;
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(RowError::new(
                self.line,
                field,
                &String::from_utf8_lossy(value),
                reason,
            ));
        } else {
            self.more += 1;
        }
    }

    #[inline]
    fn line(&mut self, line: &[u8]) -> Result<(), IngestError> {
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        let Some(cols) = self.cols else {
            let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
            self.cols = Some(header(line, &self.file, self.line)?);
            return Ok(());
        };
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
        if day < self.start || day > self.end {
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
        let oor_imsi = !imsi.is_empty() && !self.mccs.iter().any(|p| imsi.starts_with(p));
        let oor_msisdn = !msisdn.is_empty() && !self.ccs.iter().any(|p| msisdn.starts_with(p));
        c.out_of_region_imsi += u64::from(oor_imsi);
        c.out_of_region_msisdn += u64::from(oor_msisdn);
        c.out_of_region_any += u64::from(oor_imsi || oor_msisdn);
        c.non_home_imsi +=
            u64::from(!imsi.is_empty() && !self.home.iter().any(|p| imsi.starts_with(p)));
        match imei.first() {
            Some(b'0') => c.leading_zero += 1,
            Some(b'1') => {
                c.leading_one += 1;
                if let Some(set) = self.opts.zero_tacs {
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
        let imei_key = match body {
            Some(b) => Some(ImeiKey::body(b)),
            None if imei.is_empty() => None,
            None => Some(self.raw_imei(imei)),
        };
        let stats = self.days.entry(day.0).or_insert_with(|| DayStats {
            imei: Hll::new(),
            imsi: Hll::new(),
            msisdn: Hll::new(),
            complete: 0,
        });
        stats.complete += u64::from(!imei.is_empty() && !imsi.is_empty() && !msisdn.is_empty());
        if let Some(k) = imei_key {
            stats.imei.add(k.0);
        }
        if !imsi_key.is_null() {
            stats.imsi.add(imsi_key.0);
        }
        if !msisdn_key.is_null() {
            stats.msisdn.add(msisdn_key.0);
        }
        // DIRBS keeps no triplet without an IMEI: nothing could be classified by it.
        if let Some(k) = imei_key {
            self.triplets_seen += 1;
            self.dedupe
                .insert(
                    Key {
                        imei: k.0,
                        imsi: imsi_key.0,
                        msisdn: msisdn_key.0,
                        month,
                    },
                    day_bit,
                    rat.map_or(0, |r| r.0),
                    &self.raw_imeis,
                )
                .map_err(|source| IngestError::Io {
                    file: format!("{} (spilling sorted runs)", self.file),
                    source,
                })?;
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

    fn raw_imei(&mut self, imei: &[u8]) -> ImeiKey {
        let text = String::from_utf8_lossy(imei).to_ascii_uppercase();
        if let Some(i) = self.raw_index.get(&text) {
            return ImeiKey::raw(*i);
        }
        let i = self.raw_imeis.len() as u32;
        self.raw_imeis.push(text.clone());
        self.raw_index.insert(text, i);
        ImeiKey::raw(i)
    }

    fn finish(self, bytes: u64) -> Result<OperatorData, IngestError> {
        if self.cols.is_none() {
            return Err(IngestError::Empty { file: self.file });
        }
        let mut counts = self.counts;
        counts.has_rat = self.cols.is_some_and(|c| c.rat.is_some());
        if self.opts.zero_tacs.is_some() && counts.zero_tac_suspect.is_none() {
            counts.zero_tac_suspect = Some(0);
        }
        let mut days: Vec<(&i32, &DayStats)> = self.days.iter().collect();
        days.sort_by_key(|(d, _)| **d);
        let daily: Vec<DailyCount> = days
            .iter()
            .map(|(d, s)| DailyCount {
                day: **d,
                imeis: s.imei.estimate(),
                imsis: s.imsi.estimate(),
                msisdns: s.msisdn.estimate(),
                complete: Some(s.complete),
            })
            .collect();
        let sketches: Vec<DaySketch> = days
            .iter()
            .map(|(d, s)| DaySketch {
                day: **d,
                complete: s.complete,
                imei: s.imei.to_hex(),
                imsi: s.imsi.to_hex(),
                msisdn: s.msisdn.to_hex(),
            })
            .collect();
        let runs = self.dedupe.runs();
        let triplet_count = (self.dedupe.in_memory() as u64) + self.dedupe.spilled;
        Ok(OperatorData {
            file: self.file,
            name: self.name,
            sha256: self
                .sha
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            bytes,
            counts,
            daily,
            sketches,
            malformed_rows: self.errors,
            more_malformed: self.more,
            raw_imeis: Arc::new(self.raw_imeis),
            unclean_ids: self.unclean,
            triplet_count,
            runs,
            dedupe: self.dedupe,
        })
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
