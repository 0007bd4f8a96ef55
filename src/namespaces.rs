//! Namespaces: the kinds, their clone flags, and joining one by path (type-checked).

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

/// The `CLONE_NEW*` flag of a namespace type.
pub fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME (0x80) is not in nix's CloneFlags on every version.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Whether the container shares the runtime's mount namespace: none is listed (runtime-spec:
/// an unlisted namespace is inherited), neither created nor joined by path.
pub fn shares_mount_ns(spec: &oci_spec::runtime::Spec) -> bool {
    !spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| list.iter().any(|ns| ns.typ() == LinuxNamespaceType::Mount))
}

/// The spec's name of a namespace type (as in config.json).
pub fn name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// Open a namespace file and check it is a namespace of the stated type.
pub fn open_checked(ns: &LinuxNamespace, path: &Path) -> Result<File> {
    let typ = ns.typ();
    let what = name(typ);
    // nsfs files are regular files; anything else (a FIFO that would block the open, a device
    // whose open has side effects) is refused before it is opened.
    let meta = std::fs::metadata(path)
        .with_context(|| format!("linux.namespaces: {what} path {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "linux.namespaces: {what} path {} is not a namespace",
            path.display()
        );
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("linux.namespaces: {what} path {}", path.display()))?;
    let actual = crate::sys::ns::ns_type(file.as_fd()).map_err(|_| {
        anyhow::anyhow!(
            "linux.namespaces: {what} path {} is not a namespace",
            path.display()
        )
    })?;
    if actual != flag(typ).bits() {
        bail!(
            "linux.namespaces: {what} path {} is a namespace of another type",
            path.display()
        );
    }
    Ok(file)
}

/// Join the namespace behind an already checked file.
pub fn join(ns: &LinuxNamespace, file: &File) -> Result<()> {
    nix::sched::setns(file.as_fd(), flag(ns.typ()))
        .with_context(|| format!("setns {} namespace", name(ns.typ())))
}
