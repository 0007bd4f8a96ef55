//! Process creation: the parent side clones the init with its namespaces and drives it over
//! the sync channel; the init side sets up the container and waits at the exec gate.
//!
//! The exec gate is a listening unix socket, `<state dir>/exec.sock`, created by the parent
//! and inherited by the init. `start` connects and sends one byte; the init `execve`s. The
//! accepted connection is close-on-exec, so `start` reads EOF on success, or the error text
//! when `execve` failed. The socket file exists exactly while the container is `created`.
//!
//! `run` starts the container itself, right after creating it: its init waits for `Go` on the
//! sync channel instead ([`Gate::Sync`]), with the same EOF-or-error reply, and no socket file
//! is made (on ext4 the bind and unlink were a tenth of the runtime's own syscall time).

pub mod exec;
pub mod fds;
pub mod foreground;
pub mod init;
pub mod parent;
pub mod sync;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::Cgroup;
use crate::namespaces;
use crate::sys::process::Forked;

/// Where the init waits for `start`.
#[derive(Clone, Copy)]
pub enum Gate<'a> {
    /// The exec gate socket (`create`; any later `start` connects).
    Socket(&'a UnixListener),
    /// `Go` on the sync channel, from the `run` that created it.
    Sync,
}

/// Everything the init needs, prepared by the parent before cloning.
pub struct Config<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub cgroup: &'a Cgroup,
    /// Places the cloned init (host pid) in its cgroup instead of a move into `cgroup`: the
    /// systemd driver, whose unit (and so directory) only exists once it holds the init.
    pub place: Option<&'a dyn Fn(i32) -> anyhow::Result<()>>,
    pub gate: Gate<'a>,
    pub seccomp: Option<&'a oxirun_seccomp::Program>,
    /// process.terminal: allocate a pty in the container.
    pub tty: bool,
    /// Where the pty master goes: the client's console socket, or (None) back to us over the
    /// sync socket for a foreground `run -t`.
    pub console_socket: Option<&'a std::os::fd::OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Extra fds passed through: socket-activation fds (LISTEN_FDS) plus `--preserve-fds`,
    /// i.e. fds 3 .. 3+pass_fds.
    pub pass_fds: u32,
    /// Socket-activation fds among them; the container's env gets LISTEN_FDS/LISTEN_PID=1.
    pub listen_fds: u32,
    pub id: &'a str,
    /// Absolute bundle directory and annotations, for the state the hooks read.
    pub bundle: &'a Path,
    pub annotations: &'a std::collections::BTreeMap<String, String>,
}

impl Config<'_> {
    /// The state JSON given to hooks.
    pub fn hook_state(&self, pid: i32, status: crate::container::Status) -> Vec<u8> {
        crate::container::state_json(&crate::container::OciState {
            oci_version: crate::container::OCI_VERSION,
            id: self.id,
            pid,
            status: status.as_str(),
            bundle: self.bundle,
            rootfs: self.rootfs,
            created: "",
            annotations: self.annotations,
            owner: String::new(),
        })
    }

    /// Whether the init must stop before pivot_root for create-time hooks.
    pub fn has_create_hooks(&self) -> bool {
        use crate::hooks::{of, Kind};
        [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer]
            .iter()
            .any(|k| !of(self.spec, *k).is_empty())
    }
}

