//! The host view of the suite's cgroups: every hierarchy mounted under /sys/fs/cgroup (v1
//! controllers, the hybrid `unified` v2 tree, or a pure v2 root), the directories a case's
//! cgroupsPath maps to, and the final `rmdir` cleanup of `/oci-validation/<runtime>-*`.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// The hierarchy roots: `/sys/fs/cgroup` itself when it is cgroup2, else its sub-mounts.
pub fn hierarchies() -> Vec<PathBuf> {
    if Path::new(ROOT).join("cgroup.controllers").exists() {
        return vec![PathBuf::from(ROOT)];
    }
    let mut v: Vec<PathBuf> = fs::read_dir(ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists() && !p.is_symlink())
        .collect();
    v.sort();
    v
}

/// The existing directories of `cgroup` (an absolute cgroupsPath) in every hierarchy.
pub fn dirs(cgroup: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(cgroup.trim_start_matches('/')))
        .filter(|d| d.is_dir())
        .collect()
}

/// The first existing `file` among the case's cgroup directories.
pub fn read(cgroup: &str, file: &str) -> Option<String> {
    dirs(cgroup)
        .into_iter()
        .find_map(|d| fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_string())
}

/// Removes (rmdir, children first) every `/oci-validation/<prefix>*` directory, then
/// `/oci-validation` itself when it is empty. Returns the directories that could not be removed.
pub fn cleanup(prefix: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for h in hierarchies() {
        let base = h.join("oci-validation");
        for e in fs::read_dir(&base).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                rmdir_tree(&e.path(), &mut left);
            }
        }
        let _ = fs::remove_dir(&base);
    }
    left
}

fn rmdir_tree(d: &Path, left: &mut Vec<PathBuf>) {
    for e in fs::read_dir(d).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            rmdir_tree(&e.path(), left);
        }
    }
    if fs::remove_dir(d).is_err() {
        left.push(d.to_path_buf());
    }
}
