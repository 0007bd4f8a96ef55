//! `checkpoint` and `restore` through CRIU (see [`criu`] for why the binary, not its RPC).
//!
//! * [`checkpoint`]: `criu dump` (or `pre-dump`) of the init's tree, with the options runc
//!   sets: the rootfs as root, cgroups managed, every bind mount of the config (and each
//!   masked file, a bind of /dev/null) declared external, the init's stdio recorded in
//!   `descriptors.json` for the restore to reconnect pipes. A dump that does not leave the
//!   container running ends it as `delete` would (its cgroup and state go).
//! * [`restore`]: like `create`, but the init comes from `criu restore` (see `restore.rs`).
//!
//! Namespaces the config joins by path (network, pid: a pod's sandbox) are external, as in
//! runc: `net[INODE]:extRootNetNS` on dump, the path's fd inherited under that key on restore.
//!
//! Hooks on restore run as runc runs them: prestart and createRuntime once CRIU has made the
//! namespaces (its `setup-namespaces` action; the script is our own binary, see
//! [`as_criu_hook`]), with the restored init's pid in the state.
//!
//! Terminals: CRIU's binary has no way to hand back a pty master it makes (runc's
//! `orphan-pts-master` notice is RPC only), so the init's pty is external, as LXC does it:
//! `tty[RDEV:DEV]` on dump (kept in `tty.info`) and /dev/console an external mount; the
//! restore opens a new pty, gives CRIU its peer under that key and binds it over
//! /dev/console, and sends the master to the console socket (or proxies it, in the
//! foreground), which is what conmon and containerd's shim wait for.

pub mod criu;
mod restore;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::runtime::Spec;

use crate::container::{self, Status};
use crate::state::StateDir;

pub use restore::{restore, RestoreOpts};

/// The init's fds 0-2 as `/proc/PID/fd` links read at dump time (runc's file name and format).
const DESCRIPTORS: &str = "descriptors.json";

/// CRIU's key for the init's terminal (`tty[RDEV:DEV]`, hex), when it has one (our own file).
const TTY_INFO: &str = "tty.info";

/// Whether the config gives the process a terminal.
fn has_terminal(spec: &Spec) -> bool {
    spec.process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

/// CRIU's key for the pty the init's stdio is on (its fds 0-2 on a /dev/pts device), if any.
fn init_tty_key(pid: i32) -> Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    for fd in 0..3 {
        let link = format!("/proc/{pid}/fd/{fd}");
        if !fs::read_link(&link).is_ok_and(|p| p.starts_with("/dev/pts/")) {
            continue;
        }
        let md = fs::metadata(&link).with_context(|| format!("stat {link}"))?;
        return Ok(Some(format!("tty[{:x}:{:x}]", md.rdev(), md.dev())));
    }
    Ok(None)
}

/// What `checkpoint` and `restore` share (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct CriuOpts {
    pub criu: PathBuf,
    pub image_path: Option<PathBuf>,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// `checkpoint`'s own flags.
#[derive(Debug, Default)]
pub struct DumpOpts {
    pub common: CriuOpts,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub page_server: Option<String>,
    pub status_fd: Option<i32>,
}

impl CriuOpts {
    /// (images, work): `--image-path` (default `./checkpoint`, as runc), `--work-path`
    /// (default: the images directory); both made if missing.
    fn dirs(&self) -> Result<(PathBuf, PathBuf)> {
        let images = match &self.image_path {
            Some(p) => std::path::absolute(p).context("--image-path")?,
            None => std::env::current_dir()
                .context("current directory")?
                .join("checkpoint"),
        };
        let work = match &self.work_path {
            Some(p) => std::path::absolute(p).context("--work-path")?,
            None => images.clone(),
        };
        for d in [&images, &work] {
            fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
        }
        Ok((images, work))
    }

    /// The flags both directions pass through (`restore` says which one this is).
    fn shared_args(&self, cmd: &mut std::process::Command, restore: bool) -> Result<()> {
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.auto_dedup, "--auto-dedup"),
            (self.lazy_pages, "--lazy-pages"),
        ] {
            if on {
                cmd.arg(flag);
            }
        }
        let mode = self.manage_cgroups_mode.as_deref().unwrap_or("soft");
        if !matches!(mode, "soft" | "full" | "strict" | "ignore") {
            bail!("--manage-cgroups-mode: invalid value {mode:?} (soft, full, strict or ignore)");
        }
        // CRIU's `strict` restore wants the cgroups not to exist, and the container's always
        // does: we make it, with the config's limits, and start CRIU inside it. `full` is the
        // nearest that works (every dumped property restored). runc 1.1 restores with `soft`
        // whatever the flag says (CRIU's log: "cgroups restore mode 0x4").
        let mode = match (mode, restore) {
            ("strict", true) => "full",
            _ => mode,
        };
        cmd.arg(format!("--manage-cgroups={mode}"));
        for ns in &self.empty_ns {
            // runc takes the spec's name; CRIU knows only the network one by "net".
            match ns.as_str() {
                "network" | "net" => cmd.args(["--empty-ns", "net"]),
                other => bail!("--empty-ns: {other:?} is not supported (only network)"),
            };
        }
        Ok(())
    }
}

