//! Driving a runtime binary through its runc-compatible command line: every call has its own
//! `--root`, a timeout, and its stdout/stderr captured in files (never pipes: a `create`d init
//! inherits the caller's stdio and would hold a pipe open).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One runtime under test.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Short name for ids, cgroup paths and table columns (`oxirun`, `runc`).
    pub name: String,
    pub path: PathBuf,
    /// The `--root` state directory (a temporary directory of this run).
    pub root: PathBuf,
    /// `<runtime> features` output (Null when the runtime has no such command).
    pub features: Value,
}

/// The result of one command.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// A one-line description for failure messages.
    pub fn brief(&self) -> String {
        let err = self.stderr.trim().lines().last().unwrap_or("").to_string();
        format!("exit {:?}, stderr: {err:?}", self.code)
    }
}

impl Runtime {
    pub fn new(name: &str, path: &Path, root: PathBuf) -> Self {
        let mut rt = Runtime {
            name: name.into(),
            path: path.into(),
            root,
            features: Value::Null,
        };
        let scratch = std::env::temp_dir();
        let out = rt.run_in(&scratch, &["features"], Duration::from_secs(10));
        rt.features = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        rt
    }

    /// Runs `<runtime> --root <root> args...` with `dir` holding the output files.
    pub fn run_in(&self, dir: &Path, args: &[&str], timeout: Duration) -> Out {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (o, e) = (dir.join(format!(".out{n}")), dir.join(format!(".err{n}")));
        let spawn = || -> std::io::Result<std::process::Child> {
            Command::new(&self.path)
                .arg("--root")
                .arg(&self.root)
                .args(args)
                .stdin(Stdio::null())
                .stdout(fs::File::create(&o)?)
                .stderr(fs::File::create(&e)?)
                .spawn()
        };
        let mut child = match spawn() {
            Ok(c) => c,
            Err(err) => {
                return Out {
                    ok: false,
                    code: None,
                    stdout: String::new(),
                    stderr: err.to_string(),
                }
            }
        };
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
        let (stdout, mut stderr) = (read(&o), read(&e));
        let _ = (fs::remove_file(&o), fs::remove_file(&e));
        if status.is_none() {
            stderr.push_str(&format!("\n(timed out after {timeout:?}: {args:?})"));
        }
        Out {
            ok: status.is_some_and(|s| s.success()),
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
        }
    }

    /// A lifecycle command with the default 20 s timeout.
    pub fn cmd(&self, dir: &Path, args: &[&str]) -> Out {
        self.run_in(dir, args, Duration::from_secs(20))
    }

    /// `state <id>` parsed; Err carries the command's error.
    pub fn state(&self, dir: &Path, id: &str) -> Result<Value, String> {
        let out = self.cmd(dir, &["state", id]);
        if !out.ok {
            return Err(out.brief());
        }
        serde_json::from_str(&out.stdout)
            .map_err(|e| format!("state is not JSON: {e}: {:?}", out.stdout))
    }

    /// The `status` of the container, or "(error: ...)".
    pub fn status(&self, dir: &Path, id: &str) -> String {
        match self.state(dir, id) {
            Ok(s) => s["status"].as_str().unwrap_or("(no status)").to_string(),
            Err(e) => format!("(state error: {e})"),
        }
    }

    /// Polls `state` until the status is `want` (up to `secs`); returns the last status seen.
    pub fn wait_status(&self, dir: &Path, id: &str, want: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.status(dir, id);
            if s == want || start.elapsed() > Duration::from_secs(secs) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Best-effort removal (`delete --force`), used by cleanup paths only.
    pub fn force_delete(&self, dir: &Path, id: &str) {
        let _ = self.cmd(dir, &["delete", "--force", id]);
    }

    /// Whether `features` lists `name` in `linux.namespaces`.
    pub fn has_namespace(&self, name: &str) -> Result<(), String> {
        let list = self.features["linux"]["namespaces"].as_array();
        match list {
            None => Ok(()), // no features: run everything
            Some(l) if l.iter().any(|n| n == name) => Ok(()),
            Some(_) => Err(format!(
                "{}'s features do not list the {name} namespace",
                self.name
            )),
        }
    }
}
