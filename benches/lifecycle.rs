//! Lifecycle benchmark: oxirun against the peer runtimes installed on this machine.
//!
//! `cargo bench --bench lifecycle` (as root). Every runtime found (oxirun, and `runc`, `crun`,
//! `youki` on `PATH`) runs the same busybox bundle (`/bin/true`, the config `runc spec` writes,
//! or the same JSON built in when runc is absent), interleaved iteration by iteration so that
//! machine noise hits every runtime alike. Two scenarios:
//!
//! * `create+start+wait+delete`: `RT --root R create --bundle B --pid-file P ID`, `RT start ID`,
//!   wait for the container init to exit (this process is a child subreaper, so the init is
//!   reparented here and reaped with `wait4` on the pid from `--pid-file`), `RT delete ID`.
//! * `run`: `RT --root R run --bundle B ID`, foreground; the wall time of the whole command.
//!
//! Metrics over `OXIRUN_BENCH_ITERS` iterations (default 50) after 3 warm-ups: median and p90
//! wall time; CPU time (user+sys) from the `wait4` rusage of each runtime command (`rt`, which
//! includes the descendants that command reaped itself), and separately of the container init and
//! of any orphan reparented to this process (`init`: for the lifecycle scenario, the runtime's
//! in-container setup before `execve` runs in the init and is counted here, plus `/bin/true`);
//! the `ru_maxrss` of the `create` (or `run`) command in KiB; and oxirun's ratios to each peer.
//! Results: a table on stdout and `target/bench/lifecycle.json`.
//!
//! Modes, one per row: `cgroups` = `linux.cgroupsPath` `/oxirun-bench/<runtime>-<n>` handled by
//! the runtime's default cgroupfs manager (this host is hybrid v1 + v2). `no cgroups` = crun
//! `--cgroup-manager=disabled` and no `cgroupsPath`; runc, youki and oxirun have no such switch,
//! so they are measured only with cgroups and their ratio to crun says the modes differ. crun 1.8
//! refuses a hybrid host even with cgroups disabled (it checks `/sys/fs/cgroup/unified`), so on
//! such a host crun's commands are spawned from a private mount namespace (made once, entered with
//! `setns` outside the timed region) where that mount is detached; nothing else differs.
//!
//! Environment: `OXIRUN_BENCH_ITERS`, `OXIRUN_BENCH_WARMUPS` (3), `OXIRUN_BIN` (default: the
//! binary cargo built for this bench, else `target/release/oxirun`), `OXIRUN_BENCH_RUNTIMES`
//! (comma list, default all found). Machine safety: the bench only touches processes it started
//! and cgroups under `/oxirun-bench`, which it removes (`rmdir`, every hierarchy) at the end.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

const CGROUP_PARENT: &str = "oxirun-bench";
const INIT_EXIT_TIMEOUT_MS: i32 = 20_000;
const COMMAND_TIMEOUT_MS: i32 = 30_000;
const SCENARIOS: [&str; 2] = ["create+start+wait+delete", "run"];

/// `runc spec` (1.1.5) output, used when runc is not installed so every runtime still gets it.
const FALLBACK_SPEC: &str = r#"{"ociVersion":"1.0.2-dev","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","readonly":true},"hostname":"runc","mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}"#;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Cgroups,
    NoCgroups,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Cgroups => "cgroups",
            Mode::NoCgroups => "no cgroups",
        }
    }
}

