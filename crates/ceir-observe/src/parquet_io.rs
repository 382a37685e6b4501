//! Reading and writing one partition's Parquet files: the triplets (sorted, LZ4, statistics)
//! and the per-IMEI aggregates computed in the same pass.

use crate::{id_text, imei_order, io_err, sync_dir, tmp_path, ObserveError, Texts};
use crate::{IMEIS_SUFFIX, TRIPLETS_SUFFIX};
use arrow::array::{
    Array, ArrayRef, Date32Array, Date32Builder, RecordBatch, StringArray, StringBuilder,
    UInt16Array, UInt16Builder, UInt32Array, UInt32Builder, UInt64Array, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ceir_domain::ids::Imei;
use ceir_domain::observe::{Day, IdKey, ImeiKey, ImeiSeen, RatSet, Triplet};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH: usize = 64 * 1024;
/// Rows per row group: large enough for good compression, small enough that statistics prune.
const ROW_GROUP: usize = 1024 * 1024;

/// The triplets files' columns as SQL and other engines see them (month and operator come from
/// the partition path).
pub fn triplets_schema() -> SchemaRef {
    Arc::new(Schema::new(triplet_fields()))
}

fn triplet_fields() -> Vec<Field> {
    vec![
        Field::new("imei_norm", DataType::Utf8, false),
        Field::new("imsi", DataType::Utf8, true),
        Field::new("msisdn", DataType::Utf8, true),
        Field::new("first_seen", DataType::Date32, false),
        Field::new("last_seen", DataType::Date32, false),
        Field::new("days", DataType::UInt32, false),
        Field::new("rat", DataType::UInt16, false),
    ]
}

/// The key columns written after the public ones: each identifier as the integer key
/// classification works on, so that a run decodes integers instead of parsing a month of text.
/// `*_key` is the `ImeiKey` body (bit 63 alone for a malformed IMEI) or the `IdKey`; `*_raw`
/// holds the text only where the key cannot give it back (malformed or unclean values) and is
/// null everywhere else. Files written before these columns existed are read from the text.
const KEY_COLUMNS: [&str; 6] = [
    "imei_key",
    "imsi_key",
    "msisdn_key",
    "imei_raw",
    "imsi_raw",
    "msisdn_raw",
];

/// The triplets files' columns as written: the public ones, then the key columns.
fn triplets_file_schema() -> SchemaRef {
    let mut fields = triplet_fields();
    fields.extend([
        Field::new(KEY_COLUMNS[0], DataType::UInt64, false),
        Field::new(KEY_COLUMNS[1], DataType::UInt64, false),
        Field::new(KEY_COLUMNS[2], DataType::UInt64, false),
        Field::new(KEY_COLUMNS[3], DataType::Utf8, true),
        Field::new(KEY_COLUMNS[4], DataType::Utf8, true),
        Field::new(KEY_COLUMNS[5], DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// A malformed IMEI's key column value (the raw flag alone): its text is in `imei_raw`.
const RAW_IMEI_KEY: u64 = ImeiKey::raw(0).0;

/// The per-IMEI aggregate files' columns.
pub fn imeis_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("imei_norm", DataType::Utf8, false),
        Field::new("first_seen", DataType::Date32, false),
        Field::new("last_seen", DataType::Date32, false),
        Field::new("days", DataType::UInt32, false),
        Field::new("rat", DataType::UInt16, false),
        Field::new("imsis", DataType::UInt32, false),
        Field::new("msisdns", DataType::UInt32, false),
        Field::new("triplets", DataType::UInt32, false),
    ]))
}

/// One partition's triplets in memory, with the texts their keys need.
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub triplets: Vec<Triplet>,
    pub raw_imeis: Vec<String>,
    pub unclean: HashMap<u64, String>,
}

impl Part {
    fn texts(&self) -> Texts<'_> {
        Texts {
            raw_imeis: &self.raw_imeis,
            unclean_ids: &self.unclean,
        }
    }
}

fn pq_err(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> ObserveError + '_ {
    move |e| ObserveError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn arrow_err(path: &Path) -> impl FnOnce(arrow::error::ArrowError) -> ObserveError + '_ {
    move |e| ObserveError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn column<'a, T: 'static>(
    b: &'a RecordBatch,
    name: &str,
    path: &Path,
) -> Result<&'a T, ObserveError> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| ObserveError::Parquet {
            path: path.to_path_buf(),
            message: format!("column {name} is missing or of another type"),
        })
}

