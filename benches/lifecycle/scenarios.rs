//! The per-iteration scenarios and the runtime commands they time.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

use crate::bundle::{self, Variant};
use crate::cgroups;
use crate::mntns::setns;
use crate::procs::{
    cpu_us, describe_status, kill_our_children, reap_strays, us, wait_bounded, wait_init,
};
use crate::runtime::{Mode, Runtime};
use crate::stats::Sample;
use crate::{COMMAND_TIMEOUT_MS, INIT_EXIT_TIMEOUT_MS};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Lifecycle,
    Run,
    Exec,
    RunSeccomp,
}

/// Every per-iteration scenario, in order (`Scenario as usize` indexes the runtime's arrays).
pub const SCENARIOS: [Scenario; 4] = [
    Scenario::Lifecycle,
    Scenario::Run,
    Scenario::Exec,
    Scenario::RunSeccomp,
];

impl Scenario {
    /// Stable name: JSON key, ratio and chart label.
    pub fn key(self) -> &'static str {
        match self {
            Scenario::Lifecycle => "create+start+wait+delete",
            Scenario::Run => "run",
            Scenario::Exec => "exec",
            Scenario::RunSeccomp => "run+seccomp+limits",
        }
    }

    /// The table label: says when the limits were not applied (no cgroups).
    pub fn label(self, mode: Mode) -> &'static str {
        match (self, mode) {
            (Scenario::RunSeccomp, Mode::NoCgroups) => "run+seccomp (no limits)",
            _ => self.key(),
        }
    }
}

/// Result of one runtime command reaped with `wait4`.
pub struct Exit {
    pub wall: Duration,
    pub rusage: libc::rusage,
}

/// The long-running container of the `exec` scenario.
struct LongRunning {
    id: String,
    leaf: String,
    pid: libc::pid_t,
    dir: PathBuf,
}

pub struct Bench {
    pub bundle: PathBuf,
    /// Absolute rootfs, for the per-container bundle directories (`root.path`).
    pub rootfs: PathBuf,
    /// Where per-container bundle directories go.
    pub bundles: PathBuf,
    pub spec: Value,
    pub seccomp: Value,
    pub stderr_log: PathBuf,
    pub pid_file: PathBuf,
    pub counter: u64,
    host_ns: libc::c_int,
    /// Per runtime row key: its live long-running `exec` container.
    long: BTreeMap<String, LongRunning>,
    /// Per runtime row: hierarchies holding the container's cgroup right after its first
    /// `create` (checked once, in the first warm-up, outside the measured iterations).
    pub cgroups_seen: BTreeMap<String, Vec<String>>,
    /// `rss-exec`, once built (see `rss.rs`).
    pub rss_helper: Option<PathBuf>,
}

impl Bench {
    pub fn new(
        bundle: &Path,
        spec: Value,
        seccomp: Value,
        bench_dir: &Path,
        host_ns: libc::c_int,
    ) -> Result<Self> {
        let rootfs = bundle
            .join("rootfs")
            .canonicalize()
            .context("canonicalize the bundle rootfs")?;
        Ok(Bench {
            bundle: bundle.to_path_buf(),
            rootfs,
            bundles: bench_dir.join("bundles"),
            spec,
            seccomp,
            stderr_log: bench_dir.join("last-stderr.txt"),
            pid_file: bench_dir.join("init.pid"),
            counter: 0,
            host_ns,
            long: BTreeMap::new(),
            cgroups_seen: BTreeMap::new(),
            rss_helper: None,
        })
    }

    /// Spawns from `rt`'s mount namespace from now on (crun on a hybrid host), if it has one.
    pub fn enter(&self, rt: &Runtime) -> Result<()> {
        match rt.mnt_ns {
            Some(fd) => setns(fd),
            None => Ok(()),
        }
    }

    /// Back to the host mount namespace after [`Bench::enter`].
    pub fn leave(&self, rt: &Runtime) -> Result<()> {
        match rt.mnt_ns {
            Some(_) => setns(self.host_ns),
            None => Ok(()),
        }
    }

    /// Pids of the live long-running containers (never killed by a teardown).
    pub fn keep(&self) -> Vec<libc::pid_t> {
        self.long.values().map(|l| l.pid).collect()
    }

    /// Writes the shared bundle's config.json for container number `n`; returns (id, leaf).
    pub fn prepare(&mut self, rt: &Runtime, variant: Variant) -> Result<(String, String)> {
        self.counter += 1;
        let n = self.counter;
        let id = format!("oxb-{}-{}", rt.name, n);
        let leaf = format!("{}-{}", rt.name, n);
        let spec = bundle::spec_for(&self.spec, &self.seccomp, rt.mode, &leaf, variant, None)?;
        bundle::write_config(&self.bundle, &spec)?;
        Ok((id, leaf))
    }

