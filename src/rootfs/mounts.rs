//! The `mounts` of config.json, in order: each destination is resolved (and created) inside
//! the rootfs fd, the filesystem is mounted onto that fd (`/proc/self/fd/N` as target, or
//! `move_mount` of an `open_tree` clone for binds), then propagation and recursive attributes.
//! A bind the runtime prepared before the init was cloned (an idmapped one, or any bind of a
//! container with a user namespace: `super::detached`) arrives as a detached, flagged clone;
//! here it is only attached.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, fstat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::Mount;

use super::mountinfo::MountEntry;
use super::options::{self, MountOptions};
use super::resolve::{self, Kind};
use crate::cgroups::Cgroup;
use crate::sys::fs as sysfs;

/// `/proc/self/fd/N`: a mount target (or source) that is exactly the object fd N holds.
pub(crate) fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Files under /proc that may be covered (lxcfs and friends); anything else under /proc must
/// be a procfs (CVE-2019-16884).
const PROC_ALLOWLIST: &[&str] = &[
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/net/dev",
    "proc/sys/kernel/ns_last_pid",
    "proc/sys/kernel/random/boot_id",
];

/// What every mount needs from its surroundings.
pub struct Ctx<'a> {
    pub spec: &'a oci_spec::runtime::Spec,
    pub root: BorrowedFd<'a>,
    pub cgroup: &'a Cgroup,
    pub host_mounts: &'a [MountEntry],
}

/// Mount every entry of `mounts`, in order.
pub fn mount_all(ctx: &Ctx<'_>, mounts: &[Mount]) -> Result<()> {
    for (index, m) in mounts.iter().enumerate() {
        let typ = m.typ().as_deref().unwrap_or("none");
        let dest = m.destination().display();
        mount_one(ctx, index, m).map_err(|e| anyhow!("mount {dest} ({typ}): {e:#}"))?;
    }
    // Trees the runtime prepared and no entry used (none, normally) are closed now.
    super::detached::release();
    Ok(())
}

