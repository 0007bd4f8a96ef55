//! seccomp(2): loading a [`Program`], and probing what the running kernel supports (filter
//! flags via the `EFAULT`-vs-`EINVAL` probe, actions via `SECCOMP_GET_ACTION_AVAIL`).
//!
//! This module owns every seccomp(2) call of the crate. `load` neither sets nor requires
//! no_new_privs: the kernel accepts a filter from a task with `CAP_SYS_ADMIN` in its user
//! namespace, which is how the runtime loads it when `noNewPrivileges` is false.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::compile::{flag, ret, Program};
use crate::Error;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_uint = 2;

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const seccompiler::sock_filter,
}

fn seccomp(
    op: libc::c_uint,
    flags: libc::c_uint,
    args: *const libc::c_void,
) -> io::Result<libc::c_long> {
    // SAFETY: seccomp(2) reads `args` according to `op`; every caller passes either null (a
    // probe: the kernel returns EFAULT without touching memory) or a pointer to a live,
    // correctly laid out object (`SockFprog` whose filter points at `len` instructions, or a
    // `u32` action) that outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, op, flags, args) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Whether the kernel accepts `flags` for SECCOMP_SET_MODE_FILTER (probe with a null filter:
/// EINVAL = unknown flag or bad combination, anything else = the flags passed the check).
fn flags_supported(flags: u32) -> bool {
    match seccomp(SECCOMP_SET_MODE_FILTER, flags, std::ptr::null()) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() != Some(libc::EINVAL),
    }
}

/// Whether the kernel knows the action of `ret` (`SECCOMP_GET_ACTION_AVAIL`).
fn action_available(ret: u32) -> bool {
    let action: u32 = ret & crate::compile::ret::ACTION_FULL;
    seccomp(SECCOMP_GET_ACTION_AVAIL, 0, (&action as *const u32).cast()).is_ok()
}

const FLAG_NAMES: &[(&str, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", flag::TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", flag::LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", flag::SPEC_ALLOW),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        flag::WAIT_KILLABLE_RECV,
    ),
];

fn flag_probe_set(f: u32) -> u32 {
    // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
    if f == flag::WAIT_KILLABLE_RECV {
        f | flag::NEW_LISTENER
    } else {
        f
    }
}

impl Program {
    /// Load the filter into the calling thread (all threads with TSYNC) with seccomp(2).
    ///
    /// Returns the notify listener fd (close-on-exec) when a rule uses `SCMP_ACT_NOTIFY`.
    /// Does not set no_new_privs; without it the caller needs `CAP_SYS_ADMIN`.
    /// Allocates nothing on the success path (safe in a forked child of a threaded process).
    pub fn load(&self) -> Result<Option<OwnedFd>, Error> {
        let prog = SockFprog {
            len: self.insns.len() as libc::c_ushort,
            filter: self.insns.as_ptr(),
        };
        match seccomp(
            SECCOMP_SET_MODE_FILTER,
            self.flags,
            (&prog as *const SockFprog).cast(),
        ) {
            Ok(fd) if self.has_listener() => {
                // SAFETY: with NEW_LISTENER the kernel returns a new fd that nobody else owns.
                Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }))
            }
            Ok(_) => Ok(None),
            Err(err) => Err(self.explain(err)),
        }
    }

    /// Turn a load failure into the cause a user can act on.
    fn explain(&self, err: io::Error) -> Error {
        match err.raw_os_error() {
            Some(libc::EINVAL) => {
                for (name, f) in FLAG_NAMES {
                    if self.flags & f != 0 && !flags_supported(flag_probe_set(*f)) {
                        return Error::Unsupported(format!(
                            "the kernel does not support the flag {name}"
                        ));
                    }
                }
                if self.has_listener() && !flags_supported(flag::NEW_LISTENER) {
                    return Error::Unsupported(
                        "the kernel does not support SCMP_ACT_NOTIFY (SECCOMP_FILTER_FLAG_NEW_LISTENER)".into(),
                    );
                }
                for a in &self.actions_used {
                    if !action_available(*a) {
                        return Error::Unsupported(format!(
                            "the kernel does not support the action {:#x}",
                            a & ret::ACTION_FULL
                        ));
                    }
                }
                Error::Sys {
                    op: "loading the filter".into(),
                    err,
                }
            }
            Some(libc::EACCES) => Error::Sys {
                op: "loading the filter needs CAP_SYS_ADMIN or no_new_privs".into(),
                err,
            },
            Some(libc::ESRCH) => Error::Sys {
                op: "synchronizing the filter to all threads (TSYNC)".into(),
                err,
            },
            _ => Error::Sys {
                op: "loading the filter".into(),
                err,
            },
        }
    }
}

/// What the `features` command reports about seccomp (runtime-spec features.md,
/// `linux.seccomp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features {
    /// seccomp is usable on this host (kernel and architecture).
    pub enabled: bool,
    /// Every action the compiler accepts.
    pub actions: &'static [&'static str],
    /// Every operator the compiler accepts.
    pub operators: &'static [&'static str],
    /// Architectures the compiler has syscall tables for.
    pub archs: &'static [&'static str],
    /// Every flag the compiler knows.
    pub known_flags: &'static [&'static str],
    /// The known flags the running kernel accepts.
    pub supported_flags: Vec<&'static str>,
}

/// Probe the kernel and report what seccomp supports here.
pub fn features() -> Features {
    let enabled = crate::arch::Native::host().is_some()
        && matches!(seccomp(SECCOMP_SET_MODE_FILTER, 0, std::ptr::null()), Err(e) if e.raw_os_error() == Some(libc::EFAULT) || e.raw_os_error() == Some(libc::EACCES));
    let supported_flags = if enabled {
        FLAG_NAMES
            .iter()
            .filter(|(_, f)| flags_supported(flag_probe_set(*f)))
            .map(|(n, _)| *n)
            .collect()
    } else {
        Vec::new()
    };
    Features {
        enabled,
        actions: &[
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_NOTIFY",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP",
        ],
        operators: &[
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ],
        archs: &[
            "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X86_64",
        ],
        known_flags: &[
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ],
        supported_flags,
    }
}
