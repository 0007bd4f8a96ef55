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
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .context("read /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd >= keep_below && !ours.contains(&fd) {
            // The read_dir fd itself is already closed; EBADF for it is fine.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// Right before execve: every fd above the passed ones is close-on-exec, passed ones are not.
pub fn finish(pass_fds: u32) -> Result<()> {
    sys::process::cloexec_from(3 + pass_fds).context("close_range")?;
    for fd in 3..3 + pass_fds as i32 {
        fcntl(
            sys::process::borrow_fd(fd),
            FcntlArg::F_SETFD(FdFlag::empty()),
        )
        .map_err(|e| anyhow!("preserved fd {fd}: {e}"))?;
    }
    Ok(())
}
