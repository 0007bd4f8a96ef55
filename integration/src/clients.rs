//! Shared pieces of the real-client tests (podman, containerd): installing the Debian packages
//! when missing, the busybox image as a rootfs tarball or a docker-archive, running client
//! commands with a timeout, and the scenario matrix that runs every scenario with Debian's
//! `runc` first (an environment problem shows up there and the scenario is skipped for both)
//! and then with oxirun (which must pass every scenario runc passes).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::{run_cmd_timeout, Out};

/// Debian's runc, the reference runtime.
pub const RUNC: &str = "/usr/sbin/runc";

static APT: Mutex<bool> = Mutex::new(false);

/// True if `bin` is found on PATH.
pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure every binary of `bins` exists, installing `pkgs` with apt-get if one is
/// missing (`apt-get update` at most once per process). Err = why the client is unavailable.
pub fn ensure(bins: &[&str], pkgs: &[&str]) -> Result<(), String> {
    if bins.iter().all(|b| have(b)) {
        return Ok(());
    }
    let mut updated = APT.lock().unwrap_or_else(|e| e.into_inner());
    if !*updated {
        let st = Command::new("apt-get")
            .args(["update", "-qq"])
            .status()
            .map_err(|e| format!("apt-get update: {e}"))?;
        if !st.success() {
            return Err(format!("apt-get update failed: {st}"));
        }
        *updated = true;
    }
    let st = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get install: {e}"))?;
    if !st.success() {
        return Err(format!("apt-get install {pkgs:?} failed: {st}"));
    }
    match bins.iter().find(|b| !have(b)) {
        Some(b) => Err(format!("{b} still missing after installing {pkgs:?}")),
        None => Ok(()),
    }
}

/// A tar of the busybox test rootfs (for `podman import`).
pub fn rootfs_tar(out: &Path) {
    let base = crate::rootfs::base();
    let st = Command::new("tar")
        .arg("-C")
        .arg(base)
        .args(["--exclude=./.oxirun-it-complete", "-cf"])
        .arg(out)
        .arg(".")
        .status()
        .expect("spawn tar");
    assert!(st.success(), "tar of the rootfs failed");
}

fn sha256_file(p: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("spawn sha256sum");
    assert!(o.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// A docker-archive (`docker save` format: manifest.json, a config, one layer tar) of the
/// busybox rootfs, tagged `tag`, written to `out` (for `ctr images import`).
pub fn docker_archive(work: &Path, tag: &str, out: &Path) {
    let d = work.join("docker-archive");
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    rootfs_tar(&d.join("layer.tar"));
    let diff = sha256_file(&d.join("layer.tar"));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]}
    });
    fs::write(d.join("config.json"), config.to_string()).unwrap();
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]);
    fs::write(d.join("manifest.json"), manifest.to_string()).unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&d)
        .arg("-cf")
        .arg(out)
        .args(["manifest.json", "config.json", "layer.tar"])
        .status()
        .expect("spawn tar");
    assert!(st.success(), "tar of the docker archive failed");
}

/// Runs `cmd` with a timeout, output captured through files in `dir`. A timeout is reported as
/// exit code -1000 (the client is killed: it is our child) rather than a panic, so the matrix
/// can go on and clean up.
pub fn run(cmd: &mut Command, dir: &Path, timeout: Duration) -> Out {
    let what = format!("{cmd:?}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_cmd_timeout(cmd, dir, "client", timeout)
    }));
    r.unwrap_or_else(|_| Out {
        code: -1000,
        stdout: String::new(),
        stderr: format!("timed out after {timeout:?}: {what}"),
    })
}

/// A runtime the scenarios are run with.
#[derive(Debug, Clone)]
pub struct Rt {
    /// `runc` or `oxirun`.
    pub name: &'static str,
    /// Absolute path of the binary.
    pub path: PathBuf,
}