/// The options of one config mount, with `type: bind|rbind` counted as `bind`.
pub(crate) fn mount_options(m: &Mount) -> MountOptions {
    let mut opts = options::parse_mount_options(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "bind" || typ == "rbind" {
        opts.flags |= MsFlags::MS_BIND;
    }
    opts
}

/// Whether `rel` (cleaned, relative to the root) may receive a mount of type `typ`.
/// `bind_of_proc_root`: the mount is a bind whose source is the root of a procfs (allowed
/// at /proc itself, e.g. for a container sharing the host's pid namespace).
pub fn check_proc_destination(rel: &Path, typ: &str, bind_of_proc_root: bool) -> Result<()> {
    if !rel.starts_with("proc") || typ == "proc" {
        return Ok(());
    }
    if bind_of_proc_root && rel == Path::new("proc") {
        return Ok(());
    }
    if PROC_ALLOWLIST.iter().any(|a| rel == Path::new(a)) {
        return Ok(());
    }
    bail!(
        "/{} is inside /proc and only a proc filesystem may be mounted there",
        rel.display()
    )
}

fn io_ctx<T>(r: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    r.map_err(|e| anyhow!("{}: {e}", what()))
}

fn nix_ctx<T>(r: nix::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    r.map_err(|e| anyhow!("{}: {}", what(), std::io::Error::from(e)))
}

/// Whether `m` is a read-only mount at /dev: it is mounted writable, so the devices, /dev/pts,
/// /dev/shm and /dev/console can go in, and made read-only by `finalize` (as runc does).
pub(crate) fn is_readonly_dev(m: &Mount) -> bool {
    resolve::clean(m.destination()) == Path::new("dev")
        && mount_options(m).flags.contains(MsFlags::MS_RDONLY)
}

fn mount_one(ctx: &Ctx<'_>, index: usize, m: &Mount) -> Result<()> {
    let typ = m.typ().as_deref().unwrap_or("");
    let rel = resolve::clean(m.destination());
    let mut opts = mount_options(m);
    if is_readonly_dev(m) {
        opts.flags.remove(MsFlags::MS_RDONLY);
    }
    // The runtime's clone of the source, when it made one (then the source path may not even
    // be reachable from here: a user namespace's root is not the host's).
    let prepared = opts
        .is_bind()
        .then(|| super::detached::take(index))
        .flatten();
    if prepared.is_none() && opts.idmap != options::Idmap::None {
        bail!("idmapped mount: the runtime did not prepare it");
    }
    let bind_of_proc_root = match &prepared {
        Some(tree) => is_procfs(tree) && fstat(tree).is_ok_and(|st| st.st_ino == 1),
        None => {
            opts.is_bind()
                && m.source().as_deref().is_some_and(|src| {
                    use std::os::unix::fs::MetadataExt;
                    let on_proc = nix::sys::statfs::statfs(src)
                        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
                    // The root directory of a procfs is inode 1.
                    on_proc && std::fs::metadata(src).is_ok_and(|md| md.ino() == 1)
                })
        }
    };
    check_proc_destination(&rel, typ, bind_of_proc_root)?;
    if typ == "cgroup" && !opts.is_bind() {
        return super::cgroupfs::mount_cgroup(ctx, &rel, &opts);
    }
    let source = m.source().as_deref();
    let kind = if let Some(tree) = &prepared {
        let st = nix_ctx(fstat(tree), || "fstat the prepared source".into())?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            Kind::Dir
        } else {
            Kind::File
        }
    } else if opts.is_bind() {
        let src = source.ok_or_else(|| anyhow!("a bind mount needs a source"))?;
        let md = io_ctx(std::fs::metadata(src), || {
            format!("source {}", src.display())
        })?;
        if md.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        }
    } else {
        Kind::Dir
    };
    // proc and sysfs must land on a real directory, never through a final symlink
    // (CVE-2019-19921, CVE-2023-27561).
    let strict = typ == "proc" || typ == "sysfs";
    let target = io_ctx(
        resolve::ensure_in_root(ctx.root, &rel, kind, !strict),
        || format!("destination /{}", rel.display()),
    )?;
    let st = nix_ctx(fstat(&target), || "fstat destination".into())?;
    let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if strict && fmt != SFlag::S_IFDIR {
        bail!("/{} must be mounted on ordinary directory", rel.display());
    }
    if kind == Kind::Dir && opts.is_bind() && fmt != SFlag::S_IFDIR {
        bail!("destination /{} is not a directory", rel.display());
    }
    // A symlink trick could land a destination in a procfs although its name is not /proc.
    if typ != "proc" && is_procfs(&target) && !PROC_ALLOWLIST.iter().any(|a| rel == Path::new(a)) {
        bail!("destination /{} resolves into a procfs", rel.display());
    }

    if opts.flags.contains(MsFlags::MS_REMOUNT) {
        let t = if typ.is_empty() { None } else { Some(typ) };
        nix_ctx(
            mount(source, &fd_path(&target), t, opts.flags, data(&opts)),
            || "remount".into(),
        )?;
        let top = io_ctx(resolve::open_in_root(ctx.root, &rel, !strict), || {
            "reopen".into()
        })?;
        return post_mount(&top, &opts);
    }

    let top = if let Some(tree) = prepared {
        // Cloned and flagged (and idmapped) by the runtime before the init was cloned.
        io_ctx(sysfs::move_mount_fd(tree.as_fd(), target.as_fd()), || {
            "move_mount".into()
        })?;
        tree
    } else if opts.is_bind() {
        let src = source.expect("checked above");
        bind_onto(ctx, src, &target, &rel, &opts)?
    } else {
        let src = source.map(|s| s.as_os_str()).unwrap_or(typ.as_ref());
        // linux.mountLabel as a context= option where SELinux and the filesystem take one;
        // a filesystem that refuses the option is mounted without it and labelled after.
        let labelled = crate::attrs::lsm::mount_data_with_label(ctx.spec, typ, false, &opts.data);
        let mut relabel = false;
        let mut r = mount(
            Some(src),
            &fd_path(&target),
            Some(typ),
            opts.flags,
            labelled.as_deref().or(data(&opts)),
        );
        if labelled.is_some() && r == Err(nix::Error::EINVAL) {
            relabel = true;
            r = mount(
                Some(src),
                &fd_path(&target),
                Some(typ),
                opts.flags,
                data(&opts),
            );
        }
        match r {
            Err(nix::Error::EPERM) if typ == "sysfs" => {
                // Without a network namespace of its own (or in a user namespace) sysfs cannot be
                // mounted fresh: bind the host's, as runc does.
                let mut o = opts.clone();
                o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                bind_onto(ctx, Path::new("/sys"), &target, &rel, &o)?
            }
            r => {
                nix_ctx(r, || "mount".into())?;
                let top = io_ctx(resolve::open_in_root(ctx.root, &rel, !strict), || {
                    "reopen after mount".into()
                })?;
                if relabel {
                    io_ctx(crate::attrs::lsm::label_mount_root(&top, ctx.spec), || {
                        "label the mount (linux.mountLabel)".into()
                    })?;
                }
                top
            }
        }
    };
    if opts.tmpcopyup && typ == "tmpfs" {
        copy_up(&target, &top).context("tmpcopyup")?;
    }
    post_mount(&top, &opts)
}

