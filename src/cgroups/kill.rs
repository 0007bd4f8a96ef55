//! Signalling every process of a container's cgroup.
//!
//! Pure v2 with SIGKILL: `cgroup.kill` (kernel 5.14+), atomic and race-free. Otherwise, runc's
//! way: freeze so no member can fork or exit (a frozen pid cannot be reused), signal each member
//! through a pidfd, then thaw (always for SIGKILL so the kill lands; otherwise only if this call
//! did the freezing, so a paused container stays paused).

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::{dirs, files, freezer};
use crate::sys::process::{pidfd_open, pidfd_send_signal};

pub fn kill_all(cg: &[(String, PathBuf)], sig: i32) -> Result<()> {
    let unified_only = !cg.is_empty() && cg.iter().all(|(n, _)| n.is_empty());
    if unified_only && sig == libc::SIGKILL {
        let dir = &cg[0].1;
        if dir.join("cgroup.kill").exists() {
            return files::write(dir, "cgroup.kill", "1");
        }
    }
    if sig == 0 {
        // Nothing is delivered: no need to stop the members from forking or exiting.
        return signal_members(cg, 0);
    }
    let was_frozen = freezer::is_frozen(cg).unwrap_or(false);
    // Best effort, like runc: without a freezer the signals still go out.
    let froze = !was_frozen && freezer::freeze(cg).is_ok();
    let result = signal_members(cg, sig);
    if froze || (was_frozen && sig == libc::SIGKILL) {
        let thawed = freezer::thaw(cg);
        if result.is_ok() {
            thawed?;
        }
    }
    result
}

fn signal_members(cg: &[(String, PathBuf)], sig: i32) -> Result<()> {
    let mut first_err = None;
    for pid in dirs::pids(cg)? {
        let sent = pidfd_open(pid).and_then(|fd| pidfd_send_signal(fd.as_raw_fd(), sig));
        match sent {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => {
                first_err
                    .get_or_insert(anyhow!("signal {sig} to pid {pid}: {}", files::errstr(&e)));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
