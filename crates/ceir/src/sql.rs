//! `ceir sql "SELECT …"`: DataFusion over the observation store (tables `triplets` and
//! `imeis`, partition columns `month` and `operator`) and the current classification
//! (`classification`).

use crate::config::Config;
use anyhow::{Context, Result};

pub async fn run(cfg: &Config, statement: &str, format: &str) -> Result<()> {
    let format = ceir_sql::Format::parse(format)
        .with_context(|| format!("unknown format {format:?}: use table, csv or json"))?;
    let root = crate::operator_import::observations_dir(cfg);
    let state =
        ceir_classify::StateStore::open(&cfg.data.join("classification"))?.current_file()?;
    let batches = ceir_sql::query(&root, state.as_deref(), statement).await?;
    print!("{}", ceir_sql::render(&batches, format)?);
    if format == ceir_sql::Format::Table {
        println!();
    }
    Ok(())
}
