//! Lifecycle benchmark: oxirun against the peer runtimes installed on this machine.
//!
//! `cargo bench --bench lifecycle` (as root). Every runtime found (oxirun, and `runc`, `crun`,
//! `youki` on `PATH`) runs the same busybox bundle (`/bin/true`, the config `runc spec` writes,
//! or the same JSON built in when runc is absent), interleaved iteration by iteration so that
//! machine noise hits every runtime alike. Four per-iteration scenarios:
//!
//! * `create+start+wait+delete`: `RT --root R create --bundle B --pid-file P ID`, `RT start ID`,
//!   wait for the container init to exit (this process is a child subreaper, so the init is
//!   reparented here and reaped with `wait4` on the pid from `--pid-file`), `RT delete ID`.
//! * `run`: `RT --root R run --bundle B ID`, foreground; the wall time of the whole command.
//! * `exec`: per runtime row one long-running container (`/bin/sleep 1000000`, its own bundle
//!   directory) is created and started before its first iteration (untimed); each iteration
//!   times `RT exec ID /bin/true`. At the end it is killed (`RT kill ID KILL`), its init reaped
//!   and the container deleted.
//! * `run+seccomp+limits`: `run` with the Docker default seccomp profile
//!   (`seccomp/tests/data/docker-default.json`) and, in the `cgroups` mode only,
//!   `linux.resources` memory 256 MiB, pids 128, cpu shares 512 and quota 50000 / period 100000.
//!   In the `no cgroups` mode only seccomp is added (shown as `run+seccomp (no limits)`).
//!   Reported with its overhead (ratio and ms) over the bare `run` of the same runtime and mode.
//!
//! Then, once per runtime row, peak RSS (`rss.rs`): `create`, `run` and `exec` spawned through
//! a few-page helper, since a command the bench spawns itself cannot report less than the
//! bench's own RSS (the kernel folds the parent's high-water mark in at `execve`); the main
//! table's RSS column is that floored figure.
//!
//! Then, once per runtime row (not per iteration), throughput: `OXIRUN_BENCH_SERIAL` `run`s
//! back to back, and `OXIRUN_BENCH_PARALLEL` `run`s spawned at once and all reaped; each with a
//! unique id and its own bundle directory. Reported: total wall, containers per second,
//! per-container cost (total wall / containers) and its ratio to the single-container `run`
//! median, per-command latency (median, p90), and for the serial batch the median wall of its
//! last tenth over its first tenth (growth with count: lock contention, leaks). Afterwards the
//! state-directory entries and `/oxirun-bench` cgroup directories those containers left behind
//! are counted (a leak indicator) and then removed.
//!
//! Last, once per runtime row but `oxirun-roexe`, many containers at once (`scale.rs`): up to
//! `OXIRUN_BENCH_SCALE` detached `sleep` containers, a probe's create/start/state/exec/delete
//! and `list` at 1, 100 and that many running, the filler `run -d` growth, and the host
//! memory per running container. Then the cold paths (`cold.rs`: a 16 MiB config, 1,000
//! mounts, a 150k-rule seccomp profile; `OXIRUN_BENCH_COLD=0` skips them).
//!
//! Metrics over `OXIRUN_BENCH_ITERS` iterations after `OXIRUN_BENCH_WARMUPS` warm-ups: median
//! and p90 wall time; CPU time (user+sys) from the `wait4` rusage of each runtime command (`rt`,
//! which includes the descendants that command reaped itself), and separately of the container
//! init and of any orphan reparented to this process (`init`: for the lifecycle scenario, the
//! runtime's in-container setup before `execve` runs in the init and is counted here, plus
//! `/bin/true`); the `ru_maxrss` of the `create` (or `run`, or `exec`) command in KiB; and
//! oxirun's ratios to each peer. Results: a table on stdout, a compact markdown table (stdout
//! and `target/bench/lifecycle.md`), `target/bench/lifecycle.json`, and a grouped bar chart of
//! the median wall times and per-container throughput costs, `target/bench/lifecycle.svg`.
//!
//! Also `oxirun-roexe (no cgroups)`: the same oxirun binary, spawned from a private mount
//! namespace where it is a read-only bind mount of itself, so it skips its CVE-2019-5736
//! re-exec; the report prints the difference to `oxirun (no cgroups)` as that defence's cost.
//!
//! Modes, one per row: `cgroups` = `linux.cgroupsPath` `/oxirun-bench/<runtime>-<n>` handled by
//! the runtime's default cgroupfs manager (this host is hybrid v1 + v2). `systemd` =
//! `--systemd-cgroup` with `cgroupsPath` `oxirun-bench.slice:oxb:<runtime>-<n>`, a transient
//! scope per container, measured only where systemd is PID 1 (`make bench` runs this bench
//! again in the pure cgroup v2 guest for those rows, see `integration/src/bin/guest-bench.rs`);
//! the report's `systemd driver cost` is each runtime's systemd row minus its cgroups row.
//! On a pure v2 host crun gets `cgroups` and `systemd` rows too. `no cgroups` =
//! `--cgroup-manager=disabled` and no `cgroupsPath`, measured for crun (which cannot use this
//! hybrid host's cgroups) and for oxirun (both modes, so that it is compared with every peer in
//! the peer's own mode); runc and youki have no such switch and are measured only with cgroups.
//! crun 1.8 refuses a hybrid host even with cgroups disabled (it checks `/sys/fs/cgroup/unified`),
//! so on such a host crun's commands are spawned from a private mount namespace (made once,
//! entered with `setns` outside the timed region) where that mount is detached; nothing else
//! differs.
//!
//! Environment: `OXIRUN_BENCH_ITERS` (default 50), `OXIRUN_BENCH_WARMUPS` (3),
//! `OXIRUN_BENCH_SERIAL` (200), `OXIRUN_BENCH_PARALLEL` (50; 0 skips a throughput batch),
//! `OXIRUN_BENCH_SCALE` (1000: containers running at once in the many-containers phase, see
//! `scale.rs`; 0 skips it),
//! `OXIRUN_BIN` (default: the binary cargo built for this bench, else `target/release/oxirun`),
//! `OXIRUN_BENCH_RUNTIMES` (comma list, default all found), `OXIRUN_BENCH_MODES` (comma list of
//! `cgroups`, `no-cgroups`, `systemd`; default all that apply). Machine safety: the bench signals
//! only processes it started (its children, and container processes reparented to it as a
//! subreaper, by pidfd), never PID 1 or anything else, and touches only cgroups under
//! `/oxirun-bench`, which it removes (`rmdir`, every hierarchy) at the end, and the
//! `oxirun-bench.slice` unit with its scopes, which it stops (`systemctl`); it never writes to
//! any cgroup file.

