//! Process syscalls: fork-like `clone` with namespace flags, pidfds, `close_range`, prctl bits.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// What a fork-like clone returned.
pub enum Forked {
    Parent(libc::pid_t),
    Child,
}

/// Fork with extra `CLONE_NEW*` flags, like `fork()` but creating namespaces at the same time.
///
/// The runtime is single-threaded (design principle), so the child may run ordinary Rust code.
pub fn clone_fork(ns_flags: libc::c_int) -> io::Result<Forked> {
    let flags = (ns_flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: the legacy clone syscall with a NULL stack behaves like fork(): the child gets a
    // copy of the address space and continues on a copy of the stack. The process is
    // single-threaded, so no lock can be held by a thread that does not exist in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// Like [`clone_fork`], but the child is born in the cgroup v2 directory `cgroup`
/// (`clone3` with `CLONE_INTO_CGROUP`, Linux 5.7): no later write to `cgroup.procs`, whose
/// migration takes the cgroup threadgroup lock for writing (an RCU grace period).
pub fn clone_into_cgroup(
    ns_flags: libc::c_int,
    cgroup: std::os::fd::BorrowedFd<'_>,
) -> io::Result<Forked> {
    use std::os::fd::AsRawFd;
    /// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, linux/sched.h).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    // No stack (fork-like), no pidfd/tid/tls/set_tid.
    let args = CloneArgs {
        flags: ns_flags as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with no stack behaves like fork() (see clone_fork, same single-threaded
    // argument); `args` is a valid clone_args of the size we pass and outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// `pidfd_open(2)`.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; on success it returns a new fd we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// `pidfd_send_signal(2)` with no siginfo.
pub fn pidfd_send_signal(pidfd: RawFd, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall; a NULL siginfo is allowed and means "as kill(2) would send".
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mark every fd from `first` upwards close-on-exec (`close_range(first, ~0, CLOEXEC)`).
pub fn cloexec_from(first: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; it touches no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Close every fd in `first..=last` (`close_range(first, last, 0)`).
///
/// The caller must own every fd in the range: none may be held by an `OwnedFd` or a `File`
/// that is used or dropped later.
pub fn close_fds(first: libc::c_uint, last: libc::c_uint) -> io::Result<()> {
    // SAFETY: closing fds touches no memory; that no live Rust owner holds one of them is the
    // caller's contract (documented above).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make this process a child subreaper, so orphaned descendants are reparented to us.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ask for `sig` when our parent dies.
pub fn set_pdeathsig(sig: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set or clear the dumpable flag (a non-dumpable process cannot be ptraced or have its
/// /proc files opened by other users, which protects host fds while joining a container).
pub fn set_dumpable(on: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `prctl(PR_SET_KEEPCAPS)`: keep permitted caps across the setresuid away from root.
pub fn set_keepcaps(on: bool) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The raw `getcwd` syscall: unlike glibc's wrapper it reports "(unreachable)" prefixes
/// instead of hiding them, which is how a cwd outside the root is detected (CVE-2024-21626).
pub fn raw_getcwd() -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf is a valid writable buffer of the given length.
    let ret = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // The syscall returns the length including the trailing NUL.
    buf.truncate((ret as usize).saturating_sub(1));
    Ok(buf)
}

/// `umask(2)`.
pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// Borrow a raw fd number for a call that needs a `BorrowedFd` (the caller knows it is open
/// for the duration of that call).
pub fn borrow_fd(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: callers only pass fds that stay open for the (immediate) call they make; the
    // 'static lifetime never escapes such a call.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Restore the default disposition of `sig`.
pub fn default_signal(sig: nix::sys::signal::Signal) -> nix::Result<()> {
    // SAFETY: installing SIG_DFL runs no code of ours in signal context.
    unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) }.map(|_| ())
}

/// Ignore SIGPIPE (what the Rust runtime's start-up does; `main.rs` skips that start-up): a
/// closed pipe or socket must be an EPIPE error we report, not a silent death.
pub fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN runs no code of ours in signal context.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
}

/// Has `cmd`'s child write `0` to each of `procs` (open `cgroup.procs` files) before it
/// execs: it starts in those cgroups, and so does everything it forks. The files stay open
/// with the command (and close on exec).
pub fn join_cgroups_before_exec(cmd: &mut std::process::Command, procs: Vec<std::fs::File>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before exec; it only iterates a vector
    // allocated before the fork and calls write(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            for f in &procs {
                // SAFETY: a one-byte write from a static buffer to an fd we own.
                if libc::write(f.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// `_exit(2)`: leave at once, without running atexit handlers or flushing stdio buffers that
/// belong to the parent's copy of the address space.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// `dup2(old, new)`: put `old` at fd number `new` (used for stdio 0..2).
pub fn dup_onto(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the fd table; `new` is a stdio number we mean to replace.
    let ret = unsafe { libc::dup2(old, new) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// execve's arguments as the NULL-terminated pointer arrays the kernel reads, built ahead of
/// time: the seccomp filter is loaded right before [`ExecArgs::exec`], and nothing after it
/// may allocate (a strict profile can deny `brk`/`mmap`), so execve is the only system call
/// the filter sees from the runtime.
pub struct ExecArgs {
    path: std::ffi::CString,
    // The pointer arrays point into these: their heap buffers never move.
    _args: Vec<std::ffi::CString>,
    _env: Vec<std::ffi::CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl ExecArgs {
    pub fn new(
        path: std::ffi::CString,
        args: Vec<std::ffi::CString>,
        env: Vec<std::ffi::CString>,
    ) -> ExecArgs {
        let ptrs = |v: &[std::ffi::CString]| {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        ExecArgs {
            argv: ptrs(&args),
            envp: ptrs(&env),
            path,
            _args: args,
            _env: env,
        }
    }

    /// The resolved executable.
    pub fn path(&self) -> &std::ffi::CStr {
        &self.path
    }

    /// `execve(2)`; returns only on failure, with its errno. Allocates nothing.
    pub fn exec(&self) -> nix::errno::Errno {
        // SAFETY: `path` is a NUL-terminated string and `argv`/`envp` are NULL-terminated
        // arrays of pointers into NUL-terminated strings owned by `self`, all alive for the
        // call; execve only reads them.
        unsafe { libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        nix::errno::Errno::last()
    }
}

/// Let `fd` survive `execve` (a file we hand to a child by number, e.g. CRIU's --inherit-fd).
pub fn clear_cloexec(fd: &impl std::os::fd::AsFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(|_| ())
        .map_err(io::Error::from)
}
