//! Idmapped bind mounts: the `idmap` / `ridmap` mount options and a mount's own
//! `uidMappings` / `gidMappings` (runtime-spec config.md, "mounts").
//!
//! An idmapped mount shows the files of its source with their owners translated through the
//! id mappings of a user namespace: with `0 -> 1000 size 1`, a host file owned by 1000 is seen
//! as owned by 0 through the mount, and a file created as 0 through it is owned by 1000 on the
//! host. The kernel applies it with `mount_setattr(MOUNT_ATTR_IDMAP, userns_fd)` on a mount
//! that was never attached (an `open_tree(OPEN_TREE_CLONE)` clone). `idmap` maps the top mount
//! of the bind; `ridmap` maps every mount of the bound tree (`AT_RECURSIVE`).
//!
//! Which mappings: the mount's own when it has them; otherwise the container's
//! (`linux.uidMappings`/`gidMappings`), which needs a new user namespace (runc's rule).
//!
//! ## Where it runs, and why
//!
//! The kernel wants `CAP_SYS_ADMIN` in the user namespace that owns the source filesystem
//! (the host's, for a host directory) and in the user namespace carrying the mappings. The
//! container's init has neither once it lives in the container's user namespace (it is born
//! in it: the clone creates it), and when it has a new pid namespace it cannot even name a
//! helper process through the host's /proc. So the runtime process does it, in the host's
//! namespaces, **before the init is cloned** ([`prepare`]):
//!
//! 1. one helper user namespace per distinct set of mappings: fork a child with
//!    `CLONE_NEWUSER` that blocks on a pipe, write its `uid_map`/`gid_map` (as root, directly),
//!    open `/proc/<child>/ns/user`, let it go and reap it (the open fd keeps the namespace);
//! 2. per idmapped mount: `open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE for rbind])` of the
//!    source, the mount's flags (`ro`, `nosuid`...) on the detached clone, then
//!    `mount_setattr(MOUNT_ATTR_IDMAP [| AT_RECURSIVE for ridmap])`.
//!
//! The detached trees go to the table of `super::detached`, which the cloned init inherits;
//! there the init's `mounts::mount_one` takes the tree of its entry and `move_mount`s it onto
//! the resolved destination (then propagation and recursive attributes, as for any bind). The
//! helper namespace mappings are the same as the container's namespace's when those are used,
//! so the result is identical to idmapping with the container's own user namespace.
//! [`validate`] runs at bundle load, so no helper, clone or mount exists for a bad config.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{anyhow, bail, Result};
use nix::mount::MsFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};

use super::mounts;
use super::options::Idmap;
use crate::sys::fs as sysfs;
use crate::sys::process::{clone_fork, Forked};

/// The kernel accepts at most this many lines in an id map.
const MAX_MAP_LINES: usize = 340;

/// Non-empty mappings, or `None`.
fn own_maps(list: &Option<Vec<LinuxIdMapping>>) -> Option<&[LinuxIdMapping]> {
    list.as_deref().filter(|l| !l.is_empty())
}

/// The container's mappings when it creates a user namespace with mappings.
fn container_maps(spec: &Spec) -> Option<(&[LinuxIdMapping], &[LinuxIdMapping])> {
    let linux = spec.linux().as_ref()?;
    let new_user = linux.namespaces().as_ref().is_some_and(|ns| {
        ns.iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
    });
    if !new_user {
        return None;
    }
    let uid = own_maps(linux.uid_mappings())?;
    let gid = own_maps(linux.gid_mappings())?;
    Some((uid, gid))
}

/// The mappings an idmapped mount uses: its own, else the container's.
fn mappings_for<'a>(
    spec: &'a Spec,
    m: &'a Mount,
) -> Option<(&'a [LinuxIdMapping], &'a [LinuxIdMapping])> {
    match (own_maps(m.uid_mappings()), own_maps(m.gid_mappings())) {
        (Some(u), Some(g)) => Some((u, g)),
        (None, None) => container_maps(spec),
        _ => None,
    }
}

fn check_ranges(field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.len() > MAX_MAP_LINES {
        bail!("{field}: more than {MAX_MAP_LINES} mappings");
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            bail!("{field}[{i}]: size must not be 0");
        }
        for (what, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if start as u64 + m.size() as u64 > u32::MAX as u64 {
                bail!("{field}[{i}]: {what} + size overflows");
            }
        }
    }
    let end = |start: u32, size: u32| start as u64 + size as u64;
    for (i, a) in maps.iter().enumerate() {
        for (j, b) in maps.iter().enumerate().skip(i + 1) {
            let overlap = |s1: u32, s2: u32| {
                (s1 as u64) < end(s2, b.size()) && (s2 as u64) < end(s1, a.size())
            };
            if overlap(a.container_id(), b.container_id()) || overlap(a.host_id(), b.host_id()) {
                bail!("{field}[{i}] and [{j}] overlap");
            }
        }
    }
    Ok(())
}