/// Reads a partition's triplets file (they are stored in partition order). A whole file is
/// decoded a range of row groups per core: decompression and parsing are most of a
/// classification's load.
pub(crate) fn read_triplets(
    path: &Path,
    month: Day,
    only: Option<&str>,
) -> Result<Part, ObserveError> {
    let groups = {
        let f = File::open(path).map_err(io_err(path))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq_err(path))?;
        builder.metadata().num_row_groups()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(groups);
    if only.is_some() || threads <= 1 {
        return read_triplet_groups(path, month, only, None);
    }
    let per = groups.div_ceil(threads);
    let ranges: Vec<Vec<usize>> = (0..threads)
        .map(|t| (t * per..((t + 1) * per).min(groups)).collect())
        .filter(|r: &Vec<usize>| !r.is_empty())
        .collect();
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .into_iter()
            .map(|r| s.spawn(move || read_triplet_groups(path, month, None, Some(r))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ObserveError::Corrupt(format!(
                        "{}: a reader thread panicked",
                        path.display()
                    )))
                })
            })
            .collect::<Result<Vec<Part>, ObserveError>>()
    })?;
    Ok(concat_parts(parts))
}

/// Joins parts read from consecutive row groups, in order; malformed IMEIs seen by several
/// parts keep one index.
fn concat_parts(parts: Vec<Part>) -> Part {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Part::default();
    };
    let mut index: HashMap<String, u32> = all
        .raw_imeis
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    for mut p in parts {
        let map: Vec<u32> = p
            .raw_imeis
            .drain(..)
            .map(|t| {
                let next = all.raw_imeis.len() as u32;
                *index.entry(t).or_insert_with_key(|t| {
                    all.raw_imeis.push(t.clone());
                    next
                })
            })
            .collect();
        all.triplets.reserve(p.triplets.len());
        all.triplets.extend(p.triplets.into_iter().map(|mut t| {
            if let Some(i) = t.imei.raw_index() {
                t.imei = ImeiKey::raw(map.get(i as usize).copied().unwrap_or(i));
            }
            t
        }));
        all.unclean.extend(p.unclean);
    }
    all
}

/// Reads the triplets of `groups` (all when None), or of one IMEI.
fn read_triplet_groups(
    path: &Path,
    month: Day,
    only: Option<&str>,
    groups: Option<Vec<usize>>,
) -> Result<Part, ObserveError> {
    let f = File::open(path).map_err(io_err(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq_err(path))?;
    let keyed = KEY_COLUMNS
        .iter()
        .all(|c| builder.schema().column_with_name(c).is_some());
    // first_seen and last_seen are implied by the days bitmap: they are not decoded.
    let wanted: Vec<&str> = if keyed {
        KEY_COLUMNS.iter().copied().chain(["days", "rat"]).collect()
    } else {
        vec!["imei_norm", "imsi", "msisdn", "days", "rat"]
    };
    let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), wanted);
    let rows: usize = {
        let rg = builder.metadata().row_groups();
        match &groups {
            Some(g) => g
                .iter()
                .filter_map(|i| rg.get(*i))
                .map(|r| r.num_rows() as usize)
                .sum(),
            None if only.is_none() => rg.iter().map(|r| r.num_rows() as usize).sum(),
            None => 0,
        }
    };
    let builder = match groups {
        Some(g) => builder.with_row_groups(g),
        None => builder,
    };
    let reader = only_imei(builder.with_projection(mask), only)
        .with_batch_size(BATCH)
        .build()
        .map_err(pq_err(path))?;
    let mut out = PartOut {
        part: Part::default(),
        raw_index: HashMap::new(),
        month,
    };
    out.part.triplets.reserve_exact(rows);
    for batch in reader {
        let b = batch.map_err(arrow_err(path))?;
        if keyed {
            push_keyed(&b, path, &mut out)?;
        } else {
            push_texts(&b, path, &mut out)?;
        }
    }
    Ok(out.part)
}

/// A part being read: its triplets, and each malformed IMEI's text once.
struct PartOut {
    part: Part,
    raw_index: HashMap<String, u32>,
    month: Day,
}

impl PartOut {
    /// The index of a malformed IMEI's text in the part's table, added when new.
    fn raw_imei(&mut self, text: &str) -> ImeiKey {
        let raw = &mut self.part.raw_imeis;
        let next = raw.len() as u32;
        let i = *self.raw_index.entry(text.to_owned()).or_insert_with(|| {
            raw.push(text.to_owned());
            next
        });
        ImeiKey::raw(i)
    }

