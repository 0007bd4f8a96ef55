//! `oxirun exec`: run a new process in a container, described by `--process FILE` (a JSON
//! process object) or by arguments and flags on top of the container's own process.
//! Runtime failures exit 255 (the process' own status is only ever its exit code).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};

use super::Globals;
use crate::container::{self, ExecOpts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON file with the process to run (replaces the args and flags below)
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket to send the pty master to
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), repeatable
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// uid[:gid] to run as
    #[arg(short = 'u', long, allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Additional group id, repeatable
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<String>,
    /// Add a capability (bounding, effective, permitted), repeatable
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privileges
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux process label
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Return once the process has started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process' pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass N extra fds (3..3+N) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even if the container is paused
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    pub id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Parse `uid[:gid]` strictly: decimal u32s only (CVE-2026-30892: `1` must not become 0).
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let num = |part: &str| -> Result<u32> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--user: invalid uid[:gid] {s:?}");
        }
        part.parse()
            .map_err(|_| anyhow!("--user: {part:?} is out of range"))
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((num(u)?, Some(num(g)?))),
        None => Ok((num(s)?, None)),
    }
}

fn from_flags(args: &Args, base: Option<&Process>) -> Result<Process> {
    let mut p = base.cloned().unwrap_or_default();
    if args.command.is_empty() {
        bail!("exec: no command given (args or --process)");
    }
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &args.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(u) = &args.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid.unwrap_or(0));
    }
    if !args.additional_gids.is_empty() {
        let gids = args
            .additional_gids
            .iter()
            .map(|g| {
                g.parse::<u32>()
                    .map_err(|_| anyhow!("--additional-gids: invalid gid {g:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        p.user_mut().set_additional_gids(Some(gids));
    }
    if !args.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_else(empty_caps);
        for c in &args.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(c.clone()))
                .map_err(|_| anyhow!("--cap: unknown capability {c:?}"))?;
            // Never inheritable or ambient (CVE-2022-29162).
            let with = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(with(caps.bounding()));
            caps.set_effective(with(caps.effective()));
            caps.set_permitted(with(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if args.apparmor.as_deref().is_some_and(|a| !a.is_empty()) {
        bail!("--apparmor: AppArmor is not supported yet");
    }
    if args.process_label.as_deref().is_some_and(|a| !a.is_empty()) {
        bail!("--process-label: SELinux is not supported yet");
    }
    Ok(p)
}

fn empty_caps() -> LinuxCapabilities {
    let none = || Some(Default::default());
    let mut c = LinuxCapabilities::default();
    c.set_bounding(none());
    c.set_effective(none());
    c.set_permitted(none());
    c.set_inheritable(none());
    c.set_ambient(none());
    c
}

/// `--process` file, parsed before the container is looked at.
fn process_file(args: &Args) -> Result<Option<Process>> {
    let Some(path) = &args.process else {
        return Ok(None);
    };
    let data = std::fs::read(path).map_err(|e| anyhow!("--process {}: {e}", path.display()))?;
    let mut v: serde_json::Value =
        serde_json::from_slice(&data).map_err(|e| anyhow!("--process {}: {e}", path.display()))?;
    // runc reads the file into Go structs: a missing `user` is uid 0, gid 0 (engines and
    // scripts write process.json without one), not an error.
    if let Some(obj) = v.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| anyhow!("--process {}: {e}", path.display()))
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let result = (|| -> Result<i32> {
        let file = process_file(&args)?;
        let opts = ExecOpts {
            root: g.root.clone(),
            id: args.id.clone(),
            detach: args.detach,
            pid_file: args.pid_file.clone(),
            preserve_fds: args.preserve_fds,
            ignore_paused: args.ignore_paused,
            console_socket: args.console_socket.clone(),
        };
        container::exec(&opts, |st| match file {
            Some(p) => Ok(p),
            None => from_flags(&args, st.config.process().as_ref()),
        })
    })();
    result.or_else(|e| {
        crate::logging::fatal(&super::strip_os_error(&format!("exec failed: {e:#}")));
        Ok(255)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_parsing_is_strict() {
        assert_eq!(parse_user("1").unwrap(), (1, None));
        assert_eq!(parse_user("1:2").unwrap(), (1, Some(2)));
        assert_eq!(parse_user("65535:65535").unwrap(), (65535, Some(65535)));
        for bad in ["4294967296", "1x", "-1", "", ":1", "1:", "a:b", " 1"] {
            assert!(parse_user(bad).is_err(), "{bad:?}");
        }
    }
}
