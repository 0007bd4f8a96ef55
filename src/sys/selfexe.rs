//! CVE-2019-5736 defence: before a command puts our binary inside a container (the init
//! before its execve, an exec'd process while it joins), we make sure /proc/self/exe cannot
//! be written through: a container that reaches /proc/<pid>/exe must never be able to
//! overwrite the host's oxirun binary.
//!
//! In order of cost: nothing to do when the binary is already on a read-only mount, or (not
//! root) when we cannot write it ourselves; else re-execute through a detached read-only bind
//! mount of the binary (`open_tree` + `mount_setattr`: no copy, about an execve); else (no
//! new mount API, or no CAP_SYS_ADMIN) re-execute from a sealed memfd copy (a full copy of
//! the binary, several milliseconds).
//!
//! The common case (root, not yet protected, new mount API) has normally been done already,
//! by the same read-only clone, at the ELF entry point before the C library started
//! (`entry.rs`); this module then only confirms it and handles every other case.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the environment of the re-executed copy (and removed at once by it); the entry
/// point's fast path sets the same mark.
use super::entry::MARK;

/// Set once /proc/self/exe has been found protected (the CLI may ask twice).
static PROTECTED: AtomicBool = AtomicBool::new(false);

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether /proc/self/exe already cannot be written: a read-only mount or a sealed memfd.
fn running_protected() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    if nix::sys::statvfs::fstatvfs(&exe)
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return true;
    }
    // SAFETY: F_GET_SEALS only reads the seals of a live fd.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Without privileges, a container can do no more to the binary than we can.
fn unwritable_by_us() -> bool {
    !nix::unistd::geteuid().is_root()
        && nix::unistd::access("/proc/self/exe", nix::unistd::AccessFlags::W_OK).is_err()
}

/// A detached, read-only bind mount of our binary (never attached anywhere).
fn readonly_clone() -> io::Result<OwnedFd> {
    use std::os::fd::AsFd;
    let tree = super::fs::open_tree(
        None,
        std::path::Path::new("/proc/self/exe"),
        super::fs::OPEN_TREE_CLONE,
    )?;
    super::fs::mount_setattr_fd(
        tree.as_fd(),
        false,
        super::fs::MOUNT_ATTR_RDONLY | super::fs::MOUNT_ATTR_NOSUID | super::fs::MOUNT_ATTR_NODEV,
        0,
        0,
    )?;
    Ok(tree)
}

fn sealed_copy() -> io::Result<OwnedFd> {
    let name = c"oxirun";
    // SAFETY: name is a valid C string; the flags are integers.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create just returned this fd to us alone.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut src = File::open("/proc/self/exe")?;
    let mut dst = File::from(memfd);
    // std uses copy_file_range/sendfile here: no copy through userspace.
    io::copy(&mut src, &mut dst)?;
    // SAFETY: F_ADD_SEALS with integer flags on a live fd.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OwnedFd::from(dst))
}

/// Re-execute from a protected copy of ourselves unless /proc/self/exe is already safe.
/// Returns only when nothing had to be done (or on error, which the caller reports).
pub fn ensure_protected() -> io::Result<()> {
    if PROTECTED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let reexecuted = std::env::var_os(MARK).is_some();
    if reexecuted {
        // SAFETY: single-threaded at this point; nothing reads the environment concurrently.
        unsafe { std::env::remove_var(MARK) };
    }
    if running_protected() || unwritable_by_us() {
        PROTECTED.store(true, Ordering::Relaxed);
        return Ok(());
    }
    if reexecuted {
        // We came back through our own re-exec and are still not protected: do not loop.
        return Err(io::Error::other("the re-executed binary is still writable"));
    }
    let exe = readonly_clone().or_else(|_| sealed_copy())?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.push(CString::new(format!("{MARK}=1")).unwrap_or_default());
    let err = nix::unistd::execveat(&exe, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH);
    Err(io::Error::from(
        err.err().unwrap_or(nix::errno::Errno::EINVAL),
    ))
}
