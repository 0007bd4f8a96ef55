//! The binary's ELF entry point, `oxirun_entry` (linked with `-e`, see build.rs): it runs
//! before the C library starts and, for `create`, `run` and `exec`, does the CVE-2019-5736
//! re-exec through a read-only clone of our binary right there.
//!
//! Why: glibc's start-up (static or not) asks the CPU about its caches with ~50 `cpuid`
//! instructions, and in a VM each one is a VM exit (~5 us here): ~0.28 ms of CPU per process
//! start, paid by the image that only re-executes itself as much as by the one that works.
//! Re-executing before that start-up makes the first image cost an `execve` and eight syscalls.
//!
//! Only the fast, common case is handled here: root, not yet protected, `open_tree` and
//! `mount_setattr` available. In every other case (or on any error) this returns and glibc
//! starts normally; `selfexe::ensure_protected` then decides with the full logic (memfd copy,
//! unprivileged callers, loop detection). The mark in the environment is the same, so the
//! re-executed image is recognised by both.
//!
//! Constraints of running before libc: in the static PIE no relocation has been applied and
//! no TLS exists, so this code only uses the stack, RIP-relative literals and raw syscalls:
//! no libc calls, no statics holding pointers, no panics, and volatile reads so that LLVM
//! cannot turn a loop into a `memcpy`/`bcmp` call (an unrelocated IFUNC before libc starts).

use core::arch::{asm, global_asm};
use core::ptr::read_volatile;

// Keep the stack pointer (argc, argv, envp, auxv) and %rdx (the dynamic loader's finaliser;
// 0 when static) for glibc's `_start`, which must see exactly what the kernel (or ld.so)
// left. %rbx and %r12 are callee-saved, so `pre_start` preserves them.
global_asm!(
    ".globl oxirun_entry",
    ".type oxirun_entry,@function",
    "oxirun_entry:",
    "mov rbx, rsp",
    "mov r12, rdx",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {pre_start}",
    "mov rsp, rbx",
    "mov rdx, r12",
    "jmp _start",
    ".size oxirun_entry, . - oxirun_entry",
    pre_start = sym pre_start,
);

/// The environment variable marking a re-executed image, here and in `selfexe`.
macro_rules! mark {
    () => {
        "_OXIRUN_SEALED_EXE"
    };
}
pub(crate) const MARK: &str = mark!();
/// Its prefix in an environment entry.
const MARK_EQ: &[u8] = concat!(mark!(), "=").as_bytes();
/// Most environment entries this path copies; with more, glibc starts and the slow path runs.
const MAX_ENV: usize = 1024;

/// # Safety
/// Called once, from `oxirun_entry`, with the process's initial stack pointer.
unsafe extern "C" fn pre_start(sp: *const usize) {
    // SAFETY: the kernel's initial stack: argc, then argc argv pointers and a NULL, then the
    // environment pointers and a NULL.
    unsafe {
        let argc = read_volatile(sp);
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        if needs_protection(argv, argc) && !marked(envp) {
            reexec_protected(argv, envp);
        }
    }
}

