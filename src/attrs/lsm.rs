//! The host-dependent fields: AppArmor (`process.apparmorProfile`), SELinux
//! (`process.selinuxLabel`, `linux.mountLabel`) and Intel RDT (`linux.intelRdt`).
//!
//! oxirun does not apply any of them yet. An AppArmor profile or Intel RDT is refused with
//! the real reason: the facility is missing on this host, or (when the host has it) oxirun
//! does not implement it; a container is never started unconfined when a profile was asked
//! for. SELinux labels on a host without SELinux are ignored with a debug line, as crun and
//! youki do: there is nothing to confine with (and no label the kernel would take), and the
//! OCI validation suite expects it; with SELinux enabled they are refused for now.

use std::path::Path;

use anyhow::{bail, Result};

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn resctrl_mounted() -> bool {
    crate::sys::read_small("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.contains(" - resctrl ")))
}

/// `process.apparmorProfile`.
pub fn check_apparmor(profile: &str) -> Result<()> {
    if !apparmor_enabled() {
        bail!("process.apparmorProfile: AppArmor is not enabled on this host (cannot apply {profile:?})");
    }
    bail!("process.apparmorProfile: applying AppArmor profiles is not implemented by oxirun");
}

/// `process.selinuxLabel` or `linux.mountLabel` (`field` names which).
pub fn check_selinux(field: &str) -> Result<()> {
    if !selinux_enabled() {
        crate::logging::debug(&format!(
            "{field}: ignored, SELinux is not enabled on this host"
        ));
        return Ok(());
    }
    bail!("{field}: SELinux labels are not implemented by oxirun");
}

/// `linux.intelRdt`.
pub fn check_intel_rdt() -> Result<()> {
    if !resctrl_mounted() {
        bail!("linux.intelRdt: not supported on this host (resctrl is not mounted at /sys/fs/resctrl)");
    }
    bail!("linux.intelRdt: Intel RDT is not implemented by oxirun");
}