/// One measured iteration of one scenario. Times in microseconds.
#[derive(Default, Clone)]
struct Sample {
    wall: u64,
    /// (phase name, wall) for the lifecycle scenario.
    phases: Vec<(&'static str, u64)>,
    cpu_rt: u64,
    cpu_init: u64,
    maxrss_kib: u64,
}

struct Runtime {
    name: String,
    bin: PathBuf,
    mode: Mode,
    global_args: Vec<String>,
    /// Mount namespace to spawn this runtime's commands from (crun on a hybrid host).
    mnt_ns: Option<libc::c_int>,
    version: String,
    root: PathBuf,
    /// Per scenario: samples, or the error that stopped it.
    samples: [Vec<Sample>; 2],
    errors: [Option<String>; 2],
}

impl Runtime {
    fn row_name(&self) -> String {
        format!("{} ({})", self.name, self.mode.label())
    }
}

struct Bench {
    bundle: PathBuf,
    spec: Value,
    stderr_log: PathBuf,
    pid_file: PathBuf,
    counter: u64,
    /// Per runtime name: hierarchies holding the container's cgroup right after its first
    /// `create` (checked once, in the first warm-up, outside the measured iterations).
    cgroups_seen: BTreeMap<String, Vec<String>>,
}

/// Result of one runtime command reaped with `wait4`.
struct Exit {
    wall: Duration,
    status: i32,
    rusage: libc::rusage,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("lifecycle bench: {e:#}");
        cleanup_cgroups();
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("lifecycle bench: needs root (containers, cgroups); skipped");
        return Ok(());
    }
    let iters: usize = env_num("OXIRUN_BENCH_ITERS", 50)?;
    let warmups: usize = env_num("OXIRUN_BENCH_WARMUPS", 3)?;

    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only changes this process's reaping behaviour.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        bail!(
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        );
    }

    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => manifest.join(t),
        None => manifest.join("target"),
    };
    let bench_dir = target.join("bench");
    fs::create_dir_all(&bench_dir).with_context(|| format!("mkdir {}", bench_dir.display()))?;
    let bundle = bench_dir.join("bundle");
    let spec = build_bundle(&bundle)?;
    cleanup_cgroups();

    let mut runtimes = find_runtimes(&manifest, &bench_dir)?;
    // SAFETY: open(2) of a NUL-terminated literal path.
    let host_ns = unsafe {
        libc::open(
            c"/proc/self/ns/mnt".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if host_ns < 0 {
        bail!(
            "open /proc/self/ns/mnt: {}",
            std::io::Error::last_os_error()
        );
    }
    if hybrid_cgroups() {
        for rt in runtimes.iter_mut().filter(|r| r.name == "crun") {
            match crun_namespace(host_ns) {
                Ok(fd) => rt.mnt_ns = Some(fd),
                Err(e) => rt.errors = [Some(format!("{e:#}")), Some(format!("{e:#}"))],
            }
        }
    }
    let mut bench = Bench {
        bundle,
        spec,
        stderr_log: bench_dir.join("last-stderr.txt"),
        pid_file: bench_dir.join("init.pid"),
        cgroups_seen: BTreeMap::new(),
        counter: 0,
    };

    let names: Vec<String> = runtimes.iter().map(Runtime::row_name).collect();
    eprintln!(
        "lifecycle bench: {} iterations after {} warm-ups, runtimes: {}",
        iters,
        warmups,
        names.join(", ")
    );
    for i in 0..warmups + iters {
        let measured = i >= warmups;
        for rt in runtimes.iter_mut() {
            for s in 0..SCENARIOS.len() {
                if rt.errors[s].is_some() {
                    continue;
                }
                if let Some(fd) = rt.mnt_ns {
                    setns(fd)?;
                }
                let result = if s == 0 {
                    bench.lifecycle(rt)
                } else {
                    bench.run(rt)
                };
                if rt.mnt_ns.is_some() {
                    setns(host_ns)?;
                }
                match result {
                    Ok(sample) if measured => rt.samples[s].push(sample),
                    Ok(_) => {}
                    Err(e) => {
                        let phase = if measured { "iteration" } else { "warm-up" };
                        rt.errors[s] = Some(format!("{phase} {}: {e:#}", i + 1));
                    }
                }
            }
        }
        if (i + 1) % 10 == 0 {
            eprintln!("  {}/{}", i + 1, warmups + iters);
        }
    }

    cleanup_cgroups();
    for rt in &runtimes {
        let _ = fs::remove_dir_all(&rt.root);
    }
    let report = report(&runtimes, iters, warmups, &bench.cgroups_seen);
    let out = bench_dir.join("lifecycle.json");
    fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("write {}", out.display()))?;
    println!("\nwritten: {}", out.display());
    Ok(())
}

