//! The lifecycle: which transitions are allowed, what each does, and the status derived from
//! reality (the init's pid and start time, the exec gate, the freezer) - never from a stored
//! string. Error wording follows runc's, which clients match on.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use std::cell::{Cell, RefCell};

use crate::cgroups::{systemd, Cgroup};
use crate::state::{State, StateDir};
use crate::{bundle, hooks, launch, logging, sys};

/// The OCI version we implement (reported in `state`).
pub const OCI_VERSION: &str = "1.2.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Only in the state given to create-time hooks; `status()` never reports it.
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Options of `create` (and `run`).
#[derive(Debug, Default)]
pub struct CreateOpts {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub systemd_cgroup: bool,
    pub rootless: bool,
    /// `run` without `--detach`: a terminal's master comes back to us to proxy.
    pub foreground: bool,
    /// `run`: this command starts the container itself, through the sync channel (no exec
    /// gate socket is made).
    pub self_start: bool,
    /// `--cgroup-manager=disabled`: no cgroup (and no resource limits) at all.
    pub no_cgroups: bool,
}

/// What `create` hands back.
pub struct Created {
    pub pid: i32,
    /// Our end of the sync channel when `self_start` (what [`start_held`] starts it through).
    pub sync: Option<OwnedFd>,
    /// The pty master for a foreground `run -t`.
    pub console: Option<OwnedFd>,
}

/// (state char, start time) from /proc/<pid>/stat, or None when the process is gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = sys::read_small(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and ')': the fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether the init recorded in `st` is still that process and not a zombie.
pub fn init_alive(st: &State) -> bool {
    st.pid > 0
        && matches!(proc_stat(st.pid), Some((s, start)) if start == st.pid_start && s != 'Z' && s != 'X')
}

/// The status, from reality.
pub fn status(root: &Path, st: &State) -> Status {
    if !init_alive(st) {
        return Status::Stopped;
    }
    // Frozen first: a paused created container must read as paused (as in runc), or delete
    // would kill it without thawing and start would block on it.
    if st.cgroup.is_frozen().unwrap_or(false) {
        return Status::Paused;
    }
    if root
        .join(&st.id)
        .join(crate::state::EXEC_SOCK)
        .symlink_metadata()
        .is_ok()
    {
        return Status::Created;
    }
    Status::Running
}

/// The `state` JSON object (runtime-spec state plus runc's `owner`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'a str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub created: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: String,
}

/// Compact state JSON (what hooks read on stdin).
pub fn state_json(s: &OciState) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

pub fn oci_state<'a>(st: &'a State, status: Status) -> OciState<'a> {
    OciState {
        oci_version: OCI_VERSION,
        id: &st.id,
        pid: if status == Status::Stopped { 0 } else { st.pid },
        status: status.as_str(),
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        created: &st.created,
        annotations: &st.annotations,
        owner: String::new(),
    }
}

/// A path to `name` inside the locked state dir that stays short (sun_path is 108 bytes).
fn fd_path(dir_fd: &impl AsRawFd, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{name}", dir_fd.as_raw_fd()))
}

pub fn create(opts: &CreateOpts) -> Result<Created> {
    create_held(opts).map(|(_, _, created)| created)
}

