//! ceir-store