    fn push(&mut self, imei: ImeiKey, imsi: IdKey, msisdn: IdKey, days: u32, rat: u16) {
        self.part.triplets.push(Triplet {
            imei,
            imsi,
            msisdn,
            operator: 0,
            month: self.month,
            days,
            rat: RatSet(rat),
        });
    }
}

/// One batch of a file with key columns: integers, with a text only for the rare malformed or
/// unclean value.
fn push_keyed(b: &RecordBatch, path: &Path, out: &mut PartOut) -> Result<(), ObserveError> {
    let imei = column::<UInt64Array>(b, "imei_key", path)?;
    let imsi = column::<UInt64Array>(b, "imsi_key", path)?;
    let msisdn = column::<UInt64Array>(b, "msisdn_key", path)?;
    let imei_raw = column::<StringArray>(b, "imei_raw", path)?;
    let imsi_raw = column::<StringArray>(b, "imsi_raw", path)?;
    let msisdn_raw = column::<StringArray>(b, "msisdn_raw", path)?;
    let days = column::<UInt32Array>(b, "days", path)?;
    let rat = column::<UInt16Array>(b, "rat", path)?;
    let corrupt = |what: &str, r: usize| {
        ObserveError::Corrupt(format!("{}: row {r} of a batch has {what}", path.display()))
    };
    out.part.triplets.reserve(b.num_rows());
    let rows = imei
        .values()
        .iter()
        .zip(imsi.values().iter())
        .zip(msisdn.values().iter())
        .zip(days.values().iter().zip(rat.values().iter()))
        .enumerate();
    for (r, (((&ik, &sk), &mk), (&d, &rt))) in rows {
        let key = if Imei::from_body(ik).is_ok() {
            ImeiKey::body(ik)
        } else if ik == RAW_IMEI_KEY && imei_raw.is_valid(r) {
            out.raw_imei(imei_raw.value(r))
        } else {
            return Err(corrupt("an IMEI key out of range", r));
        };
        let (imsi, msisdn) = (IdKey(sk), IdKey(mk));
        for (k, texts) in [(imsi, imsi_raw), (msisdn, msisdn_raw)] {
            if k.is_unclean() {
                if !texts.is_valid(r) {
                    return Err(corrupt("an unclean identifier without its text", r));
                }
                out.part.unclean.insert(k.0, texts.value(r).to_owned());
            }
        }
        out.push(key, imsi, msisdn, d, rt);
    }
    Ok(())
}

/// One batch of a file written before the key columns: every identifier parsed from its text.
fn push_texts(b: &RecordBatch, path: &Path, out: &mut PartOut) -> Result<(), ObserveError> {
    let imei = column::<StringArray>(b, "imei_norm", path)?;
    let imsi = column::<StringArray>(b, "imsi", path)?;
    let msisdn = column::<StringArray>(b, "msisdn", path)?;
    let days = column::<UInt32Array>(b, "days", path)?;
    let rat = column::<UInt16Array>(b, "rat", path)?;
    out.part.triplets.reserve(b.num_rows());
    for r in 0..b.num_rows() {
        let text = imei.value(r);
        let key = match parse_body(text.as_bytes()) {
            Some(body) => ImeiKey::body(body),
            None => out.raw_imei(text),
        };
        let mut id = |a: &StringArray| {
            if a.is_null(r) {
                return IdKey::NULL;
            }
            let v = a.value(r);
            let k = IdKey::parse(v.as_bytes());
            if k.is_unclean() {
                out.part.unclean.insert(k.0, v.to_owned());
            }
            k
        };
        let imsi = id(imsi);
        let msisdn = id(msisdn);
        out.push(key, imsi, msisdn, days.value(r), rat.value(r));
    }
    Ok(())
}

/// A partition's per-IMEI aggregates, as classification needs them of months it does not load
/// whole: when each IMEI was first and last seen, and on which radio technologies.
#[derive(Debug, Default)]
pub(crate) struct PartSeen {
    pub seen: Vec<ImeiSeen>,
    pub raw_imeis: Vec<String>,
}