/// `create`, handing back the still-locked state directory and the state written, so `run`
/// can start the container without reopening and re-reading what it just wrote.
fn create_held(opts: &CreateOpts) -> Result<(StateDir, State, Created)> {
    bundle::validate_id(&opts.id)?;
    let listen_fds = listen_fds();
    check_preserved_fds(listen_fds + opts.preserve_fds)?;
    let bundle = bundle::load(&opts.bundle)?;
    crate::debug!(
        "create: container {}, config {}/config.json loaded and valid",
        opts.id,
        bundle.dir.display()
    );
    let tty = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    check_console_flags(tty, opts.console_socket.is_some(), !opts.foreground)?;
    let linux = bundle.spec.linux().as_ref();
    if opts.no_cgroups && linux.and_then(|l| l.resources().as_ref()).is_some() {
        logging::debug("--cgroup-manager=disabled: linux.resources ignored");
    }
    let (cgroup, unit) = resolve_cgroup(
        &bundle.spec,
        &opts.id,
        opts.no_cgroups,
        opts.systemd_cgroup,
        opts.rootless,
    )?;
    // Without linux.resources the container still gets the default device rules (deny all
    // but the standard devices), as with runc.
    let no_resources = oci_spec::runtime::LinuxResources::default();
    let resources_given = linux.and_then(|l| l.resources().as_ref());
    let resources = resources_given.unwrap_or(&no_resources);
    // Under systemd the unit's directory (and the controllers systemd enables for it) only
    // exists once the unit does: checked then, before anything is written.
    if !opts.no_cgroups && unit.is_none() {
        cgroup.validate_resources(resources)?;
    }
    let unit_props = match &unit {
        Some(_) => unit_properties(&bundle.spec, resources, !cgroup.is_unified())?,
        None => Vec::new(),
    };
    let pid_file = opts
        .pid_file
        .as_ref()
        .map(std::path::absolute)
        .transpose()
        .context("--pid-file")?;
    let console_path = opts
        .console_socket
        .as_ref()
        .map(std::path::absolute)
        .transpose()
        .context("--console-socket")?;

    let sdir = StateDir::claim(&opts.root, &opts.id)?;
    crate::debug!("create: state directory {} claimed", sdir.dir.display());
    let mut st = new_state(
        &opts.id,
        &bundle,
        cgroup,
        opts.systemd_cgroup,
        opts.rootless,
    );
    // Without a mount namespace the init's rootfs bind is made in our own mount table: the
    // topmost mount at the rootfs before it tells which one is the container's afterwards.
    let shared_mntns = crate::namespaces::shares_mount_ns(&bundle.spec);
    let rootfs_mount_before = shared_mntns
        .then(|| crate::rootfs::top_mount_id(&bundle.rootfs))
        .flatten();
    let shared_rootfs_mount = || {
        shared_mntns
            .then(|| crate::rootfs::top_mount_id(&bundle.rootfs))
            .flatten()
            .filter(|id| Some(*id) != rootfs_mount_before)
    };
    let cgroup_existed = st.cgroup.exists();
    // The systemd driver places the init itself: the unit is made with it (and the files
    // systemd does not manage written) before the init goes on.
    let unit_cgroup = st.cgroup.clone();
    let unit = RefCell::new(unit);
    let unit_started = Cell::new(false);
    let place_in_unit = |pid: i32| -> Result<()> {
        let mut guard = unit.borrow_mut();
        let Some((u, sd)) = guard.as_mut() else {
            bail!("systemd: no unit to place the init in");
        };
        let mut made = false;
        let placed = place_in_unit(
            u,
            sd,
            &unit_cgroup,
            pid,
            unit_props.clone(),
            resources,
            opts.rootless,
            &mut made,
        );
        unit_started.set(made);
        placed
    };
    let result = (|| -> Result<Created> {
        // Saved before anything exists, so `delete --force` can clean up a half-made container.
        sdir.save(&st)?;
        // Under systemd the unit's directory is systemd's to make (with the unit); the
        // cgroupfs driver makes its own.
        let own_dirs = unit.borrow().is_none();
        let made = if own_dirs { st.cgroup.create() } else { Ok(()) };
        match made {
            Ok(()) if opts.no_cgroups || !own_dirs => {}
            // The init would freeze on entering it and never report back (runc refuses too).
            Ok(()) if st.cgroup.frozen_by_anyone() => {
                bail!("container's cgroup unexpectedly frozen")
            }
            Ok(()) => st.cgroup.apply(resources)?,
            // Rootless without a delegated cgroup: run without one, like runc.
            Err(e) if opts.rootless => {
                logging::debug(&format!("rootless: running without a cgroup: {e:#}"));
                if resources_given.is_some() {
                    logging::warn("rootless: linux.resources ignored (no writable cgroup)");
                }
                st.cgroup = Cgroup::default();
                sdir.save(&st)?;
            }
            Err(e) => return Err(e),
        }
        let gate = match opts.self_start {
            true => None,
            false => Some(
                UnixListener::bind(fd_path(&sdir, crate::state::EXEC_SOCK))
                    .map_err(|e| anyhow!("exec gate socket: {e}"))?,
            ),
        };
        // Relative mount sources are relative to the bundle, as in runc (which chdirs there).
        std::env::set_current_dir(&bundle.dir)
            .map_err(|e| anyhow!("bundle {}: {e}", bundle.dir.display()))?;
        // Connected only now: the client accepts exactly one connection.
        let console_socket = console_path
            .as_deref()
            .map(crate::tty::connect_console_socket)
            .transpose()?;
        let cfg = launch::Config {
            seccomp: bundle.seccomp.as_ref(),
            tty,
            console_socket: console_socket.as_ref(),
            spec: &bundle.spec,
            rootfs: &bundle.rootfs,
            cgroup: &st.cgroup,
            place: unit
                .borrow()
                .is_some()
                .then_some(&place_in_unit as &dyn Fn(i32) -> Result<()>),
            gate: gate
                .as_ref()
                .map_or(launch::Gate::Sync, launch::Gate::Socket),
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            pass_fds: listen_fds + opts.preserve_fds,
            listen_fds,
            id: &opts.id,
            bundle: &bundle.dir,
            annotations: &st.annotations,
        };
        let launched = launch::parent::launch(&cfg)?;
        let pid = launched.pid;
        st.pid = pid;
        // Only a unit we made is ours to stop on delete.
        st.systemd_unit = unit
            .borrow()
            .as_ref()
            .filter(|_| unit_started.get())
            .map(|(u, _)| u.unit.clone());
        st.shared_rootfs_mount = shared_rootfs_mount();
        st.pid_start = proc_stat(pid)
            .map(|(_, s)| s)
            .ok_or_else(|| anyhow!("container init {pid} vanished"))?;
        sdir.save(&st)?;
        if let Some(p) = &pid_file {
            write_pid_file(p, pid)?;
            crate::debug!("create: pid file {} written", p.display());
        }
        crate::debug!("create: container {} created, init {pid}", st.id);
        Ok(Created {
            pid,
            sync: launched.sync,
            console: launched.console,
        })
    })();
    let created = match result {
        Ok(created) => created,
        Err(e) => {
            if st.pid > 0 {
                let _ = signal_init(&st, libc::SIGKILL);
            }
            if let Some(id) = shared_rootfs_mount() {
                let _ = crate::rootfs::detach_shared(&bundle.rootfs, id);
            }
            // A failed create leaves no unit behind, not even a failed one.
            if let (true, Some((u, sd))) = (unit_started.get(), unit.borrow_mut().as_mut()) {
                sd.stop(&u.unit);
            }
            if !cgroup_existed {
                let _ = st.cgroup.remove();
            }
            // runtime.md lifecycle: a failed create still ends with the poststop hooks.
            let state = state_json(&oci_state(&st, Status::Stopped));
            hooks::run_warn(&st.config, hooks::Kind::Poststop, &state);
            let _ = sdir.remove();
            return Err(e);
        }
    };
    Ok((sdir, st, created))
}

