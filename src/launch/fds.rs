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