/// Reads the aggregate columns of a partition's `.imeis.parquet` (the others are not decoded).
pub(crate) fn read_imeis_seen(path: &Path, only: Option<&str>) -> Result<PartSeen, ObserveError> {
    let f = File::open(path).map_err(io_err(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq_err(path))?;
    let wanted = ["imei_norm", "first_seen", "last_seen", "rat"];
    let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), wanted);
    let reader = only_imei(builder, only)
        .with_projection(mask)
        .with_batch_size(BATCH)
        .build()
        .map_err(pq_err(path))?;
    let mut part = PartSeen::default();
    for batch in reader {
        let b = batch.map_err(arrow_err(path))?;
        let imei = column::<StringArray>(&b, "imei_norm", path)?;
        let first = column::<Date32Array>(&b, "first_seen", path)?;
        let last = column::<Date32Array>(&b, "last_seen", path)?;
        let rat = column::<UInt16Array>(&b, "rat", path)?;
        part.seen.reserve(b.num_rows());
        for r in 0..b.num_rows() {
            let text = imei.value(r);
            let key = match parse_body(text.as_bytes()) {
                Some(body) => ImeiKey::body(body),
                None => {
                    part.raw_imeis.push(text.to_owned());
                    ImeiKey::raw((part.raw_imeis.len() - 1) as u32)
                }
            };
            part.seen.push(ImeiSeen {
                imei: key,
                first_seen: Day(first.value(r)),
                last_seen: Day(last.value(r)),
                rat: RatSet(rat.value(r)),
            });
        }
    }
    Ok(part)
}

/// Narrows a reader to one IMEI's rows: the files are sorted by `imei_norm` (column 0), so its
/// statistics skip every row group that cannot hold it, and a row filter decodes the other
/// columns only for its rows. One device's explanation then reads kilobytes, not the month.
fn only_imei(
    builder: ParquetRecordBatchReaderBuilder<File>,
    only: Option<&str>,
) -> ParquetRecordBatchReaderBuilder<File> {
    use arrow::array::Scalar;
    use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter};
    let Some(text) = only else {
        return builder;
    };
    let want = text.as_bytes();
    let groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| {
            let st = rg.columns().first().and_then(|c| c.statistics());
            match st.map(|s| (s.min_bytes_opt(), s.max_bytes_opt())) {
                Some((Some(lo), Some(hi))) => lo <= want && want <= hi,
                _ => true,
            }
        })
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [0]);
    let needle = Scalar::new(StringArray::from(vec![text.to_owned()]));
    let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
        arrow::compute::kernels::cmp::eq(batch.column(0), &needle)
    });
    builder
        .with_row_groups(groups)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
}

/// Exactly 14 digits: a stored well-formed IMEI.
fn parse_body(s: &[u8]) -> Option<u64> {
    if s.len() == 14 && s.iter().all(u8::is_ascii_digit) {
        Some(s.iter().fold(0u64, |a, b| a * 10 + u64::from(b - b'0')))
    } else {
        None
    }
}

pub(crate) struct Stats {
    pub triplets: u64,
    pub imeis: u64,
    pub first_day: Day,
    pub last_day: Day,
}

/// Writes `<dir>/<name>.triplets.parquet` and `<dir>/<name>.imeis.parquet` as the OR-merge of
/// `existing` and `incoming` (both in partition order), through temporary files, fsynced.
pub(crate) fn write_partition<I>(
    dir: &Path,
    name: &str,
    month: Day,
    existing: &Part,
    incoming: I,
    texts: Texts<'_>,
) -> Result<Stats, ObserveError>
where
    I: Iterator<Item = Result<Triplet, ObserveError>>,
{
    let tpath = dir.join(format!("{name}{TRIPLETS_SUFFIX}"));
    let ipath = dir.join(format!("{name}{IMEIS_SUFFIX}"));
    let mut out = PartitionWriter::new(&tpath, &ipath, month)?;
    let old = existing.texts();
    let mut i = 0usize;
    for t in incoming {
        let t = t?;
        while let Some(e) = existing.triplets.get(i) {
            match cmp_cross(e, old, &t, texts) {
                Ordering::Less => {
                    out.push(e, old)?;
                    i += 1;
                }
                Ordering::Equal => break,
                Ordering::Greater => break,
            }
        }
        match existing.triplets.get(i) {
            Some(e) if cmp_cross(e, old, &t, texts) == Ordering::Equal => {
                let mut m = *e;
                m.days |= t.days;
                m.rat = m.rat.union(t.rat);
                out.push(&m, old)?;
                i += 1;
            }
            _ => out.push(&t, texts)?,
        }
    }
    for e in existing.triplets.get(i..).unwrap_or_default() {
        out.push(e, old)?;
    }
    out.finish()
}

fn cmp_cross(a: &Triplet, ta: Texts<'_>, b: &Triplet, tb: Texts<'_>) -> Ordering {
    imei_order(a.imei, ta, b.imei, tb)
        .then_with(|| a.imsi.cmp(&b.imsi))
        .then_with(|| a.msisdn.cmp(&b.msisdn))
}

