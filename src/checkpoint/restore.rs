//! `oxirun restore`: a container whose init comes back from CRIU's images instead of being
//! started: the bundle is loaded and checked as by `create`, the state directory claimed and
//! the cgroup made with the config's limits; then `criu restore --restore-detached
//! --restore-sibling`, started in that cgroup (as runc starts it, so that the tree lands there
//! in every `--manage-cgroups-mode`, `ignore` included), rebuilds the tree as our child, below
//! that cgroup (`--cgroup-root`), with
//! the external mounts mapped to their sources and the init's stdio pipes reconnected to ours
//! (`--inherit-fd`, from `descriptors.json`), or a new pty in place of its terminal (its
//! master to `--console-socket`, or proxied in the foreground). The state says `running`
//! with the new init pid and start time. Without `--detach` we wait for the init and delete
//! the container after, as a foreground `run` does. A failure leaves nothing: no state, no
//! cgroup, no process.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use super::{criu, external_mounts, CriuOpts, DESCRIPTORS, TTY_INFO};
use crate::bundle;
use crate::cgroups::{Cgroup, Layout};
use crate::container::{self, proc_stat, write_pid_file};
use crate::state::StateDir;

/// `restore`'s own flags.
#[derive(Debug, Default)]
pub struct RestoreOpts {
    pub common: CriuOpts,
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    pub tcp_close: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    pub systemd_cgroup: bool,
    pub no_cgroups: bool,
}

