//! Waiting for, reaping and (only our own) killing of processes. This process is a child
//! subreaper: runtime commands are its children, and container processes whose runtime exited
//! are reparented to it. Every signal goes through a pidfd of such a process, after checking
//! that its parent is this process; nothing else is ever signalled.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::INIT_EXIT_TIMEOUT_MS;

/// `wait4(pid, flags)`; `None` when there is nothing to reap (ECHILD, or WNOHANG and running).
pub fn wait4(pid: libc::pid_t, flags: libc::c_int) -> Result<Option<(i32, libc::rusage)>> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and ru are valid for writes for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r > 0 {
            return Ok(Some((status, ru)));
        }
        if r == 0 {
            return Ok(None);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(err).context(format!("wait4({pid})")),
        }
    }
}

/// Waits for the container init (our child since we are a subreaper), checks that `/bin/true`
/// exited 0, returns its CPU time (0 when it is not our child and its rusage cannot be read).
pub fn wait_init(pid: libc::pid_t) -> Result<u64> {
    match wait_bounded(pid, INIT_EXIT_TIMEOUT_MS).context("container init after start")? {
        None => Ok(0),
        Some((status, ru)) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {
            Ok(cpu_us(&ru))
        }
        Some((status, _)) => bail!(
            "container init {pid} (/bin/true) ended with {}",
            describe_status(status)
        ),
    }
}

/// `wait4(pid)` bounded by a pidfd poll: a process we started that is still running after
/// `timeout_ms` is killed (through its pidfd), reaped, and reported as an error.
pub fn wait_bounded(pid: libc::pid_t, timeout_ms: i32) -> Result<Option<(i32, libc::rusage)>> {
    let Some(fd) = pidfd_open(pid) else {
        // Already gone and reaped by someone else.
        return wait4(pid, libc::WNOHANG);
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let n = poll(std::slice::from_mut(&mut pfd), timeout_ms);
    if n == 0 {
        // Our own child (or reparented container process), still running: kill it.
        pidfd_kill(fd);
    }
    close(fd);
    let reaped = wait4(pid, 0)?;
    if n == 0 {
        bail!("pid {pid} still running after {timeout_ms} ms: killed");
    }
    Ok(reaped)
}

/// One process of a batch, as reaped by [`wait_all`].
pub struct Reaped {
    pub pid: libc::pid_t,
    /// Since the start of [`wait_all`]'s caller's clock (`t0`).
    pub done: Duration,
    /// `None`: killed after the deadline, or lost.
    pub exit: Option<(i32, libc::rusage)>,
}

/// Waits for every pid of `pids` (children this bench spawned) with `wait4` as each becomes
/// ready (pidfd poll), recording when each ended relative to `t0`; any still running after
/// `timeout_ms` is killed through its pidfd and reaped with `exit: None`.
pub fn wait_all(pids: &[libc::pid_t], t0: Instant, timeout_ms: u64) -> Vec<Reaped> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let mut out = Vec::with_capacity(pids.len());
    let mut pending: Vec<(libc::pid_t, libc::c_int)> = Vec::new();
    for &pid in pids {
        match pidfd_open(pid) {
            Some(fd) => pending.push((pid, fd)),
            None => out.push(Reaped {
                pid,
                done: t0.elapsed(),
                exit: wait4(pid, libc::WNOHANG).ok().flatten(),
            }),
        }
    }
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfds: Vec<libc::pollfd> = pending
            .iter()
            .map(|&(_, fd)| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let n = poll(&mut pfds, left.as_millis().min(i32::MAX as u128) as i32);
        let done = t0.elapsed();
        if n == 0 {
            for &(pid, fd) in &pending {
                pidfd_kill(fd);
                close(fd);
                let _ = wait4(pid, 0);
                out.push(Reaped {
                    pid,
                    done,
                    exit: None,
                });
            }
            break;
        }
        let mut still = Vec::with_capacity(pending.len());
        for (&(pid, fd), pfd) in pending.iter().zip(&pfds) {
            if pfd.revents == 0 {
                still.push((pid, fd));
                continue;
            }
            close(fd);
            out.push(Reaped {
                pid,
                done,
                exit: wait4(pid, 0).ok().flatten(),
            });
        }
        pending = still;
    }
    out
}

/// `pidfd_open(pid)`, `None` when the process is gone.
fn pidfd_open(pid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: pidfd_open takes a pid and flags, returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    (fd >= 0).then_some(fd)
}

/// SIGKILL through a pidfd; callers hold pidfds only of processes this bench started (or of
/// its own children, checked by parent pid).
fn pidfd_kill(fd: libc::c_int) {
    // SAFETY: fd is a pidfd of a process this bench started.
    unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, 0, 0) };
}

fn close(fd: libc::c_int) {
    // SAFETY: fd is owned by the caller and closed once.
    unsafe { libc::close(fd) };
}

/// poll(2), retried on EINTR; returns the number of ready fds (0 on timeout, -1 on error).
fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> i32 {
    loop {
        // SAFETY: fds is a valid slice of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return n;
        }
    }
}

/// Kills (SIGKILL through a pidfd) and reaps every process whose parent is this bench, except
/// the pids in `keep` (live long-running containers): only processes the bench started, or
/// orphans of them reparented to this subreaper.
pub fn kill_our_children(keep: &[libc::pid_t]) {
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if pid <= 1 || keep.contains(&pid) {
            continue;
        }
        let Some(fd) = pidfd_open(pid) else {
            continue;
        };
        // Parent checked after the pidfd is held, so the pid cannot be reused in between.
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<libc::pid_t>().ok());
        if ppid == Some(me) {
            eprintln!("  teardown: killing leftover child {pid}");
            pidfd_kill(fd);
            let _ = wait4(pid, 0);
        }
        close(fd);
    }
}

/// Reaps every exited orphan reparented to this subreaper; returns their summed CPU time.
pub fn reap_strays() -> u64 {
    let mut cpu = 0;
    while let Ok(Some((_, ru))) = wait4(-1, libc::WNOHANG) {
        cpu += cpu_us(&ru);
    }
    cpu
}

pub fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

pub fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

pub fn cpu_us(ru: &libc::rusage) -> u64 {
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
