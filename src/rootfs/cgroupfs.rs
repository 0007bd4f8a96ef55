//! `cgroup` type mounts. On a pure cgroup v2 host: a fresh cgroup2 at the destination (a bind
//! of the container's cgroup directory when that is refused). On a v1 or hybrid host: a tmpfs
//! at the destination holding, per hierarchy of the container's cgroup, a bind of its
//! directory under the hierarchy's host directory name ("memory", "cpu,cpuacct", "systemd",
//! "unified"), plus the per-controller symlinks of co-mounted hierarchies.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use nix::unistd::symlinkat;

use super::mountinfo::{self, MountEntry};
use super::mounts::{fd_path, post_mount, Ctx};
use super::options::{flags_to_attr, remount_flags, MountOptions};
use super::resolve::{self, Kind};
use crate::sys::fs as sysfs;

/// The directory name a hierarchy has under /sys/fs/cgroup on this host.
pub fn hierarchy_dir_name(name: &str, dir: &Path, host: &[MountEntry]) -> String {
    if let Some(m) = mountinfo::cgroup_mount_of(host, dir) {
        if let Some(base) = m.mount_point.file_name() {
            if m.mount_point.parent() == Some(Path::new("/sys/fs/cgroup")) {
                return base.to_string_lossy().into_owned();
            }
        }
    }
    match name {
        "" => "unified".to_string(),
        n => n.strip_prefix("name=").unwrap_or(n).to_string(),
    }
}

fn is_pure_v2(host: &[MountEntry]) -> bool {
    host.iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/sys/fs/cgroup"))
        .is_some_and(|m| m.fstype == "cgroup2")
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{what}: {e}")
}

pub fn mount_cgroup(ctx: &Ctx<'_>, rel: &Path, opts: &MountOptions) -> Result<()> {
    let target = resolve::ensure_in_root(ctx.root, rel, Kind::Dir, true)
        .map_err(|e| anyhow!("destination /{}: {e}", rel.display()))?;
    let st = fstat(&target).map_err(err("fstat destination"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        bail!("destination /{} is not a directory", rel.display());
    }
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let reopen = || resolve::open_in_root(ctx.root, rel, true).map_err(|e| anyhow!("reopen: {e}"));

    if is_pure_v2(ctx.host_mounts) {
        let r = mount(
            Some("cgroup2"),
            &fd_path(&target),
            Some("cgroup2"),
            flags,
            data,
        );
        let top = match r {
            Ok(()) => reopen()?,
            Err(nix::Error::EPERM) | Err(nix::Error::EBUSY) => {
                let src = ctx
                    .cgroup
                    .dirs
                    .iter()
                    .find(|(n, _)| n.is_empty())
                    .map(|(_, d)| d.clone())
                    .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
                bind_dir(&src, &target, opts)?
            }
            Err(e) => return Err(anyhow!("mount cgroup2: {}", std::io::Error::from(e))),
        };
        return post_mount(&top, opts);
    }

    // v1 / hybrid: a tmpfs holding one bind per hierarchy; read-only is applied at the end.
    let tmpfs_flags = flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    mount(
        Some("tmpfs"),
        &fd_path(&target),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .map_err(|e| anyhow!("mount tmpfs: {}", std::io::Error::from(e)))?;
    let top = reopen()?;
    for (name, dir) in &ctx.cgroup.dirs {
        let dirname = hierarchy_dir_name(name, dir, ctx.host_mounts);
        match mkdirat(&top, dirname.as_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(anyhow!("mkdir {dirname}: {}", std::io::Error::from(e))),
        }
        let sub = openat(
            &top,
            dirname.as_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open {dirname}: {}", std::io::Error::from(e)))?;
        bind_dir(dir, &sub, opts).map_err(|e| anyhow!("{dirname}: {e:#}"))?;
        if dirname.contains(',') {
            for part in dirname.split(',') {
                let link = part.strip_prefix("name=").unwrap_or(part);
                match symlinkat(dirname.as_str(), &top, link) {
                    Ok(()) | Err(nix::Error::EEXIST) => {}
                    Err(e) => return Err(anyhow!("symlink {link}: {}", std::io::Error::from(e))),
                }
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        sysfs::mount_setattr_fd(top.as_fd(), false, sysfs::MOUNT_ATTR_RDONLY, 0, 0)
            .map_err(err("remount read-only"))?;
    }
    post_mount(&top, opts)
}

/// Bind the host directory `src` (recursively) onto `target` with the mount's flags applied
/// to every mount of the clone before it is attached.
fn bind_dir(src: &Path, target: &OwnedFd, opts: &MountOptions) -> Result<OwnedFd> {
    let tree = sysfs::open_tree(
        None,
        src,
        sysfs::OPEN_TREE_CLONE | libc::AT_RECURSIVE as u32,
    )
    .map_err(|e| anyhow!("open_tree {}: {e}", src.display()))?;
    let (set, clr) = flags_to_attr(remount_flags(opts.flags), opts.cleared);
    if set != 0 || clr != 0 {
        sysfs::mount_setattr_fd(tree.as_fd(), true, set, clr, 0).map_err(err("mount_setattr"))?;
    }
    sysfs::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(err("move_mount"))?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names() {
        let host = mountinfo::parse(
            "1 0 0:1 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
             2 1 0:2 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             3 1 0:3 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             4 1 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            hierarchy_dir_name("cpu,cpuacct", &p("/sys/fs/cgroup/cpu,cpuacct/c1"), &host),
            "cpu,cpuacct"
        );
        assert_eq!(
            hierarchy_dir_name("name=systemd", &p("/sys/fs/cgroup/systemd/c1"), &host),
            "systemd"
        );
        assert_eq!(
            hierarchy_dir_name("", &p("/sys/fs/cgroup/unified/c1"), &host),
            "unified"
        );
        assert_eq!(
            hierarchy_dir_name("memory", &p("/elsewhere/c1"), &host),
            "memory"
        );
        assert_eq!(hierarchy_dir_name("name=foo", &p("/x"), &host), "foo");
        assert!(!is_pure_v2(&host));
        let v2 = mountinfo::parse("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert!(is_pure_v2(&v2));
    }
}