/// External mounts as (key in the image, host source): every bind mount of the config and
/// every masked path that is a file (masked with a bind of /dev/null). Keys are the
/// destinations, as runc's.
fn external_mounts(spec: &Spec, bundle: &Path, rootfs: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let opts = crate::rootfs::parse_mount_options(m.options().as_deref().unwrap_or(&[]));
        if !opts.is_bind() || m.typ().as_deref() == Some("cgroup") {
            continue;
        }
        let Some(src) = m.source() else { continue };
        let dest = m.destination().to_string_lossy().into_owned();
        out.push((dest, bundle.join(src)));
    }
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    for p in masked {
        let inside = rootfs.join(p.trim_start_matches('/'));
        if fs::metadata(&inside).is_ok_and(|m| !m.is_dir()) {
            out.push((p, PathBuf::from("/dev/null")));
        }
    }
    out
}

/// The namespaces CRIU must leave alone: (CRIU's name, runc's key, path) for each network
/// or pid namespace the config joins by path.
fn external_namespaces(spec: &Spec) -> Vec<(&'static str, &'static str, PathBuf)> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let Some(nss) = spec.linux().as_ref().and_then(|l| l.namespaces().clone()) else {
        return Vec::new();
    };
    nss.iter()
        .filter_map(|ns| {
            let path = ns.path().clone()?;
            match ns.typ() {
                T::Network => Some(("net", "extRootNetNS", path)),
                T::Pid => Some(("pid", "extRootPidNS", path)),
                _ => None,
            }
        })
        .collect()
}

