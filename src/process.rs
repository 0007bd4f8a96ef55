//! What the container process is made of: rlimits, user and groups, capabilities,
//! no_new_privs, umask, cwd, environment and the executable lookup. Used by the init (and
//! later by exec) after the rootfs is entered.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use caps::{CapSet, Capability as Cap};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimitType, Process};

use crate::sys;

/// The PATH used for lookup when process.env has none (glibc's execvp default, with sbin).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything execve needs, resolved before the container is reported ready.
pub struct Exec {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

fn cstring(field: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{field}: contains a NUL byte"))
}

fn env_lookup<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .find_map(|e| e.split_once('=').and_then(|(k, v)| (k == key).then_some(v)))
}

/// Resolve args[0] like Go's exec.LookPath inside the container's root (we are already in it),
/// using the container's PATH; error messages match runc's wording, which clients classify.
pub fn lookup(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = Path::new(arg0);
        return match std::fs::metadata(p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(p.to_path_buf()),
            Ok(m) if m.is_dir() => bail!("exec: {arg0:?}: is a directory"),
            Ok(_) => bail!("exec: {arg0:?}: permission denied"),
            Err(e) => bail!("exec: {arg0:?}: {}", io_reason(&e)),
        };
    }
    let path = env_lookup(env, "PATH").unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    bail!("exec: {arg0:?}: executable file not found in $PATH")
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The environment for the container: process.env, plus HOME from /etc/passwd if absent.
pub fn environment(process: &Process) -> Vec<String> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if env_lookup(&env, "HOME").is_none() {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

impl Exec {
    /// The pointer arrays execve reads, built now so that nothing allocates later.
    pub fn into_args(self) -> sys::process::ExecArgs {
        sys::process::ExecArgs::new(self.path, self.args, self.env)
    }
}

/// Build the execve arguments (lookup happens here, before the container reports ready).
pub fn prepare_exec(process: &Process) -> Result<Exec> {
    let args = process.args().as_deref().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| anyhow!("process.args: must not be empty"))?;
    let env = environment(process);
    let path = lookup(arg0, &env)?;
    Ok(Exec {
        path: CString::new(path.as_os_str().as_bytes()).context("process.args[0]")?,
        args: args
            .iter()
            .map(|a| cstring("process.args", a))
            .collect::<Result<_>>()?,
        env: env
            .iter()
            .map(|e| cstring("process.env", e))
            .collect::<Result<_>>()?,
    })
}

fn rlimit_resource(t: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource as R;
    match t {
        PosixRlimitType::RlimitCpu => R::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => R::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => R::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => R::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => R::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => R::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => R::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => R::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => R::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => R::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => R::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => R::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => R::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => R::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => R::RLIMIT_RTTIME,
    }
}

/// The config's name of an rlimit type ("RLIMIT_NOFILE").
pub fn rlimit_name(t: PosixRlimitType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{t:?}"))
}

/// Apply process.rlimits (raising a hard limit needs CAP_SYS_RESOURCE: the error says so).
pub fn set_rlimits(process: &Process) -> Result<()> {
    for rl in process.rlimits().iter().flatten() {
        nix::sys::resource::setrlimit(rlimit_resource(rl.typ()), rl.soft(), rl.hard()).map_err(
            |e| {
                anyhow!(
                    "process.rlimits: {} soft {} hard {}: {e} (a hard limit above the current one needs CAP_SYS_RESOURCE)",
                    rlimit_name(rl.typ()),
                    rl.soft(),
                    rl.hard()
                )
            },
        )?;
    }
    Ok(())
}

