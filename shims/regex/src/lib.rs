//! `regex` for oci-spec, backed by `regex-lite`.
//!
//! oci-spec needs one regular expression at runtime (the `execCPUAffinity` syntax,
//! `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`, via `Regex::new` + `is_match`). The full `regex` crate
//! brought its Unicode tables, three more crates and ~9k relocated pointers into every exec of
//! oxirun; `regex-lite` has the same API for what oci-spec uses, and ASCII-only `\d` (stricter,
//! which is what a CPU list wants).

pub use regex_lite::*;