/// runc's rules (and words) for a terminal and a console socket: a detached process with a
/// terminal needs the socket, and the socket is only for a detached process with a terminal.
pub(crate) fn check_console_flags(tty: bool, socket: bool, detach: bool) -> Result<()> {
    match (tty, socket, detach) {
        (true, false, true) => {
            bail!("cannot allocate tty if runc will detach without setting console socket")
        }
        (false, true, _) | (true, true, false) => {
            bail!("cannot use console socket if runc will not detach or allocate tty")
        }
        _ => Ok(()),
    }
}

/// The container's cgroup by the chosen driver: none (`--cgroup-manager=disabled`), the
/// systemd unit's (with the unit to make and the connection to make it on), or cgroupfs's
/// resolution of `linux.cgroupsPath`.
pub(crate) fn resolve_cgroup(
    spec: &oci_spec::runtime::Spec,
    id: &str,
    no_cgroups: bool,
    systemd_cgroup: bool,
    rootless: bool,
) -> Result<(Cgroup, Option<(systemd::slice::UnitPath, systemd::Systemd)>)> {
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    if no_cgroups {
        return Ok((Cgroup::default(), None));
    }
    if !systemd_cgroup {
        return Ok((Cgroup::resolve(cgroups_path.as_deref(), id)?, None));
    }
    let mut u =
        systemd::slice::parse(cgroups_path.as_deref(), id, rootless).map_err(|e| anyhow!(e))?;
    let mut sd = systemd::Systemd::connect(rootless)?;
    if rootless {
        // A user's manager runs its units below its own cgroup.
        let base = sd.control_group()?;
        u.cgroup = Path::new(base.trim_start_matches('/')).join(&u.cgroup);
    }
    let dirs = systemd::cgroup_dirs(&u, rootless)?;
    Ok((Cgroup { dirs }, Some((u, sd))))
}