fn env_num(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

/// `target/bench/bundle`: a busybox rootfs and the config every runtime gets.
fn build_bundle(bundle: &Path) -> Result<Value> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox missing: apt-get install -y busybox-static");
    }
    let rootfs = bundle.join("rootfs");
    if bundle.exists() {
        fs::remove_dir_all(bundle).with_context(|| format!("rm -r {}", bundle.display()))?;
    }
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::copy(busybox, rootfs.join("bin/busybox")).context("copy /bin/busybox")?;
    symlink("busybox", rootfs.join("bin/true"))?;
    symlink("busybox", rootfs.join("bin/sh"))?;

    let generated = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(bundle)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut spec: Value = if generated {
        let text = fs::read_to_string(bundle.join("config.json"))?;
        serde_json::from_str(&text).context("parse runc spec output")?
    } else {
        serde_json::from_str(FALLBACK_SPEC)?
    };
    spec["process"]["args"] = json!(["/bin/true"]);
    spec["process"]["terminal"] = json!(false);
    Ok(spec)
}

fn find_runtimes(manifest: &Path, bench_dir: &Path) -> Result<Vec<Runtime>> {
    let wanted: Option<Vec<String>> = std::env::var("OXIRUN_BENCH_RUNTIMES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let want = |n: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == n));
    let mut out = Vec::new();
    let mut add = |name: &str, bin: PathBuf, mode: Mode, global: &[&str], err: Option<String>| {
        let version = match &err {
            Some(_) => String::new(),
            None => version_of(&bin),
        };
        out.push(Runtime {
            name: name.to_string(),
            bin,
            mode,
            global_args: global.iter().map(|s| s.to_string()).collect(),
            mnt_ns: None,
            version,
            root: bench_dir
                .join("state")
                .join(format!("{name}-{}", mode.label().replace(' ', "-"))),
            samples: [Vec::new(), Vec::new()],
            errors: [err.clone(), err],
        });
    };
    if want("oxirun") {
        let bin = std::env::var_os("OXIRUN_BIN")
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_BIN_EXE_oxirun").map(PathBuf::from))
            .unwrap_or_else(|| manifest.join("target/release/oxirun"));
        let err = (!bin.exists()).then(|| {
            format!(
                "binary not found: {} (cargo build --release --bin oxirun, or set OXIRUN_BIN)",
                bin.display()
            )
        });
        add("oxirun", bin.clone(), Mode::Cgroups, &[], err.clone());
        // The same mode as crun here (crun cannot use this hybrid host's cgroups).
        add(
            "oxirun",
            bin,
            Mode::NoCgroups,
            &["--cgroup-manager=disabled"],
            err,
        );
    }
    for name in ["runc", "crun", "youki"] {
        if !want(name) {
            continue;
        }
        let Some(bin) = which(name) else { continue };
        if name == "crun" {
            // crun 1.8 refuses this hybrid cgroup host unless cgroups are disabled.
            add(
                name,
                bin,
                Mode::NoCgroups,
                &["--cgroup-manager=disabled"],
                None,
            );
        } else {
            add(name, bin, Mode::Cgroups, &[], None);
        }
    }
    if out.is_empty() {
        bail!("no runtime to measure");
    }
    for rt in &out {
        fs::create_dir_all(&rt.root)?;
    }
    Ok(out)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn version_of(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(|l| l.trim().to_string())
        })
        .unwrap_or_default()
}

