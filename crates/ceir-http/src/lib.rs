//! ceir-http
