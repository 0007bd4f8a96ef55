//! The init side: runs in the cloned child. Joins and creates the remaining namespaces, sets
//! up the rootfs and the process, reports `Ready`, then blocks at the exec gate until `start`.
//!
//! Order matters and follows runc: fds first (nothing of the host's leaks past this point),
//! namespaces, rootfs, keyring, rlimits, bounding set (needs root), user switch, capabilities,
//! cwd (verified), executable lookup, no_new_privs, ready, gate, execve.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::Spec;

use super::sync::{self, Msg};
use super::{Config, NsPlan};
use crate::container::Status;
use crate::process::{self, Exec};
use crate::sys::process::{clone_fork, Forked};
use crate::{hooks, namespaces, rootfs, sys};

/// Never returns: either `execve`s the container process or exits.
pub fn run(cfg: &Config, plan: &NsPlan, sync_fd: OwnedFd) -> ! {
    reset_signals();
    let (exec, host_pid) = match setup(cfg, plan, &sync_fd) {
        Ok(ready) => ready,
        Err(e) => {
            let _ = sync::send_msg(&sync_fd, &Msg::Error(format!("{e:#}")));
            sys::process::exit_now(1);
        }
    };
    drop(sync_fd);
    gate_and_exec(cfg, exec, host_pid)
}

/// `run` blocks signals before cloning us, and Rust ignores SIGPIPE: neither may reach the
/// container process.
fn reset_signals() {
    use nix::sys::signal::{SigSet, Signal};
    let _ = SigSet::empty().thread_set_mask();
    let _ = sys::process::default_signal(Signal::SIGPIPE);
}

/// Everything up to `Ready`; returns what execve needs and our host pid.
fn setup(cfg: &Config, plan: &NsPlan, sync_fd: &OwnedFd) -> Result<(Exec, i32)> {
    close_stray_fds(cfg, sync_fd)?;
    match sync::recv_msg(sync_fd)? {
        Some(Msg::Go) => {}
        // The parent died or gave up: nothing to report to.
        _ => sys::process::exit_now(1),
    }
    enter_namespaces(cfg.spec, plan, sync_fd)?;
    // The host's procfs is still mounted at /proc: /proc/self names us in the host pid ns.
    let host_pid: i32 = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or(0);

    let spec = cfg.spec;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| anyhow!("hostname: {e}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::ns::set_domainname(d).map_err(|e| anyhow!("domainname: {e}"))?;
    }

    crate::sysctl::apply(spec)?;
    let prepared = rootfs::prepare(spec, cfg.rootfs, cfg.cgroup)?;
    if cfg.has_create_hooks() {
        // prestart and createRuntime run in the parent (runtime namespace) now.
        sync::send_msg(sync_fd, &Msg::Hooks)?;
        match sync::recv_msg(sync_fd)? {
            Some(Msg::Go) => {}
            _ => sys::process::exit_now(1),
        }
        let state = cfg.hook_state(host_pid, Status::Creating);
        hooks::run(spec, hooks::Kind::CreateContainer, &state)?;
    }
    rootfs::enter(prepared, cfg.no_pivot)?;
    rootfs::finalize(spec)?;
    crate::attrs::apply(spec)?;

    let proc_spec = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("process: missing"))?;
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
    process::set_rlimits(proc_spec)?;
    let caps = proc_spec.capabilities().as_ref();
    process::drop_bounding(caps)?;
    process::set_user(proc_spec)?;
    process::apply_caps(caps)?;
    process::enter_cwd(proc_spec.cwd())?;
    let mut exec = process::prepare_exec(proc_spec)?;
    if cfg.listen_fds > 0 {
        for var in [
            format!("LISTEN_FDS={}", cfg.listen_fds),
            "LISTEN_PID=1".into(),
        ] {
            exec.env
                .push(std::ffi::CString::new(var).context("LISTEN_FDS")?);
        }
    }
    if proc_spec.no_new_privileges() == Some(true) {
        sys::process::set_no_new_privs().context("no_new_privs")?;
    }
    finish_fds(cfg)?;
    sync::send_msg(sync_fd, &Msg::Ready)?;
    Ok((exec, host_pid))
}

/// Join namespaces by path, create the late ones, and do the extra fork when needed; the
/// process that returns from here is the container's init.
fn enter_namespaces(spec: &Spec, plan: &NsPlan, sync_fd: &OwnedFd) -> Result<()> {
    for (typ, path) in &plan.join {
        let ns = oci_spec::runtime::LinuxNamespaceBuilder::default()
            .typ(*typ)
            .path(path.clone())
            .build()
            .map_err(|e| anyhow!("linux.namespaces: {e}"))?;
        let file = namespaces::open_checked(&ns, path)?;
        namespaces::join(&ns, &file)?;
    }
    if plan.new_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| anyhow!("unshare cgroup namespace: {e}"))?;
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

/// Close every inherited fd that is not stdio, a preserved fd or one of ours, so no host fd
/// is open while the container's paths are being resolved (CVE-2024-21626).
fn close_stray_fds(cfg: &Config, sync_fd: &OwnedFd) -> Result<()> {
    let keep_below = 3 + cfg.pass_fds as i32;
    let ours = [sync_fd.as_raw_fd(), cfg.gate.as_raw_fd()];
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

/// Right before `Ready`: every fd above the preserved ones is close-on-exec, preserved fds
/// are not.
fn finish_fds(cfg: &Config) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    sys::process::cloexec_from(3 + cfg.pass_fds).context("close_range")?;
    for fd in 3..3 + cfg.pass_fds as i32 {
        fcntl(
            sys::process::borrow_fd(fd),
            FcntlArg::F_SETFD(FdFlag::empty()),
        )
        .map_err(|e| anyhow!("preserved fd {fd}: {e}"))?;
    }
    Ok(())
}

/// Block until `start` connects, then execve. An execve error goes back to `start`.
fn gate_and_exec(cfg: &Config, exec: Exec, host_pid: i32) -> ! {
    let mut conn = loop {
        match cfg.gate.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => sys::process::exit_now(1),
        }
    };
    let mut byte = [0u8; 1];
    if conn.read_exact(&mut byte).is_err() {
        sys::process::exit_now(1);
    }
    let state = cfg.hook_state(host_pid, Status::Created);
    if let Err(e) = hooks::run(cfg.spec, hooks::Kind::StartContainer, &state) {
        let _ = write!(conn, "{e:#}");
        sys::process::exit_now(1);
    }
    let err = match nix::unistd::execve(&exec.path, &exec.args, &exec.env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    // Go's wording ("exec /bin/x: permission denied"), which Docker and podman classify.
    let _ = write!(
        conn,
        "exec {}: {}",
        exec.path.to_string_lossy(),
        err.desc().to_lowercase()
    );
    sys::process::exit_now(127)
}