impl Bench {
    /// Writes config.json for container number `n`; returns (id, cgroup leaf name).
    fn prepare(&mut self, rt: &Runtime) -> Result<(String, String)> {
        self.counter += 1;
        let n = self.counter;
        let id = format!("oxb-{}-{}", rt.name, n);
        let leaf = format!("{}-{}", rt.name, n);
        let mut spec = self.spec.clone();
        let linux = spec["linux"]
            .as_object_mut()
            .ok_or_else(|| anyhow!("spec without linux"))?;
        match rt.mode {
            Mode::Cgroups => {
                linux.insert(
                    "cgroupsPath".into(),
                    json!(format!("/{CGROUP_PARENT}/{leaf}")),
                );
            }
            Mode::NoCgroups => {
                linux.remove("cgroupsPath");
            }
        }
        fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&spec)?,
        )?;
        Ok((id, leaf))
    }

    /// Runs `RT [global] --root R <args>`, reaps it with wait4.
    fn exec(&self, rt: &Runtime, args: &[&str]) -> Result<Exit> {
        let err_file = fs::File::create(&self.stderr_log)?;
        let mut cmd = Command::new(&rt.bin);
        cmd.args(&rt.global_args)
            .arg("--root")
            .arg(&rt.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        let t0 = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", rt.bin.display()))?;
        let pid = child.id() as libc::pid_t;
        let (status, rusage) = wait_bounded(pid, COMMAND_TIMEOUT_MS)
            .with_context(|| format!("`{} {}`", rt.name, args.join(" ")))?
            .ok_or_else(|| anyhow!("wait4({pid}) lost the child"))?;
        let wall = t0.elapsed();
        let exit = Exit {
            wall,
            status,
            rusage,
        };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            let text = fs::read_to_string(&self.stderr_log).unwrap_or_default();
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
                describe_status(exit.status),
                if last.is_empty() { "(no stderr)" } else { last }
            );
        }
        Ok(exit)
    }

    fn lifecycle(&mut self, rt: &Runtime) -> Result<Sample> {
        let (id, leaf) = self.prepare(rt)?;
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
        let create = self.exec(
            rt,
            &["create", "--bundle", &bundle, "--pid-file", &pid_file_s, id],
        )?;
        let text = fs::read_to_string(pid_file)
            .with_context(|| format!("create succeeded but wrote no {}", pid_file.display()))?;
        let pid: libc::pid_t = text
            .trim()
            .parse()
            .with_context(|| format!("pid file holds {text:?}"))?;
        // First warm-up only: which hierarchies got this container's cgroup.
        self.cgroups_seen.entry(rt.row_name()).or_insert_with(|| {
            cgroup_parents()
                .iter()
                .filter(|p| p.join(leaf).is_dir())
                .filter_map(|p| {
                    p.parent()?
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .collect()
        });
        let start = self.exec(rt, &["start", id])?;
        let t_wait = Instant::now();
        let init_cpu = wait_init(pid)?;
        let waited = t_wait.elapsed();
        let delete = self.exec(rt, &["delete", id])?;
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

    fn run(&mut self, rt: &Runtime) -> Result<Sample> {
        let (id, leaf) = self.prepare(rt)?;
        let bundle = self.bundle.to_string_lossy().into_owned();
        let result = self.exec(rt, &["run", "--bundle", &bundle, &id]);
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

    /// After a failure: `delete --force` through the runtime itself (it kills only its own
    /// container), then kill and reap what is still our child (the init if `delete` left it),
    /// and remove this container's cgroup leaves.
    fn teardown(&self, rt: &Runtime, id: &str, leaf: &str) {
        let _ = self.exec(rt, &["delete", "--force", id]);
        std::thread::sleep(Duration::from_millis(50));
        reap_strays();
        kill_our_children();
        for h in cgroup_parents() {
            let _ = fs::remove_dir(h.join(leaf));
        }
    }
}

/// A hybrid host: v1 controllers and a v2 hierarchy at `/sys/fs/cgroup/unified` with controllers.
fn hybrid_cgroups() -> bool {
    fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .map(|c| !c.trim().is_empty())
        .unwrap_or(false)
}

/// Makes a private mount namespace without `/sys/fs/cgroup/unified` (only this process's view;
/// no cgroup is touched), returns its fd, and goes back to the host namespace `host_ns`.
fn crun_namespace(host_ns: libc::c_int) -> Result<libc::c_int> {
    let os = || std::io::Error::last_os_error();
    // SAFETY: single-threaded process; unshare only affects this process's mount namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        bail!("unshare(CLONE_NEWNS): {}", os());
    }
    let result = (|| {
        // SAFETY: literal NUL-terminated paths; propagation change inside our new namespace.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if r != 0 {
            bail!("make / private in the crun namespace: {}", os());
        }
        // SAFETY: detaches the mount in our private namespace only (propagation is private).
        if unsafe { libc::umount2(c"/sys/fs/cgroup/unified".as_ptr(), libc::MNT_DETACH) } != 0 {
            bail!(
                "umount /sys/fs/cgroup/unified in the crun namespace: {}",
                os()
            );
        }
        // SAFETY: open(2) of a NUL-terminated literal path.
        let fd = unsafe {
            libc::open(
                c"/proc/self/ns/mnt".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            bail!("open crun namespace: {}", os());
        }
        Ok(fd)
    })();
    setns(host_ns)?;
    result
}

fn setns(fd: libc::c_int) -> Result<()> {
    // SAFETY: fd is a mount-namespace fd we opened; the process is single-threaded.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNS) } != 0 {
        bail!("setns(mnt): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// `wait4(pid, flags)`; `None` when there is nothing to reap (ECHILD, or WNOHANG and running).
fn wait4(pid: libc::pid_t, flags: libc::c_int) -> Result<Option<(i32, libc::rusage)>> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and ru are valid for writes for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r > 0 {
            return Ok(Some((status, ru)));
        }
        if r == 0 {
            return Ok(None);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(err).context(format!("wait4({pid})")),
        }
    }
}

/// Waits for the container init (our child since we are a subreaper), checks that `/bin/true`
/// exited 0, returns its CPU time (0 when it is not our child and its rusage cannot be read).
fn wait_init(pid: libc::pid_t) -> Result<u64> {
    match wait_bounded(pid, INIT_EXIT_TIMEOUT_MS).context("container init after start")? {
        None => Ok(0),
        Some((status, ru)) if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 => {
            Ok(cpu_us(&ru))
        }
        Some((status, _)) => bail!(
            "container init {pid} (/bin/true) ended with {}",
            describe_status(status)
        ),
    }
}

/// `wait4(pid)` bounded by a pidfd poll: a process we started that is still running after
/// `timeout_ms` is killed (through its pidfd), reaped, and reported as an error.
fn wait_bounded(pid: libc::pid_t, timeout_ms: i32) -> Result<Option<(i32, libc::rusage)>> {
    // SAFETY: pidfd_open takes a pid and flags, returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if fd < 0 {
        // Already gone and reaped by someone else.
        return wait4(pid, libc::WNOHANG);
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let n = loop {
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    if n == 0 {
        // SAFETY: fd is the pidfd of a process this bench started.
        unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, 0, 0) };
    }
    // SAFETY: fd is owned here and closed once.
    unsafe { libc::close(fd) };
    let reaped = wait4(pid, 0)?;
    if n == 0 {
        bail!("pid {pid} still running after {timeout_ms} ms: killed");
    }
    Ok(reaped)
}

/// Kills (SIGKILL through a pidfd) and reaps every process whose parent is this bench: only
/// processes the bench started, or orphans of them reparented to this subreaper.
fn kill_our_children() {
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: pidfd_open takes a pid and flags, returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
        if fd < 0 {
            continue;
        }
        // Parent checked after the pidfd is held, so the pid cannot be reused in between.
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<libc::pid_t>().ok());
        if ppid == Some(me) {
            eprintln!("  teardown: killing leftover child {pid}");
            // SAFETY: fd is the pidfd of our own child.
            unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, 0, 0) };
            let _ = wait4(pid, 0);
        }
        // SAFETY: fd is owned here and closed once.
        unsafe { libc::close(fd) };
    }
}