/// The capabilities this kernel knows, computed once: from /proc/sys/kernel/cap_last_cap
/// (one read), else by probing each with PR_CAPBSET_READ (~40 prctl calls). Called by the
/// runtime before it forks, so the value comes from the host's /proc, never from a /proc a
/// container's mounts could shadow (a lower number would leave capabilities undropped).
pub fn supported() -> &'static HashSet<Cap> {
    static SUPPORTED: std::sync::OnceLock<HashSet<Cap>> = std::sync::OnceLock::new();
    SUPPORTED.get_or_init(|| {
        caps::runtime::procfs_all_supported(None)
            .unwrap_or_else(|_| caps::runtime::thread_all_supported())
    })
}

/// Convert an OCI capability set to the caps crate's, skipping ones this kernel lacks.
fn to_caps(set: &Option<oci_spec::runtime::Capabilities>) -> HashSet<Cap> {
    let supported = supported();
    set.iter()
        .flatten()
        .filter_map(|c| Cap::from_str(&format!("CAP_{c}")).ok())
        .filter(|c| supported.contains(c))
        .collect()
}

/// Drop every capability outside the bounding set (needs CAP_SETPCAP: do it while root).
pub fn drop_bounding(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let keep = caps.map(|c| to_caps(c.bounding())).unwrap_or_default();
    for &cap in supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| anyhow!("drop {cap} from the bounding set: {e}"))?;
        }
    }
    Ok(())
}

/// Give the container's user its stdio, as runc does: a terminal (the pty peer, created by
/// root) or a pipe or socket from the caller must be the user's, or programs that check their
/// tty's owner (ssh, sudo, su, script) refuse it, and reopening `/dev/stdout` fails. Unlike
/// runc, nothing else is chowned: not /dev/null, and never a regular file or another device
/// the caller redirected stdio to (its owner is the host's business). A chown the kernel
/// refuses (an unmapped owner, a read-only filesystem) is not an error. Only the uid changes:
/// a devpts `gid=` option chose the group.
fn give_stdio_to(uid: u32) -> Result<()> {
    for fd in 0..3 {
        let Ok(st) = nix::sys::stat::fstat(sys::process::borrow_fd(fd)) else {
            continue;
        };
        let kind = st.st_mode & libc::S_IFMT;
        // Unix98 pty peers are char devices with majors 136..=143.
        let pty = kind == libc::S_IFCHR && (136..=143).contains(&nix::sys::stat::major(st.st_rdev));
        let ours = pty || kind == libc::S_IFIFO || kind == libc::S_IFSOCK;
        if st.st_uid == uid || !ours {
            continue;
        }
        match nix::unistd::fchown(sys::process::borrow_fd(fd), Some(Uid::from_raw(uid)), None) {
            Ok(()) | Err(nix::Error::EINVAL | nix::Error::EPERM | nix::Error::EROFS) => {}
            Err(e) => return Err(anyhow!("chown stdio fd {fd} to uid {uid}: {e}")),
        }
    }
    Ok(())
}

/// Switch to process.user: supplementary groups, gid, uid (keeping caps for `apply_caps`).
pub fn set_user(process: &Process) -> Result<()> {
    let user = process.user();
    if user.uid() != 0 {
        give_stdio_to(user.uid())?;
    }
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // A rootless parent denies setgroups in the user namespace; nothing to drop then (the
    // file is read only when the call fails, not on every start).
    match nix::unistd::setgroups(&gids) {
        Ok(()) => {}
        Err(nix::Error::EPERM) if gids.is_empty() && !crate::userns::setgroups_allowed() => {}
        Err(e) => return Err(anyhow!("setgroups: {e}")),
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).context("setresgid")?;
    sys::process::set_keepcaps(true).context("PR_SET_KEEPCAPS")?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).context("setresuid")?;
    sys::process::set_keepcaps(false).context("PR_SET_KEEPCAPS")?;
    if let Some(mask) = user.umask() {
        sys::process::set_umask(mask);
    }
    Ok(())
}

