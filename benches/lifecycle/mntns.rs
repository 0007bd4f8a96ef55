//! Mount namespaces: the private one crun runs from on a hybrid host, the one where oxirun's
//! binary is read-only, and switching to them.

use anyhow::{bail, Result};

/// An fd of this process's current mount namespace (the host's, at start-up).
pub fn open_own() -> Result<libc::c_int> {
    // SAFETY: open(2) of a NUL-terminated literal path.
    let fd = unsafe {
        libc::open(
            c"/proc/self/ns/mnt".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        bail!(
            "open /proc/self/ns/mnt: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(fd)
}

/// Makes a private mount namespace (propagation private), lets `shape` change this process's
/// view in it, returns its fd, and goes back to the host namespace `host_ns`.
fn private_namespace(
    host_ns: libc::c_int,
    shape: impl FnOnce() -> Result<()>,
) -> Result<libc::c_int> {
    // SAFETY: single-threaded process; unshare only affects this process's mount namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        bail!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error());
    }
    let result = (|| {
        // SAFETY: literal NUL-terminated path; propagation change inside our new namespace.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if r != 0 {
            bail!("make / private: {}", std::io::Error::last_os_error());
        }
        shape()?;
        open_own()
    })();
    setns(host_ns)?;
    result
}

/// The namespace crun runs from on a hybrid host: without `/sys/fs/cgroup/unified` (only this
/// process's view; no cgroup is touched).
pub fn crun_namespace(host_ns: libc::c_int) -> Result<libc::c_int> {
    private_namespace(host_ns, || {
        // SAFETY: detaches the mount in our private namespace only (propagation is private).
        if unsafe { libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH) } != 0 {
            bail!(
                "umount /sys/fs/cgroup/unified in the crun namespace: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    })
}

/// A namespace in which `bin` is a read-only bind mount of itself (nothing on the host
/// changes): oxirun started from there finds its binary unwritable and skips its
/// CVE-2019-5736 re-exec.
pub fn ro_exe_namespace(host_ns: libc::c_int, bin: &std::path::Path) -> Result<libc::c_int> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(bin.as_os_str().as_bytes())?;
    private_namespace(host_ns, || {
        // SAFETY: NUL-terminated path; mounts inside our new, private namespace only.
        let ok = unsafe {
            libc::mount(
                path.as_ptr(),
                path.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) == 0
                && libc::mount(
                    std::ptr::null(),
                    path.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                    std::ptr::null(),
                ) == 0
        };
        if !ok {
            bail!(
                "read-only bind of {}: {}",
                bin.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    })
}

pub fn setns(fd: libc::c_int) -> Result<()> {
    // SAFETY: fd is a mount-namespace fd we opened; the process is single-threaded.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNS) } != 0 {
        bail!("setns(mnt): {}", std::io::Error::last_os_error());
    }
    Ok(())
}