/// Reaps every exited orphan reparented to this subreaper; returns their summed CPU time.
fn reap_strays() -> u64 {
    let mut cpu = 0;
    while let Ok(Some((_, ru))) = wait4(-1, libc::WNOHANG) {
        cpu += cpu_us(&ru);
    }
    cpu
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

fn cpu_us(ru: &libc::rusage) -> u64 {
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// `/sys/fs/cgroup/<hierarchy>/oxirun-bench` for every mounted hierarchy (v1 and v2).
fn cgroup_parents() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        out.push(root.join(CGROUP_PARENT)); // pure v2
    }
    if let Ok(entries) = fs::read_dir(root) {
        for e in entries.flatten() {
            let p = e.path().join(CGROUP_PARENT);
            if e.path().is_dir() && !e.path().is_symlink() {
                out.push(p);
            }
        }
    }
    out
}

/// Removes our (empty) cgroups: leaves first, then `/oxirun-bench`. Never writes to any cgroup.
fn cleanup_cgroups() {
    for parent in cgroup_parents() {
        if !parent.is_dir() {
            continue;
        }
        if let Ok(entries) = fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    rmdir_tree(&e.path());
                }
            }
        }
        if let Err(e) = fs::remove_dir(&parent) {
            eprintln!("warning: rmdir {}: {e}", parent.display());
        }
    }
}