mod bundle;
mod cgroups;
mod cold;
mod markdown;
mod mntns;
mod procs;
mod report;
mod rss;
mod runtime;
mod scale;
mod scenarios;
mod stats;
mod svg;
mod throughput;

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::runtime::Runtime;
use crate::scenarios::{Bench, Scenario, SCENARIOS};

const CGROUP_PARENT: &str = "oxirun-bench";
const INIT_EXIT_TIMEOUT_MS: i32 = 20_000;
const COMMAND_TIMEOUT_MS: i32 = 30_000;

/// What was asked of this run (echoed in every output).
pub struct Config {
    pub iters: usize,
    pub warmups: usize,
    pub serial: usize,
    pub parallel: usize,
    /// Containers running at once in the many-containers phase (0 skips it).
    pub scale: usize,
    /// Whether the cold-path phase runs.
    pub cold: bool,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("lifecycle bench: {e:#}");
        // Our own children only (long-running exec containers, runtime commands).
        procs::kill_our_children(&[]);
        cgroups::cleanup_cgroups();
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("lifecycle bench: needs root (containers, cgroups); skipped");
        return Ok(());
    }
    let cfg = Config {
        iters: env_num("OXIRUN_BENCH_ITERS", 50)?,
        warmups: env_num("OXIRUN_BENCH_WARMUPS", 3)?,
        serial: env_num("OXIRUN_BENCH_SERIAL", 200)?,
        parallel: env_num("OXIRUN_BENCH_PARALLEL", 50)?,
        scale: env_num("OXIRUN_BENCH_SCALE", 1000)?,
        cold: env_num("OXIRUN_BENCH_COLD", 1)? != 0,
    };

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
    let spec = bundle::build_bundle(&bundle)?;
    let seccomp = bundle::docker_seccomp(&manifest)?;
    let bundles = bench_dir.join("bundles");
    let _ = fs::remove_dir_all(&bundles);
    cgroups::cleanup_cgroups();

    let mut runtimes = runtime::find_runtimes(&manifest, &bench_dir)?;
    let host_ns = mntns::open_own()?;
    if cgroups::hybrid_cgroups() {
        for rt in runtimes.iter_mut().filter(|r| r.name == "crun") {
            match mntns::crun_namespace(host_ns) {
                Ok(fd) => rt.mnt_ns = Some(fd),
                Err(e) => rt.fail_all(&format!("{e:#}")),
            }
        }
    }
    for rt in runtimes.iter_mut().filter(|r| r.name == runtime::RO_EXE) {
        match mntns::ro_exe_namespace(host_ns, &rt.bin) {
            Ok(fd) => rt.mnt_ns = Some(fd),
            Err(e) => rt.fail_all(&format!("{e:#}")),
        }
    }
    let mut bench = Bench::new(&bundle, spec, seccomp, &bench_dir, host_ns)?;

    let names: Vec<String> = runtimes.iter().map(Runtime::row_name).collect();
    eprintln!(
        "lifecycle bench: {} iterations after {} warm-ups, then throughput ({} serial, {} \
         parallel), runtimes: {}",
        cfg.iters,
        cfg.warmups,
        cfg.serial,
        cfg.parallel,
        names.join(", ")
    );
    let total = cfg.warmups + cfg.iters;
    for i in 0..total {
        let measured = i >= cfg.warmups;
        for rt in runtimes.iter_mut() {
            for scenario in SCENARIOS {
                let s = scenario as usize;
                if rt.errors[s].is_some() {
                    continue;
                }
                bench.enter(rt)?;
                let result = match scenario {
                    Scenario::Lifecycle => bench.lifecycle(rt),
                    Scenario::Run => bench.run(rt, false),
                    Scenario::Exec => bench.exec_true(rt),
                    Scenario::RunSeccomp => bench.run(rt, true),
                };
                bench.leave(rt)?;
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
            eprintln!("  {}/{}", i + 1, total);
        }
    }
    for rt in &runtimes {
        bench.enter(rt)?;
        let stopped = bench.stop_long(rt);
        bench.leave(rt)?;
        if let Err(e) = stopped {
            eprintln!("warning: {}: exec container: {e:#}", rt.row_name());
        }
    }

    match rss::build_helper(&manifest, &bench_dir) {
        Ok(helper) => {
            for rt in runtimes.iter_mut() {
                eprintln!("  peak RSS: {}", rt.row_name());
                rt.rss = Some(bench.peak_rss(rt, &helper).map_err(|e| format!("{e:#}")));
            }
            bench.rss_helper = Some(helper);
        }
        Err(e) => eprintln!("warning: no peak RSS phase: {e:#}"),
    }

    for rt in runtimes.iter_mut() {
        if let Some(err) = &rt.errors[Scenario::Run as usize] {
            if rt.samples[Scenario::Run as usize].is_empty() {
                rt.throughput = Some(Err(format!("skipped: `run` failed ({err})")));
                continue;
            }
        }
        eprintln!("  throughput: {}", rt.row_name());
        rt.throughput = Some(
            bench
                .throughput(rt, cfg.serial, cfg.parallel)
                .map_err(|e| format!("{e:#}")),
        );
    }

    // The read-only-binary row differs from oxirun's only in its re-exec: not worth 1,000 more.
    let scaled = |r: &&mut Runtime| cfg.scale > 0 && r.name != runtime::RO_EXE;
    for rt in runtimes.iter_mut().filter(scaled) {
        eprintln!("  many containers ({}): {}", cfg.scale, rt.row_name());
        rt.scale = Some(bench.scale(rt, cfg.scale).map_err(|e| format!("{e:#}")));
    }
    let cold = |r: &&mut Runtime| cfg.cold && r.name != runtime::RO_EXE;
    for rt in runtimes.iter_mut().filter(cold) {
        eprintln!("  cold paths: {}", rt.row_name());
        rt.cold = Some(bench.cold(rt).map_err(|e| format!("{e:#}")));
    }

    cgroups::cleanup_cgroups();
    for rt in &runtimes {
        let _ = fs::remove_dir_all(&rt.root);
    }
    let _ = fs::remove_dir_all(&bundles);

    let out = report::report(&runtimes, &cfg, &bench.cgroups_seen);
    let files = [
        (
            "lifecycle.json",
            serde_json::to_string_pretty(&out.json)? + "\n",
        ),
        ("lifecycle.md", out.markdown.clone()),
        ("lifecycle.svg", out.svg),
    ];
    println!("\n{}", out.markdown);
    for (name, text) in files {
        let path = bench_dir.join(name);
        fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
        println!("written: {}", path.display());
    }
    Ok(())
}

fn env_num(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}
