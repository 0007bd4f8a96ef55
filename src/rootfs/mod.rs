//! rootfs: the container's filesystem view. Owns the mounts of config.json, safe path
//! resolution inside the rootfs, the default devices and /dev symlinks, pivot_root, masked and
//! read-only paths and the read-only root.
//!
//! Called by `launch::init`, inside the container's new mount (and pid) namespace, in three
//! steps so the createContainer hooks can run between `prepare` and `enter`:
//! `prepare` (propagation, rootfs bind, mounts, devices), `enter` (pivot_root), `finalize`
//! (masks, read-only paths, read-only root, the requested propagation of "/").
//!
//! Files: `options` (pure option parsing), `resolve` (fd-based resolution and creation inside a
//! root), `mountinfo` (parsing /proc/self/mountinfo), `mounts` (one config mount), `cgroupfs`
//! (cgroup mounts), `detached` (binds the runtime prepares before the clone: idmapped ones,
//! and every bind of a user-namespaced container), `idmap` (idmapped bind mounts),
//! `devices` (device nodes, /dev symlinks), `pivot` (root propagation,
//! pivot_root), `masks` (maskedPaths, readonlyPaths, root.readonly). Raw syscalls live in
//! `crate::sys::fs`.

mod cgroupfs;
pub mod detached;
mod devices;
pub mod idmap;
mod masks;
pub mod mountinfo;
mod mounts;
pub mod options;
mod pivot;
pub mod resolve;

#[cfg(test)]
mod e2e_tests;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

pub use options::{parse_mount_options, MountOptions};

pub use pivot::Switch;

/// The prepared rootfs: an `O_PATH` fd of the rootfs mount (bound onto itself).
pub struct Rootfs {
    root: OwnedFd,
    /// `linux.rootfsPropagation`, re-applied to "/" after pivot_root.
    propagation: Option<MsFlags>,
    /// The container has no mount namespace of its own: chroot, never pivot.
    shared_mntns: bool,
}

impl Rootfs {
    /// The `O_PATH` fd of the rootfs mount (for callers that need to work inside it).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }
}

/// Make mounts private/slave per rootfsPropagation, bind the rootfs onto itself, mount every
/// `mounts` entry inside it, create default devices and /dev symlinks.
///
/// Without a mount namespace of its own (none listed: the spec says it inherits the
/// runtime's) the mounts are made all the same, as runc does, but the host's propagation is
/// left alone and everything lands beneath the private rootfs bind, which `delete` detaches
/// ([`detach_shared`]): nothing outlives the container.
pub fn prepare(spec: &Spec, rootfs: &Path, cgroup: &crate::cgroups::Cgroup) -> Result<Rootfs> {
    let linux = spec.linux().as_ref();
    let shared_mntns = crate::namespaces::shares_mount_ns(spec);
    let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => None,
        Some(p) => Some(
            options::parse_rootfs_propagation(p)
                .ok_or_else(|| anyhow!("invalid linux.rootfsPropagation {p:?}"))?,
        ),
    };
    let root_prop = propagation.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // The first pass over "/" is always recursive: pivot_root refuses a new root whose parent
    // is shared, and a non-recursive "private" would leave the host's shared submounts (the
    // rootfs' own parent among them) shared. A shared propagation starts as rslave, an
    // unbindable one as rprivate (nothing beneath an unbindable "/" could be bound, not even
    // the rootfs onto itself). The exact requested value is applied to the new "/" after the
    // pivot.
    let first = if root_prop.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else if root_prop.contains(MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_PRIVATE | MsFlags::MS_REC
    } else {
        root_prop | MsFlags::MS_REC
    };
    let (root, host_mounts) = pivot::prepare_root(rootfs, (!shared_mntns).then_some(first))?;
    let ctx = mounts::Ctx {
        spec,
        root: root.as_fd(),
        cgroup,
        host_mounts: &host_mounts,
    };
    let spec_mounts = spec.mounts().as_deref().unwrap_or(&[]);
    mounts::mount_all(&ctx, spec_mounts)?;
    create_cwd(spec, root.as_fd())?;

    // Devices only when /dev is not a bind of something else (e.g. the host's /dev).
    let dev_is_bind = spec_mounts.iter().any(|m| {
        resolve::clean(m.destination()) == Path::new("dev")
            && (m.typ().as_deref() == Some("bind")
                || options::parse_mount_options(m.options().as_deref().unwrap_or(&[])).is_bind())
    });
    if !dev_is_bind {
        let dev = devices::open_dev(root.as_fd())?;
        let spec_devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        devices::create_devices(&dev, &devices::device_list(spec_devices)?)?;
        let with_pts = spec_mounts.iter().any(|m| {
            resolve::clean(m.destination()) == Path::new("dev/pts")
                && m.typ().as_deref() == Some("devpts")
        });
        devices::create_symlinks(&dev, with_pts)?;
    }
    if shared_mntns && propagation.is_some() {
        crate::logging::debug(
            "linux.rootfsPropagation: ignored without a mount namespace (it would change the host's /)",
        );
    }
    Ok(Rootfs {
        root,
        propagation: propagation.filter(|p| *p != first && !shared_mntns),
        shared_mntns,
    })
}

