//! The init side: runs in the cloned child. Joins and creates the remaining namespaces, sets
//! up the rootfs and the process, reports `Ready`, then blocks at the exec gate until `start`.
//!
//! Order matters and follows runc: fds first (nothing of the host's leaks past this point),
//! namespaces, rootfs, keyring, rlimits, bounding set (needs root), user switch, capabilities,
//! cwd (verified), executable lookup, no_new_privs, ready, gate, startContainer hooks, and
//! only then the seccomp filter and execve: a profile never sees a system call of ours but
//! execve (runc's init makes a few more after its filter; see `launch::finish_process`).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::fds;
use super::sync::{self, Msg};
use super::{Config, NsPlan};
use crate::container::Status;
use crate::sys::process::{clone_fork, Forked};
use crate::{hooks, namespaces, rootfs, sys};

/// Never returns: either `execve`s the container process or exits. `runtime` is the pid of
/// the runtime process that cloned us.
pub fn run(cfg: &Config, plan: &NsPlan, sync_fd: OwnedFd, runtime: nix::unistd::Pid) -> ! {
    crate::logging::entering_container();
    // Until we report ready, a runtime that dies (SIGKILL mid-create) takes us along at once,
    // as runc's init goes: nobody else would ever clean up a half-made container's init.
    // Cleared before `Ready`; the runtime may already be gone by the time this is set.
    let _ = sys::process::set_pdeathsig(libc::SIGKILL);
    // (Born in a new pid namespace, we see our parent as pid 0: then the sync channel's EOF
    // tells us instead.)
    let ppid = nix::unistd::getppid();
    if ppid != runtime && ppid.as_raw() != 0 {
        sys::process::exit_now(1);
    }
    reset_signals();
    let fin = match setup(cfg, plan, &sync_fd) {
        Ok(fin) => fin,
        Err(e) => {
            let _ = sync::send_msg(&sync_fd, &Msg::Error(format!("{e:#}")));
            sys::process::exit_now(1);
        }
    };
    match cfg.gate {
        super::Gate::Socket(gate) => {
            drop(sync_fd);
            gate_and_exec(gate, cfg, fin)
        }
        super::Gate::Sync => sync_and_exec(sync_fd, cfg, fin),
    }
}

/// `run` blocks signals before cloning us, and Rust ignores SIGPIPE: neither may reach the
/// container process.
pub fn reset_signals() {
    use nix::sys::signal::{SigSet, Signal};
    let _ = SigSet::empty().thread_set_mask();
    let _ = sys::process::default_signal(Signal::SIGPIPE);
}