impl Rt {
    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

/// The two runtimes, runc first.
pub fn runtimes() -> [Rt; 2] {
    let ox = crate::binary::oxirun_bin();
    let ox = fs::canonicalize(ox).unwrap_or_else(|_| ox.to_path_buf());
    [
        Rt {
            name: "runc",
            path: PathBuf::from(RUNC),
        },
        Rt {
            name: "oxirun",
            path: ox,
        },
    ]
}

/// Result of one scenario: Ok, or what went wrong (command, expected, got).
pub type Res = Result<(), String>;

/// A named scenario over a client environment `E`, run once per runtime.
pub type Scenario<'a, E> = (&'a str, fn(&E, &Rt) -> Res);

/// Checks `cond`, else `Err(msg)`.
pub fn check(cond: bool, msg: impl FnOnce() -> String) -> Res {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Checks a command's exit code, with the whole output in the error.
pub fn expect_code(out: &Out, code: i32, what: &str) -> Res {
    check(out.code == code, || {
        format!("`{what}`: expected exit {code}, got {out:#?}")
    })
}

/// Runs every scenario with runc, then (if runc passed) with oxirun, within `budget`.
/// Prints a table; panics listing every scenario runc passes and oxirun fails.
pub fn matrix<E>(client: &str, env: &E, scenarios: &[Scenario<E>], budget: Duration) {
    let start = Instant::now();
    let [runc, ox] = runtimes();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (name, f) in scenarios {
        if start.elapsed() > budget {
            rows.push(format!(
                "{name:32} SKIP (time budget of {budget:?} used up)"
            ));
            continue;
        }
        let t = Instant::now();
        if let Err(e) = f(env, &runc) {
            eprintln!("[{client}] SKIP {name}: fails with runc too (environment?): {e}");
            rows.push(format!("{name:32} SKIP (runc fails: {})", first_line(&e)));
            continue;
        }
        let runc_t = t.elapsed();
        let t = Instant::now();
        match f(env, &ox) {
            Ok(()) => rows.push(format!(
                "{name:32} ok   (runc {:.1}s, oxirun {:.1}s)",
                runc_t.as_secs_f64(),
                t.elapsed().as_secs_f64()
            )),
            Err(e) => {
                rows.push(format!("{name:32} FAIL {}", first_line(&e)));
                failures.push(format!("--- {client} / {name} with oxirun:\n{e}"));
            }
        }
    }
    eprintln!("[{client}] scenario table:\n  {}", rows.join("\n  "));
    assert!(
        failures.is_empty(),
        "{} {client} scenario(s) pass with runc but fail with oxirun:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    l.chars().take(160).collect()
}

/// Removes cgroup directories named exactly `name` under `parent` (e.g. `libpod_parent`,
/// `default`) on every hierarchy, only if they are empty of processes (rmdir fails
/// otherwise), deepest first. Used for cgroups the clients created for our containers.
pub fn rmdir_cgroups(rel: &str) {
    for d in crate::checks::cgroup_dirs(rel) {
        rmdir_tree(&d);
    }
}

fn rmdir_tree(d: &Path) {
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(d);
}

/// Pids in the cgroup `rel` on any hierarchy.
pub fn cgroup_pids(rel: &str) -> Vec<i32> {
    let mut v: Vec<i32> = crate::checks::cgroup_dirs(rel)
        .iter()
        .flat_map(|d| {
            fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Detaches every mount below `dir` (deepest first), then removes the tree. For scratch dirs
/// outside `target/` (e.g. podman's runroot, which must be a short path).
pub fn remove_tree_with_mounts(dir: &Path) {
    let mut mounts: Vec<PathBuf> = crate::checks::mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    for m in mounts {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir_all(dir);
}

/// The namespace `ns` (`net`, `ipc`, ...) of `pid` as the host sees it (`net:[4026531833]`).
pub fn ns_of(pid: &str, ns: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Network interfaces of `pid`'s network namespace, read from the host (`/proc/<pid>/net/dev`).
pub fn net_ifaces(pid: &str) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect()
}

/// The hex ids written to files `<prefix>*` in `dir` (podman's `--cidfile`/`--pod-id-file`),
/// for the cleanup.
pub fn ids_in(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| fs::read_to_string(e.path()).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default()
}