/// A process.cwd missing from the rootfs is created (mode 0755, as root, after the mounts so
/// that a cwd inside a mount lands in it), as runc does: `"cwd": "/work"` with a rootfs
/// lacking /work runs instead of failing with ENOENT. Created through the rootfs fd: a symlink
/// in the path cannot lead it outside.
fn create_cwd(spec: &Spec, root: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    let Some(cwd) = spec.process().as_ref().map(|p| p.cwd().clone()) else {
        return Ok(());
    };
    if resolve::clean(&cwd).as_os_str().is_empty() {
        return Ok(());
    }
    resolve::ensure_in_root(root, &cwd, resolve::Kind::Dir, true)
        .map(drop)
        .map_err(|e| anyhow!("process.cwd: create {}: {e}", cwd.display()))
}

/// The rootfs entered: what is left for [`finalize`].
pub struct Entered {
    /// `linux.rootfsPropagation` for the new "/", applied once the mount tree is complete.
    propagation: Option<MsFlags>,
}

/// pivot_root into the rootfs (or move+chroot with `no_pivot`, or only chroot without a
/// mount namespace); afterwards cwd is "/".
pub fn enter(rootfs: Rootfs, no_pivot: bool) -> Result<Entered> {
    let how = match (rootfs.shared_mntns, no_pivot) {
        (true, _) => Switch::Chroot,
        (false, true) => Switch::MoveRoot,
        (false, false) => Switch::PivotRoot,
    };
    pivot::switch_root(&rootfs.root, how)?;
    Ok(Entered {
        propagation: rootfs.propagation,
    })
}

/// After pivot_root: maskedPaths, readonlyPaths, root.readonly, a read-only /dev, and last
/// the requested propagation of "/" (an unbindable tree takes no more binds, not even a
/// mask's /dev/null).
pub fn finalize(spec: &Spec, entered: Entered) -> Result<()> {
    if let Some(linux) = spec.linux() {
        masks::readonly_paths(linux.readonly_paths().as_deref().unwrap_or(&[]))?;
        masks::mask_paths(linux.masked_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        masks::readonly_root()?;
    }
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let dev = mounts
        .iter()
        .rfind(|m| resolve::clean(m.destination()) == Path::new("dev"));
    if dev.is_some_and(mounts::is_readonly_dev) {
        masks::readonly_dev()?;
    }
    if let Some(p) = entered.propagation {
        nix::mount::mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
            .map_err(|e| anyhow!("set rootfsPropagation on /: {}", std::io::Error::from(e)))?;
    }
    Ok(())
}

/// The topmost mount at `rootfs` in our mount table: its mount id, if `rootfs` is a mount
/// point. The runtime reads it before and after the init of a container without a mount
/// namespace made its rootfs bind, to know which mount is the container's.
pub fn top_mount_id(rootfs: &Path) -> Option<u64> {
    let mounts = mountinfo::read_self().ok()?;
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == rootfs)
        .map(|m| m.id)
}

/// Detach the rootfs bind (and every mount beneath it) of a container that shared the
/// runtime's mount namespace, if the topmost mount at `rootfs` is still that one (`id`).
pub fn detach_shared(rootfs: &Path, id: u64) -> Result<()> {
    if top_mount_id(rootfs) == Some(id) {
        nix::mount::umount2(rootfs, nix::mount::MntFlags::MNT_DETACH).map_err(|e| {
            anyhow!(
                "unmount the container's rootfs bind {}: {}",
                rootfs.display(),
                std::io::Error::from(e)
            )
        })?;
    }
    Ok(())
}