/// Fork-like clone with `flags` (namespaces) of a process that belongs in `cgroup`. On a pure
/// cgroup v2 host it is born there (`clone3` with `CLONE_INTO_CGROUP`: no later migration
/// through `cgroup.procs`, which takes the cgroup threadgroup lock for writing); the flag says
/// so. Otherwise (v1 or hybrid, an old kernel, or any refusal) it is a plain clone and the
/// caller moves it in, which also reports why a cgroup takes no process. `what` names the
/// process in the debug log.
pub(crate) fn clone_in_cgroup(
    cgroup: &Cgroup,
    flags: libc::c_int,
    what: &str,
) -> anyhow::Result<(Forked, bool)> {
    use nix::fcntl::{open, OFlag};
    use std::os::fd::AsFd;
    if let (true, Some(dir)) = (cgroup.is_unified(), cgroup.unified_dir()) {
        let dir_fd = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        if let Ok(fd) = dir_fd {
            match crate::sys::process::clone_into_cgroup(flags, fd.as_fd()) {
                Ok(f) => {
                    crate::logging::debug(&format!(
                        "{what} cloned into its cgroup (CLONE_INTO_CGROUP)"
                    ));
                    return Ok((f, true));
                }
                Err(e) => crate::logging::debug(&format!(
                    "clone3 with CLONE_INTO_CGROUP: {e}; moving the {what} in instead"
                )),
            }
        }
    }
    let f = crate::sys::process::clone_fork(flags)
        .map_err(|e| anyhow::anyhow!("clone the {what}: {e}"))?;
    Ok((f, false))
}

/// Load a seccomp filter; a notify listener fd goes to the parent over the sync socket,
/// which hands it to the agent at `listenerPath`.
pub fn load_seccomp(
    program: &oxirun_seccomp::Program,
    sync_fd: &std::os::fd::OwnedFd,
) -> anyhow::Result<()> {
    let listener = program
        .load()
        .map_err(|e| anyhow::anyhow!("linux.seccomp: {e}"))?;
    if let Some(fd) = listener {
        sync::send_msg_fd(sync_fd, &sync::Msg::Seccomp, &fd)?;
    }
    Ok(())
}

/// A process set up and ready for execve: what [`finish_process`] leaves for the very end.
pub struct Final<'a> {
    pub exec: crate::process::Exec,
    /// The filter still to load, right before execve.
    late_seccomp: Option<&'a oxirun_seccomp::Program>,
}

impl Final<'_> {
    /// Load the remaining seccomp filter and execve; returns only on failure, with the error
    /// text for `start` (or `exec`). After the filter the only system call is execve: a
    /// profile written for runc (default deny, listing what the container's program needs)
    /// never sees a call of ours.
    pub fn exec(self) -> String {
        let args = self.exec.into_args();
        if let Some(program) = self.late_seccomp {
            if let Err(e) = program.load() {
                return format!("linux.seccomp: {e}");
            }
        }
        let err = args.exec();
        // Go's wording ("exec /bin/x: permission denied"), which Docker and podman classify.
        format!(
            "exec {}: {}",
            args.path().to_string_lossy(),
            err.desc().to_lowercase()
        )
    }
}

/// The last steps before execve, shared by the init and exec'd processes: rlimits, the
/// (verified) cwd, first tried as root and if that is denied again after the switch (as
/// runc does), the bounding set (needs root), the user switch, the capability sets, the
/// executable lookup, no_new_privs.
///
/// The seccomp filter is left for [`Final::exec`], so that everything the runtime does runs
/// unfiltered. Without no_new_privs, loading needs CAP_SYS_ADMIN: it stays in the effective
/// and permitted sets until then (execve recomputes both from the bounding, inheritable and
/// ambient sets, so it does not outlive the exec). A filter with a notify listener is loaded
/// here instead, as runc does: its fd must reach the agent before `create` returns.
pub fn finish_process<'a>(
    p: &oci_spec::runtime::Process,
    seccomp: Option<&'a oxirun_seccomp::Program>,
    sync_fd: &std::os::fd::OwnedFd,
) -> anyhow::Result<Final<'a>> {
    use crate::process;
    use anyhow::Context;
    process::set_rlimits(p)?;
    let nnp = p.no_new_privileges() == Some(true);
    let (early, late) = match seccomp {
        Some(s) if s.has_listener() => (Some(s), None),
        s => (None, s),
    };
    if let Some(program) = early.filter(|_| !nnp) {
        load_seccomp(program, sync_fd)?;
    }
    let caps = p.capabilities().as_ref();
    let cwd_done = process::enter_cwd_early(p.cwd())?;
    process::drop_bounding(caps)?;
    process::set_user(p)?;
    process::apply_caps(caps, late.is_some() && !nnp)?;
    if !cwd_done {
        process::enter_cwd(p.cwd())?;
    }
    let exec = process::prepare_exec(p)?;
    if nnp {
        crate::sys::process::set_no_new_privs().context("no_new_privs")?;
        if let Some(program) = early {
            load_seccomp(program, sync_fd)?;
        }
    }
    Ok(Final {
        exec,
        late_seccomp: late,
    })
}

