//! ceir's pure domain: identifiers, lists, status precedence and the error-code registry.
//!
//! Nothing here performs I/O or is async; every other crate builds on these types.

pub mod audit;
pub mod authz;
pub mod cases;
pub mod catalog;
pub mod classify;
pub mod clock;
pub mod credential;
pub mod error;
pub mod ids;
pub mod invalid;
pub mod lists;
pub mod observe;
pub mod redact;
pub mod scope;
pub mod status;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::ErrorCode;
pub use ids::{Gpsi, IdError, Imei, ImeiSv, Imsi, Msisdn, PairingMsisdn, Pei, Supi, Tac};
