//! `exec`: a new process in a running container. The parent joins the container's pid
//! namespace for its children (`setns(pidfd, CLONE_NEWPID)`), so the child it forks is born
//! there; the child joins every other namespace of the init at once through the verified
//! pidfd (`setns(pidfd, flags)`), is placed in the container's cgroup (born there on pure v2;
//! forking once more only if the parent could not join the pid namespace), then sets up its
//! process exactly like the init (user, caps, rlimits, cwd, fds) and execs.
//!
//! Protocol on the sync socketpair: parent `Go` (cgroup placed) -> child [`Pid`] -> `Ready`
//! (about to execve) -> EOF (execve succeeded: the socket was close-on-exec) or `Error`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::fds;
use super::sync::{self, Msg};
use crate::state::State;
use crate::sys::process::{clone_fork, Forked};
use crate::{namespaces, sys};

pub struct ExecConfig<'a> {
    pub state: &'a State,
    pub process: &'a Process,
    /// fds 3 .. 3+pass_fds are handed to the process.
    pub pass_fds: u32,
    /// The client's console socket for a detached `exec -t` (otherwise the master comes back
    /// to us).
    pub console_socket: Option<&'a OwnedFd>,
    /// The container is frozen (`exec --ignore-paused`): the process joins the cgroup only
    /// after execve, or it would freeze before it could report back.
    pub paused: bool,
    /// The container's seccomp filter (exec'd processes get it too).
    pub seccomp: Option<&'a oxirun_seccomp::Program>,
}

/// Start the process; returns its host pid once it has exec'd, and the pty master when the
/// process has a terminal and no console socket.
pub fn spawn(cfg: &ExecConfig) -> Result<(i32, Option<OwnedFd>)> {
    let init = cfg.state.pid;
    let pidfd = sys::process::pidfd_open(init).map_err(|_| anyhow!("container not running"))?;
    // The pidfd pins the init: if it is still ours now, setns through it joins our container.
    if !crate::container::init_alive(cfg.state) {
        bail!("container not running");
    }
    let flags = join_flags(cfg.state);
    crate::debug!("exec: joining the namespaces of init {init} ({flags:?})");
    let (parent_end, child_end) = sync::pair()?;
    crate::process::supported();
    // setns(pid) only decides where our *children* are born, so joining it here puts the one
    // child we fork straight into the container's pid namespace: no second fork in the child.
    // We fork nothing else afterwards. If it fails, the child joins and forks as before.
    let born_inside = flags.contains(CloneFlags::CLONE_NEWPID)
        && nix::sched::setns(pidfd.as_fd(), CloneFlags::CLONE_NEWPID).is_ok();
    // Born in the container's cgroup where the kernel can do it (pure v2), unless it must
    // join later: a frozen cgroup would freeze it before it reports back, and an exec CPU
    // affinity has an `initial` mask for the time before it joins.
    let (forked, placed) = if cfg.paused || cfg.process.exec_cpu_affinity().is_some() {
        (clone_fork(0).context("fork the exec process")?, false)
    } else {
        super::clone_in_cgroup(&cfg.state.cgroup, 0, "exec process")?
    };
    match forked {
        Forked::Child => {
            drop(parent_end);
            let flags = if born_inside {
                flags - CloneFlags::CLONE_NEWPID
            } else {
                flags
            };
            child(cfg, &pidfd, flags, child_end)
        }
        Forked::Parent(pid) => {
            drop(child_end);
            let mut exec_pid = pid;
            let mut console = None;
            let result = drive(cfg, pid, placed, &mut exec_pid, &mut console, &parent_end);
            if result.is_err() {
                for p in [exec_pid, pid] {
                    let _ = nix::sys::signal::kill(Pid::from_raw(p), nix::sys::signal::SIGKILL);
                    let _ = waitpid(Pid::from_raw(p), None);
                }
            }
            result.map(|pid| (pid, console))
        }
    }
}

/// The namespaces of the container (created or joined by path alike).
fn join_flags(st: &State) -> CloneFlags {
    st.config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .fold(CloneFlags::empty(), |acc, ns| {
            acc | namespaces::flag(ns.typ())
        })
}

