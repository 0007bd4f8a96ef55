//! The case table. A case builds its own bundle(s) under a unique id and cgroup path, drives the
//! runtime and returns its checks; cases are independent so the driver runs them in parallel.
//!
//! * [`inside`]: configs run through `run`, checked from inside by `oci-checker`.
//! * [`lifecycle`]: runtime.md operations, state and their error rules on a live container.
//! * [`errors`]: operations on missing ids, create errors that must leave nothing behind.
//! * [`hooks`]: config.md POSIX-platform hooks (order, stdin, namespaces, failures).
//! * [`cgroups`]: linux.resources read from the host cgroupfs, and removal on delete.

pub mod cgroups;
pub mod errors;
pub mod hooks;
pub mod inside;
pub mod lifecycle;

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};

use crate::bundle::Ctx;
use crate::runtime::Runtime;

/// One case: its id, the spec section it is about, a short quote of the line it checks.
pub struct Case {
    pub id: &'static str,
    pub section: &'static str,
    pub spec: &'static str,
    pub run: fn(&Ctx, &Runtime) -> Result<Vec<Check>>,
}

/// Every case, in report order.
pub fn all() -> Vec<Case> {
    let mut v = inside::cases();
    v.extend(lifecycle::cases());
    v.extend(errors::cases());
    v.extend(hooks::cases());
    v.extend(cgroups::cases());
    v
}

/// A case-level skip (the whole case cannot run on this host or runtime).
pub fn skip(section: &str, what: &str, reason: impl Into<String>) -> Vec<Check> {
    vec![Check::new(section, what, Outcome::Skip(reason.into()))]
}