/// Everything up to `Ready`; returns what execve needs.
fn setup<'a>(cfg: &Config<'a>, plan: &NsPlan, sync_fd: &OwnedFd) -> Result<super::Final<'a>> {
    let mut ours = vec![sync_fd.as_raw_fd()];
    if let super::Gate::Socket(gate) = cfg.gate {
        ours.push(gate.as_raw_fd());
    }
    ours.extend(cfg.console_socket.map(|s| s.as_raw_fd()));
    ours.extend(crate::rootfs::detached::inherited_fds());
    ours.extend(crate::logging::held_fd());
    fds::close_stray(cfg.pass_fds, &ours)?;
    // The parent's `Go` says our cgroup is set (and our id maps written). Moving a task into a
    // v1 cgroup waits for an RCU grace period (~10 ms), so we wait for it as late as we can
    // and set up meanwhile: at once only when the user namespace needs its maps, the extra
    // fork must inherit the cgroup, a fresh cgroup2 mount needs our cgroup namespace, or the
    // systemd driver makes our v1 directories (the container's /sys/fs/cgroup binds them)
    // only with its unit.
    let early_go = plan.new_user
        || plan.extra_fork
        || (plan.new_cgroup && cfg.cgroup.is_unified())
        || (cfg.place.is_some() && !cfg.cgroup.is_unified());
    if early_go {
        wait_go(sync_fd);
    }
    enter_namespaces(cfg.spec, plan, early_go, sync_fd)?;
    crate::debug!("init: namespaces entered");
    let new_net = |f: nix::sched::CloneFlags| f.contains(nix::sched::CloneFlags::CLONE_NEWNET);
    if new_net(plan.clone_flags) || new_net(plan.after_join) {
        sys::ns::loopback_up().map_err(|e| anyhow!("bring up lo in the network namespace: {e}"))?;
    }

    let spec = cfg.spec;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| anyhow!("hostname: {e}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::ns::set_domainname(d).map_err(|e| anyhow!("domainname: {e}"))?;
    }

    // A procfs of our own for the sysctl and label writes, made now: in its final pid
    // namespace, before the container's masked /proc would make a fresh one "too revealing".
    let wants_labels = spec
        .process()
        .as_ref()
        .is_some_and(crate::attrs::lsm::wanted);
    let private_proc = if crate::sysctl::wanted(spec) || wants_labels {
        Some(crate::procfs::open()?)
    } else {
        None
    };
    crate::sysctl::apply(spec, private_proc.as_ref())?;
    let prepared = rootfs::prepare(spec, cfg.rootfs, cfg.cgroup)?;
    if !early_go {
        wait_go(sync_fd);
        if plan.new_cgroup {
            unshare_cgroupns()?;
        }
    }
    if cfg.has_create_hooks() {
        // prestart and createRuntime run in the parent (runtime namespace) now.
        sync::send_msg(sync_fd, &Msg::Hooks)?;
        match sync::recv_msg(sync_fd)? {
            Some(Msg::Go) => {}
            _ => sys::process::exit_now(1),
        }
        // Hooks in the container namespace see the pid as the container sees it.
        let state = cfg.hook_state(nix::unistd::getpid().as_raw(), Status::Creating);
        hooks::run(spec, hooks::Kind::CreateContainer, &state)?;
    }
    let entered = rootfs::enter(prepared, cfg.no_pivot)?;
    if cfg.tty {
        // Before the masks: /dev/console is mounted from the pty fd (CVE-2025-52565).
        setup_terminal(spec, cfg.console_socket, sync_fd, true)?;
    } else {
        // A session of its own, as runc's init always has (a terminal's gets one there):
        // nothing of the container then belongs to a session outside its pid namespace,
        // which CRIU refuses to dump without --shell-job.
        nix::unistd::setsid().map_err(|e| anyhow!("setsid: {e}"))?;
    }
    rootfs::finalize(spec, entered)?;
    reopen_dev_null();
    crate::debug!("init: rootfs ready (pivot_root done, masks applied)");
    crate::attrs::apply(spec)?;

    let proc_spec = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("process: missing"))?;
    // Labels for execve (and SELinux's keycreate, before the keyring below).
    crate::attrs::lsm::apply_labels(private_proc.as_ref(), proc_spec)?;
    drop(private_proc);
    if !cfg.no_new_keyring {
        let name = std::ffi::CString::new(format!("_ses.{}", cfg.id))
            .map_err(|_| anyhow!("container id contains a NUL byte"))?;
        // A kernel without keyrings (or a seccomp'd host) is not a reason to fail, as in runc.
        if let Err(e) = sys::ns::join_session_keyring(&name) {
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(anyhow!("join session keyring: {e}"));
            }
        }
    }
    let mut fin = super::finish_process(proc_spec, cfg.seccomp, sync_fd)?;
    if cfg.listen_fds > 0 {
        for var in [
            format!("LISTEN_FDS={}", cfg.listen_fds),
            "LISTEN_PID=1".into(),
        ] {
            fin.exec
                .env
                .push(std::ffi::CString::new(var).context("LISTEN_FDS")?);
        }
    }
    fds::finish(cfg.pass_fds)?;
    crate::debug!("init: process ready, waiting for start");
    crate::logging::close_held();
    // From now on the container outlives `create`.
    let _ = sys::process::set_pdeathsig(0);
    sync::send_msg(sync_fd, &Msg::Ready)?;
    Ok(fin)
}

/// Allocate the pty in the container's devpts, hand the master to the client (or to us), and
/// make the peer our stdio; the init also gets it as /dev/console.
pub fn setup_terminal(
    spec_or_process: &Spec,
    console_socket: Option<&OwnedFd>,
    sync_fd: &OwnedFd,
    console: bool,
) -> Result<()> {
    let size = spec_or_process
        .process()
        .as_ref()
        .and_then(crate::tty::console_size);
    terminal(size, console_socket, sync_fd, console)
}

/// `setup_terminal` for a given console size.
pub fn terminal(
    size: Option<(u16, u16)>,
    console_socket: Option<&OwnedFd>,
    sync_fd: &OwnedFd,
    console: bool,
) -> Result<()> {
    let pty = crate::tty::open_pty(size)?;
    if console {
        crate::tty::mount_console(&pty.peer)?;
    }
    match console_socket {
        Some(sock) => crate::tty::send_master(sock, &pty.master)?,
        None => sync::send_msg_fd(sync_fd, &Msg::Console, &pty.master)?,
    }
    drop(pty.master);
    crate::tty::become_stdio(pty.peer)
}

