//! CVE-2019-5736 defence: before a command puts our binary inside a container (the init
//! before its execve, an exec'd process while it joins), we re-execute from a sealed memfd
//! copy of ourselves. A container that reaches /proc/<pid>/exe then finds an immutable
//! anonymous file, never the host's oxirun binary.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Set in the environment of the re-executed copy (and removed at once by it).
const MARK: &str = "_OXIRUN_SEALED_EXE";

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether we already run from a sealed copy: /proc/self/exe carries all our seals.
fn running_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only reads the seals of a live fd.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
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

/// Re-execute from a sealed memfd copy unless we already do. Returns only when nothing had
/// to be done (or on error, which the caller reports).
pub fn ensure_sealed() -> io::Result<()> {
    if std::env::var_os(MARK).is_some() {
        // Single-threaded at this point: changing the environment is safe.
        // SAFETY: no other thread exists that could read the environment concurrently.
        unsafe { std::env::remove_var(MARK) };
        if running_sealed() {
            return Ok(());
        }
    }
    if running_sealed() {
        return Ok(());
    }
    let exe = sealed_copy()?;
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