/// The systemd driver's placement of `pid`: the transient unit made with it (`made` says
/// whether we made it: only then is it ours to stop), the v1 directories systemd does not
/// make, the pid moved where systemd did not put it, then the limits written to the files.
#[allow(clippy::too_many_arguments)]
pub(crate) fn place_in_unit(
    u: &systemd::slice::UnitPath,
    sd: &mut systemd::Systemd,
    cgroup: &Cgroup,
    pid: i32,
    props: Vec<crate::dbus::Value>,
    resources: &oci_spec::runtime::LinuxResources,
    rootless: bool,
    made: &mut bool,
) -> Result<()> {
    *made = sd.start(u, (!u.is_slice()).then_some(pid), props)?;
    // On v1/hybrid systemd makes only its own hierarchies' directories: the rest are
    // ours, as in runc's legacy driver (mkdir -p; an existing one is kept).
    let v1 = !cgroup.is_unified();
    if v1 {
        cgroup.create()?;
    }
    if u.is_slice() || !*made || v1 {
        cgroup.add_pid(pid)?;
    }
    systemd::check_placed(pid, u)?;
    if cgroup.frozen_by_anyone() {
        bail!("container's cgroup unexpectedly frozen");
    }
    cgroup.validate_resources(resources)?;
    match rootless {
        true => cgroup.apply_rootless(resources),
        false => cgroup.apply(resources),
    }
}

/// The state of a container about to be made from `bundle` (no init yet: pid 0).
pub(crate) fn new_state(
    id: &str,
    bundle: &bundle::Bundle,
    cgroup: Cgroup,
    systemd_cgroup: bool,
    rootless: bool,
) -> State {
    State {
        id: id.to_string(),
        pid: 0,
        pid_start: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: logging::now_rfc3339_nanos(),
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup,
        systemd_cgroup,
        rootless,
        systemd_unit: None,
        shared_rootfs_mount: None,
        config: bundle.spec.clone(),
    }
}

/// The transient unit's properties for a container: the resources systemd manages, and every
/// `org.systemd.property.*` annotation.
pub(crate) fn unit_properties(
    spec: &oci_spec::runtime::Spec,
    resources: &oci_spec::runtime::LinuxResources,
    v1: bool,
) -> Result<Vec<crate::dbus::Value>> {
    let annotations = spec.annotations().clone().unwrap_or_default();
    let mut p = systemd::props::resources(resources, v1).map_err(|e| anyhow!(e))?;
    p.extend(
        systemd::props::annotations(&annotations.into_iter().collect()).map_err(|e| anyhow!(e))?,
    );
    Ok(p)
}

/// Socket-activation fds meant for us (systemd's LISTEN_FDS with LISTEN_PID == our pid).
fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    match std::env::var("LISTEN_FDS") {
        Ok(n) if ours => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn check_preserved_fds(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        nix::fcntl::fcntl(sys::process::borrow_fd(fd), nix::fcntl::FcntlArg::F_GETFD)
            .map_err(|e| anyhow!("unable to stat preserved-fd {fd}: {e}"))?;
    }
    Ok(())
}