/// `oxirun restore`; returns the exit code (the init's, without `--detach`).
pub fn restore(opts: &RestoreOpts) -> Result<i32> {
    bundle::validate_id(&opts.id)?;
    let bundle = bundle::load(&opts.bundle)?;
    let tty = super::has_terminal(&bundle.spec);
    container::check_console_flags(tty, opts.console_socket.is_some(), opts.detach)?;
    let criu = criu::find(&opts.common.criu)?;
    let (images, work) = opts.common.dirs()?;
    if !images.join("inventory.img").exists() {
        bail!("{}: not a checkpoint (no inventory.img)", images.display());
    }
    let tty_key = fs::read_to_string(images.join(TTY_INFO)).ok();
    if tty_key.is_some() && !tty {
        bail!("the checkpointed process has a terminal: process.terminal must be true");
    }
    let console_socket = opts
        .console_socket
        .as_deref()
        .map(crate::tty::connect_console_socket)
        .transpose()?;
    let mut master = None;
    let linux = bundle.spec.linux().as_ref();
    let (cgroup, mut unit) = container::resolve_cgroup(
        &bundle.spec,
        &opts.id,
        opts.no_cgroups,
        opts.systemd_cgroup,
        false,
    )?;
    let no_resources = oci_spec::runtime::LinuxResources::default();
    let resources = linux
        .and_then(|l| l.resources().as_ref())
        .unwrap_or(&no_resources);
    if !opts.no_cgroups && unit.is_none() {
        cgroup.validate_resources(resources)?;
    }
    let unit_props = match &unit {
        Some(_) => container::unit_properties(&bundle.spec, resources, !cgroup.is_unified())?,
        None => Vec::new(),
    };
    let pid_file = opts
        .pid_file
        .as_ref()
        .map(std::path::absolute)
        .transpose()
        .context("--pid-file")?;

    let sdir = StateDir::claim(&opts.root, &opts.id)?;
    let mut st = container::new_state(&opts.id, &bundle, cgroup, opts.systemd_cgroup, false);
    let cgroup_existed = st.cgroup.exists();
    let restored_pid = work.join("restore.pid");
    let _ = fs::remove_file(&restored_pid);
    // Under systemd a scope needs a process to be made with: us, until CRIU has put the
    // restored tree into its cgroup (`--cgroup-root`); then we go back home.
    let home = match &unit {
        Some(_) => Some(own_cgroup()?),
        None => None,
    };
    let mut unit_made = false;
    let result = (|| -> Result<i32> {
        sdir.save(&st)?;
        match unit.as_mut() {
            Some((u, sd)) => {
                let me = std::process::id() as i32;
                let placed = container::place_in_unit(
                    u,
                    sd,
                    &st.cgroup,
                    me,
                    unit_props.clone(),
                    resources,
                    false,
                    &mut unit_made,
                );
                if unit_made {
                    st.systemd_unit = Some(u.unit.clone());
                }
                placed?;
            }
            None if !opts.no_cgroups => {
                st.cgroup.create()?;
                st.cgroup.apply(resources)?;
            }
            None => {}
        }
        make_mountpoints(&bundle.spec, &bundle.dir, &bundle.rootfs)?;
        let log = "restore.log";
        let mut cmd = criu.command("restore", &images, &work, log);
        cmd.arg("--root")
            .arg(&bundle.rootfs)
            .args(["--restore-detached", "--restore-sibling"])
            .arg("--pidfile")
            .arg(&restored_pid);
        opts.common.shared_args(&mut cmd, true)?;
        if super::has_restore_hooks(&bundle.spec) {
            // Our own binary through /proc (we outlive CRIU); CRIU execs it without arguments.
            cmd.arg("--action-script")
                .arg(format!("/proc/{}/exe", std::process::id()))
                .env(super::HOOK_ROOT, &opts.root)
                .env(super::HOOK_ID, &opts.id);
        }
        if opts.tcp_close {
            cmd.arg("--tcp-close");
        }
        if let Some(p) = &opts.lsm_profile {
            cmd.arg("--lsm-profile").arg(p);
        }
        if let Some(c) = &opts.lsm_mount_context {
            cmd.arg("--lsm-mount-context").arg(c);
        }
        for (key, source) in external_mounts(&bundle.spec, &bundle.dir, &bundle.rootfs) {
            cmd.arg("--ext-mount-map")
                .arg(format!("{key}:{}", source.display()));
        }
        for arg in inherit_fds(&images)? {
            cmd.arg("--inherit-fd").arg(arg);
        }
        // A new pty (ours: the container's devpts is CRIU's to make) in place of the dumped one.
        let _peer = match tty {
            true => {
                let (pty, path) = new_pty(&bundle.spec)?;
                cmd.arg("--ext-mount-map")
                    .arg(format!("/dev/console:{}", path.display()));
                if let Some(key) = &tty_key {
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&pty.peer);
                    cmd.arg("--inherit-fd").arg(format!("fd[{fd}]:{key}"));
                }
                master = Some(pty.master);
                Some(pty.peer)
            }
            false => None,
        };
        // Each joined namespace's fd stays open (and inheritable) until CRIU has run.
        let mut ns_files = Vec::new();
        for (kind, key, path) in super::external_namespaces(&bundle.spec) {
            let f = fs::File::open(&path)
                .with_context(|| format!("{kind} namespace {}", path.display()))?;
            crate::sys::process::clear_cloexec(&f)
                .with_context(|| format!("{kind} namespace {}", path.display()))?;
            cmd.arg("--inherit-fd")
                .arg(format!("fd[{}]:{key}", std::os::fd::AsRawFd::as_raw_fd(&f)));
            ns_files.push(f);
        }
        // CRIU moves the tree to the dumped cgroup's path unless told where the container's
        // is now: a restore into a new id or unit lands in its own. (runc 1.1 passes these on
        // v1 only: on v2 CRIU's log shows it moving runc's tree to the dumped path.)
        for (controller, path) in cgroup_roots(&st.cgroup)? {
            let root = match controller.is_empty() {
                true => path,
                false => format!("{controller}:{path}"),
            };
            cmd.arg("--cgroup-root").arg(root);
        }
        if unit.is_none() && !opts.no_cgroups {
            // CRIU runs in the container's cgroup, as runc has it: what it restores starts
            // there, whatever `--manage-cgroups-mode` makes it do with the images' cgroups.
            let procs = st
                .cgroup
                .dirs
                .iter()
                .map(|(_, d)| {
                    let p = d.join("cgroup.procs");
                    fs::OpenOptions::new()
                        .write(true)
                        .open(&p)
                        .with_context(|| format!("open {}", p.display()))
                })
                .collect::<Result<Vec<_>>>()?;
            crate::sys::process::join_cgroups_before_exec(&mut cmd, procs);
        }
        // Relative mount sources in the images are the bundle's, as for create.
        std::env::set_current_dir(&bundle.dir)
            .map_err(|e| anyhow!("bundle {}: {e}", bundle.dir.display()))?;
        crate::debug!("restore: {cmd:?}");
        let restored = criu.run(cmd, &work, log);
        drop(ns_files);
        if let Some(home) = &home {
            home.add_pid(std::process::id() as i32)
                .context("leave the container's unit")?;
        }
        restored?;
        let text = fs::read_to_string(&restored_pid)
            .with_context(|| format!("criu wrote no {}", restored_pid.display()))?;
        let pid: i32 = text
            .trim()
            .parse()
            .map_err(|_| anyhow!("{}: {text:?} is not a pid", restored_pid.display()))?;
        st.pid = pid;
        st.pid_start = proc_stat(pid)
            .map(|(_, s)| s)
            .ok_or_else(|| anyhow!("restored init {pid} vanished"))?;
        sdir.save(&st)?;
        // Taken only for a socket: without one it is proxied in the foreground below.
        if let (Some(socket), Some(m)) = (&console_socket, master.as_ref()) {
            crate::tty::send_master(socket, m)?;
            master = None;
        }
        if let Some(p) = &pid_file {
            write_pid_file(p, pid)?;
        }
        Ok(pid)
    })();
    let pid = match result {
        Ok(pid) => pid,
        Err(e) => {
            if st.pid > 0 {
                let _ = container::signal_init(&st, libc::SIGKILL);
            }
            if let Some(home) = &home {
                // Out of the unit before it is stopped (stopping it signals what it holds).
                let _ = home.add_pid(std::process::id() as i32);
            }
            if !cgroup_existed {
                let _ = st.cgroup.kill_all(libc::SIGKILL);
            }
            if let (true, Some((u, sd))) = (unit_made, unit.as_mut()) {
                sd.stop(&u.unit);
            }
            if !cgroup_existed {
                let _ = st.cgroup.remove();
            }
            let _ = sdir.remove();
            return Err(e);
        }
    };
    drop(sdir);
    if opts.detach {
        return Ok(0);
    }
    if !opts.no_subreaper {
        let _ = crate::sys::process::set_child_subreaper();
    }
    let set = crate::launch::foreground::block_signals()?;
    let code = crate::launch::foreground::wait_forwarding(&set, pid, master)?;
    container::cleanup_after_run(&opts.root, &opts.id, &st)?;
    Ok(code)
}