fn props() -> Result<WriterProperties, ObserveError> {
    let mut b = WriterProperties::builder();
    // Sorted IMEIs delta to a few bits; IMSI and MSISDN keys keep only their varying bits.
    for c in &KEY_COLUMNS[..3] {
        b = b.set_column_encoding(ColumnPath::from(*c), Encoding::DELTA_BINARY_PACKED);
    }
    Ok(b
        // LZ4 rather than zstd: classification decodes a whole month on every run, and zstd's
        // decompression was its largest single cost (13% of the run on the 10M-row month).
        // Files written with zstd earlier still read: the codec is per column chunk.
        .set_compression(Compression::LZ4_RAW)
        // Identifiers are nearly all distinct: dictionaries would only be built and dropped.
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build())
}

/// A Parquet file being written under its temporary name, encoded on a thread of its own: the
/// merge that builds the batches and the encoding (compression included) run side by side, so
/// that an import's write phase uses both cores instead of one.
struct Out {
    path: PathBuf,
    tmp: PathBuf,
    schema: SchemaRef,
    batches: Option<SyncSender<RecordBatch>>,
    encoder: Option<JoinHandle<Result<File, ObserveError>>>,
}

impl Out {
    fn new(path: &Path, schema: SchemaRef) -> Result<Out, ObserveError> {
        let tmp = tmp_path(path);
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut writer =
            ArrowWriter::try_new(f, schema.clone(), Some(props()?)).map_err(pq_err(&tmp))?;
        // Two batches in flight: enough to overlap, and memory stays bounded.
        let (tx, rx) = sync_channel::<RecordBatch>(2);
        let at = tmp.clone();
        let encoder = std::thread::Builder::new()
            .name("parquet-encode".into())
            .spawn(move || {
                for batch in rx {
                    writer.write(&batch).map_err(pq_err(&at))?;
                }
                writer.into_inner().map_err(pq_err(&at))
            })
            .map_err(io_err(&tmp))?;
        Ok(Out {
            path: path.to_path_buf(),
            tmp,
            schema,
            batches: Some(tx),
            encoder: Some(encoder),
        })
    }

    fn write(&mut self, cols: Vec<ArrayRef>) -> Result<(), ObserveError> {
        let batch =
            RecordBatch::try_new(self.schema.clone(), cols).map_err(arrow_err(&self.tmp))?;
        if self
            .batches
            .as_ref()
            .is_some_and(|tx| tx.send(batch).is_ok())
        {
            return Ok(());
        }
        // The encoder stopped early: its result says why.
        Err(self.join().err().unwrap_or_else(|| {
            ObserveError::Corrupt(format!("{}: the encoder stopped", self.tmp.display()))
        }))
    }

    /// Closes the batches' channel and waits for the encoder: the finished file, or its error.
    fn join(&mut self) -> Result<File, ObserveError> {
        self.batches = None;
        let encoder = self.encoder.take().ok_or_else(|| {
            ObserveError::Corrupt(format!(
                "{}: written after it was closed",
                self.tmp.display()
            ))
        })?;
        encoder.join().map_err(|_| {
            ObserveError::Corrupt(format!(
                "{}: the encoder thread panicked",
                self.tmp.display()
            ))
        })?
    }

    fn finish(mut self) -> Result<(), ObserveError> {
        let f = self.join()?;
        f.sync_all().map_err(io_err(&self.tmp))?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))?;
        sync_dir(&self.path)
    }
}

impl Drop for Out {
    /// A file abandoned on an error is not left being written behind the caller's back.
    fn drop(&mut self) {
        if self.encoder.is_some() {
            let _ = self.join();
        }
    }
}

/// The running aggregate of the IMEI being written.
struct ImeiAgg {
    text: String,
    days: u32,
    rat: u16,
    imsis: u32,
    last_imsi: IdKey,
    msisdns: Vec<u64>,
    triplets: u32,
}

struct PartitionWriter {
    month: Day,
    triplets: Out,
    imeis: Out,
    t_imei: StringBuilder,
    t_imsi: StringBuilder,
    t_msisdn: StringBuilder,
    t_first: Date32Builder,
    t_last: Date32Builder,
    t_days: UInt32Builder,
    t_rat: UInt16Builder,
    k_imei: UInt64Builder,
    k_imsi: UInt64Builder,
    k_msisdn: UInt64Builder,
    r_imei: StringBuilder,
    r_imsi: StringBuilder,
    r_msisdn: StringBuilder,
    i_imei: StringBuilder,
    i_first: Date32Builder,
    i_last: Date32Builder,
    i_days: UInt32Builder,
    i_rat: UInt16Builder,
    i_imsis: UInt32Builder,
    i_msisdns: UInt32Builder,
    i_triplets: UInt32Builder,
    agg: Option<ImeiAgg>,
    rows: usize,
    imei_rows: usize,
    total: u64,
    total_imeis: u64,
    all_days: u32,
    buf: String,
    imei_buf: String,
}