/// Write the pid-file atomically: a temp file beside it, then rename (no trailing newline).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--pid-file: {} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}", name.to_string_lossy()));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o666)
        .custom_flags(libc::O_SYNC)
        .open(&tmp)
        .map_err(|e| anyhow!("--pid-file: {}: {e}", tmp.display()))?;
    f.write_all(pid.to_string().as_bytes())
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            anyhow!("--pid-file: {}: {e}", path.display())
        })
}

pub fn start(root: &Path, id: &str) -> Result<()> {
    bundle::validate_id(id)?;
    let sdir = StateDir::open(root, id)?;
    let st = sdir.load()?;
    match status(root, &st) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Paused => bail!("cannot start a container in the paused state"),
        Status::Running | Status::Creating => {
            bail!("cannot start an already running container")
        }
    }
    start_held(&sdir, &st, None)
}

/// Start a created container whose state directory we hold locked - through the exec gate,
/// or through `sync` when this command created it with `self_start` - then run the
/// poststart hooks.
fn start_held(sdir: &StateDir, st: &State, sync: Option<&OwnedFd>) -> Result<()> {
    let id = &st.id;
    crate::debug!("start: starting container {id} (init {})", st.pid);
    if let Some(sync) = sync {
        use launch::sync::{recv_msg, send_msg, Msg};
        send_msg(sync, &Msg::Go).map_err(|e| anyhow!("cannot start container {id}: {e:#}"))?;
        match recv_msg(sync)? {
            // EOF: the init exec'd (its end was close-on-exec).
            None => {}
            Some(Msg::Error(e)) => bail!("{e}"),
            Some(_) => bail!("cannot start container {id}: unexpected message from the init"),
        }
    } else {
        let mut conn = UnixStream::connect(fd_path(sdir, crate::state::EXEC_SOCK))
            .map_err(|e| anyhow!("cannot start container {id}: exec gate: {e}"))?;
        conn.write_all(&[0])
            .map_err(|e| anyhow!("cannot start container {id}: {e}"))?;
        let mut reply = String::new();
        let _ = conn.read_to_string(&mut reply);
        let _ = fs::remove_file(sdir.exec_sock());
        if !reply.is_empty() {
            bail!("{reply}");
        }
    }
    crate::debug!("start: container {id} running");
    let state = state_json(&oci_state(st, Status::Running));
    hooks::run_warn(&st.config, hooks::Kind::Poststart, &state);
    Ok(())
}

/// Signal the init through a pidfd, after checking the pid still names our init.
pub fn signal_init(st: &State, sig: i32) -> Result<Option<OwnedFd>> {
    let pidfd = match sys::process::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(_) => return Ok(None),
    };
    // The pidfd pins the process; if the start time matches now, it is our init.
    if !init_alive(st) {
        return Ok(None);
    }
    sys::process::pidfd_send_signal(pidfd.as_raw_fd(), sig)
        .map_err(|e| anyhow!("signal container init {}: {e}", st.pid))?;
    Ok(Some(pidfd))
}

pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    bundle::validate_id(id)?;
    let sdir = StateDir::open(root, id)?;
    let st = sdir.load()?;
    let stopped = status(root, &st) == Status::Stopped;
    if all {
        // Every member of the cgroup; with --all a stopped init is not an error.
        crate::debug!("kill: signal {sig} to every process of container {id}");
        return st.cgroup.kill_all(sig);
    }
    crate::debug!("kill: signal {sig} to init {} of container {id}", st.pid);
    if stopped || signal_init(&st, sig)?.is_none() {
        bail!("container not running");
    }
    // A frozen init cannot act on a SIGKILL (cgroup v1 freezer): thaw it so the kill lands,
    // as runc does. Other signals leave a paused container paused.
    if sig == libc::SIGKILL && st.cgroup.is_frozen().unwrap_or(false) {
        st.cgroup.thaw()?;
    }
    Ok(())
}