/// Reject bad idmap configurations before anything is created: mappings without
/// `idmap`/`ridmap`, idmap on a mount that is not a bind, one of the two mappings alone, bad
/// ranges, and idmap without any mappings to use.
pub fn validate(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        let opts = mounts::mount_options(m);
        let uid = own_maps(m.uid_mappings());
        let gid = own_maps(m.gid_mappings());
        let dest = m.destination().display();
        if opts.idmap == Idmap::None {
            if uid.is_some() || gid.is_some() {
                bail!("mounts[{i}] ({dest}): mount mappings require idmap (or ridmap) in options");
            }
            continue;
        }
        if !opts.is_bind() {
            bail!("mounts[{i}] ({dest}): idmapped mounts are only supported for bind mounts");
        }
        if m.source().is_none() {
            bail!("mounts[{i}] ({dest}): an idmapped bind mount needs a source");
        }
        match (uid, gid) {
            (Some(u), Some(g)) => {
                check_ranges(&format!("mounts[{i}].uidMappings"), u)?;
                check_ranges(&format!("mounts[{i}].gidMappings"), g)?;
            }
            (None, None) => {
                if container_maps(spec).is_none() {
                    bail!(
                        "mounts[{i}] ({dest}): idmap without uidMappings/gidMappings needs a new \
                         user namespace with mappings (linux.uidMappings/gidMappings)"
                    );
                }
            }
            (Some(_), None) => {
                bail!("mounts[{i}].gidMappings: missing (an idmapped mount needs both mappings)")
            }
            (None, Some(_)) => {
                bail!("mounts[{i}].uidMappings: missing (an idmapped mount needs both mappings)")
            }
        }
    }
    Ok(())
}

/// Whether any mount of the config is idmapped.
pub fn wanted(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| mounts::mount_options(m).idmap != Idmap::None)
}

/// The user namespaces an idmapping needs, made once per distinct set of mappings while the
/// runtime prepares the detached trees (`super::detached`).
#[derive(Default)]
pub(super) struct Helpers(Vec<(String, OwnedFd)>);

/// Runtime side, before the init is cloned: the detached, flagged, idmapped tree of mount
/// `m` (see the module doc). A helper namespace is made on first use and kept in `helpers`.
pub(super) fn prepare_one(spec: &Spec, m: &Mount, helpers: &mut Helpers) -> Result<OwnedFd> {
    let opts = mounts::mount_options(m);
    let dest = m.destination().display();
    let wrap = |e: anyhow::Error| anyhow!("mount {dest} (idmap): {e:#}");
    let (uid, gid) =
        mappings_for(spec, m).ok_or_else(|| wrap(anyhow!("no uid/gid mappings to idmap with")))?;
    let key = format!("{}|{}", map_text(uid), map_text(gid));
    let pos = match helpers.0.iter().position(|(k, _)| *k == key) {
        Some(p) => p,
        None => {
            let fd = userns_with(uid, gid).map_err(wrap)?;
            helpers.0.push((key, fd));
            helpers.0.len() - 1
        }
    };
    let src = m
        .source()
        .as_deref()
        .ok_or_else(|| wrap(anyhow!("a bind mount needs a source")))?;
    idmapped_tree(src, &opts, helpers.0[pos].1.as_fd()).map_err(wrap)
}

/// Clone `src` detached, set the mount's flags, idmap it with `userns`.
fn idmapped_tree(
    src: &std::path::Path,
    opts: &super::MountOptions,
    userns: std::os::fd::BorrowedFd<'_>,
) -> Result<OwnedFd> {
    let mut flags = sysfs::OPEN_TREE_CLONE;
    if opts.flags.contains(MsFlags::MS_REC) {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let tree =
        sysfs::open_tree(None, src, flags).map_err(|e| anyhow!("source {}: {e}", src.display()))?;
    mounts::set_bind_attrs(&tree, opts)?;
    let recursive = opts.idmap == Idmap::Recursive;
    sysfs::mount_setattr_idmap(tree.as_fd(), recursive, userns).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::EINVAL) => " (the filesystem does not support idmapped mounts)",
            Some(libc::ENOSYS) => " (the kernel has no idmapped mounts: Linux 5.12 or later)",
            Some(libc::EPERM) => " (needs CAP_SYS_ADMIN over the source filesystem)",
            _ => "",
        };
        anyhow!("idmap source {}: {e}{why}", src.display())
    })?;
    Ok(tree)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace carrying these mappings: a helper child is forked into a new user
