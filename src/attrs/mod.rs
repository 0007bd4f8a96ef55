//! Process and kernel attributes from config.json that are neither mounts nor credentials:
//! ioPriority, scheduler, execCPUAffinity, personality, memoryPolicy, timeOffsets,
//! netDevices, and the LSM/RDT fields (apparmorProfile, selinuxLabel, mountLabel, intelRdt),
//! which must fail clearly when asked for on a host without them.
//!
//! Called from: `bundle::validate` (`validate`), the parent after clone (`move_net_devices`),
//! the init after unsharing the time namespace (`write_time_offsets`) and the init after the
//! rootfs is finalized, while still privileged (`apply`).

use anyhow::{bail, Result};
use oci_spec::runtime::Spec;

/// Reject what cannot be honoured, before anything is created.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        if p.apparmor_profile().as_deref().is_some_and(|s| !s.is_empty()) {
            bail!("process.apparmorProfile: AppArmor is not supported yet");
        }
        if p.selinux_label().as_deref().is_some_and(|s| !s.is_empty()) {
            bail!("process.selinuxLabel: SELinux is not supported yet");
        }
        if p.io_priority().is_some() {
            bail!("process.ioPriority: not supported yet");
        }
        if p.scheduler().is_some() {
            bail!("process.scheduler: not supported yet");
        }
        if p.exec_cpu_affinity().is_some() {
            bail!("process.execCPUAffinity: not supported yet");
        }
    }
    if let Some(l) = spec.linux() {
        if l.personality().is_some() {
            bail!("linux.personality: not supported yet");
        }
        if l.memory_policy().is_some() {
            bail!("linux.memoryPolicy: not supported yet");
        }
        if l.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
            bail!("linux.timeOffsets: not supported yet");
        }
        if l.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            bail!("linux.netDevices: not supported yet");
        }
        if l.intel_rdt().is_some() {
            bail!("linux.intelRdt: not supported on this host");
        }
        if l.mount_label().as_deref().is_some_and(|s| !s.is_empty()) {
            bail!("linux.mountLabel: SELinux is not supported yet");
        }
    }
    Ok(())
}

/// Move `linux.netDevices` into the init's network namespace (parent side, after clone).
pub fn move_net_devices(_spec: &Spec, _init_pid: i32) -> Result<()> {
    Ok(())
}

/// Write `linux.timeOffsets` to /proc/self/timens_offsets (init, after unshare(CLONE_NEWTIME),
/// before the fork that enters it).
pub fn write_time_offsets(_spec: &Spec) -> Result<()> {
    Ok(())
}

/// Apply per-process attributes (init, after the rootfs, before dropping privileges).
pub fn apply(_spec: &Spec) -> Result<()> {
    Ok(())
}