/// Wait (bounded) until the process behind `pidfd` has exited.
fn wait_exit(pidfd: &OwnedFd, timeout_ms: i32) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX)), Ok(n) if n > 0)
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    bundle::validate_id(id)?;
    let sdir = match StateDir::open(root, id) {
        Ok(d) => d,
        // runc: --force on an unknown id is success.
        Err(_) if force && !root.join(id).exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match sdir.load() {
        Ok(st) => st,
        Err(_) if force => return sdir.remove(),
        Err(_) => bail!("container {id} does not exist"),
    };
    let status = status(root, &st);
    crate::debug!("delete: container {id} is {}", status.as_str());
    match status {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&st)?,
        Status::Running | Status::Paused if force => kill_and_wait(&st)?,
        Status::Running | Status::Paused | Status::Creating => bail!(
            "cannot delete container {id} that is not stopped: {}",
            status.as_str()
        ),
    }
    destroy(sdir, &st)
}

fn kill_and_wait(st: &State) -> Result<()> {
    // A frozen init cannot die until it is thawed.
    if st.cgroup.is_frozen().unwrap_or(false) {
        let _ = st.cgroup.thaw();
    }
    if let Some(pidfd) = signal_init(st, libc::SIGKILL)? {
        if !wait_exit(&pidfd, 10_000) {
            bail!("container init {} did not exit after SIGKILL", st.pid);
        }
    }
    Ok(())
}

/// Remove everything a stopped container still holds: processes left in its cgroup (a
/// container without its own pid namespace), the cgroup, the state directory.
pub(crate) fn destroy(sdir: StateDir, st: &State) -> Result<()> {
    destroy_with(sdir, st, true)
}

/// [`destroy`] after a dump that ended the container. CRIU killed its tree, so a process in
/// its cgroup now is a restore's into the same path (a lazy restore runs while the dump
/// serves its pages): it is left alone, and so are the cgroup and unit holding it, as runc
/// leaves them.
pub(crate) fn destroy_after_dump(sdir: StateDir, st: &State) -> Result<()> {
    destroy_with(sdir, st, false)
}

fn destroy_with(sdir: StateDir, st: &State, kill_members: bool) -> Result<()> {
    let busy = !st.cgroup.pids().unwrap_or_default().is_empty();
    if busy && kill_members {
        let _ = st.cgroup.kill_all(libc::SIGKILL);
    }
    let keep_cgroup = busy && !kill_members;
    if let (Some(unit), false) = (&st.systemd_unit, keep_cgroup) {
        match systemd::Systemd::connect(st.rootless) {
            Ok(mut sd) => sd.stop(unit),
            Err(e) => logging::warn(&format!("delete: unit {unit} not stopped: {e:#}")),
        }
    }
    if !keep_cgroup {
        st.cgroup.remove()?;
    }
    if let Some(id) = st.shared_rootfs_mount {
        crate::rootfs::detach_shared(&st.rootfs, id)?;
    }
    crate::debug!("delete: cgroup of container {} removed", st.id);
    let state = state_json(&oci_state(st, Status::Stopped));
    hooks::run_warn(&st.config, hooks::Kind::Poststop, &state);
    sdir.remove()
}

/// `run`: create + start + wait, forwarding signals; returns the exit code.
pub fn run(opts: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    if detach {
        return create_and_start(opts).map(|_| 0);
    }
    crate::launch::foreground::run(opts, keep)
}

/// `run`'s create + start: started while still holding the lock taken by create (nothing can
/// come in between), the lock released after; a failed start deletes the container.
pub fn create_and_start(opts: &CreateOpts) -> Result<(State, Created)> {
    let (sdir, st, created) = create_held(opts)?;
    let started = start_held(&sdir, &st, created.sync.as_ref());
    drop(sdir);
    match started {
        Ok(()) => Ok((st, created)),
        Err(e) => {
            let _ = delete(&opts.root, &opts.id, true);
            Err(e)
        }
    }
}

/// Delete after a foreground run (the init has been reaped). `st` is what `create` wrote: it
/// is used as is when the directory still describes that same init (the usual case: nothing
/// else touched it), which saves parsing the whole config back.
pub fn cleanup_after_run(root: &Path, id: &str, st: &State) -> Result<()> {
    let sdir = StateDir::open(root, id)?;
    if sdir.same_init(st) {
        return destroy(sdir, st);
    }
    let current = sdir.load()?;
    destroy(sdir, &current)
}

