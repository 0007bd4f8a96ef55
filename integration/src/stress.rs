//! Helpers for the robustness tests (`tests/robustness.rs`): a small seeded PRNG, running a
//! command while measuring its wall time and peak RSS (`wait4` rusage), killing a command at a
//! chosen moment, a tiny size-limited tmpfs guard, host snapshots for leak checks, and reaping
//! the orphans (container inits reparented to this subreaper) that the test's own runtime
//! invocations left behind.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::checks::{mount_points, processes_inside};
use crate::util::{exit_code, Out, OutFiles, Reap};

/// xorshift64*: deterministic from a seed (printed by the tests, settable with `OXIRUN_IT_SEED`).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// From `OXIRUN_IT_SEED`, else the clock; returns the seed too so tests can print it.
    pub fn from_env() -> (Rng, u64) {
        let seed = std::env::var("OXIRUN_IT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        (Rng::new(seed), seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A command's result plus what it cost.
#[derive(Debug, Clone)]
pub struct Measured {
    pub out: Out,
    pub wall: Duration,
    /// Peak resident set size in KiB (`ru_maxrss` of the child and the descendants it reaped).
    pub maxrss_kib: i64,
    /// True if the timeout hit and the command was killed.
    pub timed_out: bool,
}

impl Measured {
    pub fn maxrss_mib(&self) -> f64 {
        self.maxrss_kib as f64 / 1024.0
    }
}

/// A measuring wrapper: GNU time (`/usr/bin/time`), else busybox's `time` applet.
///
/// `ru_maxrss` from our own `wait4` would be useless: exec records the high-water mark of the
/// pre-exec memory (this large test process, shared through vfork) in the child's `maxrss`. A
/// small wrapper forks the runtime from its own small address space instead.
fn time_wrapper() -> Option<Vec<&'static str>> {
    if Path::new("/usr/bin/time").exists() {
        Some(vec!["/usr/bin/time"])
    } else if Path::new("/bin/busybox").exists() {
        Some(vec!["/bin/busybox", "time"])
    } else {
        None
    }
}

/// Runs `cmd` (stdio to files in `dir`) in its own process group under a `time` wrapper that
/// reports the runtime's peak RSS. On timeout the whole process group (ours) is SIGKILLed and
/// `timed_out` is set. `maxrss_kib` is -1 if no wrapper is available.
pub fn run_measured(cmd: &mut Command, dir: &Path, tag: &str, timeout: Duration) -> Measured {
    use std::os::unix::process::CommandExt;
    let files = OutFiles::new(dir, tag);
    let rusage_file = dir.join(format!("{tag}-{}.rusage", std::process::id()));
    let _ = fs::remove_file(&rusage_file);
    let mut run = match time_wrapper() {
        Some(w) => {
            let mut c = Command::new(w[0]);
            c.args(&w[1..])
                .arg("-f")
                .arg("%x %M")
                .arg("-o")
                .arg(&rusage_file)
                .arg(cmd.get_program())
                .args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            if let Some(d) = cmd.get_current_dir() {
                c.current_dir(d);
            }
            c
        }
        None => std::mem::replace(cmd, Command::new("/bin/false")),
    };
    files.attach(&mut run);
    run.process_group(0);
    let start = Instant::now();
    let mut child = run.spawn().unwrap_or_else(|e| panic!("spawn {run:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => panic!("wait {pid}: {e}"),
        }
        if !timed_out && start.elapsed() > timeout {
            timed_out = true;
            // SAFETY: kill(2) on the process group of our own unreaped child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    let mut code = exit_code(status);
    let mut maxrss_kib = -1;
    if let Ok(text) = fs::read_to_string(&rusage_file) {
        // "Command terminated by signal N" / "Command exited with ..." lines, then "%x %M".
        if let Some(sig) = text.lines().find_map(|l| {
            l.strip_prefix("Command terminated by signal ")
                .and_then(|s| s.trim().parse::<i32>().ok())
        }) {
            code = -sig;
        }
        if let Some(last) = text.lines().last() {
            let mut it = last.split_whitespace();
            if let (Some(_), Some(m)) = (it.next(), it.next()) {
                maxrss_kib = m.parse().unwrap_or(-1);
            }
        }
        let _ = fs::remove_file(&rusage_file);
    }
    Measured {
        out: files.read(code),
        wall,
        maxrss_kib,
        timed_out,
    }
}

/// Spawns `cmd` (stdio to files), waits `delay`, then SIGKILLs it (if still running) and reaps
/// it. Returns the exit code (`-9` when the kill landed) and the output so far.
pub fn kill_after(cmd: &mut Command, dir: &Path, tag: &str, delay: Duration) -> Out {
    let files = OutFiles::new(dir, tag);
    files.attach(cmd);
    let mut child: Child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    std::thread::sleep(delay);
    let _ = child.kill();
    let st = child.wait().expect("wait for killed command");
    files.read(exit_code(st))
}

/// A size-limited tmpfs mounted on `dir` (created if needed) for the life of the guard; `Drop`
/// detaches it.
pub struct TinyTmpfs {
    pub dir: PathBuf,
}

impl TinyTmpfs {
    pub fn mount(dir: &Path, size: &str) -> TinyTmpfs {
        use nix::mount::{mount, MsFlags};
        fs::create_dir_all(dir).expect("mkdir tmpfs mount point");
        let data = format!("size={size},mode=0700");
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(data.as_str()),
        )
        .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", dir.display()));
        TinyTmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a filler file until the filesystem is full (ENOSPC); returns the bytes written.
    pub fn fill(&self) -> u64 {
        use std::io::Write;
        let mut f = fs::File::create(self.dir.join("filler")).expect("create filler");
        let chunk = [0x5au8; 512];
        let mut n = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
        n
    }
}

impl Drop for TinyTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// What a test run may leak on the host, restricted to what the test owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    /// Host mount points below `dir`.
    pub mounts: BTreeSet<PathBuf>,
    /// `/sys/fs/cgroup/<hierarchy>/oxirun-it/<name>` dirs whose name starts with `prefix`.
    pub cgroups: BTreeSet<PathBuf>,
    /// Processes with a root or cwd below `dir`.
    pub procs: BTreeSet<String>,
    /// Total number of host mounts (anything the runtime leaked anywhere).
    pub mount_count: usize,
}

pub fn snapshot(dir: &Path, prefix: &str) -> HostSnapshot {
    let all = mount_points();
    let mut cgroups = BTreeSet::new();
    let roots = [PathBuf::from("/sys/fs/cgroup")];
    let mut hier: Vec<PathBuf> = roots.to_vec();
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        hier.extend(rd.flatten().map(|e| e.path()));
    }
    for h in hier {
        if let Ok(rd) = fs::read_dir(h.join("oxirun-it")) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    cgroups.insert(e.path());
                }
            }
        }
    }
    HostSnapshot {
        mount_count: all.len(),
        mounts: all.into_iter().filter(|m| m.starts_with(dir)).collect(),
        cgroups,
        procs: processes_inside(dir)
            .into_iter()
            .map(|(p, s)| format!("{p}: {s}"))
            .collect(),
    }
}