/// `oxirun checkpoint`.
pub fn checkpoint(root: &Path, id: &str, opts: &DumpOpts) -> Result<()> {
    let sdir = StateDir::open(root, id)?;
    let st = sdir.load()?;
    match container::status(root, &st) {
        // containerd's shim pauses the container around its checkpoint.
        Status::Running | Status::Paused => {}
        other => bail!("container {id} is not running: {}", other.as_str()),
    }
    // Checked before anything is written: a missing CRIU leaves the container untouched.
    let criu = criu::find(&opts.common.criu)?;
    let (images, work) = opts.common.dirs()?;
    let action = if opts.pre_dump { "pre-dump" } else { "dump" };
    let log = format!("{action}.log");
    let mut cmd = criu.command(action, &images, &work, &log);
    cmd.arg("--tree")
        .arg(st.pid.to_string())
        .arg("--root")
        .arg(&st.rootfs);
    opts.common.shared_args(&mut cmd, false)?;
    // CRIU freezes the whole cgroup (as runc has it do), which also works when the container
    // is paused: it leaves the freezer as it found it.
    if let Some(dir) = st.cgroup.freezer_dir().filter(|d| d.is_dir()) {
        cmd.arg("--freeze-cgroup").arg(dir);
    }
    if opts.leave_running && !opts.pre_dump {
        cmd.arg("--leave-running");
    }
    if let Some(parent) = &opts.parent_path {
        // Relative to the images directory, as CRIU wants it (and runc passes it).
        cmd.arg("--prev-images-dir").arg(parent);
    }
    if opts.pre_dump || opts.parent_path.is_some() {
        cmd.arg("--track-mem");
    }
    if let Some(ps) = &opts.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("--page-server {ps:?}: want ADDRESS:PORT"))?;
        // A lazy dump is the page server itself, listening there; a plain dump sends its
        // pages to one (as runc's `ps` over RPC means either, by `lazy_pages`).
        if !opts.common.lazy_pages {
            cmd.arg("--page-server");
        }
        cmd.args(["--address", addr, "--port", port]);
    }
    if let Some(fd) = opts.status_fd {
        cmd.arg("--status-fd").arg(fd.to_string());
    }
    for (key, _) in external_mounts(&st.config, &st.bundle, &st.rootfs) {
        cmd.arg("--ext-mount-map").arg(format!("{key}:{key}"));
    }
    for (kind, key, path) in external_namespaces(&st.config) {
        use std::os::unix::fs::MetadataExt;
        let ino = fs::metadata(&path)
            .with_context(|| format!("{kind} namespace {}", path.display()))?
            .ino();
        cmd.arg("--external").arg(format!("{kind}[{ino}]:{key}"));
    }
    if has_terminal(&st.config) {
        // The pty's master is the client's: CRIU cannot dump it, so the pty and the
        // /dev/console bound from it are external (see the module docs).
        cmd.args(["--ext-mount-map", "/dev/console:/dev/console"]);
        if let Some(key) = init_tty_key(st.pid)? {
            cmd.arg("--external").arg(&key);
            if !opts.pre_dump {
                let path = images.join(TTY_INFO);
                fs::write(&path, &key).with_context(|| format!("write {}", path.display()))?;
            }
        }
    }
    if !opts.pre_dump {
        let fds: Vec<String> = (0..3)
            .map(|fd| {
                fs::read_link(format!("/proc/{}/fd/{fd}", st.pid))
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let path = images.join(DESCRIPTORS);
        fs::write(&path, serde_json::to_vec(&fds)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    crate::debug!("checkpoint: {cmd:?}");
    criu.run(cmd, &work, &log)?;
    if opts.leave_running || opts.pre_dump {
        return Ok(());
    }
    // CRIU killed the tree after dumping it: the container is gone, as after `delete`.
    container::destroy_after_dump(sdir, &st)
}

/// Environment naming the container whose restore CRIU runs us for (set on CRIU's command,
/// which passes its environment to action scripts; it execs the script without arguments).
pub(crate) const HOOK_ROOT: &str = "OXIRUN_CRIU_HOOK_ROOT";
pub(crate) const HOOK_ID: &str = "OXIRUN_CRIU_HOOK_ID";

/// When CRIU runs this binary as the restore's action script (no arguments,
/// `CRTOOLS_SCRIPT_ACTION` and our two variables set): do [`criu_hook`], return the exit code.
pub fn as_criu_hook() -> Option<i32> {
    if std::env::args_os().len() != 1 || std::env::var_os("CRTOOLS_SCRIPT_ACTION").is_none() {
        return None;
    }
    let root = std::env::var_os(HOOK_ROOT)?;
    let id = std::env::var(HOOK_ID).ok()?;
    Some(match criu_hook(Path::new(&root), &id) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oxirun: restore hook: {e:#}");
            1
        }
    })
}

/// At CRIU's `setup-namespaces` step (`CRTOOLS_SCRIPT_ACTION`), the prestart then
/// createRuntime hooks of the container being restored, with the restored init's pid
/// (`CRTOOLS_INIT_PID`) in the state they read. A failing hook fails the restore. Other
/// steps: nothing.
fn criu_hook(root: &Path, id: &str) -> Result<()> {
    if std::env::var("CRTOOLS_SCRIPT_ACTION").as_deref() != Ok("setup-namespaces") {
        return Ok(());
    }
    let pid: i32 = std::env::var("CRTOOLS_INIT_PID")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow!("no CRTOOLS_INIT_PID from CRIU"))?;
    // Unlocked: the restoring command holds the lock while CRIU runs us.
    let mut st = crate::state::load(root, id)?;
    st.pid = pid;
    let state = container::state_json(&container::oci_state(&st, Status::Creating));
    crate::hooks::run(&st.config, crate::hooks::Kind::Prestart, &state)?;
    crate::hooks::run(&st.config, crate::hooks::Kind::CreateRuntime, &state)
}

/// Whether the config has hooks that run on restore.
fn has_restore_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        !h.prestart().as_deref().unwrap_or(&[]).is_empty()
            || !h.create_runtime().as_deref().unwrap_or(&[]).is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(opts: &CriuOpts, restore: bool) -> Result<Vec<String>> {
        let mut cmd = std::process::Command::new("criu");
        opts.shared_args(&mut cmd, restore)?;
        Ok(cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn cgroups_mode_strict_restores_as_full() {
        let strict = CriuOpts {
            manage_cgroups_mode: Some("strict".into()),
            ..Default::default()
        };
        assert!(args(&strict, false)
            .unwrap()
            .contains(&"--manage-cgroups=strict".into()));
        assert!(args(&strict, true)
            .unwrap()
            .contains(&"--manage-cgroups=full".into()));
        let default = args(&CriuOpts::default(), true).unwrap();
        assert!(default.contains(&"--manage-cgroups=soft".into()));
        let bad = CriuOpts {
            manage_cgroups_mode: Some("sometimes".into()),
            ..Default::default()
        };
        assert!(args(&bad, true).is_err());
    }

    #[test]
    fn flags_pass_through_and_empty_ns_takes_the_spec_s_name() {
        let o = CriuOpts {
            tcp_established: true,
            file_locks: true,
            shell_job: true,
            empty_ns: vec!["network".into()],
            ..Default::default()
        };
        let a = args(&o, false).unwrap().join(" ");
        for want in [
            "--tcp-established",
            "--file-locks",
            "--shell-job",
            "--empty-ns net",
        ] {
            assert!(a.contains(want), "{want}: {a}");
        }
        let pid = CriuOpts {
            empty_ns: vec!["pid".into()],
            ..Default::default()
        };
        assert!(args(&pid, false).is_err());
    }
}