/// A pty from our devpts (the config's console size on it) whose peer CRIU inherits, and
/// the peer's path (what /dev/console is bound from).
fn new_pty(spec: &oci_spec::runtime::Spec) -> Result<(crate::tty::Pty, PathBuf)> {
    let size = spec.process().as_ref().and_then(crate::tty::console_size);
    let pty = crate::tty::open_pty(size)?;
    crate::sys::process::clear_cloexec(&pty.peer).context("the pty peer")?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&pty.peer);
    let path = fs::read_link(format!("/proc/self/fd/{fd}")).context("the pty peer's path")?;
    Ok((pty, path))
}

/// `--inherit-fd fd[N]:pipe:[INODE]` for each of the dumped init's stdio fds that was a pipe:
/// our own fd N (the caller's new pipe) takes its place, as runc does for containerd and
/// conmon.
fn inherit_fds(images: &Path) -> Result<Vec<String>> {
    let path = images.join(DESCRIPTORS);
    let Ok(data) = fs::read(&path) else {
        return Ok(Vec::new());
    };
    let fds: Vec<String> =
        serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))?;
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, d)| d.starts_with("pipe:"))
        .map(|(n, d)| format!("fd[{n}]:{d}"))
        .collect())
}

/// (controller, path in its hierarchy) of the container's cgroup: where CRIU puts the tree.
fn cgroup_roots(cgroup: &Cgroup) -> Result<Vec<(String, String)>> {
    if cgroup.dirs.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for h in cgroup.mounts()? {
        let rel = h.dir.strip_prefix(&h.mount_point).map_err(|_| {
            anyhow!(
                "cgroup {} is not below {}",
                h.dir.display(),
                h.mount_point.display()
            )
        })?;
        out.push((h.name, format!("/{}", rel.display())));
    }
    Ok(out)
}

/// This process's own cgroup on every hierarchy (where it goes back to after placing itself
/// in the container's unit).
fn own_cgroup() -> Result<Cgroup> {
    let layout = Layout::current().map_err(|e| anyhow!(e))?;
    let dirs = layout
        .hierarchies
        .iter()
        .map(|h| {
            let rel = Path::new(&h.own)
                .strip_prefix(&h.root)
                .unwrap_or(Path::new(&h.own))
                .to_path_buf();
            let rel = rel.strip_prefix("/").unwrap_or(&rel).to_path_buf();
            (h.name.clone(), h.mount_point.join(rel))
        })
        .collect();
    Ok(Cgroup { dirs })
}

/// The mount points of the config's mounts, made in the rootfs if missing (a restore into a
/// fresh copy of the image, as `podman container restore --import` does): CRIU mounts onto
/// them but does not create them. Not below a tmpfs: CRIU restores those whole. As runc.
fn make_mountpoints(spec: &oci_spec::runtime::Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    use crate::rootfs::resolve::{ensure_in_root, Kind};
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let root = fs::File::open(rootfs).with_context(|| format!("open {}", rootfs.display()))?;
    for m in mounts {
        let dest = m.destination();
        if tmpfs.iter().any(|t| dest != *t && dest.starts_with(t)) {
            continue;
        }
        let opts = crate::rootfs::parse_mount_options(m.options().as_deref().unwrap_or(&[]));
        let file_source = opts.is_bind()
            && m.source()
                .as_ref()
                .is_some_and(|s| fs::metadata(bundle.join(s)).is_ok_and(|md| !md.is_dir()));
        let kind = if file_source { Kind::File } else { Kind::Dir };
        use std::os::fd::AsFd;
        ensure_in_root(root.as_fd(), dest, kind, true)
            .with_context(|| format!("mount point {} in the rootfs", dest.display()))?;
    }
    Ok(())
}
