//! `process.execCPUAffinity`: the CPUs an *exec* process runs on - `initial` while the
//! runtime joins it to the container, `final` once it is in the container's cgroup.
//!
//! The runtime-spec says this "is not applicable to the container's init process", so
//! `attrs::apply` (the init's path) does not use it. The `exec` path uses it: the runtime
//! pins the forked exec child to `initial` before placing it in the container's cgroup
//! ([`apply_initial`] with the child's pid, from the parent), and to `final` once it is
//! there ([`apply_final`], from the child itself with pid 0 or from the parent).

use anyhow::{anyhow, Result};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::ExecCPUAffinity;

use super::cpulist;

/// Parse both lists (oci-spec already checked the syntax; this also bounds the numbers).
pub fn validate(a: &ExecCPUAffinity) -> Result<()> {
    for (field, list) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
        if let Some(list) = list {
            cpuset(list).map_err(|e| anyhow!("process.execCPUAffinity.{field}: {e}"))?;
        }
    }
    Ok(())
}

fn cpuset(list: &str) -> Result<Option<CpuSet>, String> {
    let mask = cpulist::parse(list, CpuSet::count() as u32)?;
    if mask.is_empty() {
        return Ok(None);
    }
    let mut set = CpuSet::new();
    for cpu in cpulist::indices(&mask) {
        set.set(cpu as usize).map_err(|e| e.to_string())?;
    }
    Ok(Some(set))
}

fn set(field: &str, list: Option<&String>, pid: i32) -> Result<()> {
    let Some(list) = list else { return Ok(()) };
    let err = |e: String| anyhow!("process.execCPUAffinity.{field}: {e}");
    if let Some(set) = cpuset(list).map_err(err)? {
        sched_setaffinity(Pid::from_raw(pid), &set)
            .map_err(|e| err(format!("sched_setaffinity({list}): {e}")))?;
    }
    Ok(())
}

/// Pin process `pid` (0 = the caller) to `initial` (exec path, before it joins the
/// container's cgroup). A missing `initial` changes nothing.
pub fn apply_initial(a: &ExecCPUAffinity, pid: i32) -> Result<()> {
    set("initial", a.initial().as_ref(), pid)
}

/// Pin process `pid` (0 = the caller) to `final` (exec path, after it joined the container's
/// cgroup). An empty or missing `final` leaves the affinity the cgroup gives.
pub fn apply_final(a: &ExecCPUAffinity, pid: i32) -> Result<()> {
    set("final", a.cpu_affinity_final().as_ref(), pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_lists() {
        let a: ExecCPUAffinity = serde_json::from_str(r#"{"initial":"0-1","final":"1"}"#).unwrap();
        assert!(validate(&a).is_ok());
        let a: ExecCPUAffinity = serde_json::from_str(r#"{"final":"0-5000"}"#).unwrap();
        let e = validate(&a).unwrap_err().to_string();
        assert!(e.starts_with("process.execCPUAffinity.final"), "{e}");
        assert!(serde_json::from_str::<ExecCPUAffinity>(r#"{"initial":"0-a"}"#).is_err());
    }
}
