//! `ceir sql`: SQL over the observation store with Apache DataFusion. Two tables, both with the
//! Hive partition columns `month` (`yyyy-mm`) and `operator`:
//!
//! - `triplets`: imei_norm, imsi, msisdn, first_seen, last_seen, days (bit i = day i + 1 of the
//!   month), rat (RAT set bits, DIRBS codes in `ceir_domain::observe::RATS` order);
//! - `imeis`: per IMEI and partition: first_seen, last_seen, days, rat, imsis, msisdns, triplets.
//!
//! and, once a classification has run, `classification`: the current state, one row per episode
//! of an IMEI meeting a condition (imei_norm, condition, start_date, end_date, block_date,
//! amnesty_granted, reason; end_date is null while it still meets it), as DIRBS's
//! `classification_state`.
//!
//! The triplets files also hold classification's integer key columns (`*_key`, `*_raw`); they
//! are not declared here, so SQL sees the same table whether a file has them or not.
//!
//! The files are plain Parquet, so DuckDB or Spark read the same directory
//! (`read_parquet('observations/*/*/*.triplets.parquet', hive_partitioning = true)`).

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("the observation store {0} does not exist; import operator data first (ceir import operator)")]
    NoStore(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A session with `triplets` and `imeis` registered over the store at `root`
/// (`DIR/observations`), and `classification` over `state` (the current run's Parquet file).
pub async fn session(root: &Path, state: Option<&Path>) -> Result<SessionContext, SqlError> {
    if !root.is_dir() {
        return Err(SqlError::NoStore(root.display().to_string()));
    }
    let root = root.canonicalize()?;
    let url = format!("{}/", root.display());
    // Two cores: more partitions than that only adds scheduling.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    for (name, suffix, schema) in [
        (
            "triplets",
            ceir_observe::TRIPLETS_SUFFIX,
            ceir_observe::triplets_schema(),
        ),
        (
            "imeis",
            ceir_observe::IMEIS_SUFFIX,
            ceir_observe::imeis_schema(),
        ),
    ] {
        let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(suffix)
            .with_table_partition_cols(vec![
                ("month".to_owned(), DataType::Utf8),
                ("operator".to_owned(), DataType::Utf8),
            ]);
        ctx.register_listing_table(name, &url, opts, Some(schema), None)
            .await?;
    }
    if let Some(state) = state {
        let path = state.canonicalize()?.display().to_string();
        ctx.register_parquet(
            "classification",
            &path,
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await?;
    }
    Ok(ctx)
}

/// Runs one statement over the store (and the classification state, when given).
pub async fn query(
    root: &Path,
    state: Option<&Path>,
    sql: &str,
) -> Result<Vec<RecordBatch>, SqlError> {
    let ctx = session(root, state).await?;
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// Renders results as an aligned table, CSV with a header, or JSON lines.
pub fn render(batches: &[RecordBatch], format: Format) -> Result<String, SqlError> {
    match format {
        Format::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string()),
        Format::Csv => {
            let mut out = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Format::Json => {
            let mut out = Vec::new();
            {
                let mut w = arrow::json::LineDelimitedWriter::new(&mut out);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
    }
}
