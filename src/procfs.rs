//! A procfs of our own, for the writes a container's mounts must never redirect
//! (CVE-2025-52881): sysctls and the LSM labels (`attr/exec`, `attr/keycreate`).
//!
//! [`open`] makes a fresh, detached procfs instance (`fsopen("proc")` + `fsmount`) of the
//! caller's pid namespace; where the kernel refuses one (a user namespace whose only procfs is
//! already masked: "mount too revealing"), a clone of the top `/proc` mount alone
//! (`open_tree(OPEN_TREE_CLONE)`, no submounts, so no mask or bind over it), verified to be a
//! procfs. [`open_beneath`] resolves a path inside it without following any symlink or
//! crossing into another mount.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::sys::fs as sysfs;

/// A private procfs for the calling process's pid namespace.
pub fn open() -> Result<OwnedFd> {
    match sysfs::fsmount_new("proc", &[], 0) {
        Ok(fd) => Ok(fd),
        Err(fresh) => {
            let tree = sysfs::open_tree(None, Path::new("/proc"), sysfs::OPEN_TREE_CLONE)
                .map_err(|e| anyhow!("private procfs: {fresh}; clone of /proc: {e}"))?;
            let magic = nix::sys::statfs::fstatfs(&tree)
                .map_err(|e| anyhow!("private procfs: fstatfs: {e}"))?
                .filesystem_type();
            if magic != nix::sys::statfs::PROC_SUPER_MAGIC {
                bail!("private procfs: {fresh}; /proc is not a procfs");
            }
            Ok(tree)
        }
    }
}

/// Open `rel` for writing beneath `proc`: openat2 when the kernel has it, else a
/// component-by-component O_NOFOLLOW walk that checks every step is still a procfs.
pub fn open_beneath(proc: &OwnedFd, rel: &Path) -> std::io::Result<OwnedFd> {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;
    let resolve = libc::RESOLVE_BENEATH
        | libc::RESOLVE_NO_MAGICLINKS
        | libc::RESOLVE_NO_XDEV
        | libc::RESOLVE_NO_SYMLINKS;
    match sysfs::openat2(proc.as_fd(), rel, libc::O_WRONLY, 0, resolve) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
        other => return other,
    }
    let parts: Vec<_> = rel.components().collect();
    let mut dir = proc.try_clone()?;
    for (i, part) in parts.iter().enumerate() {
        let std::path::Component::Normal(name) = part else {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        };
        let flags = OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | if i + 1 == parts.len() {
                OFlag::O_WRONLY
            } else {
                OFlag::O_PATH | OFlag::O_DIRECTORY
            };
        let next = openat(&dir, *name, flags, Mode::empty())?;
        if nix::sys::statfs::fstatfs(&next)?.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC
        {
            return Err(std::io::Error::from_raw_os_error(libc::EXDEV));
        }
        dir = next;
    }
    Ok(dir)
}

/// `<pid>/task/<tid>/<rel>` of the calling thread in `proc` (a procfs of its own pid
/// namespace), spelled out: `self` and `thread-self` are symlinks, which the walk refuses.
pub fn own_thread_path(rel: &str) -> std::path::PathBuf {
    let pid = nix::unistd::getpid();
    let tid = nix::unistd::gettid();
    format!("{pid}/task/{tid}/{rel}").into()
}
