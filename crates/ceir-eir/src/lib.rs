//! ceir's EIR: the in-memory status index and the N5g-eir service logic.

pub mod index;
pub mod service;

pub use index::StatusIndex;
pub use service::Registry;