/// Parent side: give a seccomp listener fd to the agent, with the container process state.
pub fn send_listener(
    program: &oxirun_seccomp::Program,
    fd: &std::os::fd::OwnedFd,
    pid: i32,
    state: &[u8],
) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let path = program
        .listener_path()
        .ok_or_else(|| anyhow::anyhow!("linux.seccomp.listenerPath: missing"))?;
    let state: serde_json::Value = serde_json::from_slice(state).unwrap_or_default();
    let msg = oxirun_seccomp::notify::process_state_json(
        crate::container::OCI_VERSION,
        pid,
        program.listener_metadata(),
        &state,
    );
    oxirun_seccomp::notify::send_to_agent(path, &msg, &[fd.as_raw_fd()])
        .map_err(|e| anyhow::anyhow!("linux.seccomp.listenerPath {}: {e}", path.display()))
}

/// Which namespaces are created where, and which are joined.
#[derive(Debug)]
pub struct NsPlan {
    /// Created by the clone itself.
    pub clone_flags: CloneFlags,
    /// Joined by path in the init (mount namespace last).
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Unshared after the parent placed the init in its cgroup (so the namespace root is it).
    pub new_cgroup: bool,
    /// Unshared just before the extra fork (they only apply to children).
    pub late_flags: CloneFlags,
    /// A second fork is needed: the pid namespace is joined by path, or a time namespace is used.
    pub extra_fork: bool,
    /// A new user namespace is created by the clone: the parent writes its id maps.
    pub new_user: bool,
    /// Created with unshare right after the joins: when the user namespace is joined by path,
    /// new namespaces must be owned by it, so they cannot come from the clone.
    pub after_join: CloneFlags,
}

impl NsPlan {
    pub fn new(spec: &Spec) -> NsPlan {
        let mut plan = NsPlan {
            clone_flags: CloneFlags::empty(),
            join: Vec::new(),
            new_cgroup: false,
            late_flags: CloneFlags::empty(),
            extra_fork: false,
            new_user: false,
            after_join: CloneFlags::empty(),
        };
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        plan.extra_fork = list.iter().any(|ns| {
            ns.typ() == LinuxNamespaceType::Time
                || (ns.typ() == LinuxNamespaceType::Pid && ns.path().is_some())
        });
        for ns in &list {
            let typ = ns.typ();
            match ns.path() {
                Some(p) => plan.join.push((typ, p.clone())),
                None if typ == LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                None if typ == LinuxNamespaceType::Time => plan.late_flags |= namespaces::flag(typ),
                None if typ == LinuxNamespaceType::Pid && plan.extra_fork => {
                    plan.late_flags |= namespaces::flag(typ)
                }
                None => plan.clone_flags |= namespaces::flag(typ),
            }
        }
        let user_joined = plan
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
        if user_joined {
            // New namespaces must belong to the joined user namespace: unshare them after it.
            let pid = CloneFlags::CLONE_NEWPID;
            if plan.clone_flags.contains(pid) {
                plan.late_flags |= pid;
                plan.extra_fork = true;
            }
            plan.after_join = plan.clone_flags - pid;
            plan.clone_flags = CloneFlags::empty();
        }
        plan.new_user = plan.clone_flags.contains(CloneFlags::CLONE_NEWUSER);
        // The user namespace first (it grants the rights to join the others), mount last
        // (paths of the others are resolved in ours).
        plan.join.sort_by_key(|(t, _)| match t {
            LinuxNamespaceType::User => 0,
            LinuxNamespaceType::Mount => 2,
            _ => 1,
        });
        plan
    }
}
