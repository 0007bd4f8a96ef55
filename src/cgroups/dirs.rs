//! The directory side of a cgroup: creating it (with the per-level setup a new v1 cpuset or v2
//! subtree needs), moving processes in, listing members, and removing it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::files;

/// mkdir -p every directory; on failure remove what this call created.
///
/// Only directories this call found missing are written to (cpuset.cpus/mems copied from the
/// parent on v1 cpuset, which otherwise refuses processes, and only while empty). On a pure v2 host the ancestors' controllers
/// are delegated down (`cgroup.subtree_control`, best effort, as runc does) so that resource
/// files exist in the container's cgroup.
pub fn create(dirs: &[(String, PathBuf)]) -> Result<()> {
    let unified_only = dirs.iter().all(|(n, _)| n.is_empty());
    let mut created = Vec::new();
    for (name, dir) in dirs {
        let res = create_one(name, dir, unified_only, &mut created);
        if let Err(e) = res {
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
    }
    Ok(())
}

fn create_one(
    name: &str,
    dir: &Path,
    unified_only: bool,
    created: &mut Vec<PathBuf>,
) -> Result<()> {
    // The deepest existing ancestor must be a cgroup directory: never mkdir into the tmpfs
    // that holds the mount points (a vanished mount would otherwise be silently faked).
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        cur = cur
            .parent()
            .ok_or_else(|| anyhow!("cgroup {}: no existing parent directory", dir.display()))?;
    }
    if !cur.join("cgroup.procs").exists() {
        return Err(anyhow!(
            "cgroup {}: {} is not a cgroup directory (is the hierarchy mounted?)",
            dir.display(),
            cur.display()
        ));
    }
    let is_cpuset = name.split(',').any(|c| c == "cpuset");
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => created.push(d.clone()),
            // Made meanwhile by another container being created: set up by it (or by
            // `inherit_cpuset` below, when our child finds it still empty).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(files::err(d, "", &e)),
        }
        if is_cpuset {
            inherit_cpuset(d)?;
        }
    }
    if unified_only {
        // Top-down from the highest cgroup ancestor to the leaf's parent.
        let mut chain: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.join("cgroup.procs").exists())
            .collect();
        chain.reverse();
        for a in chain {
            delegate_controllers(a);
        }
    }
    Ok(())
}

/// v1 cpuset: a new cgroup starts with empty cpus/mems (unless clone_children) and then
/// refuses every process; copy the parent's. An ancestor can itself still be empty when
/// another container created at the same time has made it but not filled it yet, so empty
/// ancestors are filled first, top-down (as runc does). An empty v1 cpuset holds no process,
/// so filling one never changes a cgroup in use.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        // Absent on a `noprefix` mount: nothing we know how to fill.
        if dir.join(file).exists() {
            fill_from_parent(dir, file)?;
        }
    }
    Ok(())
}

/// The value of `file` in `dir`, copied from the nearest non-empty ancestor if empty.
fn fill_from_parent(dir: &Path, file: &str) -> Result<String> {
    let value = files::read(dir, file)?;
    if !value.is_empty() {
        return Ok(value);
    }
    let parent = match dir.parent() {
        Some(p) if p.join(file).exists() => p,
        // The hierarchy root is never empty; nothing above it to copy from.
        _ => return Ok(value),
    };
    let value = fill_from_parent(parent, file)?;
    files::write(dir, file, &value)?;
    Ok(value)
}

/// v2: enable in `dir`'s subtree every controller `dir` has (best effort). A non-root cgroup
/// holding processes is left alone: the kernel refuses domain controllers there ("no internal
/// processes") and a partial success leaves its children unable to take processes; the
/// container's cgroup then simply lacks those resource files.
fn delegate_controllers(dir: &Path) {
    let is_root = !dir.join("cgroup.type").exists();
    if !is_root && files::read(dir, "cgroup.procs").map_or(true, |p| !p.is_empty()) {
        return;
    }
    let (Ok(avail), Ok(enabled)) = (
        files::read(dir, "cgroup.controllers"),
        files::read(dir, "cgroup.subtree_control"),
    ) else {
        return;
    };
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let todo: Vec<String> = avail
        .split_whitespace()
        .filter(|c| !enabled.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if todo.is_empty() {
        return;
    }
    if files::write_raw(dir, "cgroup.subtree_control", &todo.join(" ")).is_err() {
        for c in &todo {
            let _ = files::write_raw(dir, "cgroup.subtree_control", c);
        }
    }
}

/// Write `pid` to `cgroup.procs` on every hierarchy.
pub fn add_pid(dirs: &[(String, PathBuf)], pid: i32) -> Result<()> {
    for (_, dir) in dirs {
        files::write(dir, "cgroup.procs", &pid.to_string())?;
    }
    Ok(())
}

/// Every process in the cgroup or below it, on any hierarchy; sorted, no duplicates.
/// A directory that does not exist has no members.
pub fn pids(dirs: &[(String, PathBuf)]) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    for (_, dir) in dirs {
        collect_pids(dir, &mut out, true)?;
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>, top: bool) -> Result<()> {
    let text = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(t) => t,
        // Gone (the top one never existed, or a child was removed while we walked).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if !top && e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
        Err(e) => return Err(files::err(dir, "cgroup.procs", &e)),
    };
    for line in text.lines() {
        let pid = line
            .trim()
            .parse()
            .map_err(|_| anyhow!("cgroup {}: cgroup.procs: bad pid {line:?}", dir.display()))?;
        out.push(pid);
    }
    for sub in subdirs(dir)? {
        collect_pids(&sub, out, false)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(files::err(dir, "", &e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| files::err(dir, "", &e))?;
        if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(ent.path());
        }
    }
    Ok(out)
}

/// rmdir the container's directories (sub-cgroups first), retrying while a just-killed
/// process drains (EBUSY) for about a second in all. A missing directory is fine; parents
/// such as `/oxirun` are left for other containers.
pub fn remove(dirs: &[(String, PathBuf)]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut first_err = None;
    for (_, dir) in dirs {
        if let Err(e) = remove_tree(dir, deadline) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    for sub in subdirs(dir)? {
        remove_tree(&sub, deadline)?;
    }
    let mut pause = Duration::from_millis(5);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(files::err(dir, "", &e)),
        }
    }
}
