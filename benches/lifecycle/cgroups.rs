//! The bench's cgroups: only `/oxirun-bench` and below, in every hierarchy; read and `rmdir`
//! only, never a write to any cgroup file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::CGROUP_PARENT;

/// A hybrid host: v1 controllers and a v2 hierarchy at `/sys/fs/cgroup/unified` with controllers.
pub fn hybrid_cgroups() -> bool {
    fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .map(|c| !c.trim().is_empty())
        .unwrap_or(false)
}

/// `/sys/fs/cgroup/<hierarchy>/oxirun-bench` for every mounted hierarchy (v1 and v2).
pub fn cgroup_parents() -> Vec<PathBuf> {
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

/// Hierarchy names (`memory`, `unified`, ...) holding `/oxirun-bench/<leaf>`.
pub fn hierarchies_with(leaf: &str) -> Vec<String> {
    cgroup_parents()
        .iter()
        .filter(|p| p.join(leaf).is_dir())
        .filter_map(|p| {
            p.parent()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect()
}

/// `<hierarchy>/<leaf>` for every `/oxirun-bench/<leaf>` whose name starts with `prefix`.
pub fn leaves_with_prefix(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for parent in cgroup_parents() {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        let hierarchy = parent
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && e.path().is_dir() {
                out.push(format!("{hierarchy}/{name}"));
            }
        }
    }
    out.sort();
    out
}

/// Removes `/oxirun-bench/<leaf>` (and anything below it) in every hierarchy, if empty.
pub fn remove_leaf(leaf: &str) {
    for h in cgroup_parents() {
        let dir = h.join(leaf);
        if dir.is_dir() {
            rmdir_tree(&dir);
        }
    }
}

/// Removes our (empty) cgroups: leaves first, then `/oxirun-bench`. Never writes to any cgroup.
pub fn cleanup_cgroups() {
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
