//! The parent side of process creation: clone the init, place it in its cgroup, drive the
//! sync protocol until the init is ready (or report its error and clean up).

use std::os::fd::OwnedFd;

use anyhow::{anyhow, bail, Result};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::sync::{self, Msg};
use super::{init, Config, NsPlan};
use crate::hooks::{self, Kind};
use crate::sys::process::Forked;

/// What `launch` hands back.
pub struct Launched {
    /// Host pid of the init.
    pub pid: i32,
    /// The pty master, for a foreground `run -t` (no console socket).
    pub console: Option<OwnedFd>,
    /// Our end of the sync channel, kept when the init waits for `Go` on it ([`Gate::Sync`]).
    pub sync: Option<OwnedFd>,
}

/// Start the container's init; returns once it is blocked at the exec gate.
pub fn launch(cfg: &Config) -> Result<Launched> {
    let plan = NsPlan::new(cfg.spec);
    let (parent_end, init_end) = sync::pair()?;
    let _detached = crate::rootfs::detached::prepare(cfg.spec)?;
    crate::process::supported();
    let runtime = nix::unistd::getpid();
    let (forked, placed) = match cfg.place {
        None => super::clone_in_cgroup(cfg.cgroup, plan.clone_flags.bits(), "container init")?,
        Some(_) => (
            crate::sys::process::clone_fork(plan.clone_flags.bits())
                .map_err(|e| anyhow!("clone the container init: {e}"))?,
            false,
        ),
    };
    match forked {
        Forked::Child => {
            drop(parent_end);
            init::run(cfg, &plan, init_end, runtime)
        }
        Forked::Parent(pid) => {
            drop(init_end);
            let mut init_pid = pid;
            let mut console = None;
            let result = drive(
                cfg,
                &plan,
                pid,
                placed,
                &mut init_pid,
                &mut console,
                &parent_end,
            );
            if result.is_err() {
                kill_and_reap(pid, init_pid);
            }
            let sync = matches!(cfg.gate, super::Gate::Sync).then_some(parent_end);
            result.map(|pid| Launched { pid, console, sync })
        }
    }
}

fn drive(
    cfg: &Config,
    plan: &NsPlan,
    child: i32,
    placed: bool,
    init_pid: &mut i32,
    console: &mut Option<OwnedFd>,
    sync_fd: &OwnedFd,
) -> Result<i32> {
    match cfg.place {
        Some(place) => place(child)?,
        None if !placed => cfg.cgroup.add_pid(child)?,
        None => {}
    }
    crate::debug!("create: init {child} cloned, in its cgroup");
    if plan.new_user {
        crate::userns::write_maps(child, cfg.spec)?;
        crate::debug!("create: uid/gid maps of init {child} written");
    }
    crate::attrs::move_net_devices(cfg.spec, child)?;
    // The init may already have failed (it sets up while we place it): its error, read
    // below, is the one to report, not our failed send.
    let _ = sync::send_msg(sync_fd, &Msg::Go);
    loop {
        wait_unfrozen(sync_fd, cfg.cgroup)?;
        let mut passed = None;
        match sync::recv_msg_fd(sync_fd)?.map(|(m, fd)| {
            passed = fd;
            m
        }) {
            Some(Msg::Console) => {
                crate::debug!("create: console (pty master) received from the init");
                *console = passed
            }
            Some(Msg::Seccomp) => {
                let (Some(program), Some(fd)) = (cfg.seccomp, passed) else {
                    bail!("sync: seccomp listener message without a filter or fd");
                };
                let state = cfg.hook_state(*init_pid, crate::container::Status::Creating);
                super::send_listener(program, &fd, *init_pid, &state)?;
            }
            Some(Msg::Pid(p)) => {
                *init_pid = p;
                // The intermediate process exits right after the extra fork.
                let _ = waitpid(Pid::from_raw(child), None);
            }
            Some(Msg::Ready) => break,
            Some(Msg::Hooks) => {
                crate::debug!("create: running the prestart and createRuntime hooks");
                let state = cfg.hook_state(*init_pid, crate::container::Status::Creating);
                hooks::run(cfg.spec, Kind::Prestart, &state)?;
                hooks::run(cfg.spec, Kind::CreateRuntime, &state)?;
                sync::send_msg(sync_fd, &Msg::Go)?;
            }
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(Msg::Go) => bail!("sync: unexpected message from the init"),
            None => bail!(
                "container init exited during setup ({})",
                describe_exit(*init_pid)
            ),
        }
    }
    crate::debug!("create: init {init_pid} ready");
    if let Some(adj) = cfg.spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        std::fs::write(format!("/proc/{init_pid}/oom_score_adj"), adj.to_string())
            .map_err(|e| anyhow!("process.oomScoreAdj: {adj}: {e}"))?;
    }
    Ok(*init_pid)
}

/// Wait until the init has something to say. The init may take its time (mounts, hooks), but
/// a cgroup someone else froze would stop it for good: that is checked every second, and is
/// an error (runc's wording) instead of a wait without end.
fn wait_unfrozen(sync_fd: &OwnedFd, cgroup: &crate::cgroups::Cgroup) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        let mut fds = [PollFd::new(sync_fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(0) => {
                if cgroup.frozen_by_anyone() {
                    bail!("container's cgroup unexpectedly frozen");
                }
            }
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => bail!("sync poll: {e}"),
        }
    }
}

fn describe_exit(pid: i32) -> String {
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        _ => "no status".into(),
    }
}

/// Kill the half-started init (and the intermediate process, if any) and reap what is ours.
fn kill_and_reap(child: i32, init_pid: i32) {
    for pid in [init_pid, child] {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    for pid in [child, init_pid] {
        let _ = waitpid(Pid::from_raw(pid), None);
    }
}
