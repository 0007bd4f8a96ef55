//! Running the runtime with `openat2` forced to `ENOSYS`, so the per-component fallback walk of
//! `src/rootfs/resolve.rs` is what resolves every rootfs path (security case H2: "rerun the
//! suite under a seccomp wrapper that makes openat2 return ENOSYS").
//!
//! The filter is installed in a `pre_exec` hook of the runtime command: classic BPF, "syscall
//! 437 (openat2) → `SECCOMP_RET_ERRNO | ENOSYS`, everything else allowed". The test process is
//! root, so no `no_new_privs` is needed; the filter is inherited by the runtime and everything it
//! starts (the new mount API — `open_tree`, `move_mount`, `mount_setattr`, `fsopen` — keeps
//! working). [`Mode`] selects normal vs. forced-fallback; [`create`], [`run`] and [`inside`]
//! mirror the `Container` methods of the same name; [`both_modes!`](crate::both_modes) turns
//! one test body into two tests (`openat2::<name>` and `no_openat2::<name>`).

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::util::{run_cmd, wait_child, OutFiles};
use crate::{Container, Out};

/// openat2(2) on every 64-bit architecture with the generic syscall table and on x86_64.
pub const SYS_OPENAT2: u32 = 437;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The runtime as is.
    Openat2,
    /// openat2 returns ENOSYS: the fallback walk is proven.
    NoOpenat2,
}

const AUDIT_ARCH: u32 = if cfg!(target_arch = "x86_64") {
    0xc000_003e
} else if cfg!(target_arch = "aarch64") {
    0xc000_00b7
} else {
    0
};

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The filter program: `arch == native && nr == 437 → ERRNO(ENOSYS)`, else `ALLOW`.
fn program() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH, 0, 3),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(JEQ_K, SYS_OPENAT2, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
    ]
}

impl Mode {
    /// Installs the filter (for [`Mode::NoOpenat2`]) in the child before it execs.
    pub fn apply(self, cmd: &mut Command) {
        if self == Mode::Openat2 {
            return;
        }
        assert_ne!(AUDIT_ARCH, 0, "no seccomp arch constant for this target");
        // Built here (allocation), only referenced in the child.
        let filter: &'static [libc::sock_filter] = Box::leak(program().into_boxed_slice());
        // SAFETY: prctl with a pointer to a live, immutable BPF program; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let prog = libc::sock_fprog {
                    len: filter.len() as u16,
                    filter: filter.as_ptr() as *mut libc::sock_filter,
                };
                let rc = libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &prog as *const libc::sock_fprog as libc::c_ulong,
                    0,
                    0,
                );
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// `create` like [`Container::create`], with the runtime under `mode`.
pub fn create(c: &mut Container, mode: Mode) -> Out {
    create_with(c, mode, &[])
}

/// `create <flags>` (e.g. `--console-socket S`) under `mode`.
pub fn create_with(c: &mut Container, mode: Mode, flags: &[&str]) -> Out {
    c.write_config();
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().expect("utf-8").to_string(),
        c.id.clone(),
    );
    let files = OutFiles::new(&c.dir.path, "create");
    let mut args = vec!["create"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--bundle", &b, "--pid-file", &p, &id]);
    let mut cmd = c.command(&args);
    files.attach(&mut cmd);
    mode.apply(&mut cmd);
    let mut child = cmd.spawn().expect("spawn oxirun create");
    let code = wait_child(&mut child, Duration::from_secs(30), "create");
    let out = files.read(code);
    if out.success() {
        c.pid = Some(c.read_pid_file());
    }
    out
}

/// Foreground `run [flags]` like [`Container::run`], with the runtime under `mode`.
pub fn run(c: &mut Container, mode: Mode, flags: &[&str]) -> Out {
    c.write_config();
    let b = c.bundle_str();
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--bundle", &b, &c.id]);
    let mut cmd = c.command(&args);
    mode.apply(&mut cmd);
    run_cmd(cmd, &c.dir.path, "run")
}

/// Any runtime command (`exec`, `start`, ...) under `mode`.
pub fn rt(c: &Container, mode: Mode, args: &[&str]) -> Out {
    let mut cmd = c.command(args);
    mode.apply(&mut cmd);
    run_cmd(cmd, &c.dir.path, "rt")
}

/// `sh -c script` in the foreground under `mode`; asserts exit 0, returns stdout.
#[track_caller]
pub fn inside(c: &mut Container, mode: Mode, script: &str) -> String {
    c.sh(script);
    let out = run(c, mode, &[]);
    out.ok(&format!("[{mode:?}] run sh -c {script:?}"));
    out.stdout
}

/// Defines `mod openat2 { #[test] fn $name() }` and `mod no_openat2 { ... }` calling
/// `$body(Mode)`. Use once per test file (one call listing every test).
#[macro_export]
macro_rules! both_modes {
    ($($name:ident => $body:path),* $(,)?) => {
        mod openat2 {
            $(#[test] fn $name() { $body($crate::noopenat2::Mode::Openat2) })*
        }
        mod no_openat2 {
            $(#[test] fn $name() { $body($crate::noopenat2::Mode::NoOpenat2) })*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrapper really makes openat2 fail with ENOSYS (and only openat2).
    #[test]
    fn filter_forces_enosys() {
        let mut cmd = Command::new("/bin/sh");
        // busybox/dash have no openat2 caller: use the test binary's own check instead.
        cmd.arg("-c").arg("exit 0");
        Mode::NoOpenat2.apply(&mut cmd);
        assert!(cmd.status().unwrap().success(), "filtered sh runs");
        // In-process check in a forked child.
        // SAFETY: fork in a test; the child only makes raw syscalls and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let prog_v = program();
            let prog = libc::sock_fprog {
                len: prog_v.len() as u16,
                filter: prog_v.as_ptr() as *mut libc::sock_filter,
            };
            unsafe {
                if libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &prog as *const _ as libc::c_ulong,
                    0,
                    0,
                ) != 0
                {
                    libc::_exit(2);
                }
                let how = [0u64; 3];
                let r = libc::syscall(
                    SYS_OPENAT2 as libc::c_long,
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    how.as_ptr(),
                    24usize,
                );
                let e = *libc::__errno_location();
                let ok = r == -1 && e == libc::ENOSYS;
                let fd = libc::open(c"/".as_ptr(), libc::O_PATH);
                libc::_exit(if ok && fd >= 0 { 0 } else { 3 });
            }
        }
        let mut st = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "st={st}");
    }
}
