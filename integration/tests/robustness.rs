//! Robustness (security-cases H3, H4): the runtime survives being killed mid-create, a full
//! state root, racing creates of one id, a storm of concurrent lifecycle commands and malicious
//! config.json files, without panics, hangs or anything left behind.
//!
//! The tests in this file run one at a time (they take `SERIAL`): some of them reap every child
//! this process has left at the end (container inits reparented to this subreaper from runtime
//! invocations the test killed), which is only safe when no other test of this process has
//! commands in flight. Random choices print their seed; `OXIRUN_IT_SEED=<n>` replays one.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxirun_integration::checks::{assert_nothing_left, processes_inside};
use oxirun_integration::stress::{
    kill_after, reap_orphans, run_measured, snapshot, test_cgroup_frozen, thaw_test_cgroup,
    Measured, Rng, TinyTmpfs,
};
use oxirun_integration::util::{reap, run_cmd_timeout, Reap};
use oxirun_integration::{json, unique_id, Container, TestDir, Value};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn sleeper(short: &str) -> Container {
    let mut c = Container::new(short);
    c.sh("exec sleep 1000");
    c
}

/// No panic and no crash: not exit 101 (Rust panic), not killed by a signal, no "panicked".
fn crash_free(what: &str, m: &Measured) -> Result<(), String> {
    let o = &m.out;
    if m.timed_out {
        return Err(format!(
            "{what}: timed out after {:?} (hang): {o:?}",
            m.wall
        ));
    }
    if o.code == 101 || o.code < 0 || o.stderr.contains("panicked") {
        return Err(format!("{what}: crashed (exit {}): {}", o.code, o.stderr));
    }
    Ok(())
}

/// The failure exit code of a subcommand: 1, except `exec`'s 255 (as runc: `fatalWithCode(...,
/// 255)`, so that it differs from any exit code of the executed process).
fn expect_code(subcommand: &str) -> i32 {
    if subcommand == "exec" {
        255
    } else {
        1
    }
}

