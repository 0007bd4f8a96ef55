//! `linux.sysctl`: checked against the container's namespaces before anything is created,
//! and written through a procfs instance of our own (`crate::procfs`), so no mount in the
//! container's config can redirect the write to another file (CVE-2025-52881).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Which namespace makes a sysctl private to the container (None: a global sysctl).
fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// Reject sysctls that would change the host: not namespaced, or the namespace is not the
/// container's own.
pub fn validate(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    for key in linux.sysctl().iter().flatten().map(|(k, _)| k) {
        if key.contains('\0')
            || key.contains('/')
            || key.split('.').any(|p| p.is_empty() || p == "..")
        {
            bail!("linux.sysctl: invalid name {key:?}");
        }
        let Some(typ) = namespace_of(key) else {
            bail!("linux.sysctl: {key:?} is not namespaced: it would change the host");
        };
        if !namespaces.iter().any(|n| n.typ() == typ) {
            bail!(
                "linux.sysctl: {key:?} needs the container to have its own {} namespace",
                crate::namespaces::name(typ)
            );
        }
    }
    Ok(())
}

/// Write every sysctl through `proc` (see `crate::procfs`); called in the init once it is
/// in the container's namespaces.
pub fn apply(spec: &Spec, proc: Option<&std::os::fd::OwnedFd>) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc = proc.ok_or_else(|| anyhow!("linux.sysctl: no private procfs"))?;
    // A sorted order makes the writes deterministic.
    let mut keys: Vec<(&String, &String)> = sysctl.iter().collect();
    keys.sort();
    for (key, value) in keys {
        let rel: PathBuf = ["sys"].into_iter().chain(key.split('.')).collect();
        let fd = crate::procfs::open_beneath(proc, &rel)
            .map_err(|e| anyhow!("linux.sysctl: {key}: {e}"))?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| anyhow!("linux.sysctl: {key}={value}: {e}"))?;
    }
    Ok(())
}

/// Whether the init has sysctls to write (and so needs a private procfs).
pub fn wanted(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .is_some_and(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(sysctl: &str, namespaces: &str) -> Spec {
        crate::bundle::parse_config(
            format!(
                r#"{{"ociVersion":"1.0.0","linux":{{"sysctl":{sysctl},"namespaces":{namespaces}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn namespaced_sysctls_pass() {
        let s = spec_with(
            r#"{"net.ipv4.ip_forward":"1","kernel.shmmax":"1","fs.mqueue.msg_max":"10"}"#,
            r#"[{"type":"network"},{"type":"ipc"}]"#,
        );
        validate(&s).unwrap();
    }

    #[test]
    fn global_or_unshared_sysctls_fail() {
        let e = validate(&spec_with(r#"{"kernel.panic":"1"}"#, "[]")).unwrap_err();
        assert!(e.to_string().contains("not namespaced"), "{e}");
        let e = validate(&spec_with(
            r#"{"net.ipv4.ip_forward":"1"}"#,
            r#"[{"type":"ipc"}]"#,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("network namespace"), "{e}");
        let e = validate(&spec_with(r#"{"net..x":"1"}"#, r#"[{"type":"network"}]"#)).unwrap_err();
        assert!(e.to_string().contains("invalid name"), "{e}");
    }
}
