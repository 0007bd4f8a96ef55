//! Spawning a process with a chosen pid, for the "kill never signals a recycled pid" test:
//! `clone3` with `set_tid = [pid]` in the host pid namespace (needs CAP_SYS_ADMIN there, i.e.
//! root). The child only calls `execve` (async-signal-safe) and `_exit`.

use std::ffi::CString;

/// `struct clone_args` (linux/sched.h, CLONE_ARGS_SIZE_VER2 = 88 bytes).
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

/// Spawns `argv` (argv[0] must be an absolute path) as our child with exactly `pid`.
/// Errors: e.g. `EEXIST` when the pid is taken, `EPERM` without privilege.
pub fn spawn_with_pid(pid: i32, argv: &[&str]) -> Result<i32, std::io::Error> {
    let cargs: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(*a).expect("no NUL in argv"))
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let tids: [libc::pid_t; 1] = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM behaves like fork: the child gets a private copy of the
    // address space, in which `ptrs`/`envp` stay valid. It only calls execve and _exit.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret == 0 {
        // SAFETY: child side: async-signal-safe calls only.
        unsafe {
            libc::execve(ptrs[0], ptrs.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ret as i32)
}
