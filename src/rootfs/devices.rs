//! Device nodes and the /dev symlinks. All work is done with `*at` calls on an fd of the
//! rootfs' /dev opened inside the root without following a symlink (CVE-2026-41579); files
//! are created `O_CREAT|O_EXCL|O_NOFOLLOW` (CVE-2026-88264). If `mknod` is not permitted, the
//! host's device is bind-mounted onto an empty file instead.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{self, Kind};
use crate::sys::fs as sysfs;

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Path inside the container (absolute, under /dev).
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets unless `linux.devices` names them.
pub fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(n, major, minor)| Device {
        path: PathBuf::from("/dev").join(n),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// `linux.devices` + the defaults they do not override.
pub fn device_list(spec_devices: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut out = Vec::new();
    for d in spec_devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!(
                "device {}: type \"a\" cannot be created",
                d.path().display()
            ),
        };
        if d.major() < 0 || d.minor() < 0 {
            bail!("device {}: negative major/minor", d.path().display());
        }
        out.push(Device {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for d in default_devices() {
        if !out.iter().any(|o| o.path == d.path) {
            out.push(d);
        }
    }
    Ok(out)
}

/// The device path relative to /dev (`/dev/net/tun` -> `net/tun`), refusing anything outside.
fn under_dev(path: &Path) -> Result<PathBuf> {
    let clean = resolve::clean(path);
    let rel = clean
        .strip_prefix("dev")
        .map_err(|_| anyhow!("device {}: path must be under /dev", path.display()))?;
    if rel.as_os_str().is_empty() || path.components().any(|c| c == Component::ParentDir) {
        bail!("device {}: invalid path", path.display());
    }
    Ok(rel.to_path_buf())
}

/// Open the rootfs' /dev (creating it if missing); refuse a symlink or non-directory.
pub fn open_dev(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    let dev = resolve::ensure_in_root(root, Path::new("dev"), Kind::Dir, false)
        .map_err(|e| anyhow!("open rootfs /dev: {e}"))?;
    let st = fstat(&dev).map_err(|e| anyhow!("stat rootfs /dev: {e}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        bail!("rootfs /dev must be a directory, not a symlink or file");
    }
    Ok(dev)
}

/// Create every device of `devices` under `dev` (an fd of the rootfs' /dev).
pub fn create_devices(dev: &OwnedFd, devices: &[Device]) -> Result<()> {
    let old = umask(Mode::empty());
    let r = devices.iter().try_for_each(|d| {
        create_device(dev, d).map_err(|e| anyhow!("device {}: {e:#}", d.path.display()))
    });
    umask(old);
    r
}

fn create_device(dev: &OwnedFd, d: &Device) -> Result<()> {
    let rel = under_dev(&d.path)?;
    let name = rel.file_name().ok_or_else(|| anyhow!("no file name"))?;
    // The parent, resolved with /dev itself as the root: nothing can leave /dev. Most
    // devices sit in /dev itself: its fd serves as the parent then.
    let nested = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => Some(
            resolve::ensure_in_root(dev.as_fd(), p, Kind::Dir, true)
                .map_err(|e| anyhow!("parent directory: {e}"))?,
        ),
        None => None,
    };
    let parent = nested.as_ref().unwrap_or(dev);
    let perm = Mode::from_bits_truncate(d.mode);
    match mknodat(parent, name, d.kind, perm, makedev(d.major, d.minor)) {
        Ok(()) => {}
        // Already there (an image's /dev, or linux.devices repeating a default): keep it.
        Err(nix::Error::EEXIST) => return Ok(()),
        Err(nix::Error::EPERM) => return bind_host_device(parent, name, &d.path),
        Err(e) => return Err(anyhow!("mknod: {}", std::io::Error::from(e))),
    }
    fchownat(
        parent,
        name,
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| anyhow!("chown: {}", std::io::Error::from(e)))
}

/// mknod refused: bind the host's device node onto an empty file made `O_EXCL|O_NOFOLLOW`.
fn bind_host_device(parent: &OwnedFd, name: &std::ffi::OsStr, host: &Path) -> Result<()> {
    match openat(
        parent,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o000),
    ) {
        Ok(_) | Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(anyhow!("create bind target: {}", std::io::Error::from(e))),
    }
    let target = openat(
        parent,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open bind target: {e}"))?;
    let tree = sysfs::open_tree(None, host, sysfs::OPEN_TREE_CLONE)
        .map_err(|e| anyhow!("open host device {}: {e}", host.display()))?;
    sysfs::move_mount_fd(tree.as_fd(), target.as_fd()).map_err(|e| anyhow!("bind host device: {e}"))
}

/// fd, stdin, stdout, stderr, core (when the host has /proc/kcore), and ptmx -> pts/ptmx when
/// a devpts is mounted at /dev/pts.
pub fn create_symlinks(dev: &OwnedFd, with_pts: bool) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if with_pts {
        match unlinkat(dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::Error::ENOENT) => {}
            Err(e) => return Err(anyhow!("remove /dev/ptmx: {}", std::io::Error::from(e))),
        }
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match symlinkat(target, dev, name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(anyhow!("symlink /dev/{name}: {}", std::io::Error::from(e))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = device_list(&[]).unwrap();
        assert_eq!(d.len(), 6);
        assert!(d
            .iter()
            .any(|x| x.path == Path::new("/dev/null") && x.major == 1 && x.minor == 3));
        let spec: Vec<LinuxDevice> = serde_json::from_str(
            r#"[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":432,"uid":5,"gid":6},
                {"path":"/dev/net/tun","type":"c","major":10,"minor":200},
                {"path":"/dev/fifo","type":"p","major":0,"minor":0}]"#,
        )
        .unwrap();
        let d = device_list(&spec).unwrap();
        assert_eq!(d.len(), 8);
        let null = d.iter().find(|x| x.path == Path::new("/dev/null")).unwrap();
        assert_eq!((null.mode, null.uid, null.gid), (0o660, 5, 6));
        assert_eq!(
            d.iter()
                .filter(|x| x.path == Path::new("/dev/null"))
                .count(),
            1
        );
        assert_eq!(d[2].kind, SFlag::S_IFIFO);
    }

    #[test]
    fn device_paths_must_be_under_dev() {
        assert_eq!(
            under_dev(Path::new("/dev/net/tun")).unwrap(),
            PathBuf::from("net/tun")
        );
        assert!(under_dev(Path::new("/etc/passwd")).is_err());
        assert!(under_dev(Path::new("/dev/../etc/x")).is_err());
        assert!(under_dev(Path::new("/dev")).is_err());
    }
}
