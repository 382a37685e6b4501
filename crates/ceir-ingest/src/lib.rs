//! ceir-ingest
