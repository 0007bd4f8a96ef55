//! After pivot_root: `linux.maskedPaths`, `linux.readonlyPaths`, `root.readonly` and a
//! read-only `/dev` mount (mounted writable until everything beneath it is in place).
//!
//! Every target is opened once inside "/" (`RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS`) and the new
//! mount is attached to that fd with `move_mount`, so a racing rename cannot redirect it:
//! - a masked file gets a clone of /dev/null, opened `O_PATH|O_NOFOLLOW` and verified to be
//!   the char device 1:3 (CVE-2025-31133); a masked directory gets a fresh read-only tmpfs;
//! - a read-only path gets a recursive clone of itself made read-only (nosuid, nodev, noexec)
//!   *before* it is attached (youki GHSA-3q8j-pf29-vwv8).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, major, minor, Mode, SFlag};

use super::mounts::statvfs_to_msflags;
use super::resolve;
use crate::sys::fs as sysfs;

fn open_root() -> Result<OwnedFd> {
    open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /: {}", std::io::Error::from(e)))
}

/// Open a path inside "/" or `None` if it does not exist.
fn open_opt(root: BorrowedFd<'_>, path: &str) -> Result<Option<OwnedFd>> {
    match resolve::open_in_root(root, Path::new(path), true) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(anyhow!("{path}: {e}")),
    }
}

fn fmt_of(fd: &OwnedFd) -> Result<(SFlag, u64)> {
    let st = fstat(fd).map_err(|e| anyhow!("fstat: {}", std::io::Error::from(e)))?;
    Ok((
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT,
        st.st_rdev,
    ))
}

/// The container's /dev/null, opened without following a symlink and verified to be 1:3.
pub fn open_dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    let dev = resolve::open_in_root(root, Path::new("dev"), false)
        .map_err(|e| anyhow!("open /dev: {e}"))?;
    if fmt_of(&dev)?.0 != SFlag::S_IFDIR {
        bail!("/dev is not a directory");
    }
    let null = nix::fcntl::openat(
        &dev,
        "null",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /dev/null: {}", std::io::Error::from(e)))?;
    let (fmt, rdev) = fmt_of(&null)?;
    if fmt != SFlag::S_IFCHR || major(rdev) != 1 || minor(rdev) != 3 {
        bail!("/dev/null is not the null device (char 1:3); refusing to use it as a mask");
    }
    Ok(null)
}

/// Cover each existing path of `paths`: files with /dev/null, directories with a read-only tmpfs.
pub fn mask_paths(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    let mut null: Option<OwnedFd> = None;
    for p in paths {
        let r = (|| -> Result<()> {
            let Some(target) = open_opt(root.as_fd(), p)? else {
                return Ok(());
            };
            if fmt_of(&target)?.0 == SFlag::S_IFDIR {
                let tmpfs = sysfs::fsmount_new("tmpfs", &[], sysfs::MOUNT_ATTR_RDONLY)
                    .map_err(|e| anyhow!("create tmpfs: {e}"))?;
                sysfs::move_mount_fd(tmpfs.as_fd(), target.as_fd())
                    .map_err(|e| anyhow!("mount tmpfs: {e}"))?;
            } else {
                if null.is_none() {
                    null = Some(open_dev_null(root.as_fd())?);
                }
                let src = null.as_ref().expect("just set");
                let tree = sysfs::clone_tree_fd(src.as_fd(), false)
                    .map_err(|e| anyhow!("clone /dev/null: {e}"))?;
                sysfs::move_mount_fd(tree.as_fd(), target.as_fd())
                    .map_err(|e| anyhow!("bind /dev/null: {e}"))?;
            }
            Ok(())
        })();
        r.map_err(|e| anyhow!("masked path {p}: {e:#}"))?;
    }
    Ok(())
}

/// Make each existing path of `paths` read-only (recursively), pinned by fd, keeping its
/// other mount flags.
pub fn readonly_paths(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    // Read-only only: the flags the path's mount already has stay as they are (runc's
    // remount keeps them too). Adding noexec would break a read-only /usr or /opt.
    let attrs = sysfs::MOUNT_ATTR_RDONLY;
    for p in paths {
        let r = (|| -> Result<()> {
            let Some(target) = open_opt(root.as_fd(), p)? else {
                return Ok(());
            };
            let tree =
                sysfs::clone_tree_fd(target.as_fd(), true).map_err(|e| anyhow!("clone: {e}"))?;
            sysfs::mount_setattr_fd(tree.as_fd(), true, attrs, 0, 0)
                .map_err(|e| anyhow!("set read-only: {e}"))?;
            sysfs::move_mount_fd(tree.as_fd(), target.as_fd())
                .map_err(|e| anyhow!("attach: {e}"))?;
            Ok(())
        })();
        r.map_err(|e| anyhow!("readonly path {p}: {e:#}"))?;
    }
    Ok(())
}

/// Make the /dev mount itself read-only (not the mounts beneath it: /dev/pts, /dev/shm stay
/// as configured), through an fd of it: a createContainer hook cannot redirect the change.
pub fn readonly_dev() -> Result<()> {
    let root = open_root()?;
    let dev = resolve::open_in_root(root.as_fd(), Path::new("dev"), false)
        .map_err(|e| anyhow!("open /dev: {e}"))?;
    sysfs::mount_setattr_fd(dev.as_fd(), false, sysfs::MOUNT_ATTR_RDONLY, 0, 0)
        .map_err(|e| anyhow!("make /dev read-only: {e}"))
}

/// Remount "/" read-only, keeping the per-mount flags it already has.
pub fn readonly_root() -> Result<()> {
    let st = nix::sys::statvfs::statvfs("/")
        .map_err(|e| anyhow!("statvfs /: {}", std::io::Error::from(e)))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | statvfs_to_msflags(st.flags());
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| anyhow!("remount / read-only: {}", std::io::Error::from(e)))
}