/// Whether an argument is `create`, `run` or `exec`. A flag value spelled like one (or an
/// id) only costs a re-exec that was not needed; no real subcommand can be missed.
///
/// # Safety
/// `argv` holds `argc` valid NUL-terminated strings.
unsafe fn needs_protection(argv: *const *const u8, argc: usize) -> bool {
    let mut i = 1;
    while i < argc {
        // SAFETY: i < argc.
        let a = unsafe { read_volatile(argv.add(i)) };
        // SAFETY: a is NUL-terminated.
        if unsafe {
            starts_with(a, b"create\0") || starts_with(a, b"run\0") || starts_with(a, b"exec\0")
        } {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether the environment already carries the re-exec mark.
///
/// # Safety
/// `envp` is a NULL-terminated array of NUL-terminated strings.
unsafe fn marked(envp: *const *const u8) -> bool {
    let mut i = 0;
    loop {
        // SAFETY: the array is NULL-terminated and we stop at the NULL.
        let e = unsafe { read_volatile(envp.add(i)) };
        if e.is_null() {
            return false;
        }
        // SAFETY: e is NUL-terminated; starts_with stops at the first difference.
        if unsafe { starts_with(e, MARK_EQ) } {
            return true;
        }
        i += 1;
    }
}

/// `s` (NUL-terminated) starts with `prefix`; a `prefix` ending in NUL asks for equality.
///
/// # Safety
/// `s` is NUL-terminated.
unsafe fn starts_with(s: *const u8, prefix: &[u8]) -> bool {
    let mut i = 0;
    while i < prefix.len() {
        // SAFETY: we never read past s's NUL: a mismatch there ends the loop, and a match
        // there is prefix's own final NUL.
        let c = unsafe { read_volatile(s.add(i)) };
        // SAFETY: i < prefix.len().
        if c != unsafe { read_volatile(prefix.as_ptr().add(i)) } {
            return false;
        }
        i += 1;
    }
    true
}

/// Re-executes from a detached read-only bind mount of /proc/self/exe, unless already
/// protected or anything fails (then it returns and the normal start-up takes over).
///
/// # Safety
/// `argv` and `envp` are the process's initial, NULL-terminated arrays.
unsafe fn reexec_protected(argv: *const *const u8, envp: *const *const u8) {
    const SELF_EXE: &[u8] = b"/proc/self/exe\0";
    // SAFETY: raw syscalls on a literal path and on fds this function owns.
    unsafe {
        if syscall(libc::SYS_geteuid, 0, 0, 0, 0, 0) != 0 || already_protected() {
            return;
        }
        let flags = libc::O_CLOEXEC as usize | 1; // OPEN_TREE_CLOEXEC | OPEN_TREE_CLONE
        let fd = syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD as usize,
            SELF_EXE.as_ptr() as usize,
            flags,
            0,
            0,
        );
        if fd < 0 {
            return;
        }
        // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }:
        // MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV.
        let attr: [u64; 4] = [0x1 | 0x2 | 0x4, 0, 0, 0];
        let rc = syscall(
            libc::SYS_mount_setattr,
            fd as usize,
            c"".as_ptr() as usize,
            libc::AT_EMPTY_PATH as usize,
            attr.as_ptr() as usize,
            core::mem::size_of_val(&attr),
        );
        if rc == 0 {
            exec_marked(fd as usize, argv, envp);
        }
        syscall(libc::SYS_close, fd as usize, 0, 0, 0, 0);
    }
}

/// Whether /proc/self/exe is already unwritable: on a read-only mount, or a sealed memfd.
///
/// # Safety
/// Raw syscalls only.
unsafe fn already_protected() -> bool {
    const SELF_EXE: &[u8] = b"/proc/self/exe\0";
    // SAFETY: a literal path; the fd is closed before returning.
    unsafe {
        let fd = syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            SELF_EXE.as_ptr() as usize,
            (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
            0,
        );
        if fd < 0 {
            // Let the full logic look at it.
            return true;
        }
        // The kernel's x86_64 `struct statfs`: 15 longs, `f_flags` the 11th (after f_type,
        // f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen, f_frsize).
        let mut st = core::mem::MaybeUninit::<[u64; 15]>::uninit();
        let ro = syscall(
            libc::SYS_fstatfs,
            fd as usize,
            st.as_mut_ptr() as usize,
            0,
            0,
            0,
        ) == 0
            && st.assume_init_ref()[10] & libc::ST_RDONLY == libc::ST_RDONLY;
        // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
        let seals = syscall(
            libc::SYS_fcntl,
            fd as usize,
            libc::F_GET_SEALS as usize,
            0,
            0,
            0,
        );
        syscall(libc::SYS_close, fd as usize, 0, 0, 0, 0);
        ro || (seals >= 0 && seals & 0xf == 0xf)
    }
}

/// `execveat(fd, "", argv, envp + mark, AT_EMPTY_PATH)`; returns only on failure.
///
/// # Safety
/// `fd` is an executable fd; `argv`/`envp` are the initial NULL-terminated arrays.
unsafe fn exec_marked(fd: usize, argv: *const *const u8, envp: *const *const u8) {
    const MARK_SET: &[u8] = concat!(mark!(), "=1\0").as_bytes();
    // Left uninitialised (zeroing it would be a `memset` call) and written through a raw
    // pointer (indexing would bring in the panic machinery's bounds checks).
    let mut env = core::mem::MaybeUninit::<[*const u8; MAX_ENV + 2]>::uninit();
    let out = env.as_mut_ptr() as *mut *const u8;
    let mut n = 0;
    // SAFETY: envp is NULL-terminated and we stop at the NULL; at most MAX_ENV entries plus
    // the mark and the NULL are written into MAX_ENV + 2 slots.
    unsafe {
        loop {
            let e = read_volatile(envp.add(n));
            if e.is_null() {
                break;
            }
            if n == MAX_ENV {
                return;
            }
            out.add(n).write(e);
            n += 1;
        }
        out.add(n).write(MARK_SET.as_ptr());
        out.add(n + 1).write(core::ptr::null());
    }
    // SAFETY: all arrays are NULL-terminated and outlive the call.
    unsafe {
        syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr() as usize,
            argv as usize,
            out as usize,
            libc::AT_EMPTY_PATH as usize,
        );
    }
}

/// A raw five-argument syscall; returns the kernel's result (negative errno on failure).
///
/// # Safety
/// The caller passes a syscall and arguments that are valid for it.
#[inline(always)]
unsafe fn syscall(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 syscall ABI: rax = nr, args in rdi, rsi, rdx, r10, r8; rcx and r11
    // are clobbered by the instruction.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}
