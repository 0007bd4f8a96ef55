//! The root mount: propagation of "/" (`linux.rootfsPropagation`, rslave by default), a private
//! parent for the rootfs as pivot_root(2) requires, the rootfs bound onto itself, and the
//! switch into it (pivot_root, or MS_MOVE + chroot with `--no-pivot`).

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{anyhow, Result};
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::mountinfo;

fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}

/// Set the propagation of "/", make the mount holding the rootfs' parent private if it is
/// shared, bind the rootfs onto itself and return an `O_PATH` fd of that new mount, with the
/// host's mount table as read before that bind (callers use it for the cgroup hierarchies).
///
/// `propagation` None: the container shares the runtime's mount namespace (none is listed).
/// Then nothing of the host's table changes but that one bind, made private so that nothing
/// mounted beneath it propagates; `delete` detaches it with all it holds.
pub fn prepare_root(
    rootfs: &Path,
    propagation: Option<MsFlags>,
) -> Result<(OwnedFd, Vec<mountinfo::MountEntry>)> {
    if let Some(propagation) = propagation {
        mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
            .map_err(|e| anyhow!("set propagation of /: {}", io(e)))?;
    }
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let mounts = mountinfo::read_self().map_err(|e| anyhow!("read mountinfo: {e}"))?;
    if let (Some(m), Some(_)) = (mountinfo::containing(&mounts, parent), propagation) {
        if m.is_shared() {
            mount(
                None::<&str>,
                &m.mount_point,
                None::<&str>,
                MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| anyhow!("make {} private: {}", m.mount_point.display(), io(e)))?;
        }
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| anyhow!("bind rootfs {} onto itself: {}", rootfs.display(), io(e)))?;
    if propagation.is_none() {
        mount(
            None::<&str>,
            rootfs,
            None::<&str>,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| {
            anyhow!(
                "make the rootfs bind {} private: {}",
                rootfs.display(),
                io(e)
            )
        })?;
    }
    let root = open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open rootfs {}: {}", rootfs.display(), io(e)))?;
    Ok((root, mounts))
}

/// `--no-pivot`: the old root stays in the container's mount namespace, out of reach of the
/// chroot but not of the kernel, which lets a user namespace inside mount a fresh procfs (or
/// sysfs) as long as one fully visible instance exists anywhere in the namespace - undoing
/// maskedPaths. So every proc and sysfs mount outside the rootfs is detached (in our mount
/// namespace only), or covered with an empty tmpfs where the kernel refuses that, as runc does.
fn hide_outer_proc_and_sys(root: &OwnedFd) -> Result<()> {
    let rootfs = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(root)
    ))
    .map_err(|e| anyhow!("resolve the rootfs fd: {e}"))?;
    let mut outer: Vec<_> = mountinfo::read_self()
        .map_err(|e| anyhow!("read mountinfo: {e}"))?
        .into_iter()
        .filter(|m| {
            (m.fstype == "proc" || m.fstype == "sysfs") && !m.mount_point.starts_with(&rootfs)
        })
        .map(|m| m.mount_point)
        .collect();
    // Deepest first, so a mount is never detached while one below it is still to do.
    outer.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    outer.dedup();
    for p in outer {
        match umount2(&p, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::Error::ENOENT) => {}
            Err(nix::Error::EINVAL | nix::Error::EPERM) => {
                mount(
                    Some("tmpfs"),
                    &p,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map_err(|e| anyhow!("cover {} with a tmpfs: {}", p.display(), io(e)))?;
            }
            Err(e) => return Err(anyhow!("unmount {}: {}", p.display(), io(e))),
        }
    }
    Ok(())
}

/// How the process enters its rootfs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Switch {
    PivotRoot,
    /// `--no-pivot`: MS_MOVE onto "/" and chroot.
    MoveRoot,
    /// No mount namespace of its own: chroot only (pivot_root or a move would change the
    /// runtime's own root), as runc does.
    Chroot,
}

/// Make the rootfs (`root`, an fd of its mount) the process' root; cwd ends as "/".
pub fn switch_root(root: &OwnedFd, how: Switch) -> Result<()> {
    fchdir(root).map_err(|e| anyhow!("chdir to rootfs: {}", io(e)))?;
    if how == Switch::Chroot {
        chroot(".").map_err(|e| anyhow!("chroot: {}", io(e)))?;
    } else if how == Switch::MoveRoot {
        hide_outer_proc_and_sys(root)?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(|e| anyhow!("move rootfs onto /: {}", io(e)))?;
        chroot(".").map_err(|e| anyhow!("chroot: {}", io(e)))?;
    } else {
        // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/";
        // detach it after making it a slave, so the unmount does not propagate to the host.
        // The old root is named by an fd taken before the pivot: a path "." would name the
        // new root (our cwd), and making that rslave turns the container's shared mounts
        // private.
        let old_root = nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| anyhow!("open old root: {}", io(e)))?;
        pivot_root(".", ".").map_err(|e| anyhow!("pivot_root: {}", io(e)))?;
        crate::sys::fs::mount_setattr_fd(
            std::os::fd::AsFd::as_fd(&old_root),
            true,
            0,
            0,
            libc::MS_SLAVE,
        )
        .map_err(|e| anyhow!("make old root rslave: {e}"))?;
        drop(old_root);
        umount2(".", MntFlags::MNT_DETACH).map_err(|e| anyhow!("unmount old root: {}", io(e)))?;
    }
    chdir("/").map_err(|e| anyhow!("chdir /: {}", io(e)))?;
    Ok(())
}