/// Reads a pid-file if it holds a pid.
fn read_pid(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

// ---- H4 (a): SIGKILL `create` at random points -------------------------------------------

#[test]
fn sigkill_create_at_random_points() {
    let _g = serial();
    const THREADS: u64 = 3;
    const PER_THREAD: usize = 100;
    let (_, seed) = Rng::from_env();
    eprintln!("sigkill_create: seed {seed} (OXIRUN_IT_SEED to replay)");

    // How long an undisturbed create takes, to see which part of it the 0-30 ms kills cover.
    let mut probe = sleeper("kprobe");
    probe.write_config();
    let (b, p) = (probe.bundle_str(), probe.pid_file.clone());
    let mut cmd = probe.command(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        p.to_str().unwrap(),
        &probe.id.clone(),
    ]);
    let m = run_measured(&mut cmd, &probe.dir.path, "create", Duration::from_secs(30));
    assert_eq!(m.out.code, 0, "probe create: {:?}", m.out);
    probe.pid = read_pid(&probe.pid_file);
    // Kill anywhere from the start to well past the end of an undisturbed create (3 run at once) (the claim, the first state
    // write, cgroup creation, the clone, the init's setup, the final state write, the pid-file):
    // at least 0-30 ms, more when create is slower (debug build, loaded machine).
    let window_us = (m.wall.as_micros() as u64 * 5 / 2).max(30_000);
    eprintln!(
        "sigkill_create: an undisturbed create takes {:?}; kill delays 0-{} ms",
        m.wall,
        window_us / 1000
    );
    drop(probe);

    let killed = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let state_ok = Arc::new(AtomicUsize::new(0));
    let state_missing = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (killed, completed) = (killed.clone(), completed.clone());
            let (state_ok, state_missing) = (state_ok.clone(), state_missing.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed.wrapping_add(t * 7919));
                let mut c = sleeper("kc");
                let b = c.bundle_str();
                for i in 0..PER_THREAD {
                    let id = format!("{}-{i}", c.id);
                    c.set("/linux/cgroupsPath", json!(format!("/oxirun-it/{id}")));
                    c.write_config();
                    let pid_file = c.dir.join(&format!("{i}.pid"));
                    let delay = Duration::from_micros(rng.below(window_us));
                    let mut cmd = c.command(&[
                        "create",
                        "--bundle",
                        &b,
                        "--pid-file",
                        pid_file.to_str().unwrap(),
                        &id,
                    ]);
                    let out = kill_after(&mut cmd, &c.dir.path, "kcreate", delay);
                    match out.code {
                        0 => completed.fetch_add(1, Ordering::Relaxed),
                        -9 => killed.fetch_add(1, Ordering::Relaxed),
                        _ => panic!("create {id} (kill after {delay:?}) failed: {out:#?}"),
                    };
                    // `state` either parses or says the container does not exist.
                    let st = c.rt(&["state", &id]);
                    let mut pid = read_pid(&pid_file);
                    if st.success() {
                        let v: Value = serde_json::from_str(&st.stdout).unwrap_or_else(|e| {
                            panic!("state {id} after kill at {delay:?}: bad JSON ({e}): {st:#?}")
                        });
                        assert_eq!(v["id"], json!(id), "{st:#?}");
                        state_ok.fetch_add(1, Ordering::Relaxed);
                        if let Some(p) = v["pid"].as_i64().filter(|p| *p > 0) {
                            pid = pid.or(Some(p as i32));
                        }
                    } else {
                        assert_eq!(st.code, 1, "state {id}: {st:#?}");
                        assert!(
                            st.stderr.contains("does not exist"),
                            "state {id} after kill at {delay:?}: {st:#?}"
                        );
                        state_missing.fetch_add(1, Ordering::Relaxed);
                    }
                    let del = c.rt(&["delete", "--force", &id]);
                    assert_eq!(
                        del.code, 0,
                        "delete --force {id} (kill at {delay:?}): {del:#?}"
                    );
                    assert_nothing_left(&c.root, &id, &c.bundle);
                    if let Some(pid) = pid {
                        // Reparented to us (subreaper) and killed by delete: reap it.
                        let r = reap(pid, Duration::from_secs(5));
                        assert_ne!(r, Reap::Timeout, "init {pid} of {id} still running");
                    }
                }
            })
        })
        .collect();
    let mut panics = Vec::new();
    for h in handles {
        if let Err(e) = h.join() {
            panics.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            );
        }
    }
    // Inits and intermediate processes of killed creates whose pid we never learnt.
    let (reaped, alive) = reap_orphans(Duration::from_secs(5));
    eprintln!(
        "sigkill_create: {} iterations in {:?}: {} killed mid-create, {} completed; state parsed \
         {} times, 'does not exist' {} times; {reaped} orphans reaped",
        THREADS as usize * PER_THREAD,
        t0.elapsed(),
        killed.load(Ordering::Relaxed),
        completed.load(Ordering::Relaxed),
        state_ok.load(Ordering::Relaxed),
        state_missing.load(Ordering::Relaxed),
    );
    assert!(panics.is_empty(), "worker failures: {panics:#?}");
    assert!(alive.is_empty(), "processes left running: {alive:?}");
}

// ---- H4 (b): full state root -------------------------------------------------------------