/// namespace, its maps are written, its namespace is opened; then it exits and is reaped.
fn userns_with(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (wait_r, wait_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| anyhow!("idmap helper pipe: {e}"))?;
    let pid = match clone_fork(libc::CLONE_NEWUSER)
        .map_err(|e| anyhow!("idmap helper: clone a user namespace: {e}"))?
    {
        Forked::Child => {
            drop(wait_w);
            let _ = crate::sys::process::set_pdeathsig(libc::SIGKILL);
            // Block until the parent closes its end (it has what it needs) or dies.
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&wait_r, &mut b);
            crate::sys::process::exit_now(0);
        }
        Forked::Parent(pid) => pid,
    };
    drop(wait_r);
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    let result = (|| -> Result<OwnedFd> {
        for (name, maps) in [("uid_map", uid), ("gid_map", gid)] {
            std::fs::write(proc.join(name), map_text(maps))
                .map_err(|e| anyhow!("idmap helper: write {name}: {e}"))?;
        }
        let ns = std::fs::File::open(proc.join("ns/user"))
            .map_err(|e| anyhow!("idmap helper: open its user namespace: {e}"))?;
        Ok(OwnedFd::from(ns))
    })();
    drop(wait_w);
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        crate::bundle::parse_config(json.as_bytes()).unwrap()
    }

    const MAP: &str = r#"[{"containerID":0,"hostID":1000,"size":1}]"#;

    fn one_mount(mount: &str, linux: &str) -> Spec {
        spec(&format!(
            r#"{{"ociVersion":"1.0.0","process":{{"cwd":"/","user":{{"uid":0,"gid":0}}}},
                "mounts":[{mount}],"linux":{linux}}}"#
        ))
    }

    fn err(mount: &str, linux: &str) -> String {
        validate(&one_mount(mount, linux)).unwrap_err().to_string()
    }

    #[test]
    fn good_configs_pass() {
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind","idmap"],
                "uidMappings":{MAP},"gidMappings":{MAP}}}"#
        );
        validate(&one_mount(&m, "{}")).unwrap();
        let m = format!(
            r#"{{"destination":"/d","type":"bind","source":"/s","options":["rbind","ridmap"],
                "uidMappings":{MAP},"gidMappings":{MAP}}}"#
        );
        validate(&one_mount(&m, "{}")).unwrap();
        let userns = format!(
            r#"{{"namespaces":[{{"type":"user"}},{{"type":"mount"}}],
                "uidMappings":{MAP},"gidMappings":{MAP}}}"#
        );
        let m = r#"{"destination":"/d","source":"/s","options":["bind","idmap"]}"#;
        validate(&one_mount(m, &userns)).unwrap();
        let plain = r#"{"destination":"/d","source":"/s","options":["bind"]}"#;
        validate(&one_mount(plain, "{}")).unwrap();
        assert!(!wanted(&one_mount(plain, "{}")));
        assert!(wanted(&one_mount(m, &userns)));
    }

    #[test]
    fn mappings_without_idmap() {
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind"],
                "uidMappings":{MAP},"gidMappings":{MAP}}}"#
        );
        assert!(err(&m, "{}").contains("mount mappings require idmap"));
    }

    #[test]
    fn idmap_needs_a_bind() {
        let m = format!(
            r#"{{"destination":"/d","type":"tmpfs","source":"tmpfs","options":["idmap"],
                "uidMappings":{MAP},"gidMappings":{MAP}}}"#
        );
        assert!(err(&m, "{}").contains("only supported for bind mounts"));
    }

    #[test]
    fn idmap_without_any_mappings() {
        let m = r#"{"destination":"/d","source":"/s","options":["bind","idmap"]}"#;
        let e = err(m, "{}");
        assert!(e.contains("needs a new user namespace"), "{e}");
    }

    #[test]
    fn one_mapping_alone_and_bad_ranges() {
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind","idmap"],"uidMappings":{MAP}}}"#
        );
        assert!(err(&m, "{}").contains("mounts[0].gidMappings: missing"));
        let zero = r#"[{"containerID":0,"hostID":1000,"size":0}]"#;
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind","idmap"],
                "uidMappings":{zero},"gidMappings":{MAP}}}"#
        );
        let e = err(&m, "{}");
        assert!(
            e.contains("mounts[0].uidMappings[0]: size must not be 0"),
            "{e}"
        );
        let over = r#"[{"containerID":0,"hostID":4294967295,"size":2}]"#;
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind","idmap"],
                "uidMappings":{MAP},"gidMappings":{over}}}"#
        );
        let e = err(&m, "{}");
        assert!(
            e.contains("mounts[0].gidMappings[0]: hostID + size overflows"),
            "{e}"
        );
        let overlap = r#"[{"containerID":0,"hostID":1000,"size":10},{"containerID":5,"hostID":9000,"size":1}]"#;
        let m = format!(
            r#"{{"destination":"/d","source":"/s","options":["bind","idmap"],
                "uidMappings":{overlap},"gidMappings":{MAP}}}"#
        );
        assert!(err(&m, "{}").contains("overlap"));
    }
}
