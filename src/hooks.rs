//! OCI hooks: running them with the container state on stdin, their `args`, `env` and
//! `timeout`, and the failure rule of each kind.
//!
//! | kind            | run by / namespace                  | when                              | failure            |
//! |-----------------|-------------------------------------|-----------------------------------|--------------------|
//! | prestart        | parent (`create`), runtime ns       | init's namespaces exist, pre-pivot | create fails       |
//! | createRuntime   | parent (`create`), runtime ns       | right after prestart              | create fails       |
//! | createContainer | init, container ns                  | after createRuntime, pre-pivot    | create fails       |
//! | startContainer  | init, container ns (after pivot)    | `start`, just before execve       | start fails        |
//! | poststart       | `start`, runtime ns                 | after execve succeeded            | warning only       |
//! | poststop        | `delete`, runtime ns                | after the container is destroyed  | warning only       |

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Hook, Spec};

use crate::sys;

/// Most of a failing hook's output kept for the error message.
const MAX_OUTPUT: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }
}

/// The hooks of one kind in the config.
pub fn of(spec: &Spec, kind: Kind) -> &[Hook] {
    let Some(h) = spec.hooks().as_ref() else {
        return &[];
    };
    #[allow(deprecated)]
    let list = match kind {
        Kind::Prestart => h.prestart(),
        Kind::CreateRuntime => h.create_runtime(),
        Kind::CreateContainer => h.create_container(),
        Kind::StartContainer => h.start_container(),
        Kind::Poststart => h.poststart(),
        Kind::Poststop => h.poststop(),
    };
    list.as_deref().unwrap_or(&[])
}

/// Run every hook of `kind` in order; the first failure is the error.
pub fn run(spec: &Spec, kind: Kind, state_json: &[u8]) -> Result<()> {
    for (i, hook) in of(spec, kind).iter().enumerate() {
        run_one(hook, state_json)
            .with_context(|| format!("{} hook #{i} ({})", kind.name(), hook.path().display()))?;
    }
    Ok(())
}

/// Run the hooks of a kind whose failures only warn (poststart, poststop).
pub fn run_warn(spec: &Spec, kind: Kind, state_json: &[u8]) {
    for (i, hook) in of(spec, kind).iter().enumerate() {
        if let Err(e) = run_one(hook, state_json) {
            crate::logging::warn(&format!(
                "{} hook #{i} ({}): {e:#}",
                kind.name(),
                hook.path().display()
            ));
        }
    }
}

fn run_one(hook: &Hook, state_json: &[u8]) -> Result<()> {
    let args = hook.args().as_deref().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(arg0) = args.first() {
        cmd.arg0(arg0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // stdout and stderr share one pipe, read while we wait (no deadlock on chatty hooks).
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out_w.try_clone().context("dup")?))
        .stderr(Stdio::from(out_w));
    let mut child = cmd.spawn().map_err(|e| anyhow!("{e}"))?;
    drop(cmd);
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json);
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let pidfd = sys::process::pidfd_open(child.id() as i32).context("pidfd_open")?;
    let (output, timed_out) = collect_until_exit(&pidfd, out_r, timeout);
    if timed_out {
        let _ = child.kill();
        let _ = child.wait();
        let secs = timeout.map(|t| t.as_secs()).unwrap_or(0);
        let out = String::from_utf8_lossy(&output);
        let out = out.trim();
        if out.is_empty() {
            bail!("timed out after {secs}s");
        }
        bail!("timed out after {secs}s, output: {out}");
    }
    let status = child.wait().context("wait")?;
    if !status.success() {
        let out = String::from_utf8_lossy(&output);
        let out = out.trim();
        if out.is_empty() {
            bail!("{status}");
        }
        bail!("{status}, output: {out}");
    }
    Ok(())
}

/// Read the hook's output until it exits or the timeout passes; (output, timed out).
fn collect_until_exit(pidfd: &OwnedFd, out: OwnedFd, timeout: Option<Duration>) -> (Vec<u8>, bool) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut file = std::fs::File::from(out);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut out_open = true;
    loop {
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (buf, true);
                }
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if out_open {
            fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, wait) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return (buf, false),
        }
        let exited = fds[0].any().unwrap_or(false);
        let readable = out_open && fds.get(1).and_then(|f| f.any()).unwrap_or(false);
        drop(fds);
        if readable {
            match file.read(&mut chunk) {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) if buf.len() < MAX_OUTPUT => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {}
            }
        }
        if exited {
            // Drain what is already there without blocking on grandchildren holding the pipe.
            let _ = nix::fcntl::fcntl(
                file.as_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            while out_open && buf.len() < MAX_OUTPUT {
                match file.read(&mut chunk) {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            buf.truncate(MAX_OUTPUT);
            return (buf, false);
        }
    }
}