impl PartitionWriter {
    fn new(tpath: &Path, ipath: &Path, month: Day) -> Result<PartitionWriter, ObserveError> {
        Ok(PartitionWriter {
            month,
            triplets: Out::new(tpath, triplets_file_schema())?,
            imeis: Out::new(ipath, imeis_schema())?,
            t_imei: StringBuilder::with_capacity(BATCH, BATCH * 14),
            t_imsi: StringBuilder::with_capacity(BATCH, BATCH * 15),
            t_msisdn: StringBuilder::with_capacity(BATCH, BATCH * 12),
            t_first: Date32Builder::with_capacity(BATCH),
            t_last: Date32Builder::with_capacity(BATCH),
            t_days: UInt32Builder::with_capacity(BATCH),
            t_rat: UInt16Builder::with_capacity(BATCH),
            k_imei: UInt64Builder::with_capacity(BATCH),
            k_imsi: UInt64Builder::with_capacity(BATCH),
            k_msisdn: UInt64Builder::with_capacity(BATCH),
            r_imei: StringBuilder::new(),
            r_imsi: StringBuilder::new(),
            r_msisdn: StringBuilder::new(),
            i_imei: StringBuilder::new(),
            i_first: Date32Builder::new(),
            i_last: Date32Builder::new(),
            i_days: UInt32Builder::new(),
            i_rat: UInt16Builder::new(),
            i_imsis: UInt32Builder::new(),
            i_msisdns: UInt32Builder::new(),
            i_triplets: UInt32Builder::new(),
            agg: None,
            rows: 0,
            imei_rows: 0,
            total: 0,
            total_imeis: 0,
            all_days: 0,
            buf: String::new(),
            imei_buf: String::new(),
        })
    }

    fn push(&mut self, t: &Triplet, texts: Texts<'_>) -> Result<(), ObserveError> {
        self.imei_buf.clear();
        match (t.imei.as_body(), t.imei.raw_index()) {
            (Some(b), _) => write_14(&mut self.imei_buf, b),
            (None, Some(_)) => self.imei_buf.push_str(texts.raw(t.imei)),
            (None, None) => {}
        }
        self.t_imei.append_value(&self.imei_buf);
        match t.imei.as_body() {
            Some(b) => {
                self.k_imei.append_value(b);
                self.r_imei.append_null();
            }
            None => {
                self.k_imei.append_value(RAW_IMEI_KEY);
                self.r_imei.append_value(&self.imei_buf);
            }
        }
        for (k, text, key, raw) in [
            (t.imsi, &mut self.t_imsi, &mut self.k_imsi, &mut self.r_imsi),
            (
                t.msisdn,
                &mut self.t_msisdn,
                &mut self.k_msisdn,
                &mut self.r_msisdn,
            ),
        ] {
            let s = id_text(k, texts, &mut self.buf)?;
            text.append_option(s);
            key.append_value(k.0);
            raw.append_option(s.filter(|_| k.is_unclean()));
        }
        let first = self.month.plus(t.days.trailing_zeros() as i32);
        let last = self.month.plus(31 - t.days.leading_zeros() as i32);
        self.t_first.append_value(first.0);
        self.t_last.append_value(last.0);
        self.t_days.append_value(t.days);
        self.t_rat.append_value(t.rat.0);
        self.rows += 1;
        self.total += 1;
        self.all_days |= t.days;

        let same = self.agg.as_ref().is_some_and(|a| a.text == self.imei_buf);
        if !same {
            self.flush_imei()?;
            self.agg = Some(ImeiAgg {
                text: self.imei_buf.clone(),
                days: 0,
                rat: 0,
                imsis: 0,
                last_imsi: IdKey::NULL,
                msisdns: Vec::new(),
                triplets: 0,
            });
        }
        if let Some(a) = self.agg.as_mut() {
            a.days |= t.days;
            a.rat |= t.rat.0;
            a.triplets += 1;
            // Within an IMEI rows come sorted by IMSI: a change is a new distinct IMSI.
            if !t.imsi.is_null() && t.imsi != a.last_imsi {
                a.imsis += 1;
                a.last_imsi = t.imsi;
            }
            if !t.msisdn.is_null() {
                a.msisdns.push(t.msisdn.0);
            }
        }
        if self.rows >= BATCH {
            self.flush_triplets()?;
        }
        Ok(())
    }