/// Thaws the freezer of a cgroup this test created (`rel` must be under `oxirun-it/`): v1
/// `freezer.state`, v2 `cgroup.freeze`. For cleaning up after a runtime that left one frozen.
pub fn thaw_test_cgroup(rel: &str) {
    if !rel.starts_with("oxirun-it/") || rel.contains("..") {
        return;
    }
    for d in crate::checks::cgroup_dirs(rel) {
        if d.join("freezer.state").exists() {
            let _ = fs::write(d.join("freezer.state"), "THAWED");
        }
        if d.join("cgroup.freeze").exists() {
            let _ = fs::write(d.join("cgroup.freeze"), "0");
        }
    }
}

/// True if any hierarchy shows the cgroup (`oxirun-it/...`) frozen.
pub fn test_cgroup_frozen(rel: &str) -> bool {
    crate::checks::cgroup_dirs(rel).iter().any(|d| {
        fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() != "THAWED")
            || fs::read_to_string(d.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
    })
}

/// Pids whose parent is this process (the test binary, a child subreaper).
pub fn my_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(me) {
            v.push(pid);
        }
    }
    v
}

/// Reaps this process's children: only call when every command the calling test started has
/// been waited for and no other test runs in this process (the robustness tests serialise on a
/// lock), so that every remaining child is an init reparented here from the test's own runtime
/// invocations. Children still running after `grace` are SIGKILLed (they are ours) and reported.
pub fn reap_orphans(grace: Duration) -> (usize, Vec<String>) {
    let deadline = Instant::now() + grace;
    let mut reaped = 0;
    let mut alive = Vec::new();
    loop {
        let kids = my_children();
        let mut pending = Vec::new();
        for pid in kids {
            match crate::util::reap(pid, Duration::ZERO) {
                Reap::Exited(_) => reaped += 1,
                Reap::NotChild => {}
                Reap::Timeout => pending.push(pid),
            }
        }
        if pending.is_empty() {
            return (reaped, alive);
        }
        if Instant::now() >= deadline {
            for pid in pending {
                let cmd = fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ");
                alive.push(format!("{pid}: {cmd}"));
                // SAFETY: kill(2) on our own unreaped child (cannot have been recycled).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                if let Reap::Exited(_) = crate::util::reap(pid, Duration::from_secs(5)) {
                    reaped += 1;
                }
            }
            return (reaped, alive);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