#[test]
fn full_state_root() {
    let _g = serial();
    let dir = TestDir::new(&unique_id("fullroot"));
    // Declared first: dropped (unmounted) after the containers below.
    let fs16k = TinyTmpfs::mount(&dir.join("state"), "16k");

    let mut old = Container::new_in("fullold", &fs16k.dir);
    old.sh("exec sleep 1000");
    old.create_ok();
    let before = old.state();
    assert_eq!(before["status"], "created");
    let filled = fs16k.fill();
    eprintln!("full_state_root: filler took {filled} bytes");

    let mut new = Container::new_in("fullnew", &fs16k.dir);
    new.sh("exec sleep 1000");
    new.write_config();
    let (b, p) = (new.bundle_str(), new.pid_file.clone());
    let mut cmd = new.command(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        p.to_str().unwrap(),
        &new.id.clone(),
    ]);
    let m = run_measured(&mut cmd, &new.dir.path, "create", Duration::from_secs(30));
    eprintln!(
        "full_state_root: create on a full root: exit {} in {:?}: {}",
        m.out.code,
        m.wall,
        m.out.stderr.trim()
    );
    crash_free("create on a full state root", &m).unwrap();
    assert_eq!(m.out.code, 1, "create on a full state root: {:#?}", m.out);
    let lines: Vec<&str> = m.out.stderr.trim().lines().collect();
    assert!(
        lines.len() == 1 && lines[0].contains("No space left on device"),
        "expected one line naming ENOSPC: {:#?}",
        m.out
    );
    assert!(
        !new.pid_file.exists(),
        "pid-file written by a failed create"
    );
    assert_nothing_left(&fs16k.dir, &new.id, &new.bundle);

    // The older container's state is intact, and commands on it still work on the full disk.
    let after = old.state();
    assert_eq!(after["pid"], before["pid"], "{after:#}");
    assert_eq!(after["status"], "created", "{after:#}");
    let start = old.start();
    crash_free(
        "start on a full state root",
        &Measured {
            out: start.clone(),
            wall: Duration::ZERO,
            maxrss_kib: 0,
            timed_out: false,
        },
    )
    .unwrap();
    eprintln!(
        "full_state_root: start of the old container on the full root: exit {} {}",
        start.code,
        start.stderr.trim()
    );
    let st = old.state();
    assert!(
        ["created", "running"].contains(&st["status"].as_str().unwrap_or("")),
        "{st:#}"
    );
    let del = old.delete(true);
    del.ok("delete --force on a full state root");
    assert_nothing_left(&fs16k.dir, &old.id, &old.bundle);
    old.wait_exit(Duration::from_secs(5));
}

// ---- H4 (c): 32 parallel creates of one id -----------------------------------------------

#[test]
fn parallel_create_same_id() {
    let _g = serial();
    const N: usize = 32;
    let mut c = sleeper("same");
    c.write_config();
    let b = c.bundle_str();
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let pid_file = c.dir.join(&format!("same-{i}.pid"));
            let mut cmd = c.command(&[
                "create",
                "--bundle",
                &b,
                "--pid-file",
                pid_file.to_str().unwrap(),
                &c.id,
            ]);
            let dir = c.dir.path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let out = run_cmd_timeout(&mut cmd, &dir, "same", Duration::from_secs(60));
                (out, read_pid(&pid_file))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(o, _)| o.success()).collect();
    let losers: Vec<_> = results.iter().filter(|(o, _)| !o.success()).collect();
    eprintln!(
        "parallel_create_same_id: {} won, {} lost",
        winners.len(),
        losers.len()
    );
    if let Some((_, pid)) = winners.first() {
        c.pid = *pid;
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one create must win: {results:#?}"
    );
    for (o, pid) in &losers {
        assert_eq!(o.code, 1, "{o:#?}");
        assert!(o.stderr.contains("already exists"), "{o:#?}");
        assert!(
            o.stderr.trim().lines().count() == 1,
            "one error line: {o:#?}"
        );
        assert!(pid.is_none(), "a losing create wrote its pid-file");
    }
    assert!(c.pid.is_some(), "the winner wrote its pid-file");
    assert_eq!(c.status(), "created");
    let listed = c.rt(&["list", "-q"]);
    assert_eq!(listed.stdout.trim(), c.id, "one container: {listed:#?}");
    c.delete(true).ok("delete --force");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    // The init was reaped by reap_orphans above (the test process is its subreaper).
    c.reaped = true;
}

// ---- found by the storm: pausing a created container ---------------------------------------