    fn flush_imei(&mut self) -> Result<(), ObserveError> {
        let Some(mut a) = self.agg.take() else {
            return Ok(());
        };
        a.msisdns.sort_unstable();
        a.msisdns.dedup();
        self.i_imei.append_value(&a.text);
        self.i_first
            .append_value(self.month.plus(a.days.trailing_zeros() as i32).0);
        self.i_last
            .append_value(self.month.plus(31 - a.days.leading_zeros() as i32).0);
        self.i_days.append_value(a.days);
        self.i_rat.append_value(a.rat);
        self.i_imsis.append_value(a.imsis);
        self.i_msisdns.append_value(a.msisdns.len() as u32);
        self.i_triplets.append_value(a.triplets);
        self.imei_rows += 1;
        self.total_imeis += 1;
        if self.imei_rows >= BATCH {
            self.flush_imeis()?;
        }
        Ok(())
    }

    fn flush_triplets(&mut self) -> Result<(), ObserveError> {
        if self.rows == 0 {
            return Ok(());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.t_imei.finish()),
            Arc::new(self.t_imsi.finish()),
            Arc::new(self.t_msisdn.finish()),
            Arc::new(self.t_first.finish()),
            Arc::new(self.t_last.finish()),
            Arc::new(self.t_days.finish()),
            Arc::new(self.t_rat.finish()),
            Arc::new(self.k_imei.finish()),
            Arc::new(self.k_imsi.finish()),
            Arc::new(self.k_msisdn.finish()),
            Arc::new(self.r_imei.finish()),
            Arc::new(self.r_imsi.finish()),
            Arc::new(self.r_msisdn.finish()),
        ];
        self.rows = 0;
        self.triplets.write(cols)
    }

    fn flush_imeis(&mut self) -> Result<(), ObserveError> {
        if self.imei_rows == 0 {
            return Ok(());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.i_imei.finish()),
            Arc::new(self.i_first.finish()),
            Arc::new(self.i_last.finish()),
            Arc::new(self.i_days.finish()),
            Arc::new(self.i_rat.finish()),
            Arc::new(self.i_imsis.finish()),
            Arc::new(self.i_msisdns.finish()),
            Arc::new(self.i_triplets.finish()),
        ];
        self.imei_rows = 0;
        self.imeis.write(cols)
    }

    fn finish(mut self) -> Result<Stats, ObserveError> {
        self.flush_triplets()?;
        self.flush_imei()?;
        self.flush_imeis()?;
        if self.total == 0 {
            return Err(ObserveError::Corrupt("a partition with no triplets".into()));
        }
        self.triplets.finish()?;
        self.imeis.finish()?;
        Ok(Stats {
            triplets: self.total,
            imeis: self.total_imeis,
            first_day: self.month.plus(self.all_days.trailing_zeros() as i32),
            last_day: self.month.plus(31 - self.all_days.leading_zeros() as i32),
        })
    }
}

