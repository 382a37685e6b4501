//! The classification state on disk: one Parquet file of rows and one JSON file of run metadata
//! per run, published by atomically replacing a small `CURRENT` pointer.
//!
//! Layout of `DIR/classification`:
//! - `run-000007.parquet`: every state row after run 7 (open and closed), zstd;
//! - `run-000007.json`: the run (date, previous run, summary) and its conditions;
//! - `CURRENT`: `run-000007`, the last committed run. Readers follow only this.
//!
//! A kill at any point leaves `CURRENT` naming the previous run; files of an uncommitted run and
//! temporary files are removed by the next commit.

use crate::{Classified, ClassifyError, ConditionInfo, ConditionSummary, RunInfo, StateRow};
use arrow_array::builder::{BooleanBuilder, Date32Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use ceir_domain::observe::{Day, ImeiNorm};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CURRENT: &str = "CURRENT";
const BATCH_ROWS: usize = 65_536;

/// The state store under `DIR/classification`.
#[derive(Debug, Clone)]
pub struct StateStore {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Corrupt {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn run_name(id: u64) -> String {
    format!("run-{id:06}")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RunJson {
    id: u64,
    date: String,
    /// Absent in runs written before the two dates were told apart: then the run's date.
    #[serde(default)]
    analysis_date: Option<String>,
    previous: Option<u64>,
    imeis_seen: u64,
    rows: u64,
    summary: Vec<SummaryJson>,
    conditions: Vec<ConditionJson>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SummaryJson {
    label: String,
    matched: u64,
    newly_matched: u64,
    no_longer_matching: u64,
    blocking: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ConditionJson {
    label: String,
    reason: String,
    blocking: bool,
    sticky: bool,
    grace_period_days: u32,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("imei_norm", DataType::Utf8, false),
        Field::new("condition", DataType::Utf8, false),
        Field::new("start_date", DataType::Date32, false),
        Field::new("end_date", DataType::Date32, true),
        Field::new("block_date", DataType::Date32, true),
        Field::new("amnesty_granted", DataType::Boolean, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

fn fsync_dir(dir: &Path) -> Result<(), ClassifyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes `bytes` to `final_path` through a temporary file in the same directory.
fn write_atomic(
    final_path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), ClassifyError>,
) -> Result<(), ClassifyError> {
    let dir = final_path.parent().unwrap_or(Path::new("."));
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    write(&mut f)?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, final_path).map_err(io(final_path))
}

impl StateStore {
    /// `root` = `DIR/classification`; created if missing.
    pub fn open(root: &Path) -> Result<StateStore, ClassifyError> {
        fs::create_dir_all(root).map_err(io(root))?;
        Ok(StateStore {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The id of the last committed run.
    pub fn current_id(&self) -> Result<Option<u64>, ClassifyError> {
        let p = self.root.join(CURRENT);
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&p)(e)),
        };
        text.trim()
            .strip_prefix("run-")
            .and_then(|n| n.parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| corrupt(&p, format!("expected run-NNNNNN, found {:?}", text.trim())))
    }

    /// The Parquet file of the last committed run's rows, for engines reading it directly.
    pub fn current_file(&self) -> Result<Option<PathBuf>, ClassifyError> {
        Ok(self
            .current_id()?
            .map(|id| self.root.join(format!("{}.parquet", run_name(id)))))
    }

    /// The last committed run, or `None` before the first.
    pub fn current(&self) -> Result<Option<Classified>, ClassifyError> {
        match self.current_id()? {
            None => Ok(None),
            Some(id) => self.read_run(id).map(Some),
        }
    }

    fn read_run(&self, id: u64) -> Result<Classified, ClassifyError> {
        let jp = self.root.join(format!("{}.json", run_name(id)));
        let text = fs::read_to_string(&jp).map_err(io(&jp))?;
        let meta: RunJson = serde_json::from_str(&text).map_err(|e| corrupt(&jp, e))?;
        let date = Day::parse_iso(&meta.date).ok_or_else(|| corrupt(&jp, "bad date"))?;
        let analysis_date = match &meta.analysis_date {
            Some(d) => Day::parse_iso(d).ok_or_else(|| corrupt(&jp, "bad analysis date"))?,
            None => date,
        };
        let pp = self.root.join(format!("{}.parquet", run_name(id)));
        let rows = read_rows(&pp)?;
        if rows.len() as u64 != meta.rows {
            return Err(corrupt(
                &pp,
                format!("{} rows, the run says {}", rows.len(), meta.rows),
            ));
        }
        Ok(Classified {
            run: RunInfo {
                id: meta.id,
                date,
                analysis_date,
                previous: meta.previous,
                imeis_seen: meta.imeis_seen,
                summary: meta
                    .summary
                    .into_iter()
                    .map(|s| ConditionSummary {
                        label: s.label,
                        matched: s.matched,
                        newly_matched: s.newly_matched,
                        no_longer_matching: s.no_longer_matching,
                        blocking: s.blocking,
                    })
                    .collect(),
            },
            conditions: meta
                .conditions
                .into_iter()
                .map(|c| ConditionInfo {
                    label: c.label,
                    reason: c.reason,
                    blocking: c.blocking,
                    sticky: c.sticky,
                    grace_period_days: c.grace_period_days,
                })
                .collect(),
            rows,
        })
    }

    /// Removes temporary files and files of runs after the committed one (left by a kill).
    fn clean(&self, current: Option<u64>) -> Result<(), ClassifyError> {
        let entries = fs::read_dir(&self.root).map_err(io(&self.root))?;
        for e in entries {
            let e = e.map_err(io(&self.root))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = if name.starts_with('.') && name.ends_with(".tmp") {
                true
            } else if let Some(rest) = name.strip_prefix("run-") {
                let id = rest.split('.').next().and_then(|n| n.parse::<u64>().ok());
                matches!((id, current), (Some(i), Some(c)) if i > c)
                    || (id.is_some() && current.is_none())
            } else {
                false
            };
            if stale {
                let p = e.path();
                fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        Ok(())
    }

    /// Publishes a run: its files, then `CURRENT`. Refuses a run that does not follow the
    /// committed one (another classification committed meanwhile).
    pub fn commit(&self, c: &Classified) -> Result<(), ClassifyError> {
        let current = self.current_id()?;
        if c.run.previous != current || c.run.id != current.map_or(1, |p| p + 1) {
            return Err(ClassifyError::Conflict(format!(
                "{}: run {} follows run {:?}, but the committed run is {:?}; classify again",
                self.root.display(),
                c.run.id,
                c.run.previous,
                current
            )));
        }
        self.clean(current)?;
        let name = run_name(c.run.id);
        let pp = self.root.join(format!("{name}.parquet"));
        write_atomic(&pp, |f| write_rows(f, &c.rows, &pp))?;
        let meta = RunJson {
            id: c.run.id,
            date: c.run.date.to_string(),
            analysis_date: Some(c.run.analysis_date.to_string()),
            previous: c.run.previous,
            imeis_seen: c.run.imeis_seen,
            rows: c.rows.len() as u64,
            summary: c
                .run
                .summary
                .iter()
                .map(|s| SummaryJson {
                    label: s.label.clone(),
                    matched: s.matched,
                    newly_matched: s.newly_matched,
                    no_longer_matching: s.no_longer_matching,
                    blocking: s.blocking,
                })
                .collect(),
            conditions: c
                .conditions
                .iter()
                .map(|c| ConditionJson {
                    label: c.label.clone(),
                    reason: c.reason.clone(),
                    blocking: c.blocking,
                    sticky: c.sticky,
                    grace_period_days: c.grace_period_days,
                })
                .collect(),
        };
        let jp = self.root.join(format!("{name}.json"));
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| corrupt(&jp, e))?;
        write_atomic(&jp, |f| f.write_all(&json).map_err(io(&jp)))?;
        fsync_dir(&self.root)?;
        let cp = self.root.join(CURRENT);
        write_atomic(&cp, |f| {
            f.write_all(format!("{name}\n").as_bytes()).map_err(io(&cp))
        })?;
        fsync_dir(&self.root)
    }
}

fn write_rows(f: &mut File, rows: &[StateRow], path: &Path) -> Result<(), ClassifyError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let schema = schema();
    let mut w =
        ArrowWriter::try_new(f, schema.clone(), Some(props)).map_err(|e| corrupt(path, e))?;
    let mut text = String::new();
    for chunk in rows.chunks(BATCH_ROWS) {
        let mut imei = StringBuilder::with_capacity(chunk.len(), chunk.len() * 14);
        let mut cond = StringBuilder::new();
        let mut start = Date32Builder::with_capacity(chunk.len());
        let mut end = Date32Builder::with_capacity(chunk.len());
        let mut block = Date32Builder::with_capacity(chunk.len());
        let mut amnesty = BooleanBuilder::with_capacity(chunk.len());
        let mut reason = StringBuilder::new();
        for r in chunk {
            text.clear();
            use std::fmt::Write as _;
            let _ = write!(text, "{}", r.imei);
            imei.append_value(&text);
            cond.append_value(&r.condition);
            start.append_value(r.start.0);
            end.append_option(r.end.map(|d| d.0));
            block.append_option(r.block_date.map(|d| d.0));
            amnesty.append_value(r.amnesty);
            reason.append_value(&r.reason);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(imei.finish()),
            Arc::new(cond.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(block.finish()),
            Arc::new(amnesty.finish()),
            Arc::new(reason.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| corrupt(path, e))?;
        w.write(&batch).map_err(|e| corrupt(path, e))?;
    }
    w.close().map_err(|e| corrupt(path, e))?;
    Ok(())
}

fn read_rows(path: &Path) -> Result<Vec<StateRow>, ClassifyError> {
    let f = File::open(path).map_err(io(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
        .map_err(|e| corrupt(path, e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(path, e))?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| corrupt(path, format!("no column {name}")))
        };
        let strings = |name: &str| -> Result<StringArray, ClassifyError> {
            col(name)?
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| corrupt(path, format!("{name} is not utf8")))
        };
        let dates = |name: &str| -> Result<Date32Array, ClassifyError> {
            col(name)?
                .as_any()
                .downcast_ref::<Date32Array>()
                .cloned()
                .ok_or_else(|| corrupt(path, format!("{name} is not date32")))
        };
        let imei = strings("imei_norm")?;
        let cond = strings("condition")?;
        let reason = strings("reason")?;
        let start = dates("start_date")?;
        let end = dates("end_date")?;
        let block = dates("block_date")?;
        let amnesty = col("amnesty_granted")?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| corrupt(path, "amnesty_granted is not boolean"))?;
        let opt = |a: &Date32Array, i: usize| (!a.is_null(i)).then(|| Day(a.value(i)));
        for i in 0..batch.num_rows() {
            let text = imei.value(i);
            let norm = ImeiNorm::parse(text.as_bytes())
                .ok_or_else(|| corrupt(path, format!("row {i}: empty IMEI")))?;
            rows.push(StateRow {
                imei: norm,
                condition: cond.value(i).to_owned(),
                start: Day(start.value(i)),
                end: opt(&end, i),
                block_date: opt(&block, i),
                amnesty: amnesty.value(i),
                reason: reason.value(i).to_owned(),
            });
        }
    }
    Ok(rows)
}