/// Wait for the parent's `Go`; exit quietly if the parent is gone.
fn wait_go(sync_fd: &OwnedFd) {
    match sync::recv_msg(sync_fd) {
        Ok(Some(Msg::Go)) => {}
        // The parent died or gave up: nothing to report to.
        _ => sys::process::exit_now(1),
    }
}

/// A new cgroup namespace, rooted at the cgroup the parent placed us in.
fn unshare_cgroupns() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| anyhow!("unshare cgroup namespace: {e}"))
}

/// Join namespaces by path, create the late ones, and do the extra fork when needed; the
/// process that returns from here is the container's init.
fn enter_namespaces(spec: &Spec, plan: &NsPlan, in_cgroup: bool, sync_fd: &OwnedFd) -> Result<()> {
    for (typ, path) in &plan.join {
        let ns = oci_spec::runtime::LinuxNamespaceBuilder::default()
            .typ(*typ)
            .path(path.clone())
            .build()
            .map_err(|e| anyhow!("linux.namespaces: {e}"))?;
        let file = namespaces::open_checked(&ns, path)?;
        namespaces::join(&ns, &file)?;
    }
    if plan.new_user
        || plan
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User)
    {
        crate::userns::become_root()?;
    }
    if !plan.after_join.is_empty() {
        nix::sched::unshare(plan.after_join)
            .map_err(|e| anyhow!("unshare namespaces in the joined user namespace: {e}"))?;
    }
    if plan.new_cgroup && in_cgroup {
        unshare_cgroupns()?;
    }
    if plan.extra_fork {
        if !plan.late_flags.is_empty() {
            nix::sched::unshare(plan.late_flags)
                .map_err(|e| anyhow!("unshare pid/time namespaces: {e}"))?;
            crate::attrs::write_time_offsets(spec)?;
        }
        match clone_fork(0).context("fork the container init")? {
            Forked::Child => {}
            Forked::Parent(pid) => {
                let _ = sync::send_msg(sync_fd, &Msg::Pid(pid));
                sys::process::exit_now(0);
            }
        }
    }
    Ok(())
}

/// Block until `start` connects, then execve. An execve error goes back to `start`.
fn gate_and_exec(gate: &std::os::unix::net::UnixListener, cfg: &Config, fin: super::Final) -> ! {
    let mut conn = loop {
        match gate.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => sys::process::exit_now(1),
        }
    };
    let mut byte = [0u8; 1];
    if conn.read_exact(&mut byte).is_err() {
        sys::process::exit_now(1);
    }
    let err = start_and_exec(cfg, fin);
    let _ = write!(conn, "{err}");
    sys::process::exit_now(127)
}

/// `run`: block until its `Go` on the sync channel, then execve; an error goes back there.
fn sync_and_exec(sync_fd: OwnedFd, cfg: &Config, fin: super::Final) -> ! {
    if !matches!(sync::recv_msg(&sync_fd), Ok(Some(Msg::Go))) {
        sys::process::exit_now(1);
    }
    let err = start_and_exec(cfg, fin);
    let _ = sync::send_msg(&sync_fd, &Msg::Error(err));
    sys::process::exit_now(127)
}

/// The startContainer hooks, then the seccomp filter and execve; returns only with the error
/// text for `start`.
fn start_and_exec(cfg: &Config, fin: super::Final) -> String {
    let state = cfg.hook_state(nix::unistd::getpid().as_raw(), Status::Created);
    if let Err(e) = hooks::run(cfg.spec, hooks::Kind::StartContainer, &state) {
        return format!("{e:#}");
    }
    fin.exec()
}

/// Stdio that is the host's /dev/null (what conmon and containerd give a detached init) is
/// reopened from the container's own /dev/null, as runc does: a file of a mount outside the
/// container would otherwise stay open in it, and CRIU cannot dump that ("Can't lookup
/// mount"). Nothing happens without a /dev/null in the container.
fn reopen_dev_null() {
    use std::os::fd::AsRawFd;
    // The usual stdio (pipes, files, a pty) costs three fstats and no open.
    let is_null = |st: &libc::stat| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
    };
    let host_null: Vec<(i32, libc::dev_t)> = (0..3)
        .filter_map(|fd| {
            let st = nix::sys::stat::fstat(sys::process::borrow_fd(fd)).ok()?;
            is_null(&st).then_some((fd, st.st_dev))
        })
        .collect();
    if host_null.is_empty() {
        return;
    }
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    let Ok(ours) = nix::sys::stat::fstat(&null) else {
        return;
    };
    for (fd, dev) in host_null {
        // Another filesystem's node: the host's (the container's own is on its /dev).
        if is_null(&ours) && dev != ours.st_dev {
            let _ = sys::process::dup_onto(null.as_raw_fd(), fd);
        }
    }
}