    /// A bundle directory of its own (`bundles/<id>`, `root.path` = the shared rootfs) for a
    /// container that lives alongside others; returns (id, cgroup leaf, directory). Ids and
    /// leaves carry the row key and `tag`: `oxb-<row>-<tag><n>`, `<row>-<tag><n>`.
    pub fn prepare_dir(
        &mut self,
        rt: &Runtime,
        tag: &str,
        variant: Variant,
    ) -> Result<(String, String, PathBuf)> {
        self.counter += 1;
        let leaf = format!("{}-{tag}{}", rt.key(), self.counter);
        let id = format!("oxb-{leaf}");
        let dir = self.bundles.join(&id);
        let spec = bundle::spec_for(
            &self.spec,
            &self.seccomp,
            rt.mode,
            &leaf,
            variant,
            Some(&self.rootfs),
        )?;
        bundle::write_config(&dir, &spec)?;
        Ok((id, leaf, dir))
    }

    /// Spawns `RT [global] --root R <args>` (stdin, stdout null; stderr to `stderr`).
    pub fn spawn(&self, rt: &Runtime, args: &[&str], stderr: &Path) -> Result<libc::pid_t> {
        self.spawn_with(rt, args, stderr, None)
    }

    /// [`Bench::spawn`], or with `via` = (`rss-exec`, its output file) through that helper,
    /// which writes the command's own peak RSS there (see `rss.rs`).
    pub fn spawn_with(
        &self,
        rt: &Runtime,
        args: &[&str],
        stderr: &Path,
        via: Option<(&Path, &Path)>,
    ) -> Result<libc::pid_t> {
        let err_file = fs::File::create(stderr)?;
        let mut cmd = match via {
            Some((helper, out)) => {
                let _ = fs::remove_file(out);
                let mut c = Command::new(helper);
                c.arg(out).arg(&rt.bin);
                c
            }
            None => Command::new(&rt.bin),
        };
        let child = cmd
            .args(&rt.global_args)
            .arg("--root")
            .arg(&rt.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .spawn()
            .with_context(|| format!("spawn {}", rt.bin.display()))?;
        Ok(child.id() as libc::pid_t)
    }

    /// Runs `RT [global] --root R <args>`, reaps it with wait4; an error unless it exits 0.
    pub fn command(&self, rt: &Runtime, args: &[&str]) -> Result<Exit> {
        let t0 = Instant::now();
        let pid = self.spawn(rt, args, &self.stderr_log)?;
        let (status, rusage) = wait_bounded(pid, COMMAND_TIMEOUT_MS)
            .with_context(|| format!("`{} {}`", rt.name, args.join(" ")))?
            .ok_or_else(|| anyhow!("wait4({pid}) lost the child"))?;
        let wall = t0.elapsed();
        check_status(rt, args, status, &self.stderr_log)?;
        Ok(Exit { wall, rusage })
    }

    pub fn lifecycle(&mut self, rt: &Runtime) -> Result<Sample> {
        let (id, leaf) = self.prepare(rt, Variant::True)?;
        let pid_file = self.pid_file.clone();
        let _ = fs::remove_file(&pid_file);
        let result = self.lifecycle_inner(rt, &id, &leaf, &pid_file);
        let _ = fs::remove_file(&pid_file);
        if result.is_err() {
            self.teardown(rt, &id, &leaf);
        }
        result
    }

    fn lifecycle_inner(
        &mut self,
        rt: &Runtime,
        id: &str,
        leaf: &str,
        pid_file: &Path,
    ) -> Result<Sample> {
        let bundle = self.bundle.to_string_lossy().into_owned();
        let pid_file_s = pid_file.to_string_lossy().into_owned();
        let t0 = Instant::now();
        let create = self.command(
            rt,
            &["create", "--bundle", &bundle, "--pid-file", &pid_file_s, id],
        )?;
        let pid = read_pid(pid_file)?;
        // First warm-up only: which hierarchies got this container's cgroup.
        self.cgroups_seen
            .entry(rt.row_name())
            .or_insert_with(|| cgroups::hierarchies_with(rt.mode, leaf));
        let start = self.command(rt, &["start", id])?;
        let t_wait = Instant::now();
        let init_cpu = wait_init(pid)?;
        let waited = t_wait.elapsed();
        let delete = self.command(rt, &["delete", id])?;
        let wall = t0.elapsed();
        let strays = reap_strays();
        Ok(Sample {
            wall: us(wall),
            phases: vec![
                ("create", us(create.wall)),
                ("start", us(start.wall)),
                ("wait", us(waited)),
                ("delete", us(delete.wall)),
            ],
            cpu_rt: cpu_us(&create.rusage) + cpu_us(&start.rusage) + cpu_us(&delete.rusage),
            cpu_init: init_cpu + strays,
            maxrss_kib: create.rusage.ru_maxrss as u64,
        })
    }

    /// `RT run`: the bare config, or (`seccomp`) the `run+seccomp+limits` one.
    pub fn run(&mut self, rt: &Runtime, seccomp: bool) -> Result<Sample> {
        let variant = if seccomp {
            Variant::SeccompLimits
        } else {
            Variant::True
        };
        let (id, leaf) = self.prepare(rt, variant)?;
        let bundle = self.bundle.to_string_lossy().into_owned();
        let result = self.command(rt, &["run", "--bundle", &bundle, &id]);
        let strays = reap_strays();
        match result {
            Ok(run) => Ok(Sample {
                wall: us(run.wall),
                phases: Vec::new(),
                cpu_rt: cpu_us(&run.rusage),
                cpu_init: strays,
                maxrss_kib: run.rusage.ru_maxrss as u64,
            }),
            Err(e) => {
                self.teardown(rt, &id, &leaf);
                Err(e)
            }
        }
    }

    /// `RT exec ID /bin/true` in the row's long-running container (started on first use).
    pub fn exec_true(&mut self, rt: &Runtime) -> Result<Sample> {
        let id = self.long_id(rt)?;
        let result = self.command(rt, &["exec", &id, "/bin/true"]);
        let strays = reap_strays();
        let exec = result?;
        Ok(Sample {
            wall: us(exec.wall),
            phases: Vec::new(),
            cpu_rt: cpu_us(&exec.rusage),
            cpu_init: strays,
            maxrss_kib: exec.rusage.ru_maxrss as u64,
        })
    }

    /// The id of the row's long-running container, started on first use.
    pub fn long_id(&mut self, rt: &Runtime) -> Result<String> {
        if !self.long.contains_key(&rt.key()) {
            let long = self
                .start_long(rt)
                .context("start the long-running container")?;
            self.long.insert(rt.key(), long);
        }
        Ok(self.long[&rt.key()].id.clone())
    }

    fn start_long(&mut self, rt: &Runtime) -> Result<LongRunning> {
        let (id, leaf, dir) = self.prepare_dir(rt, "exec-", Variant::Sleep)?;
        let pid_file = dir.join("init.pid");
        let dir_s = dir.to_string_lossy().into_owned();
        let pid_file_s = pid_file.to_string_lossy().into_owned();
        let started = (|| {
            self.command(
                rt,
                &["create", "--bundle", &dir_s, "--pid-file", &pid_file_s, &id],
            )?;
            let pid = read_pid(&pid_file)?;
            self.command(rt, &["start", &id])?;
            Ok(pid)
        })();
        match started {
            Ok(pid) => Ok(LongRunning { id, leaf, pid, dir }),
            Err(e) => {
                self.teardown(rt, &id, &leaf);
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Ends the row's long-running container, if any: `RT kill ID KILL`, reap its init (our
    /// child), `RT delete ID` (`delete --force` if that failed), remove its cgroup leaf.
    pub fn stop_long(&mut self, rt: &Runtime) -> Result<()> {
        let Some(long) = self.long.remove(&rt.key()) else {
            return Ok(());
        };
        let killed = self.command(rt, &["kill", &long.id, "KILL"]);
        let reaped = match &killed {
            Ok(_) => wait_bounded(long.pid, INIT_EXIT_TIMEOUT_MS).map(|_| ()),
            Err(_) => Ok(()),
        };
        let deleted = self.command(rt, &["delete", &long.id]);
        if killed.is_err() || reaped.is_err() || deleted.is_err() {
            self.teardown(rt, &long.id, &long.leaf);
        } else {
            cgroups::remove_leaf(rt.mode, &long.leaf);
        }
        let _ = fs::remove_dir_all(&long.dir);
        killed.context("kill")?;
        reaped.context("reap the init")?;
        deleted.context("delete")?;
        Ok(())
    }

    /// After a failure: `delete --force` through the runtime itself (it kills only its own
    /// container), then kill and reap what is still our child (the init if `delete` left it)
    /// except live long-running containers, and remove this container's cgroup leaves.
    pub fn teardown(&self, rt: &Runtime, id: &str, leaf: &str) {
        let _ = self.command(rt, &["delete", "--force", id]);
        std::thread::sleep(Duration::from_millis(50));
        reap_strays();
        kill_our_children(&self.keep());
        cgroups::remove_leaf(rt.mode, leaf);
    }
}

fn read_pid(pid_file: &Path) -> Result<libc::pid_t> {
    let text = fs::read_to_string(pid_file)
        .with_context(|| format!("create succeeded but wrote no {}", pid_file.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("pid file holds {text:?}"))
}

/// An error (with the last stderr line) unless `status` is exit 0.
pub fn check_status(rt: &Runtime, args: &[&str], status: i32, stderr: &Path) -> Result<()> {
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return Ok(());
    }
    let text = fs::read_to_string(stderr).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    bail!(
        "`{} {}` failed ({}): {}",
        rt.name,
        args.join(" "),
        describe_status(status),
        if last.is_empty() { "(no stderr)" } else { last }
    );
}
