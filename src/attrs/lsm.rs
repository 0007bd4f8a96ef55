//! The host-dependent fields: AppArmor (`process.apparmorProfile`), SELinux
//! (`process.selinuxLabel`, `linux.mountLabel`) and Intel RDT (`linux.intelRdt`).
//!
//! - **AppArmor**: `exec <profile>` is written to the process's `attr/apparmor/exec` (or the
//!   older `attr/exec`) through a private procfs (`crate::procfs`, CVE-2025-52881) after the
//!   rootfs is ready and before the user switch, no_new_privs and the seccomp filter; the
//!   kernel applies it at execve. Without AppArmor on the host a profile is refused, as runc
//!   refuses it (its write fails): never a silent unconfined start. A profile that is not
//!   loaded is refused at validation, naming it, before anything exists.
//! - **SELinux**: `process.selinuxLabel` goes to `attr/exec` (applied at execve) and to
//!   `attr/keycreate` before the session keyring is joined, as runc does; `linux.mountLabel`
//!   becomes a `context="..."` option of the filesystems that take one (tmpfs, devpts,
//!   mqueue, ...; never proc, sysfs, cgroup or a bind), with runc's retry without it and a
//!   label set on the mount's root where the kernel refuses the option. On a host without
//!   SELinux labels are ignored with a debug line, as crun and youki do: there is nothing to
//!   confine with, and the OCI validation suite expects it.
//! - **Intel RDT** is refused with the real reason.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{Process, Spec};

/// AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// SELinux is enabled on this host (selinuxfs is mounted in the runtime's mount namespace).
/// Decided once, by the runtime: validation asks before the init or an exec'd process is
/// cloned, which inherit the answer. Asked again after pivot_root (or in the container's
/// mount namespace) it would be "no", since a container's /sys has no selinuxfs, and the
/// label would be skipped: found by the SELinux guest (`integration/tests/lsm_qemu.rs`).
pub fn selinux_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| Path::new("/sys/fs/selinux/enforce").exists())
}

