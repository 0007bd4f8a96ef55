//! A daemon a client test starts for itself (containerd, dockerd): spawned as our child with
//! its output in files under the test's dir, awaited with a readiness probe, and on drop
//! stopped: SIGTERM to the pid we spawned (never a name), SIGKILL if it has not exited
//! within the grace time. The daemons' own children (shims, containerd under dockerd) exit
//! with them or are reaped by our subreaper.

use std::cell::RefCell;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::{poll, OutFiles};

pub struct Daemon {
    pub name: String,
    child: RefCell<Option<Child>>,
    log: OutFiles,
    grace: Duration,
}

impl Daemon {
    /// Spawns `cmd` (stdin /dev/null, stdout/stderr to files in `dir`).
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Result<Daemon, String> {
        let log = OutFiles::new(dir, name);
        log.attach(&mut cmd);
        let child = cmd.spawn().map_err(|e| format!("spawn {name}: {e}"))?;
        Ok(Daemon {
            name: name.to_string(),
            child: RefCell::new(Some(child)),
            log,
            grace: Duration::from_secs(20),
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.borrow().as_ref().map_or(0, |c| c.id() as i32)
    }

    /// The last `n` lines of the daemon's stderr (and stdout).
    pub fn log_tail(&self, n: usize) -> String {
        let out = self.log.read(0);
        let all = format!("{}{}", out.stdout, out.stderr);
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until `ready()` holds; Err (with the log's tail) if the daemon exits first or
    /// `timeout` passes.
    pub fn wait_ready(
        &self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let mut exited = None;
        let up = poll(timeout, || {
            let polled = self.child.borrow_mut().as_mut().map(|c| c.try_wait());
            if let Some(Ok(Some(st))) = polled {
                exited = Some(st);
                return Some(false);
            }
            ready().then_some(true)
        });
        match (up, exited) {
            (Some(true), _) => Ok(()),
            (_, Some(st)) => {
                *self.child.borrow_mut() = None;
                Err(format!(
                    "{} exited ({st}) before it was ready:\n{}",
                    self.name,
                    self.log_tail(30)
                ))
            }
            _ => Err(format!(
                "{} not ready after {timeout:?}:\n{}",
                self.name,
                self.log_tail(30)
            )),
        }
    }

    /// SIGTERM, then SIGKILL after the grace time; reaps it. Idempotent.
    pub fn stop(&self) {
        let Some(mut child) = self.child.borrow_mut().take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGTERM); // our own unreaped child: the pid is still ours
            if poll(self.grace, || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