/// `pause` of a `created` container freezes its cgroup; `delete --force` must still remove it
/// (thaw, kill, wait) in bounded time and leave nothing behind, and `state` should say "paused".
#[test]
fn delete_force_of_a_paused_created_container() {
    let _g = serial();
    let mut c = sleeper("pausedcreated");
    c.create_ok();
    let pause = c.rt(&["pause", &c.id]);
    let status = c.status();
    // `start` and `exec` on it must not hang (the init and an exec'd process would be frozen).
    let mut hangs = Vec::new();
    for args in [
        vec!["start", c.id.as_str()],
        vec!["exec", c.id.as_str(), "true"],
    ] {
        let m = run_measured(
            &mut c.command(&args),
            &c.dir.path,
            args[0],
            Duration::from_secs(10),
        );
        eprintln!(
            "paused created container: {} exit {} in {:?}: {}",
            args[0],
            m.out.code,
            m.wall,
            m.out.stderr.trim()
        );
        if m.timed_out {
            hangs.push(args[0]);
        }
    }
    let t = Instant::now();
    let del = c.delete(true);
    let took = t.elapsed();
    let frozen = test_cgroup_frozen(&c.cgroup_rel());
    eprintln!(
        "paused created container: pause exit {}, state {status:?}, delete --force exit {} in \
         {took:?}, cgroup still frozen: {frozen}",
        pause.code, del.code
    );
    if frozen {
        // Do not leave a frozen init behind whatever the outcome.
        thaw_test_cgroup(&c.cgroup_rel());
        let _ = c.delete(true);
    }
    // The frozen `exec` (if it hung) is our child, killed but frozen until the thaw above.
    let _ = reap_orphans(Duration::from_secs(5));
    if pause.success() {
        assert_eq!(status, "paused", "state of a paused created container");
    }
    assert!(
        hangs.is_empty(),
        "hung on a paused created container: {hangs:?}"
    );
    del.ok("delete --force of a paused created container");
    assert!(
        took < Duration::from_secs(5),
        "delete --force took {took:?}"
    );
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    // The init was reaped by reap_orphans above (the test process is its subreaper).
    c.reaped = true;
}

// ---- H4 (d): lifecycle storm -------------------------------------------------------------