fn resctrl_mounted() -> bool {
    crate::sys::read_small("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.contains(" - resctrl ")))
}

/// Whether `profile` is among the loaded ones, when the kernel says (None: cannot tell, e.g.
/// a profile in a namespace or a hat, or no access to the list).
fn apparmor_loaded(profile: &str) -> Option<bool> {
    if profile.contains("//") || profile.starts_with(':') {
        return None;
    }
    let list = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles").ok()?;
    // One "name (mode)" per line.
    Some(
        list.lines()
            .any(|l| l.rsplit_once(" (").is_some_and(|(name, _)| name == profile)),
    )
}

/// `process.apparmorProfile`.
pub fn check_apparmor(profile: &str) -> Result<()> {
    if !apparmor_enabled() {
        bail!("process.apparmorProfile: AppArmor is not enabled on this host (cannot apply {profile:?})");
    }
    if profile != "unconfined" && apparmor_loaded(profile) == Some(false) {
        bail!("process.apparmorProfile: AppArmor profile {profile:?} is not loaded");
    }
    Ok(())
}

/// A plausible SELinux context: `user:role:type[:level]` with no NUL or newline.
fn check_context(field: &str, label: &str) -> Result<()> {
    if label.split(':').count() < 3
        || label.split(':').take(3).any(str::is_empty)
        || label.contains(['\0', '\n', '"'])
    {
        bail!("{field}: invalid SELinux context {label:?} (want user:role:type[:level])");
    }
    Ok(())
}

/// `process.selinuxLabel` or `linux.mountLabel` (`field` names which).
pub fn check_selinux(field: &str, label: &str) -> Result<()> {
    if !selinux_enabled() {
        crate::logging::debug(&format!(
            "{field}: ignored, SELinux is not enabled on this host"
        ));
        return Ok(());
    }
    check_context(field, label)
}

/// `linux.intelRdt`.
pub fn check_intel_rdt() -> Result<()> {
    if !resctrl_mounted() {
        bail!("linux.intelRdt: not supported on this host (resctrl is not mounted at /sys/fs/resctrl)");
    }
    bail!("linux.intelRdt: Intel RDT is not implemented by oxirun");
}

/// The labels `p` asks for that this host can apply: (AppArmor profile, SELinux label).
fn wanted_labels(p: &Process) -> (Option<&str>, Option<&str>) {
    let aa = p.apparmor_profile().as_deref().filter(|s| !s.is_empty());
    let se = p
        .selinux_label()
        .as_deref()
        .filter(|s| !s.is_empty() && selinux_enabled());
    (aa, se)
}

/// Whether the process has a label to apply (and so needs a private procfs).
pub fn wanted(p: &Process) -> bool {
    let (aa, se) = wanted_labels(p);
    aa.is_some() || se.is_some()
}

/// Write `value` to the calling thread's `attr/<rel>` beneath `proc`.
fn write_attr(proc: &OwnedFd, rel: &str, value: &str) -> std::io::Result<()> {
    let fd = crate::procfs::open_beneath(proc, &crate::procfs::own_thread_path(rel))?;
    std::fs::File::from(fd).write_all(value.as_bytes())
}

/// Apply the process's labels, to take effect at execve (the init before it joins the
/// session keyring, an exec'd process alike). Error wording follows runc's (podman matches
/// `/attr/exec` in it).
pub fn apply_labels(proc: Option<&OwnedFd>, p: &Process) -> Result<()> {
    let (aa, se) = wanted_labels(p);
    if aa.is_none() && se.is_none() {
        return Ok(());
    }
    let proc = proc.ok_or_else(|| anyhow!("LSM labels: no private procfs"))?;
    if let Some(label) = se {
        write_attr(proc, "attr/keycreate", label).map_err(|e| {
            anyhow!("process.selinuxLabel {label:?}: write /proc/thread-self/attr/keycreate: {e}")
        })?;
        write_attr(proc, "attr/exec", label).map_err(|e| {
            anyhow!("process.selinuxLabel {label:?}: write /proc/thread-self/attr/exec: {e}")
        })?;
    }
    if let Some(profile) = aa {
        let value = format!("exec {profile}");
        let r = match write_attr(proc, "attr/apparmor/exec", &value) {
            // Before Linux 5.8 there is only the shared attr/exec.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !aa_subdir(proc) => {
                write_attr(proc, "attr/exec", &value).map(|()| "attr/exec")
            }
            other => other.map(|()| "attr/apparmor/exec"),
        };
        r.map_err(|e| {
            let why = if e.raw_os_error() == Some(libc::ENOENT) {
                " (the profile is not loaded)"
            } else {
                ""
            };
            anyhow!(
                "apparmor failed to apply profile {profile:?}: write /proc/thread-self/attr/apparmor/exec: {e}{why}"
            )
        })?;
    }
    Ok(())
}

/// Whether the kernel has the per-LSM `attr/apparmor/` directory.
fn aa_subdir(proc: &OwnedFd) -> bool {
    use std::os::fd::AsFd;
    let rel = crate::procfs::own_thread_path("attr/apparmor");
    nix::sys::stat::fstatat(proc.as_fd(), &rel, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

/// `linux.mountLabel` as mount data for a filesystem of type `typ`: `data` plus
/// `context="<label>"`, or `None` when this mount takes no label (no SELinux, no label, a
/// filesystem without per-mount contexts: proc, sysfs, cgroup, or a bind).
pub fn mount_data_with_label(spec: &Spec, typ: &str, bind: bool, data: &str) -> Option<String> {
    let label = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty())?;
    if bind || matches!(typ, "proc" | "sysfs" | "cgroup" | "cgroup2" | "bind" | "") {
        return None;
    }
    if !selinux_enabled() {
        return None;
    }
    let ctx = format!("context=\"{label}\"");
    Some(if data.is_empty() {
        ctx
    } else {
        format!("{data},{ctx}")
    })
}

/// Where a filesystem refused the context option: label the root of its mount (`fd`, an
/// `O_PATH` fd of it) instead, as runc does for mqueue on older kernels.
pub fn label_mount_root(fd: &OwnedFd, spec: &Spec) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let Some(label) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
    else {
        return Ok(());
    };
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    crate::sys::attrs::setxattr(&path, "security.selinux", label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        for ok in ["system_u:system_r:container_t:s0:c1,c2", "u:r:t"] {
            check_context("f", ok).unwrap();
        }
        for bad in ["", "u:r", "u::t", "a:b:c\"", "a:b:c\n"] {
            assert!(check_context("f", bad).is_err(), "{bad:?}");
        }
    }
}
