//! `run` in the foreground: create + start, then wait for the init while forwarding every
//! signal we receive to it; the exit code is the container's (128+N when killed by signal N).

use anyhow::{Context, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::{self, CreateOpts};
use crate::sys;

/// Signals that report our own faults; never blocked.
const SYNCHRONOUS: [Signal; 5] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGTRAP,
];

pub fn run(opts: &CreateOpts, keep: bool) -> Result<i32> {
    // Orphans of the container (and the init after an extra fork) come to us to be reaped.
    sys::process::set_child_subreaper().context("PR_SET_CHILD_SUBREAPER")?;
    let mut set = SigSet::all();
    for s in SYNCHRONOUS {
        set.remove(s);
    }
    // Blocked before the clone, so no signal is lost; the init unblocks them before exec.
    set.thread_block().context("block signals")?;
    let pid = container::create(opts)?;
    if let Err(e) = container::start(&opts.root, &opts.id) {
        let _ = container::delete(&opts.root, &opts.id, true);
        return Err(e);
    }
    let code = wait_forwarding(&set, pid)?;
    if !keep {
        container::cleanup_after_run(&opts.root, &opts.id)?;
    }
    Ok(code)
}

fn wait_forwarding(set: &SigSet, init: i32) -> Result<i32> {
    // The init may already have exited before we wait: check first.
    if let Some(code) = reap(init)? {
        return Ok(code);
    }
    loop {
        let sig = set.wait().context("sigwait")?;
        if sig == Signal::SIGCHLD {
            if let Some(code) = reap(init)? {
                return Ok(code);
            }
        } else {
            // The init is our unreaped child, so its pid cannot have been reused.
            let _ = kill(Pid::from_raw(init), sig);
        }
    }
}

/// Reap every exited child; the init's status when it is among them.
fn reap(init: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
