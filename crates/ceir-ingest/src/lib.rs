//! ceir's ingestion: streaming readers of TAC catalogs (and, later, list files) that refuse a
//! bad file as a whole and name the file, line, field and value of every problem found.

mod archive;
pub mod dirbs_lists;
pub mod dirbs_merge;
pub mod error;
mod lines;
pub mod operator;
pub mod simulate;
pub mod tac;

pub use error::{IngestError, RowError};
pub use tac::{read_catalog, read_catalog_from, Catalog, TacFormat};