#[test]
fn lifecycle_storm() {
    let _g = serial();
    const CONTAINERS: usize = 52;
    const WORKERS: u64 = 4;
    const DURATION: Duration = Duration::from_secs(20);
    const CMD_TIMEOUT: Duration = Duration::from_secs(20);
    let (_, seed) = Rng::from_env();
    eprintln!("lifecycle_storm: seed {seed} (OXIRUN_IT_SEED to replay)");

    let root_dir = TestDir::new(&unique_id("storm"));
    let root = root_dir.join("state");
    let prefix = format!("it-st-{}-", std::process::id());
    let cs: Arc<Vec<Container>> = Arc::new(
        (0..CONTAINERS)
            .map(|_| {
                let mut c = Container::new_in("st", &root);
                c.sh("exec sleep 1000");
                c.write_config();
                c
            })
            .collect(),
    );
    let snaps_before: Vec<_> = cs.iter().map(|c| snapshot(&c.dir.path, &prefix)).collect();
    let mounts_before = snaps_before.first().map(|s| s.mount_count).unwrap_or(0);

    const OPS: [&str; 8] = [
        "create", "start", "kill", "delete", "state", "exec", "pause", "resume",
    ];
    let known_pids = Arc::new(Mutex::new(Vec::<i32>::new()));
    let problems = Arc::new(Mutex::new(Vec::<String>::new()));
    let counts = Arc::new(Mutex::new(vec![(0usize, 0usize); OPS.len()]));
    let slowest = Arc::new(Mutex::new((Duration::ZERO, String::new())));
    let t0 = Instant::now();
    let deadline = t0 + DURATION;
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let cs = cs.clone();
            let (known_pids, problems) = (known_pids.clone(), problems.clone());
            let (counts, slowest) = (counts.clone(), slowest.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed.wrapping_add(w * 104_729));
                while Instant::now() < deadline {
                    let c = &cs[rng.below(cs.len() as u64) as usize];
                    let op = rng.below(OPS.len() as u64) as usize;
                    let pid_file = c.pid_file.to_str().unwrap().to_string();
                    let b = c.bundle_str();
                    let sig = if rng.below(2) == 0 { "KILL" } else { "TERM" };
                    let args: Vec<&str> = match OPS[op] {
                        "create" => vec!["create", "--bundle", &b, "--pid-file", &pid_file, &c.id],
                        "start" => vec!["start", &c.id],
                        "kill" => vec!["kill", &c.id, sig],
                        "delete" if rng.below(2) == 0 => vec!["delete", "--force", &c.id],
                        "delete" => vec!["delete", &c.id],
                        "state" => vec!["state", &c.id],
                        "exec" => vec!["exec", &c.id, "true"],
                        "pause" => vec!["pause", &c.id],
                        _ => vec!["resume", &c.id],
                    };
                    let what = args.join(" ");
                    let m = run_measured(&mut c.command(&args), &c.dir.path, OPS[op], CMD_TIMEOUT);
                    let mut bad = crash_free(&what, &m).err();
                    // A foreground exec'd `true` may itself be SIGKILLed (137) by a concurrent
                    // `kill --all` / `delete --force` of its container: a legitimate outcome.
                    let killed_exec = OPS[op] == "exec" && m.out.code == 128 + libc::SIGKILL;
                    if bad.is_none()
                        && !killed_exec
                        && ![0, expect_code(OPS[op])].contains(&m.out.code)
                    {
                        bad = Some(format!("{what}: exit {}: {:?}", m.out.code, m.out));
                    }
                    if m.out.success() && OPS[op] == "state" {
                        if let Err(e) = serde_json::from_str::<Value>(&m.out.stdout) {
                            bad = Some(format!("{what}: bad JSON ({e}): {:?}", m.out.stdout));
                        }
                    }
                    if m.out.success() && OPS[op] == "create" {
                        if let Some(p) = read_pid(&c.pid_file) {
                            known_pids.lock().unwrap().push(p);
                        }
                    }
                    if let Some(b) = bad {
                        problems.lock().unwrap().push(b);
                    }
                    {
                        let mut k = counts.lock().unwrap();
                        k[op].0 += 1;
                        k[op].1 += m.out.success() as usize;
                    }
                    if m.wall > Duration::from_secs(5) {
                        eprintln!(
                            "lifecycle_storm: slow: {what}: {:?} exit {}",
                            m.wall, m.out.code
                        );
                    }
                    let mut s = slowest.lock().unwrap();
                    if m.wall > s.0 {
                        *s = (m.wall, what);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            problems
                .lock()
                .unwrap()
                .push("a storm worker panicked".into());
        }
    }
    eprintln!("lifecycle_storm: workers done after {:?}", t0.elapsed());
    // Clean up: every container deleted with --force, every init reaped.
    for c in cs.iter() {
        let m = run_measured(
            &mut c.command(&["delete", "--force", &c.id]),
            &c.dir.path,
            "final-delete",
            CMD_TIMEOUT,
        );
        if let Err(e) = crash_free("final delete --force", &m) {
            problems.lock().unwrap().push(e);
        } else if m.out.code != 0 {
            problems.lock().unwrap().push(format!(
                "final delete --force {} (frozen: {}): {:?}",
                c.id,
                test_cgroup_frozen(&c.cgroup_rel()),
                m.out
            ));
        }
        // Whatever the runtime left frozen must not outlive the test.
        if test_cgroup_frozen(&c.cgroup_rel()) {
            thaw_test_cgroup(&c.cgroup_rel());
            let _ = c.rt(&["delete", "--force", &c.id]);
        }
    }
    eprintln!("lifecycle_storm: cleanup done after {:?}", t0.elapsed());
    for pid in known_pids.lock().unwrap().iter() {
        let _ = reap(*pid, Duration::from_secs(2));
    }
    let (reaped, alive) = reap_orphans(Duration::from_secs(5));
    let counts = counts.lock().unwrap().clone();
    let total: usize = counts.iter().map(|c| c.0).sum();
    let (slow_wall, slow_what) = slowest.lock().unwrap().clone();
    let table: Vec<String> = OPS
        .iter()
        .zip(&counts)
        .map(|(o, (n, ok))| format!("{o} {ok}/{n}"))
        .collect();
    eprintln!(
        "lifecycle_storm: {total} commands on {CONTAINERS} containers by {WORKERS} workers in \
         {DURATION:?} (succeeded/run: {}); slowest {:?} ({}); {reaped} orphans reaped",
        table.join(", "),
        slow_wall,
        slow_what,
    );

    // Nothing left: state root empty, no cgroup, mount or process of these containers.
    let mut leaks = Vec::new();
    let left: Vec<_> = fs::read_dir(&root)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    if !left.is_empty() {
        leaks.push(format!("state root not empty: {left:?}"));
    }
    for (c, before) in cs.iter().zip(&snaps_before) {
        let after = snapshot(&c.dir.path, &prefix);
        if after.mounts != before.mounts || after.procs != before.procs {
            leaks.push(format!("{}: before {before:?} after {after:?}", c.id));
        }
    }
    let cg = snapshot(&root_dir.path, &prefix).cgroups;
    if !cg.is_empty() {
        leaks.push(format!("cgroups left: {cg:?}"));
    }
    let mounts_after = snapshot(&root_dir.path, &prefix).mount_count;
    eprintln!("lifecycle_storm: host mounts {mounts_before} before, {mounts_after} after");
    if !alive.is_empty() {
        leaks.push(format!("processes left running: {alive:?}"));
    }
    let problems = problems.lock().unwrap().clone();
    assert!(
        problems.is_empty() && leaks.is_empty(),
        "{} problem(s): {problems:#?}\nleaks: {leaks:#?}",
        problems.len()
    );
    assert!(
        total >= 100,
        "the storm ran only {total} commands (too slow to mean anything)"
    );
}

