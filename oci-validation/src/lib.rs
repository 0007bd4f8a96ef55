//! oci-validation: an OCI runtime-spec conformance suite.
//!
//! Two binaries share this library:
//! * `oci-checker` runs *inside* each test container (static, copied into the rootfs), reads the
//!   `config.json` the container was started with and compares it with what it observes.
//! * `oci-validation` is the host-side driver: it builds bundles, drives a runtime through the
//!   lifecycle operations and prints a TAP report and a summary table.
//!
//! Modules: [`tap`] (results and TAP lines), [`mountinfo`] (parser), [`caps`] (capability names),
//! [`sys`] (the only `unsafe`: raw libc calls), [`rtools`] (the outside judge: reading the OCI
//! runtime-tools suite's results for `tests/runtime_tools.rs`).

pub mod caps;
pub mod mountinfo;
pub mod rtools;
pub mod sys;
pub mod tap;
