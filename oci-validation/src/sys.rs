//! The thin layer of raw libc calls that have no safe std wrapper. Every `unsafe` of the crate
//! lives here, each with a `// SAFETY:` line.

use std::io;

/// `getrlimit(resource)` as (soft, hard); `RLIM_INFINITY` is returned as `u64::MAX`.
pub fn getrlimit(resource: u32) -> io::Result<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit struct for the duration of the call.
    let r = unsafe { libc::getrlimit(resource as _, &mut rl) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((rl.rlim_cur, rl.rlim_max))
}

/// The current execution domain: `personality(0xffffffff)` only queries.
pub fn personality() -> io::Result<u32> {
    // SAFETY: the query form of personality(2) changes nothing and takes no pointers.
    let r = unsafe { libc::personality(0xffff_ffff) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as u32)
}

/// The supplementary groups of the calling process.
pub fn getgroups() -> io::Result<Vec<u32>> {
    let mut buf = vec![0 as libc::gid_t; 1024];
    // SAFETY: `buf` has room for `buf.len()` gids, the size we pass.
    let n = unsafe { libc::getgroups(buf.len() as i32, buf.as_mut_ptr()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// (real uid, effective uid, real gid, effective gid).
pub fn ids() -> (u32, u32, u32, u32) {
    // SAFETY: these four calls take no arguments and cannot fail.
    unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    }
}

/// The pid of the calling process.
pub fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// Probe for seccomp filters: raw `getpriority(99, 0)` (an invalid `which`, harmless).
/// Without a filter the kernel answers EINVAL; a filter with SCMP_ACT_ERRNO answers its errno.
pub fn probe_getpriority_errno() -> i32 {
    // SAFETY: getpriority takes two integers; an invalid `which` only yields an error.
    let r = unsafe { libc::syscall(libc::SYS_getpriority, 99 as libc::c_long, 0 as libc::c_long) };
    if r == -1 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    }
}

/// Sends `sig` to `pid` (a process this suite started). Returns false when it does not exist.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) takes two integers; the callers only pass pids of their own containers.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// The major and minor numbers of a device number.
pub fn major_minor(dev: u64) -> (u64, u64) {
    (libc::major(dev) as u64, libc::minor(dev) as u64)
}
