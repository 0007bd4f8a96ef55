//! Process and kernel attributes from config.json that are neither mounts nor credentials:
//! ioPriority, scheduler, execCPUAffinity, personality, memoryPolicy, timeOffsets,
//! netDevices, and the LSM/RDT fields (apparmorProfile, selinuxLabel, mountLabel, intelRdt),
//! which must fail clearly when asked for on a host without them.
//!
//! Called from: `bundle::validate` (`validate`), the parent after clone (`move_net_devices`),
//! the init after unsharing the time namespace (`write_time_offsets`) and the init after the
//! rootfs is finalized, while still privileged (`apply`).
//!
//! | field | file | applied by |
//! |---|---|---|
//! | `process.ioPriority` | `ioprio` | `apply` / `apply_process`: ioprio_set |
//! | `process.scheduler` | `sched` | `apply` / `apply_process`: sched_setattr |
//! | `process.execCPUAffinity` | `affinity` | not the init (runtime-spec); exec: `affinity::apply_initial` / `apply_final` |
//! | `linux.personality` | `personality` | `apply`: personality(2) |
//! | `linux.memoryPolicy` | `mempolicy` | `apply`: set_mempolicy |
//! | `linux.timeOffsets` | `timens` | `write_time_offsets` |
//! | `linux.netDevices` | `netdev` (+ `netlink`) | `move_net_devices` |
//! | AppArmor, SELinux, Intel RDT | `lsm` | refused with the reason |

pub mod affinity;
pub mod cpulist;
pub mod ioprio;
pub mod lsm;
pub mod mempolicy;
pub mod netdev;
pub mod netlink;
pub mod personality;
pub mod sched;
pub mod timens;

#[cfg(test)]
mod e2e;
#[cfg(test)]
mod e2e_net;

use anyhow::Result;
use oci_spec::runtime::{Process, Spec};

/// Reject what cannot be honoured, before anything is created.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        validate_process(p)?;
    }
    if let Some(l) = spec.linux() {
        if let Some(p) = l.personality() {
            personality::validate(p)?;
        }
        if let Some(m) = l.memory_policy() {
            mempolicy::check_host(&mempolicy::build(m)?)?;
        }
        if let Some(t) = l.time_offsets().as_ref().filter(|t| !t.is_empty()) {
            timens::validate(spec, t)?;
        }
        if let Some(d) = l.net_devices().as_ref().filter(|d| !d.is_empty()) {
            netdev::validate(spec, d)?;
        }
        if l.intel_rdt().is_some() {
            lsm::check_intel_rdt()?;
        }
        if let Some(label) = l.mount_label().as_deref().filter(|s| !s.is_empty()) {
            lsm::check_selinux("linux.mountLabel", label)?;
        }
    }
    Ok(())
}

/// The per-process fields: for the container's process (from `validate`) and for a process
/// given to `exec` (process.json).
pub fn validate_process(p: &Process) -> Result<()> {
    if let Some(profile) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
        lsm::check_apparmor(profile)?;
    }
    if let Some(label) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
        lsm::check_selinux("process.selinuxLabel", label)?;
    }
    if let Some(io) = p.io_priority() {
        ioprio::validate(io)?;
    }
    if let Some(s) = p.scheduler() {
        sched::validate(s)?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        affinity::validate(a)?;
    }
    Ok(())
}

/// Move `linux.netDevices` into the init's network namespace (parent side, after clone).
pub fn move_net_devices(spec: &Spec, init_pid: i32) -> Result<()> {
    match spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) {
        Some(d) if !d.is_empty() => netdev::move_all(spec, d, init_pid),
        _ => Ok(()),
    }
}

/// Write `linux.timeOffsets` to /proc/self/timens_offsets (init, after unshare(CLONE_NEWTIME),
/// before the fork that enters it).
pub fn write_time_offsets(spec: &Spec) -> Result<()> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    {
        Some(t) if !t.is_empty() => timens::write(t),
        _ => Ok(()),
    }
}

/// Apply per-process attributes (init, after the rootfs, before dropping privileges).
///
/// `process.execCPUAffinity` is deliberately not applied here: the runtime-spec says it "is
/// not applicable to the container's init process" (see `affinity`).
pub fn apply(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        personality::apply(p)?;
    }
    if let Some(m) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    {
        mempolicy::apply(m)?;
    }
    if let Some(p) = spec.process() {
        apply_process(p)?;
    }
    Ok(())
}

/// `process.ioPriority` and `process.scheduler` on the calling process: the init (from
/// `apply`) or an exec process (after it joined the container, before dropping privileges).
pub fn apply_process(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        ioprio::apply(io)?;
    }
    // Last: a real-time or deadline policy should not speed up the runtime's own setup.
    if let Some(s) = p.scheduler() {
        sched::apply(s)?;
    }
    Ok(())
}