// ---- H3: malicious config.json table -----------------------------------------------------

/// What a case must do: exit code(s), a phrase on the one error line, bounds.
struct Expect {
    codes: &'static [i32],
    phrase: &'static str,
    max_wall: Duration,
    max_rss_mib: f64,
}

const FAIL_FAST: Expect = Expect {
    codes: &[1],
    phrase: "",
    max_wall: Duration::from_secs(5),
    max_rss_mib: 64.0,
};

fn fails(phrase: &'static str) -> Expect {
    Expect {
        phrase,
        ..FAIL_FAST
    }
}

/// Runs `create` for `c` (config already written), checks `e`, the one-line error and that
/// nothing is left; returns a report line or the problem.
fn run_case(name: &str, c: &mut Container, id: Option<&str>, e: &Expect) -> Result<String, String> {
    let b = c.bundle_str();
    let p = c.pid_file.to_str().unwrap().to_string();
    let id = id.unwrap_or(&c.id).to_string();
    let mut cmd = c.command(&["create", "--bundle", &b, "--pid-file", &p, &id]);
    let m = run_measured(&mut cmd, &c.dir.path, "create", e.max_wall * 4);
    let line = format!(
        "{name:<28} exit {:>3}  {:>8.1?}  peak RSS {:>6.1} MiB  {}",
        m.out.code,
        m.wall,
        m.maxrss_mib(),
        m.out.stderr.trim().lines().last().unwrap_or("")
    );
    eprintln!("malicious: {line}");
    if m.out.success() {
        c.pid = read_pid(&c.pid_file);
        c.delete(true).ok("delete --force");
        if let Some(pid) = c.pid {
            let _ = reap(pid, Duration::from_secs(5));
            c.reaped = true;
        }
    }
    crash_free(name, &m)?;
    let mut errs = Vec::new();
    if !e.codes.contains(&m.out.code) {
        errs.push(format!("exit {} not in {:?}", m.out.code, e.codes));
    }
    if m.out.code != 0 {
        let lines = m.out.stderr.trim().lines().count();
        if lines != 1 {
            errs.push(format!("{lines} stderr lines, expected one"));
        }
        if !m.out.stderr_has(e.phrase) {
            errs.push(format!("stderr lacks {:?}", e.phrase));
        }
    }
    if m.wall > e.max_wall {
        errs.push(format!("took {:?} > {:?}", m.wall, e.max_wall));
    }
    if m.maxrss_mib() > e.max_rss_mib {
        errs.push(format!(
            "peak RSS {:.1} MiB > {} MiB",
            m.maxrss_mib(),
            e.max_rss_mib
        ));
    }
    let left = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_nothing_left(&c.root, &c.id, &c.bundle)
    }));
    if left.is_err() {
        errs.push("left something behind (see the panic above)".into());
    }
    if errs.is_empty() {
        Ok(line)
    } else {
        Err(format!("{name}: {}: {:?}", errs.join("; "), m.out))
    }
}

/// The config with `linux.seccomp` replaced by raw JSON text (built as a string: a million
/// rules as `serde_json::Value` would cost far more than the runtime under test).
fn with_raw_seccomp(c: &mut Container, seccomp_json: &str) {
    c.set("/linux/seccomp", json!("@SECCOMP@"));
    let text = serde_json::to_string(&c.config).unwrap();
    let text = text.replacen("\"@SECCOMP@\"", seccomp_json, 1);
    c.write_raw_config(text.as_bytes());
}

