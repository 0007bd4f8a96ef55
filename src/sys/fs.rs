//! Filesystem syscalls nix does not wrap: `openat2`, `open_tree`, `move_mount`,
//! `mount_setattr`, `fsopen`/`fsconfig`/`fsmount`.
//!
//! Thin, typed wrappers only: no policy lives here (that is `rootfs/`). Each returns
//! `io::Result` with the raw errno so callers can react to `ENOSYS`, `EPERM`, `EXDEV`...
//! libc 0.2 has the syscall numbers but not every flag or struct of the new mount API, so
//! the ABI constants below are taken from the kernel's uapi headers (`linux/mount.h`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

// linux/mount.h: open_tree(2)
pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;

// linux/mount.h: move_mount(2)
pub const MOVE_MOUNT_F_SYMLINKS: u32 = 0x01;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

// linux/mount.h: mount_setattr(2) / fsmount(2) attributes.
pub const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
pub const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
pub const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
pub const MOUNT_ATTR__ATIME: u64 = 0x0000_0070;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0000_0000;
pub const MOUNT_ATTR_NOATIME: u64 = 0x0000_0010;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x0000_0020;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x0000_0080;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
/// Idmap the mount with the user namespace in `mount_attr.userns_fd` (Linux 5.12).
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

// linux/mount.h: fsopen/fsconfig/fsmount.
const FSOPEN_CLOEXEC: u32 = 0x1;
const FSMOUNT_CLOEXEC: u32 = 0x1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

/// `struct open_how` (libc's is `#[non_exhaustive]`, so it cannot be built outside libc).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0 = 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cpath(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

/// Turn a syscall's fd-returning result into an `OwnedFd`.
fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this new fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn unit(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `openat2(2)`: `flags` are `O_*` flags, `resolve` the `RESOLVE_*` flags.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let p = cpath(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u32 as u64,
        mode: if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
            mode as u64
        } else {
            0
        },
        resolve,
    };
    // With RESOLVE_IN_ROOT/BENEATH the kernel answers EAGAIN when a mount or rename anywhere
    // on the system raced a ".." step; openat2(2) says to retry. Bounded: a persistent race is
    // reported, not spun on.
    let mut tries = 0;
    loop {
        // SAFETY: `p` is a valid NUL-terminated string and `how` a live, properly sized
        // `struct open_how` for the duration of the call; dirfd is a borrowed open fd.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        let result = owned(ret);
        match &result {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 128 => tries += 1,
            _ => return result,
        }
    }
}

/// `open_tree(2)`. With `OPEN_TREE_CLONE` the result is a detached copy of the mount (tree).
pub fn open_tree(dirfd: Option<BorrowedFd<'_>>, path: &Path, flags: u32) -> io::Result<OwnedFd> {
    let p = cpath(path)?;
    let dfd = dirfd.map_or(libc::AT_FDCWD, |f| f.as_raw_fd());
    // SAFETY: `p` is a valid NUL-terminated string; the other arguments are integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dfd,
            p.as_ptr(),
            (flags | OPEN_TREE_CLOEXEC) as libc::c_uint,
        )
    };
    owned(ret)
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | [AT_RECURSIVE])`: clone the mount
/// rooted at whatever `fd` (often an `O_PATH` fd) points to.
pub fn clone_tree_fd(fd: BorrowedFd<'_>, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    open_tree(Some(fd), Path::new(""), flags)
}

/// `move_mount(from_fd, "", to_fd, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attach the (detached or
/// attached) mount `from` on top of whatever `to` (an `O_PATH` fd) points to.
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let empty = c"";
    // SAFETY: both paths are the same static empty C string; fds are borrowed open fds.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            (MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) as libc::c_uint,
        )
    };
    unit(ret)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | [AT_RECURSIVE], attr)`: the one raw call behind the
/// two wrappers below.
fn mount_setattr_raw(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let empty = c"";
    // SAFETY: `attr` is a live `struct mount_attr` (VER0 size) for the duration of the call;
    // the path is a static empty C string; fd is a borrowed open fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    unit(ret)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | [AT_RECURSIVE], {set, clr, propagation})`.
/// `propagation` is 0 or one of `MS_PRIVATE`, `MS_SHARED`, `MS_SLAVE`, `MS_UNBINDABLE`.
pub fn mount_setattr_fd(
    fd: BorrowedFd<'_>,
    recursive: bool,
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr,
        propagation,
        userns_fd: 0,
    };
    mount_setattr_raw(fd, recursive, &attr)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | [AT_RECURSIVE], {MOUNT_ATTR_IDMAP, userns_fd})`:
/// idmap a detached mount (tree) with the id mappings of the user namespace `userns`.
/// The kernel only accepts this on a mount that was never attached (an `open_tree` clone).
pub fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    recursive: bool,
    userns: BorrowedFd<'_>,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    mount_setattr_raw(fd, recursive, &attr)
}

/// A detached, freshly created filesystem mount: `fsopen(fstype)`, `fsconfig` each
/// `key=value` of `params` (as strings), `FSCONFIG_CMD_CREATE`, `fsmount(attrs)`.
pub fn fsmount_new(fstype: &str, params: &[(&str, &str)], attrs: u64) -> io::Result<OwnedFd> {
    let t = cstr(fstype)?;
    // SAFETY: `t` is a valid NUL-terminated string; flags is an integer.
    let fsfd = owned(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) })?;
    for (k, v) in params {
        let (k, v) = (cstr(k)?, cstr(v)?);
        // SAFETY: key and value are valid NUL-terminated strings alive across the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fsfd.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0 as libc::c_int,
            )
        };
        unit(ret)?;
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key/value: NULL pointers and aux 0 are required.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0 as libc::c_int,
        )
    };
    unit(ret)?;
    // SAFETY: integer arguments only; returns a new mount fd on success.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn openat2_in_root_stays_inside() {
        let dir = std::env::temp_dir().join(format!("oxirun-sysfs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        let _ = std::fs::remove_file(dir.join("up"));
        std::os::unix::fs::symlink("/../../../etc", dir.join("up")).unwrap();
        let root = std::fs::File::open(&dir).unwrap();
        match openat2(
            root.as_fd(),
            Path::new("up"),
            libc::O_PATH,
            0,
            libc::RESOLVE_IN_ROOT,
        ) {
            Ok(fd) => {
                let st = nix::sys::stat::fstat(&fd).unwrap();
                let inside = std::fs::metadata(dir.join("etc")).unwrap();
                use std::os::unix::fs::MetadataExt;
                assert_eq!(st.st_ino, inside.ino());
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
