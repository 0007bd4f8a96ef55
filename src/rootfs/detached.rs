//! Bind mounts the runtime prepares before the init is cloned, as detached trees
//! (`open_tree(OPEN_TREE_CLONE)`, flags already set) that the init only attaches:
//!
//! - every idmapped bind (`idmap`/`ridmap`): the kernel wants privileges the init no longer has
//!   once it lives in the container's user namespace (see `super::idmap`);
//! - every bind of a container with a user namespace (created or joined): its source is opened
//!   here, by the runtime in the host's namespaces, so a source that only the host's root can
//!   reach (a parent directory of mode 700, a volume under podman's storage) still mounts. The
//!   init, root only in its own user namespace, would get EACCES (runc passes such sources to
//!   its init as fds for the same reason).
//!
//! The trees (close-on-exec fds) are kept in a process-wide table that the cloned init
//! inherits with its copy of the address space and fd table; `mounts::mount_one` [`take`]s the
//! tree of its entry. Wiring (in `launch/`): the parent calls [`prepare`] right before cloning
//! the init and keeps the returned guard until the launch is over (dropping it closes the
//! runtime's copies); the init keeps [`inherited_fds`] open when it closes stray fds.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use anyhow::Result;
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::mounts;
use super::options::Idmap;
use crate::sys::fs as sysfs;

/// Prepared trees by mount index. The runtime is single-threaded: the lock is never contended.
static TREES: Mutex<Vec<(usize, OwnedFd)>> = Mutex::new(Vec::new());

fn trees() -> std::sync::MutexGuard<'static, Vec<(usize, OwnedFd)>> {
    TREES.lock().unwrap_or_else(|p| p.into_inner())
}

/// What [`prepare`] returns: while it lives, the runtime holds the prepared trees (so the
/// init cloned meanwhile inherits them); dropping it closes the runtime's copies.
#[must_use = "the trees must stay open until the init is cloned"]
pub struct Prepared(());

impl Drop for Prepared {
    fn drop(&mut self) {
        release();
    }
}

/// Whether the container gets a user namespace (new, or joined by path).
fn has_user_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| list.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

/// Runtime side, right before cloning the init: the detached tree of every bind that needs one
/// (see the module doc). Nothing is left behind on error: helper processes are reaped and the
/// trees closed.
pub fn prepare(spec: &Spec) -> Result<Prepared> {
    let guard = Prepared(());
    release();
    let userns = has_user_namespace(spec);
    if !userns && !super::idmap::wanted(spec) {
        return Ok(guard);
    }
    let mut helpers = super::idmap::Helpers::default();
    for (index, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        let opts = mounts::mount_options(m);
        if !opts.is_bind() || m.typ().as_deref() == Some("cgroup") {
            continue;
        }
        let tree = if opts.idmap != Idmap::None {
            super::idmap::prepare_one(spec, m, &mut helpers)?
        } else if userns {
            let Some(src) = m.source().as_deref() else {
                continue;
            };
            let mut flags = sysfs::OPEN_TREE_CLONE;
            if opts.flags.contains(MsFlags::MS_REC) {
                flags |= libc::AT_RECURSIVE as u32;
            }
            // Where the runtime cannot clone the source (an old kernel without open_tree, a
            // rootless runtime without CAP_SYS_ADMIN over its mount namespace, a missing
            // source), the init binds it by path as before, and reports any error itself.
            let Ok(tree) = sysfs::open_tree(None, src, flags) else {
                continue;
            };
            if mounts::set_bind_attrs(&tree, &opts).is_err() {
                continue;
            }
            tree
        } else {
            continue;
        };
        trees().push((index, tree));
    }
    Ok(guard)
}

/// Init side: the prepared tree of mount `index`, if any (each is taken once).
pub fn take(index: usize) -> Option<OwnedFd> {
    let mut t = trees();
    let pos = t.iter().position(|(i, _)| *i == index)?;
    Some(t.swap_remove(pos).1)
}

/// The fds of the prepared trees: the init must not close them as strays.
pub fn inherited_fds() -> Vec<RawFd> {
    trees().iter().map(|(_, fd)| fd.as_raw_fd()).collect()
}

/// Close every prepared tree still held.
pub fn release() {
    trees().clear();
}