fn repeated(item: &str, n: usize) -> String {
    let mut s = String::with_capacity((item.len() + 1) * n);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(item);
    }
    s
}

#[test]
fn malicious_configs() {
    let _g = serial();
    let mut results: Vec<Result<String, String>> = Vec::new();
    let mut record = |r: Result<String, String>| results.push(r);

    // 1 GiB sparse config.json: a JSON prefix, then a hole.
    {
        let mut c = sleeper("malsparse");
        c.write_raw_config(b"{\"ociVersion\": \"1.0.2\", \"annotations\": {\"x\": \"");
        fs::OpenOptions::new()
            .write(true)
            .open(c.bundle.join("config.json"))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        record(run_case(
            "1 GiB sparse config",
            &mut c,
            None,
            &fails("config.json"),
        ));
    }
    // 100 000 nested arrays.
    {
        let mut c = sleeper("malnest");
        let mut text = String::from("{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": ");
        text.push_str(&"[".repeat(100_000));
        text.push_str(&"]".repeat(100_000));
        text.push_str("}}");
        c.write_raw_config(text.as_bytes());
        record(run_case(
            "100000 nested arrays",
            &mut c,
            None,
            &fails("config.json"),
        ));
    }
    // 1 000 000 nested arrays under a key the parser ignores (serde skips it without recursing:
    // must neither overflow the stack nor take long; the config is otherwise valid).
    {
        let mut c = sleeper("malnest2");
        let text = serde_json::to_string(&c.config).unwrap();
        let mut nested = String::from(", \"x-nest\": ");
        nested.push_str(&"[".repeat(1_000_000));
        nested.push_str(&"]".repeat(1_000_000));
        let text = format!("{}{nested}}}", &text[..text.len() - 1]);
        c.write_raw_config(text.as_bytes());
        let e = Expect {
            codes: &[0, 1],
            phrase: "config.json",
            ..FAIL_FAST
        };
        record(run_case(
            "10^6 nested arrays, unknown key",
            &mut c,
            None,
            &e,
        ));
    }
    // NUL bytes.
    {
        let mut c = sleeper("malnul0");
        c.args(&["sh\0evil", "-c", "true"]);
        c.write_config();
        record(run_case(
            "NUL in args[0]",
            &mut c,
            None,
            &fails("process.args"),
        ));
    }
    {
        let mut c = sleeper("malnul1");
        c.env(&["PATH=/bin", "X=a\0LD_PRELOAD=/evil"]);
        c.write_config();
        record(run_case("NUL in env", &mut c, None, &fails("process.env")));
    }
    {
        let mut c = sleeper("malnul2");
        c.add_mount(
            json!({"destination": "/mnt\u{0}/../../etc", "type": "tmpfs", "source": "tmpfs"}),
        );
        c.write_config();
        record(run_case(
            "NUL in mount destination",
            &mut c,
            None,
            &fails("destination"),
        ));
    }
    // uid 2^32 (does not fit a uid_t: must not wrap to 0 = root).
    {
        let mut c = sleeper("maluid");
        c.set("/process/user/uid", json!(1u64 << 32));
        c.write_config();
        record(run_case("uid 2^32", &mut c, None, &fails("uid")));
    }
    // 10^6 seccomp rules (~45 MB of JSON: over the 16 MiB config limit).
    {
        let mut c = sleeper("malsc1");
        let rules = repeated(
            r#"{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}"#,
            1_000_000,
        );
        with_raw_seccomp(
            &mut c,
            &format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{rules}]}}"#),
        );
        record(run_case(
            "10^6 seccomp rules",
            &mut c,
            None,
            &fails("config.json"),
        ));
    }
    // The most rules that fit in 16 MiB, each with an argument condition (a huge program):
    // success within bounds, or a clear error (the kernel takes at most 4096 instructions).
    {
        let mut c = sleeper("malsc2");
        let mut rules = String::new();
        for i in 0..150_000u32 {
            if i > 0 {
                rules.push(',');
            }
            rules.push_str(&format!(
                r#"{{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":{i},"op":"SCMP_CMP_EQ"}}]}}"#
            ));
        }
        with_raw_seccomp(
            &mut c,
            &format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{rules}]}}"#),
        );
        let len = fs::metadata(c.bundle.join("config.json")).unwrap().len();
        let name = format!("150k seccomp rules ({} MiB)", len >> 20);
        let e = Expect {
            codes: &[0, 1],
            phrase: "seccomp",
            max_wall: Duration::from_secs(20),
            max_rss_mib: 512.0,
        };
        record(run_case(&name, &mut c, None, &e));
    }
    // 10^6 syscall names in one rule (7 MB: under the limit).
    {
        let mut c = sleeper("malsc3");
        let names = repeated(r#""getpid""#, 1_000_000);
        with_raw_seccomp(
            &mut c,
            &format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":[{names}],"action":"SCMP_ACT_ERRNO"}}]}}"#
            ),
        );
        let e = Expect {
            codes: &[0, 1],
            phrase: "seccomp",
            max_wall: Duration::from_secs(20),
            max_rss_mib: 512.0,
        };
        record(run_case("10^6 names in one rule", &mut c, None, &e));
    }
    // cgroupsPath escaping the cgroup root.
    for (n, cg) in [
        ("a", "foo/../../outside"),
        ("b", "/oxirun-it/../../outside"),
    ] {
        let mut c = sleeper(&format!("malcg{n}"));
        c.set("/linux/cgroupsPath", json!(cg));
        c.write_config();
        let name = format!("cgroupsPath {cg}");
        record(run_case(&name, &mut c, None, &fails("cgroupsPath")));
        let out: Vec<_> = oxirun_integration::checks::cgroup_dirs("outside");
        if !out.is_empty() {
            record(Err(format!("{name}: created {out:?}")));
        }
    }
    // A FIFO as a namespace path: opening it must not block create forever.
    {
        let mut c = sleeper("malfifo");
        let fifo = c.dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        c.namespace("network", Some(&fifo));
        c.write_config();
        record(run_case(
            "FIFO as namespace path",
            &mut c,
            None,
            &fails("linux.namespaces"),
        ));
    }
    // Bad ids, for every command taking one: exit 1, one line, nothing outside the root touched.
    {
        let mut c = sleeper("malid");
        c.write_config();
        fs::create_dir_all(&c.root).unwrap();
        fs::write(c.root.join("marker"), "keep").unwrap();
        fs::write(c.dir.join("marker"), "keep").unwrap();
        for id in ["../x", "a/b", ".", ".."] {
            record(run_case(
                &format!("id {id:?} create"),
                &mut c,
                Some(id),
                &fails("invalid container ID format"),
            ));
            for cmd in [
                vec!["state", id],
                vec!["start", id],
                vec!["kill", id, "KILL"],
                vec!["delete", id],
                vec!["delete", "--force", id],
                vec!["pause", id],
                vec!["resume", id],
                vec!["exec", id, "true"],
                vec!["ps", id],
            ] {
                let what = format!("{} with id {id:?}", cmd.join(" "));
                let m = run_measured(
                    &mut c.command(&cmd),
                    &c.dir.path,
                    "badid",
                    Duration::from_secs(10),
                );
                if let Err(e) = crash_free(&what, &m) {
                    record(Err(e));
                } else if m.out.code != expect_code(cmd[0])
                    || m.out.stderr.trim().lines().count() != 1
                {
                    record(Err(format!(
                        "{what}: expected exit {} and one line: {:?}",
                        expect_code(cmd[0]),
                        m.out
                    )));
                }
            }
            let kept = c.root.join("marker").exists()
                && c.dir.join("marker").exists()
                && c.bundle.join("config.json").exists();
            if !kept {
                record(Err(format!(
                    "commands with id {id:?} removed files outside the container"
                )));
                break;
            }
        }
        assert!(processes_inside(&c.bundle).is_empty());
    }
    let (reaped, alive) = reap_orphans(Duration::from_secs(5));
    let (passed, problems): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
    let problems: Vec<String> = problems.into_iter().filter_map(|r| r.err()).collect();
    eprintln!(
        "malicious: {} cases passed, {} problems, {reaped} orphans reaped",
        passed.len(),
        problems.len()
    );
    assert!(alive.is_empty(), "processes left running: {alive:?}");
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