pub fn list(root: &Path) -> Result<Vec<(State, Status)>> {
    let mut out = Vec::new();
    for id in crate::state::list_ids(root)? {
        if let Ok(st) = crate::state::load(root, &id) {
            let s = status(root, &st);
            out.push((st, s));
        }
    }
    Ok(out)
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    bundle::validate_id(id)?;
    let sdir = StateDir::open(root, id)?;
    let st = sdir.load()?;
    match status(root, &st) {
        Status::Running | Status::Created => st.cgroup.freeze(),
        // runc's wording for every other state, a paused container included.
        _ => bail!("container not running"),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    bundle::validate_id(id)?;
    let sdir = StateDir::open(root, id)?;
    let st = sdir.load()?;
    match status(root, &st) {
        Status::Paused => st.cgroup.thaw(),
        // runc's wording for every other state, a stopped container included.
        _ => bail!("container not paused"),
    }
}

/// Host pids of every process in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    bundle::validate_id(id)?;
    let st = crate::state::load(root, id)?;
    if status(root, &st) == Status::Stopped && st.cgroup.pids().unwrap_or_default().is_empty() {
        return Ok(Vec::new());
    }
    st.cgroup.pids()
}

/// Options of `exec`.
pub struct ExecOpts {
    pub root: PathBuf,
    pub id: String,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    pub console_socket: Option<PathBuf>,
}

/// Run a new process in the container; the exit code (foreground) or 0 (detached).
/// `process_of` builds the process from the container's state (read once, under the lock).
pub fn exec(
    opts: &ExecOpts,
    process_of: impl FnOnce(&State) -> Result<oci_spec::runtime::Process>,
) -> Result<i32> {
    bundle::validate_id(&opts.id)?;
    let pid_file = opts
        .pid_file
        .as_ref()
        .map(std::path::absolute)
        .transpose()
        .context("--pid-file")?;
    let sdir = StateDir::open(&opts.root, &opts.id)?;
    let st = sdir.load()?;
    let process = process_of(&st)?;
    let p = &process;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must not be empty");
    }
    if !p.cwd().is_absolute() {
        bail!("process.cwd: must be an absolute path, got {:?}", p.cwd());
    }
    let tty = p.terminal().unwrap_or(false);
    check_console_flags(tty, opts.console_socket.is_some(), opts.detach)?;
    crate::attrs::validate_process(p)?;
    let listen = listen_fds();
    check_preserved_fds(listen + opts.preserve_fds)?;
    let status = status(&opts.root, &st);
    match status {
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Paused if !opts.ignore_paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => {}
    }
    let seccomp = bundle::compile_seccomp(&st.config)?;
    let console_socket = opts
        .console_socket
        .as_deref()
        .map(crate::tty::connect_console_socket)
        .transpose()?;
    // Socket activation: the process learns about its fds as the init does.
    let mut with_listen;
    let p = if listen > 0 {
        with_listen = p.clone();
        let mut env = with_listen.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.extend([format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".into()]);
        with_listen.set_env(Some(env));
        &with_listen
    } else {
        p
    };
    let cfg = launch::exec::ExecConfig {
        state: &st,
        process: p,
        pass_fds: listen + opts.preserve_fds,
        console_socket: console_socket.as_ref(),
        paused: status == Status::Paused,
        seccomp: seccomp.as_ref(),
    };
    if opts.detach {
        let _ = sys::process::set_child_subreaper();
        let (pid, _) = launch::exec::spawn(&cfg)?;
        if let Some(path) = &pid_file {
            write_pid_file(path, pid)?;
        }
        return Ok(0);
    }
    sys::process::set_child_subreaper().context("PR_SET_CHILD_SUBREAPER")?;
    let set = launch::foreground::block_signals()?;
    let (pid, console) = launch::exec::spawn(&cfg)?;
    if let Some(path) = &pid_file {
        write_pid_file(path, pid)?;
    }
    // Other commands may run on the container while this process lives.
    drop(sdir);
    drop(console_socket);
    launch::foreground::wait_forwarding(&set, pid, console)
}
