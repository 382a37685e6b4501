//! ceir-eir