fn rmdir_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    if let Err(e) = fs::remove_dir(dir) {
        eprintln!("warning: rmdir {}: {e}", dir.display());
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    }
}

struct Summary {
    wall_med: u64,
    wall_p90: u64,
    cpu_rt: u64,
    cpu_init: u64,
    cpu_total: u64,
    rss: u64,
    phases: Vec<(&'static str, u64)>,
}

fn summarize(samples: &[Sample]) -> Summary {
    let mut walls: Vec<u64> = samples.iter().map(|s| s.wall).collect();
    walls.sort_unstable();
    let phase_names: Vec<&'static str> = samples
        .first()
        .map(|s| s.phases.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    Summary {
        wall_med: median(walls.iter().copied()),
        wall_p90: percentile(&walls, 90.0),
        cpu_rt: median(samples.iter().map(|s| s.cpu_rt)),
        cpu_init: median(samples.iter().map(|s| s.cpu_init)),
        cpu_total: median(samples.iter().map(|s| s.cpu_rt + s.cpu_init)),
        rss: median(samples.iter().map(|s| s.maxrss_kib)),
        phases: phase_names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, median(samples.iter().map(|s| s.phases[i].1))))
            .collect(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn report(
    runtimes: &[Runtime],
    iters: usize,
    warmups: usize,
    cgroups_seen: &BTreeMap<String, Vec<String>>,
) -> Value {
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!();
    println!(
        "lifecycle: busybox /bin/true, {iters} iterations after {warmups} warm-ups, \
         kernel {}, {cpus} CPUs; times in ms (medians unless p90)",
        kernel.trim()
    );
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<20} {:<25} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9}",
        "runtime (mode)",
        "scenario",
        "wall",
        "wall p90",
        "CPU rt",
        "CPU init",
        "CPU total",
        "RSS KiB"
    );
    let mut rows = Vec::new();
    let mut summaries: BTreeMap<(usize, usize), Summary> = BTreeMap::new();
    for (r, rt) in runtimes.iter().enumerate() {
        let mut scen = serde_json::Map::new();
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            let samples = &rt.samples[s];
            if let Some(err) = &rt.errors[s] {
                let _ = writeln!(out, "{:<20} {:<25} FAILED: {err}", rt.row_name(), scenario);
                scen.insert(scenario.to_string(), json!({ "error": err }));
                continue;
            }
            let sum = summarize(samples);
            let _ = writeln!(
                out,
                "{:<20} {:<25} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9}",
                rt.row_name(),
                scenario,
                ms(sum.wall_med),
                ms(sum.wall_p90),
                ms(sum.cpu_rt),
                ms(sum.cpu_init),
                ms(sum.cpu_total),
                sum.rss
            );
            let phases: serde_json::Map<String, Value> = sum
                .phases
                .iter()
                .map(|(n, v)| (format!("{n}_median_us"), json!(v)))
                .collect();
            scen.insert(
                scenario.to_string(),
                json!({
                    "iterations": samples.len(),
                    "wall_median_us": sum.wall_med,
                    "wall_p90_us": sum.wall_p90,
                    "cpu_runtime_median_us": sum.cpu_rt,
                    "cpu_init_and_orphans_median_us": sum.cpu_init,
                    "cpu_total_median_us": sum.cpu_total,
                    "maxrss_median_kib": sum.rss,
                    "phases": phases,
                    "wall_us": samples.iter().map(|s| s.wall).collect::<Vec<_>>(),
                }),
            );
            summaries.insert((r, s), sum);
        }
        rows.push(json!({
            "runtime": rt.name,
            "binary": rt.bin,
            "version": rt.version,
            "mode": rt.mode.label(),
            "cgroup_hierarchies_after_create": cgroups_seen.get(&rt.row_name()),
            "scenarios": scen,
        }));
    }

    let _ = writeln!(out, "\nphase medians (create+start+wait+delete), ms:");
    for (r, rt) in runtimes.iter().enumerate() {
        if let Some(sum) = summaries.get(&(r, 0)) {
            let parts: Vec<String> = sum
                .phases
                .iter()
                .map(|(n, v)| format!("{n} {}", ms(*v)))
                .collect();
            let _ = writeln!(out, "  {:<20} {}", rt.row_name(), parts.join("  "));
        }
    }

    let mut ratios = Vec::new();
    let ox = runtimes.iter().position(|r| r.name == "oxirun");
    let _ = writeln!(
        out,
        "\noxirun / peer (median wall, median total CPU; < 1 = oxirun cheaper):"
    );
    match ox {
        None => {
            let _ = writeln!(out, "  oxirun not measured");
        }
        Some(first) => {
            for (r, rt) in runtimes.iter().enumerate() {
                if rt.name == "oxirun" {
                    continue;
                }
                // Compare with oxirun in the peer's own cgroup mode when it was measured so.
                let o = runtimes
                    .iter()
                    .position(|x| x.name == "oxirun" && x.mode == rt.mode)
                    .unwrap_or(first);
                let note = if rt.mode != runtimes[o].mode {
                    format!(
                        " [modes differ: oxirun {}, {} {}]",
                        runtimes[o].mode.label(),
                        rt.name,
                        rt.mode.label()
                    )
                } else {
                    String::new()
                };
                for (s, scenario) in SCENARIOS.iter().enumerate() {
                    let (Some(a), Some(b)) = (summaries.get(&(o, s)), summaries.get(&(r, s)))
                    else {
                        let _ = writeln!(
                            out,
                            "  vs {:<18} {:<25} n/a (a side failed)",
                            rt.row_name(),
                            scenario
                        );
                        continue;
                    };
                    let wall = a.wall_med as f64 / b.wall_med.max(1) as f64;
                    let cpu = a.cpu_total as f64 / b.cpu_total.max(1) as f64;
                    let _ = writeln!(
                        out,
                        "  vs {:<18} {:<25} wall {:.2}x  CPU {:.2}x{note}",
                        rt.row_name(),
                        scenario,
                        wall,
                        cpu
                    );
                    ratios.push(json!({
                        "peer": rt.name, "peer_mode": rt.mode.label(),
                        "oxirun_mode": runtimes[o].mode.label(), "scenario": scenario,
                        "wall_median_ratio": wall, "cpu_total_median_ratio": cpu,
                    }));
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\ncgroup of the container right after `create` (first warm-up):"
    );
    for rt in runtimes {
        let seen = match cgroups_seen.get(&rt.row_name()) {
            None => "not checked (create failed)".to_string(),
            Some(v) if v.is_empty() => "none".to_string(),
            Some(v) => v.join(" "),
        };
        let _ = writeln!(out, "  {:<20} {seen}", rt.row_name());
    }
    let _ = writeln!(
        out,
        "\nmodes: cgroups = linux.cgroupsPath /{CGROUP_PARENT}/<runtime>-<n>, the runtime's \
         default cgroupfs manager on this hybrid v1+v2 host;\n       no cgroups = crun \
         --cgroup-manager=disabled, no cgroupsPath; on a hybrid host crun is spawned from a private \
         mount namespace\n       without /sys/fs/cgroup/unified (crun 1.8 refuses hybrid hosts even \
         with cgroups disabled).\n\
         CPU rt = user+sys of the runtime commands (create+start+delete, or run) incl. children \
         they reaped;\nCPU init = the container init (runtime setup inside it before execve, \
         plus /bin/true) and orphans reparented to the bench.\nRSS = ru_maxrss of the create \
         (or run) command."
    );
    json!({
        "bench": "lifecycle",
        "workload": "busybox /bin/true",
        "iterations": iters,
        "warmups": warmups,
        "kernel": kernel.trim(),
        "cpus": cpus,
        "modes": {
            "cgroups": format!("linux.cgroupsPath /{CGROUP_PARENT}/<runtime>-<n>, runtime's default cgroupfs manager, hybrid v1+v2 host"),
            "no cgroups": "crun --cgroup-manager=disabled, no cgroupsPath; on a hybrid host crun runs from a private mount namespace with /sys/fs/cgroup/unified detached (crun 1.8 refuses hybrid hosts even with cgroups disabled)",
        },
        "runtimes": rows,
        "ratios_oxirun_over_peer": ratios,
    })
}