/// A 14-digit body, zero-padded, without going through `fmt`.
fn write_14(buf: &mut String, mut v: u64) {
    let mut d = [b'0'; 14];
    for slot in d.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    d.iter().for_each(|b| buf.push(char::from(*b)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn t(imei: ImeiKey, imsi: u64) -> Triplet {
        Triplet {
            imei,
            imsi: IdKey::parse(imsi.to_string().as_bytes()),
            msisdn: IdKey::NULL,
            operator: 0,
            month: Day(20362),
            days: 1,
            rat: RatSet(0),
        }
    }

    /// Files written before the key columns existed hold only the text columns: they must read
    /// back exactly as the keyed file written from the same triplets, malformed IMEIs, unclean
    /// and missing identifiers included.
    #[test]
    fn a_file_without_key_columns_reads_as_the_keyed_one() {
        let month = Day(20362);
        let mut unclean = HashMap::new();
        let odd = IdKey::parse(b"12x45");
        unclean.insert(odd.0, "12x45".to_owned());
        let mut part = Part {
            triplets: vec![
                t(ImeiKey::body(35_000_000_000_001), 234_567),
                t(ImeiKey::body(35_000_000_000_001), 234_568),
                t(ImeiKey::body(99_999_999_999_999), 1),
                t(ImeiKey::raw(0), 7),
                t(ImeiKey::raw(1), 8),
            ],
            raw_imeis: vec!["12AB".into(), "ZZZ".into()],
            unclean,
        };
        part.triplets[1].msisdn = odd;
        part.triplets[2].imsi = odd;
        part.triplets[3].msisdn = IdKey::parse(b"00994501234567");
        let dir = tempfile::tempdir().unwrap();
        let texts = part.texts();
        let none = Part::default();
        let rows = part.triplets.iter().map(|t| Ok(*t));
        write_partition(dir.path(), "g1", month, &none, rows, texts).unwrap();
        let keyed_path = dir.path().join(format!("g1{TRIPLETS_SUFFIX}"));
        let keyed = read_triplets(&keyed_path, month, None).unwrap();

        // The same file as an earlier release wrote it: the public columns only.
        let f = File::open(&keyed_path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let names: Vec<String> = triplets_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mask = parquet::arrow::ProjectionMask::columns(
            reader.parquet_schema(),
            names.iter().map(String::as_str),
        );
        let old_path = dir.path().join("old.triplets.parquet");
        let mut w = ArrowWriter::try_new(File::create(&old_path).unwrap(), triplets_schema(), None)
            .unwrap();
        for b in reader.with_projection(mask).build().unwrap() {
            w.write(&b.unwrap()).unwrap();
        }
        w.close().unwrap();
        let old = read_triplets(&old_path, month, None).unwrap();

        assert_eq!(keyed.triplets, part.triplets);
        assert_eq!(keyed.raw_imeis, part.raw_imeis);
        assert_eq!(keyed.unclean, part.unclean);
        assert_eq!(old.triplets, keyed.triplets);
        assert_eq!(old.raw_imeis, keyed.raw_imeis);
        assert_eq!(old.unclean, keyed.unclean);
    }

    /// A key column that names no 14-digit body, or a malformed IMEI without its text, is a
    /// damaged file, not a device.
    #[test]
    fn a_key_out_of_range_or_without_its_text_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        for (n, (key, raw)) in [
            (100_000_000_000_000u64, None),
            (RAW_IMEI_KEY, None),
            (RAW_IMEI_KEY + 1, Some("12AB")),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("{n}.triplets.parquet"));
            let cols: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(vec!["x"])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(Date32Array::from(vec![20362])),
                Arc::new(Date32Array::from(vec![20362])),
                Arc::new(UInt32Array::from(vec![1u32])),
                Arc::new(UInt16Array::from(vec![1u16])),
                Arc::new(UInt64Array::from(vec![key])),
                Arc::new(UInt64Array::from(vec![IdKey::NULL.0])),
                Arc::new(UInt64Array::from(vec![IdKey::NULL.0])),
                Arc::new(StringArray::from(vec![raw])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(StringArray::from(vec![None::<&str>])),
            ];
            let schema = triplets_file_schema();
            let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
            let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let err = read_triplets(&path, Day(20362), None).unwrap_err();
            assert!(
                matches!(err, ObserveError::Corrupt(ref m) if m.contains("IMEI key out of range")),
                "case {n}: {err}"
            );
        }
    }

    /// Parts decoded on different cores number their malformed IMEIs each from zero: joined,
    /// every triplet must still name its own text, and a text seen by both parts keeps one index.
    #[test]
    fn joined_parts_keep_each_malformed_imei_text() {
        let a = Part {
            triplets: vec![
                t(ImeiKey::raw(0), 1),
                t(ImeiKey::body(35_000_000_000_001), 2),
            ],
            raw_imeis: vec!["B".into(), "A".into()],
            unclean: HashMap::new(),
        };
        let b = Part {
            triplets: vec![
                t(ImeiKey::raw(1), 3),
                t(ImeiKey::raw(0), 4),
                t(ImeiKey::raw(2), 5),
            ],
            raw_imeis: vec!["C".into(), "B".into(), "A".into()],
            unclean: HashMap::from([(7, "x".to_owned())]),
        };
        let all = concat_parts(vec![a, b]);
        let text = |i: usize| -> String {
            let k = all.triplets[i].imei;
            match k.raw_index() {
                Some(r) => all.raw_imeis[r as usize].clone(),
                None => k.as_body().unwrap().to_string(),
            }
        };
        let texts: Vec<String> = (0..all.triplets.len()).map(text).collect();
        assert_eq!(texts, ["B", "35000000000001", "B", "C", "A"]);
        assert_eq!(all.raw_imeis, ["B", "A", "C"]);
        assert_eq!(all.unclean.get(&7).map(String::as_str), Some("x"));
    }
}
