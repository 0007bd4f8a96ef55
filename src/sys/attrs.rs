//! Raw syscalls behind `attrs/`: I/O priority, `sched_setattr`, personality and NUMA memory
//! policy. Each takes and returns plain values; the callers in `attrs/` own the meaning.

use std::io;

/// `ioprio_set(2)` / `ioprio_get(2)` "who" value for a single process (0 = the caller).
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)`: set the calling process's I/O priority.
pub fn ioprio_set_self(ioprio: u16) -> io::Result<()> {
    // SAFETY: integer-only syscall; it reads no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_int,
            ioprio as libc::c_int,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, 0)`: the calling process's I/O priority value.
pub fn ioprio_get_self() -> io::Result<u16> {
    // SAFETY: integer-only syscall; it reads no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0 as libc::c_int) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as u16)
}

/// The kernel's `struct sched_attr` (version 1, with the utilization clamps: 56 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// `sched_setattr(0, attr, 0)`: set the calling thread's scheduling policy and parameters.
pub fn sched_setattr_self(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid, initialized `struct sched_attr` whose `size` field tells the
    // kernel how many bytes it may read; the kernel only reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0 as libc::pid_t,
            &attr as *const SchedAttr,
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `sched_getattr(0, ...)`: the calling thread's scheduling attributes.
pub fn sched_getattr_self() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as libc::c_uint;
    // SAFETY: the kernel writes at most `size` bytes into `attr`, which is exactly that big.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0 as libc::pid_t,
            &mut attr as *mut SchedAttr,
            size,
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr)
}

/// `personality(persona)`; returns the previous persona. `0xffffffff` only queries.
pub fn personality(persona: u32) -> io::Result<u32> {
    // SAFETY: integer-only call; it changes only the calling process's execution domain.
    let ret = unsafe { libc::personality(persona as libc::c_ulong) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as u32)
}

/// `set_mempolicy(mode, nodemask, maxnode)` for the calling thread. An empty `mask` passes a
/// NULL nodemask.
pub fn set_mempolicy(mode: libc::c_int, mask: &[libc::c_ulong]) -> io::Result<()> {
    let (ptr, maxnode) = if mask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads `maxnode - 1` bits.
        (
            mask.as_ptr(),
            (mask.len() * libc::c_ulong::BITS as usize + 1) as libc::c_ulong,
        )
    };
    // SAFETY: `ptr` is NULL or points to `mask`, whose length in bits is `maxnode - 1`; the
    // kernel only reads that many bits.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `get_mempolicy(&mode, nodemask, maxnode, NULL, 0)`: the calling thread's policy mode (with
/// its mode flags) and nodemask (`words` words long).
pub fn get_mempolicy(words: usize) -> io::Result<(libc::c_int, Vec<libc::c_ulong>)> {
    let mut mode: libc::c_int = 0;
    let mut mask: Vec<libc::c_ulong> = vec![0; words.max(1)];
    let maxnode = (mask.len() * libc::c_ulong::BITS as usize) as libc::c_ulong;
    // SAFETY: `mode` is a valid int to write; `mask` holds `maxnode` bits the kernel may write;
    // the address argument is NULL as required without MPOL_F_ADDR.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            maxnode,
            std::ptr::null_mut::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((mode, mask))
}

/// `fork(2)` through glibc, for tests: unlike a raw clone it runs glibc's atfork handlers,
/// so the child may allocate even though the test harness is multi-threaded. Returns 0 in
/// the child and the child's pid in the parent.
#[cfg(test)]
pub fn test_fork() -> io::Result<libc::pid_t> {
    // SAFETY: the child only runs the test closure and then `_exit`s; glibc's fork keeps
    // malloc usable in the child of a multi-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

/// `clock_gettime(clock)` in nanoseconds.
#[cfg(test)]
pub fn clock_ns(clock: libc::clockid_t) -> io::Result<i128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the kernel (vDSO) to fill.
    let ret = unsafe { libc::clock_gettime(clock, &mut ts) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128)
}

/// `setxattr(path, name, value, 0)` (following a final symlink: callers pass
/// `/proc/self/fd/N` of an fd they hold).
pub fn setxattr(path: &std::path::Path, name: &str, value: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let bad = || io::Error::from_raw_os_error(libc::EINVAL);
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| bad())?;
    let name = std::ffi::CString::new(name).map_err(|_| bad())?;
    // SAFETY: `path` and `name` are NUL-terminated and `value` is a live buffer of
    // `value.len()` bytes, all only read by the kernel during the call.
    let ret = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