fn data(opts: &MountOptions) -> Option<&str> {
    (!opts.data.is_empty()).then_some(opts.data.as_str())
}

pub(crate) fn is_procfs(fd: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(fd)
        .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Bind `src` (a host path) onto `target`; per-mount flags are set on the detached clone
/// before it is attached, so the mount is never visible with the wrong flags. Returns an fd
/// of the new mount's root.
pub(crate) fn bind_onto(
    ctx: &Ctx<'_>,
    src: &Path,
    target: &OwnedFd,
    rel: &Path,
    opts: &MountOptions,
) -> Result<OwnedFd> {
    let rec = opts.flags.contains(MsFlags::MS_REC);
    let mut flags = sysfs::OPEN_TREE_CLONE;
    if rec {
        flags |= libc::AT_RECURSIVE as u32;
    }
    match sysfs::open_tree(None, src, flags) {
        Ok(tree) => {
            set_bind_attrs(&tree, opts)?;
            io_ctx(sysfs::move_mount_fd(tree.as_fd(), target.as_fd()), || {
                "move_mount".into()
            })?;
            Ok(tree)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            // Old kernel: bind, then remount with the requested flags plus the ones the
            // source already had and the options did not clear (the kernel may lock them).
            let bind = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
            nix_ctx(
                mount(
                    Some(src),
                    &fd_path(target),
                    None::<&str>,
                    bind,
                    None::<&str>,
                ),
                || "bind".into(),
            )?;
            let top = io_ctx(resolve::open_in_root(ctx.root, rel, true), || {
                "reopen".into()
            })?;
            let want = options::remount_flags(opts.flags);
            if !want.is_empty() {
                let have = nix_ctx(nix::sys::statvfs::fstatvfs(&top), || "statvfs".into())?;
                let keep = statvfs_to_msflags(have.flags()) & !opts.cleared;
                let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | want | keep;
                nix_ctx(
                    mount(None::<&str>, &fd_path(&top), None::<&str>, f, None::<&str>),
                    || "remount".into(),
                )?;
            }
            Ok(top)
        }
        Err(e) => Err(anyhow!("source {}: {e}", src.display())),
    }
}

/// Set the per-mount flags of `opts` on a detached bind clone `tree` (not yet attached).
pub(crate) fn set_bind_attrs(tree: &OwnedFd, opts: &MountOptions) -> Result<()> {
    let rec = opts.flags.contains(MsFlags::MS_REC);
    let (set, clr) = options::flags_to_attr(options::remount_flags(opts.flags), opts.cleared);
    if set != 0 || clr != 0 {
        io_ctx(
            sysfs::mount_setattr_fd(tree.as_fd(), false, set, clr, 0),
            || "set mount flags".into(),
        )?;
    }
    // An rbind's restrictions hold for every submount too: "rbind,ro" of /sys must
    // not leave /sys/fs/cgroup writable (CVE-2023-25809). Only restrictions are
    // applied recursively (clearing a kernel-locked flag on a submount would fail).
    let restrict = set
        & (sysfs::MOUNT_ATTR_RDONLY
            | sysfs::MOUNT_ATTR_NOSUID
            | sysfs::MOUNT_ATTR_NODEV
            | sysfs::MOUNT_ATTR_NOEXEC);
    if rec && restrict != 0 {
        io_ctx(
            sysfs::mount_setattr_fd(tree.as_fd(), true, restrict, 0, 0),
            || "set recursive mount flags".into(),
        )?;
    }
    Ok(())
}

/// The per-mount flags statvfs reports, as mount flags.
pub(crate) fn statvfs_to_msflags(f: nix::sys::statvfs::FsFlags) -> MsFlags {
    use nix::sys::statvfs::FsFlags as F;
    let mut m = MsFlags::empty();
    for (s, ms) in [
        (F::ST_RDONLY, MsFlags::MS_RDONLY),
        (F::ST_NOSUID, MsFlags::MS_NOSUID),
        (F::ST_NODEV, MsFlags::MS_NODEV),
        (F::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (F::ST_NOATIME, MsFlags::MS_NOATIME),
        (F::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (F::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            m |= ms;
        }
    }
    m
}

/// Propagation changes, then recursive attributes, on the new mount.
pub(crate) fn post_mount(top: &OwnedFd, opts: &MountOptions) -> Result<()> {
    for p in &opts.propagation {
        nix_ctx(
            mount(None::<&str>, &fd_path(top), None::<&str>, *p, None::<&str>),
            || format!("set propagation {p:?}"),
        )?;
    }
    if opts.has_rec_attrs() {
        io_ctx(
            sysfs::mount_setattr_fd(top.as_fd(), true, opts.rec_attr_set, opts.rec_attr_clr, 0),
            || "set recursive mount attributes".into(),
        )?;
    }
    Ok(())
}

/// `tmpcopyup`: copy what was under the new tmpfs (`lower`, the fd of the covered directory)
/// into it (`upper`), keeping modes and owners. Everything is created `O_EXCL|O_NOFOLLOW`.
fn copy_up(lower: &OwnedFd, upper: &OwnedFd) -> Result<()> {
    let st = nix_ctx(fstat(lower), || "fstat".into())?;
    copy_dir(lower, upper, 0)?;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    nix_ctx(
        fchmodat(upper, ".", mode, FchmodatFlags::FollowSymlink),
        || "chmod".into(),
    )?;
    nix_ctx(
        fchownat(
            upper,
            ".",
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            nix::fcntl::AtFlags::empty(),
        ),
        || "chown".into(),
    )
}

fn copy_dir(lower: &OwnedFd, upper: &OwnedFd, depth: usize) -> Result<()> {
    if depth > 64 {
        bail!("directory tree too deep");
    }
    let rd = nix_ctx(
        openat(
            lower,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ),
        || "open lower dir".into(),
    )?;
    let mut dir = nix_ctx(nix::dir::Dir::from_fd(rd), || "read lower dir".into())?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let n = name.as_c_str();
        let what = || format!("copy {}", name.to_string_lossy());
        let st = nix_ctx(
            fstatat(lower, n, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW),
            what,
        )?;
        let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        if fmt == SFlag::S_IFDIR {
            nix_ctx(mkdirat(upper, n, Mode::from_bits_truncate(0o700)), what)?;
            let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            let l = nix_ctx(openat(lower, n, flags, Mode::empty()), what)?;
            let u = nix_ctx(openat(upper, n, flags, Mode::empty()), what)?;
            copy_dir(&l, &u, depth + 1)?;
        } else if fmt == SFlag::S_IFREG {
            let src = nix_ctx(
                openat(
                    lower,
                    n,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ),
                what,
            )?;
            let dst = nix_ctx(
                openat(
                    upper,
                    n,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                ),
                what,
            )?;
            let mut src = std::fs::File::from(src);
            let mut dst = std::fs::File::from(dst);
            io_ctx(std::io::copy(&mut src, &mut dst), what)?;
        } else if fmt == SFlag::S_IFLNK {
            let t = nix_ctx(readlinkat(lower, n), what)?;
            nix_ctx(symlinkat(t.as_os_str(), upper, n), what)?;
        } else if fmt == SFlag::S_IFCHR || fmt == SFlag::S_IFBLK || fmt == SFlag::S_IFIFO {
            nix_ctx(mknodat(upper, n, fmt, Mode::empty(), st.st_rdev), what)?;
        } else {
            continue; // sockets are not copied
        }
        nix_ctx(
            fchownat(
                upper,
                n,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            what,
        )?;
        if fmt != SFlag::S_IFLNK {
            nix_ctx(fchmodat(upper, n, mode, FchmodatFlags::FollowSymlink), what)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_destinations() {
        assert!(check_proc_destination(Path::new("proc"), "proc", false).is_ok());
        assert!(check_proc_destination(Path::new("proc"), "tmpfs", false).is_err());
        assert!(check_proc_destination(Path::new("proc/self"), "tmpfs", false).is_err());
        assert!(check_proc_destination(Path::new("proc/sys/kernel"), "bind", false).is_err());
        assert!(check_proc_destination(Path::new("proc/cpuinfo"), "bind", false).is_ok());
        assert!(check_proc_destination(Path::new("procfoo"), "tmpfs", false).is_ok());
        assert!(check_proc_destination(Path::new("sys"), "sysfs", false).is_ok());
        assert!(check_proc_destination(Path::new("proc"), "bind", true).is_ok());
        assert!(check_proc_destination(Path::new("proc/sys"), "bind", true).is_err());
        let e = check_proc_destination(&resolve::clean(Path::new("/../proc/x")), "tmpfs", false);
        assert!(e.unwrap_err().to_string().contains("/proc/x"));
    }
}