fn drive(
    cfg: &ExecConfig,
    child: i32,
    placed: bool,
    exec_pid: &mut i32,
    console: &mut Option<OwnedFd>,
    sync_fd: &OwnedFd,
) -> Result<i32> {
    let affinity = cfg.process.exec_cpu_affinity().as_ref();
    if let Some(a) = affinity {
        // runtime-spec: `initial` while joining, `final` once in the cgroup.
        crate::attrs::affinity::apply_initial(a, child)?;
    }
    if !cfg.paused && !placed {
        cfg.state.cgroup.add_pid(child)?;
    }
    if let Some(a) = affinity {
        crate::attrs::affinity::apply_final(a, child)?;
    }
    sync::send_msg(sync_fd, &Msg::Go)?;
    let mut ready = false;
    loop {
        let mut passed = None;
        match sync::recv_msg_fd(sync_fd)?.map(|(m, fd)| {
            passed = fd;
            m
        }) {
            Some(Msg::Console) => *console = passed,
            Some(Msg::Seccomp) => {
                let (Some(program), Some(fd)) = (cfg.seccomp, passed) else {
                    bail!("sync: seccomp listener message without a filter or fd");
                };
                let state = crate::container::state_json(&crate::container::oci_state(
                    cfg.state,
                    crate::container::Status::Running,
                ));
                super::send_listener(program, &fd, *exec_pid, &state)?;
            }
            Some(Msg::Pid(p)) => {
                *exec_pid = p;
                let _ = waitpid(Pid::from_raw(child), None);
            }
            Some(Msg::Ready) => ready = true,
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(_) => bail!("sync: unexpected message from the exec process"),
            // EOF after Ready: execve succeeded and closed the socket.
            None if ready => {
                if cfg.paused {
                    cfg.state.cgroup.add_pid(*exec_pid)?;
                }
                crate::debug!("exec: process {exec_pid} started");
                return Ok(*exec_pid);
            }
            None => bail!("exec process exited during setup"),
        }
    }
}

fn child(cfg: &ExecConfig, pidfd: &OwnedFd, flags: CloneFlags, sync_fd: OwnedFd) -> ! {
    crate::logging::entering_container();
    super::init::reset_signals();
    let err = match setup(cfg, pidfd, flags, &sync_fd) {
        Ok(fin) => fin.exec(),
        Err(e) => format!("{e:#}"),
    };
    let _ = sync::send_msg(&sync_fd, &Msg::Error(err));
    sys::process::exit_now(1)
}

fn setup<'a>(
    cfg: &ExecConfig<'a>,
    pidfd: &OwnedFd,
    flags: CloneFlags,
    sync_fd: &OwnedFd,
) -> Result<super::Final<'a>> {
    // Non-dumpable while we hold host fds and creds: the container cannot ptrace or open
    // our /proc files. execve resets it.
    sys::process::set_dumpable(false).context("PR_SET_DUMPABLE")?;
    let mut ours = vec![sync_fd.as_raw_fd(), pidfd.as_raw_fd()];
    ours.extend(crate::logging::held_fd());
    ours.extend(cfg.console_socket.map(|s| s.as_raw_fd()));
    fds::close_stray(cfg.pass_fds, &ours)?;
    match sync::recv_msg(sync_fd)? {
        Some(Msg::Go) => {}
        _ => sys::process::exit_now(1),
    }
    nix::sched::setns(pidfd.as_fd(), flags)
        .map_err(|e| anyhow!("join the container's namespaces: {e}"))?;
    if flags.contains(CloneFlags::CLONE_NEWPID) {
        // setns(pid) applies to children: fork once more into the container's pid namespace.
        match clone_fork(0).context("fork into the pid namespace")? {
            Forked::Child => {}
            Forked::Parent(pid) => {
                let _ = sync::send_msg(sync_fd, &Msg::Pid(pid));
                sys::process::exit_now(0);
            }
        }
    }
    let p = cfg.process;
    if p.terminal() == Some(true) {
        let size = crate::tty::console_size(p);
        super::init::terminal(size, cfg.console_socket, sync_fd, false)?;
    }
    crate::attrs::apply_process(p)?;
    if crate::attrs::lsm::wanted(p) {
        let proc = crate::procfs::open()?;
        crate::attrs::lsm::apply_labels(Some(&proc), p)?;
    }
    let fin = super::finish_process(p, cfg.seccomp, sync_fd)?;
    fds::finish(cfg.pass_fds)?;
    crate::logging::close_held();
    sync::send_msg(sync_fd, &Msg::Ready)?;
    Ok(fin)
}
