//! Pids: `pids.max` on v1 and v2 (runc: 0 = unset, negative = "max").

use anyhow::Result;
use oci_spec::runtime::LinuxPids;

use super::convert::max_or;
use super::{field_err, Target};

pub fn validate(t: &Target, p: &LinuxPids) -> Result<()> {
    if p.limit() < -1 {
        return Err(field_err!(
            "pids.limit",
            "invalid value {} (-1 for unlimited)",
            p.limit()
        ));
    }
    if p.limit() != 0 && t.place("pids", "pids").is_none() {
        return Err(field_err!(
            "pids.limit",
            "the pids cgroup controller is not available"
        ));
    }
    Ok(())
}

pub fn apply(t: &Target, p: &LinuxPids) -> Result<()> {
    if p.limit() == 0 {
        return Ok(());
    }
    let place = t
        .place("pids", "pids")
        .ok_or_else(|| field_err!("pids.limit", "the pids cgroup controller is not available"))?;
    super::write(place.dir(), "pids.max", &max_or(p.limit()), "pids.limit")
}
