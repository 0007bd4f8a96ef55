//! File-descriptor hygiene for processes entering a container (init and exec): no host fd
//! may be open while container paths are resolved, and none may survive execve, except
//! stdio and the fds passed on purpose (LISTEN_FDS + `--preserve-fds`: 3 .. 3+pass_fds).

use std::os::fd::RawFd;

use anyhow::{anyhow, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::sys;

/// Close every inherited fd that is not stdio, a passed fd or one of `ours`
/// (CVE-2024-21626: a leaked host directory fd would give the container a way out).
pub fn close_stray(pass_fds: u32, ours: &[RawFd]) -> Result<()> {
    let keep_below = 3 + pass_fds as i32;
    // close_range over the gaps between the fds we keep: a few syscalls, not a directory scan.
    let mut keep: Vec<i32> = ours
        .iter()
        .copied()
        .filter(|&fd| fd >= keep_below)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut next = keep_below;
    let mut ranged = true;
    for &fd in keep.iter().chain(std::iter::once(&i32::MAX)) {
        if fd > next {
            let last = if fd == i32::MAX {
                u32::MAX
            } else {
                (fd - 1) as u32
            };
            if sys::process::close_fds(next as u32, last).is_err() {
                ranged = false;
                break;
            }
        }
        next = fd.saturating_add(1);
    }
    if ranged {
        return Ok(());
    }
    for fd in open_fds()? {
        if fd >= keep_below && !ours.contains(&fd) {
            // The read_dir fd itself is already closed: EBADF for it is fine.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// The fds open now, from /proc/self/fd (the slow path, where close_range is refused).
fn open_fds() -> Result<Vec<i32>> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .context("read /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// Before execve: every fd above the passed ones is close-on-exec, passed ones are not.
/// `close_range` is only the fast way: where it is refused (an old kernel, or a seccomp
/// filter around the runtime itself that does not know it), each fd is marked instead.
pub fn finish(pass_fds: u32) -> Result<()> {
    if sys::process::cloexec_from(3 + pass_fds).is_err() {
        for fd in open_fds()?
            .into_iter()
            .filter(|&fd| fd >= 3 + pass_fds as i32)
        {
            // The read_dir fd itself is already closed: EBADF for it is fine.
            let _ = fcntl(
                sys::process::borrow_fd(fd),
                FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC),
            );
        }
    }
    for fd in 3..3 + pass_fds as i32 {
        fcntl(
            sys::process::borrow_fd(fd),
            FcntlArg::F_SETFD(FdFlag::empty()),
        )
        .map_err(|e| anyhow!("preserved fd {fd}: {e}"))?;
    }
    Ok(())
}
