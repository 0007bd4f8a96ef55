//! What a client test reads and cleans on the host: the cgroups, namespaces and interfaces of
//! a container's pid, the cgroups an engine made for our containers, and [`Leftovers`]: host
//! paths an engine creates outside our dirs (its runtime dirs, caches, key files), removed at
//! the end only if they did not exist before the test.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checks::{cgroup_dirs, mount_points};

/// Removes the cgroup `rel` (e.g. `libpod_parent/libpod-<id>`) and the cgroups below it on
/// every hierarchy, deepest first, each only if empty of processes (rmdir fails otherwise).
/// Used for cgroups the clients created for our containers.
pub fn rmdir_cgroups(rel: &str) {
    for d in cgroup_dirs(rel) {
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
    let mut v: Vec<i32> = cgroup_dirs(rel)
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
    let mut mounts: Vec<PathBuf> = mount_points()
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

/// The hex ids written to files `<prefix>*` in `dir` (`--cidfile`/`--pod-id-file`), for the
/// cleanup.
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

/// The cgroup directory of `pid` that holds `controller`'s files, from `/proc/<pid>/cgroup`,
/// and whether it is a v1 hierarchy's (else the v2 `0::` path).
pub fn cgroup_dir_of(pid: &str, controller: &str) -> Option<(PathBuf, bool)> {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for l in cg.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        if ctrls.split(',').any(|c| c == controller) {
            let d = format!("/sys/fs/cgroup/{controller}{path}");
            return Some((PathBuf::from(d), true));
        }
    }
    let path = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some((PathBuf::from(format!("/sys/fs/cgroup{path}")), false))
}

/// A container's cgroup file read from the host through its pid: `file_v1` in the
/// controller's v1 hierarchy, else `file_v2` in its v2 directory; trimmed.
pub fn cgroup_file(pid: &str, controller: &str, file_v1: &str, file_v2: &str) -> Option<String> {
    let (d, v1) = cgroup_dir_of(pid, controller)?;
    let file = if v1 { file_v1 } else { file_v2 };
    fs::read_to_string(d.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Which runtime wrote a container's `state.json` (in the root an engine gives the runtime):
/// runc's has `init_process_pid`, oxirun's `pid_start`. Proof of which runtime really made a
/// container, beyond what the engine says.
pub fn state_writer(state_json: &Path) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(state_json).ok()?).ok()?;
    if v.get("init_process_pid").is_some() {
        Some("runc")
    } else if v.get("pid_start").is_some() {
        Some("oxirun")
    } else {
        None
    }
}

/// Host paths an engine may create outside the test's dirs. Each is recorded only if it does
/// not exist when the test starts, and on drop removed: [`Leftovers::dir`] only where empty
/// (bottom-up, so a dir another process on the machine started using stays),
/// [`Leftovers::tree`] with everything in it, [`Leftovers::file`] as a file,
/// [`Leftovers::cgroup`] (relative to each hierarchy) where empty of processes.
#[derive(Default)]
pub struct Leftovers {
    dirs: Vec<PathBuf>,
    trees: Vec<PathBuf>,
    files: Vec<PathBuf>,
    cgroups: Vec<String>,
}

impl Leftovers {
    pub fn dir(&mut self, p: impl Into<PathBuf>) -> &mut Self {
        let p = p.into();
        if !p.exists() {
            self.dirs.push(p);
        }
        self
    }

    pub fn tree(&mut self, p: impl Into<PathBuf>) -> &mut Self {
        let p = p.into();
        if !p.exists() {
            self.trees.push(p);
        }
        self
    }

    pub fn file(&mut self, p: impl Into<PathBuf>) -> &mut Self {
        let p = p.into();
        if !p.exists() {
            self.files.push(p);
        }
        self
    }

    pub fn cgroup(&mut self, rel: &str) -> &mut Self {
        if cgroup_dirs(rel).is_empty() {
            self.cgroups.push(rel.to_string());
        }
        self
    }

    /// Removes what was recorded (see the type's doc); safe to call more than once.
    pub fn clean(&mut self) {
        for f in self.files.drain(..) {
            let _ = fs::remove_file(f);
        }
        for t in self.trees.drain(..) {
            let _ = fs::remove_dir_all(t);
        }
        for d in self.dirs.drain(..) {
            rmdir_tree(&d);
        }
        for c in self.cgroups.drain(..) {
            rmdir_cgroups(&c);
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        self.clean();
    }
}
