//! [`DockerCli`]: an engine with Docker's command line (podman, docker). What differs between
//! them (how the runtime is chosen, extra flags, where cgroups go, the `--init` binary) is
//! the trait's required part; running, naming, inspecting and log-waiting are provided, and
//! the scenarios of `cli_scenarios` run on any implementation.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::matrix::{expect_code, run, wait_for, Res, Rt};
use crate::Out;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A per-process unique number (container names, cid files).
pub fn seq() -> usize {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

pub trait DockerCli {
    /// The engine's name, for tables and messages.
    fn engine(&self) -> &'static str;
    /// The image every scenario runs (the busybox rootfs, imported).
    fn image(&self) -> &str;
    /// The test's scratch dir (outputs, host-side files of bind mounts).
    fn dir(&self) -> &Path;
    /// The client command `args` for containers run by `rt`.
    fn command(&self, rt: &Rt, args: &[&str]) -> Command;
    /// Flags `run` gets first: choosing `rt` where that is a `run` flag, recording ids.
    fn run_flags(&self, rt: &Rt) -> Vec<String>;
    /// Flags every scenario's `run` adds, but the seccomp ones.
    fn common(&self) -> &'static [&'static str];
    /// A piece of the cgroup path of our containers as `/proc/<pid>/cgroup` shows it.
    fn cgroup_marker(&self) -> String;
    /// How `/proc/1/cmdline` starts (NULs as spaces) in a container run with `--init`.
    fn init_cmdline(&self) -> &'static str;
    /// `rm` flags that remove a running container at once.
    fn rm_flags(&self) -> &'static [&'static str];

    /// Timeout of one client command.
    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    /// Runs the client command `args` for `rt`.
    fn cli(&self, rt: &Rt, args: &[&str]) -> Out {
        run(&mut self.command(rt, args), self.dir(), self.timeout())
    }

    /// `run <run_flags> <flags> IMAGE <cmd>`.
    fn run(&self, rt: &Rt, flags: &[&str], cmd: &[&str]) -> Out {
        let own = self.run_flags(rt);
        let mut a: Vec<&str> = vec!["run"];
        a.extend(own.iter().map(String::as_str));
        a.extend_from_slice(flags);
        a.push(self.image());
        a.extend_from_slice(cmd);
        self.cli(rt, &a)
    }

    /// `run <flags> <common flags> IMAGE <cmd>`.
    fn run_c(&self, rt: &Rt, flags: &[&str], cmd: &[&str]) -> Out {
        let mut f = flags.to_vec();
        f.extend_from_slice(self.common());
        self.run(rt, &f, cmd)
    }

    /// A container name unique in this process: `it-<short>-<runtime>-<pid>-<n>`.
    fn name(&self, rt: &Rt, short: &str) -> String {
        format!("it-{short}-{}-{}-{}", rt.name, std::process::id(), seq())
    }

    /// `inspect -f FMT NAME`, trimmed.
    fn inspect(&self, rt: &Rt, name: &str, fmt: &str) -> String {
        self.cli(rt, &["inspect", "-f", fmt, name])
            .stdout
            .trim()
            .to_string()
    }

    /// Waits until `logs NAME` shows `needle`.
    fn wait_log(&self, rt: &Rt, name: &str, needle: &str) -> Res {
        wait_for(
            Duration::from_secs(10),
            || self.cli(rt, &["logs", name]).stdout.contains(needle),
            || {
                format!(
                    "`{} logs {name}` never showed {needle:?}: {:#?}",
                    self.engine(),
                    self.cli(rt, &["logs", name])
                )
            },
        )
    }

    /// Removes the container at once, whatever its state (errors ignored: cleanup).
    fn rm(&self, rt: &Rt, name: &str) {
        let mut a = vec!["rm"];
        a.extend_from_slice(self.rm_flags());
        a.push(name);
        let _ = self.cli(rt, &a);
    }

    /// A scenario's detached container: `run -d --name N <flags> <common> IMAGE <cmd>`, then
    /// (with `ready`) its logs awaited until they show it. Removed when the guard drops,
    /// also when this fails.
    fn detached<'a>(
        &'a self,
        rt: &'a Rt,
        short: &str,
        flags: &[&str],
        cmd: &[&str],
        ready: Option<&str>,
    ) -> Result<Detached<'a, Self>, String>
    where
        Self: Sized,
    {
        let d = Detached {
            e: self,
            rt,
            name: self.name(rt, short),
        };
        let mut f = vec!["-d", "--name", d.name.as_str()];
        f.extend_from_slice(flags);
        let out = self.run_c(rt, &f, cmd);
        expect_code(&out, 0, &format!("run -d {flags:?} IMAGE {cmd:?}"))?;
        if let Some(r) = ready {
            self.wait_log(rt, &d.name, r)?;
        }
        Ok(d)
    }
}

/// A container made by [`DockerCli::detached`]; derefs to its name; removed on drop.
pub struct Detached<'a, E: DockerCli> {
    e: &'a E,
    rt: &'a Rt,
    pub name: String,
}

impl<E: DockerCli> std::ops::Deref for Detached<'_, E> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl<E: DockerCli> Drop for Detached<'_, E> {
    fn drop(&mut self) {
        self.e.rm(self.rt, &self.name);
    }
}

/// Every scenario that runs on any [`DockerCli`] engine, in table order.
pub fn scenarios<E: DockerCli>() -> Vec<super::Scenario<'static, E>> {
    use super::{cli_config as c, cli_lifecycle as l};
    vec![
        ("run --rm exit code", l::run_rm_exit_code::<E>),
        ("missing command: 127 + error", l::missing_command::<E>),
        (
            "run -d/exec/top/logs/pause/stop/rm",
            l::detached_lifecycle::<E>,
        ),
        (
            "stop -t 1 escalates to SIGKILL",
            l::stop_escalates_to_kill::<E>,
        ),
        ("kill + wait", l::kill_and_wait::<E>),
        ("-v bind mounts rw/ro", c::bind_mounts::<E>),
        ("--tmpfs", c::tmpfs::<E>),
        ("-e", c::env::<E>),
        ("--memory/--pids-limit + stats", c::memory_pids_limits::<E>),
        ("--read-only", c::read_only::<E>),
        ("--cap-drop/--cap-add", c::caps::<E>),
        (
            "seccomp default/unconfined",
            c::seccomp_default_and_unconfined::<E>,
        ),
        ("-it through a pty", l::interactive_tty::<E>),
        ("exec -it through a pty", l::exec_interactive_tty::<E>),
        ("--user/--hostname/--workdir", c::user_hostname_workdir::<E>),
        ("named volume", c::named_volume::<E>),
        ("--cpus/--cpu-shares + stats", c::cpu_limits_and_stats::<E>),
        ("--network none: lo up", c::loopback_up::<E>),
        ("restart/wait/exec --user", l::restart_wait_exec_user::<E>),
        ("--init", l::init::<E>),
    ]
}