/// Set the effective, permitted, inheritable and ambient sets from the spec. With
/// `keep_sys_admin`, CAP_SYS_ADMIN stays effective and permitted (if we have it) for a seccomp
/// filter loaded later without no_new_privs; execve drops it again, since neither set survives
/// execve (they are recomputed from the bounding, inheritable and ambient sets).
pub fn apply_caps(caps: Option<&LinuxCapabilities>, keep_sys_admin: bool) -> Result<()> {
    let (mut eff, mut perm, inh, amb) = match caps {
        Some(c) => (
            to_caps(c.effective()),
            to_caps(c.permitted()),
            to_caps(c.inheritable()),
            to_caps(c.ambient()),
        ),
        None => Default::default(),
    };
    if keep_sys_admin && caps::has_cap(None, CapSet::Permitted, Cap::CAP_SYS_ADMIN).unwrap_or(false)
    {
        eff.insert(Cap::CAP_SYS_ADMIN);
        perm.insert(Cap::CAP_SYS_ADMIN);
    }
    // Effective first cleared so permitted can shrink; then set in the order the kernel allows.
    caps::set(None, CapSet::Effective, &HashSet::new()).map_err(|e| anyhow!("capset: {e}"))?;
    caps::set(None, CapSet::Inheritable, &inh)
        .map_err(|e| anyhow!("process.capabilities.inheritable: {e}"))?;
    caps::set(None, CapSet::Permitted, &perm)
        .map_err(|e| anyhow!("process.capabilities.permitted: {e}"))?;
    caps::set(None, CapSet::Effective, &eff)
        .map_err(|e| anyhow!("process.capabilities.effective: {e}"))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| anyhow!("clear ambient caps: {e}"))?;
    for cap in amb {
        // The kernel only allows ambient caps that are permitted and inheritable; runc
        // skips the others rather than failing.
        if perm.contains(&cap) && inh.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap)
                .map_err(|e| anyhow!("process.capabilities.ambient {cap}: {e}"))?;
        }
    }
    Ok(())
}

/// The first try at process.cwd, before the user switch (runc's order): a cwd only root can
/// enter (`/root`, mode 700, for uid 1000) works then. Ok(false) when permission was denied
/// to us: [`enter_cwd`] tries again as the container's user (a directory that user owns but
/// we cannot enter, e.g. on a root-squashing network filesystem).
pub fn enter_cwd_early(cwd: &Path) -> Result<bool> {
    match nix::unistd::chdir(cwd) {
        Ok(()) => verify_cwd(cwd).map(|()| true),
        Err(nix::Error::EACCES | nix::Error::EPERM) => Ok(false),
        Err(e) => Err(anyhow!("process.cwd: chdir {}: {e}", cwd.display())),
    }
}

/// chdir to process.cwd and make sure the result is inside the container's root: a cwd
/// reached through a leaked host fd shows as "(unreachable)" (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd).map_err(|e| anyhow!("process.cwd: chdir {}: {e}", cwd.display()))?;
    verify_cwd(cwd)
}

fn verify_cwd(cwd: &Path) -> Result<()> {
    let real = sys::process::raw_getcwd().context("getcwd")?;
    if !real.starts_with(b"/") {
        bail!(
            "process.cwd: {} is outside the container's root",
            cwd.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_path_and_words_like_runc() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(lookup("sh", &env).unwrap().ends_with("sh"));
        let err = lookup("no-such-binary-xyz", &env).unwrap_err().to_string();
        assert_eq!(
            err,
            "exec: \"no-such-binary-xyz\": executable file not found in $PATH"
        );
        let err = lookup("/no/such/file", &env).unwrap_err().to_string();
        assert_eq!(err, "exec: \"/no/such/file\": no such file or directory");
    }

    #[test]
    fn oci_caps_convert() {
        let set: oci_spec::runtime::Capabilities =
            serde_json::from_str(r#"["CAP_CHOWN","CAP_KILL"]"#).unwrap();
        let got = to_caps(&Some(set));
        assert!(got.contains(&Cap::CAP_CHOWN) && got.contains(&Cap::CAP_KILL));
        assert_eq!(got.len(), 2);
    }
}
