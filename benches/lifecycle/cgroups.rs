//! The bench's cgroups: only `/oxirun-bench` and below, in every hierarchy, and (systemd mode)
//! the `oxirun-bench.slice` unit and its scopes; read and `rmdir` only (the slice is stopped
//! through `systemctl`), never a write to any cgroup file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::runtime::{systemd_booted, Mode};
use crate::CGROUP_PARENT;

/// The slice of the systemd mode's containers (`cgroupsPath` `oxirun-bench.slice:oxb:<leaf>`).
pub const SLICE: &str = "oxirun-bench.slice";

/// The `cgroupsPath` of container `leaf` in `mode` (None: no cgroup).
pub fn cgroups_path(mode: Mode, leaf: &str) -> Option<String> {
    match mode {
        Mode::Cgroups => Some(format!("/{CGROUP_PARENT}/{leaf}")),
        Mode::NoCgroups => None,
        Mode::Systemd => Some(format!("{SLICE}:oxb:{leaf}")),
    }
}

/// The directory under the mode's parent that holds container `leaf`: the leaf itself, or
/// the scope unit `oxb-<leaf>.scope` systemd made.
fn leaf_dir(mode: Mode, leaf: &str) -> String {
    match mode {
        Mode::Systemd => format!("oxb-{leaf}.scope"),
        _ => leaf.to_string(),
    }
}

fn parent_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Systemd => SLICE,
        _ => CGROUP_PARENT,
    }
}

/// A hybrid host: v1 controllers and a v2 hierarchy at `/sys/fs/cgroup/unified` with controllers.
pub fn hybrid_cgroups() -> bool {
    fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .map(|c| !c.trim().is_empty())
        .unwrap_or(false)
}

/// This host's cgroup layout, for the report.
pub fn layout() -> &'static str {
    if hybrid_cgroups() {
        "hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified)"
    } else if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "pure v2"
    } else {
        "v1"
    }
}

/// `/sys/fs/cgroup/<hierarchy>/<parent>` for every mounted hierarchy (v1 and v2), where
/// `<parent>` is `oxirun-bench` or, in the systemd mode, `oxirun-bench.slice`.
pub fn cgroup_parents(mode: Mode) -> Vec<PathBuf> {
    let name = parent_name(mode);
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        out.push(root.join(name)); // pure v2
    }
    if let Ok(entries) = fs::read_dir(root) {
        for e in entries.flatten() {
            let p = e.path().join(name);
            if e.path().is_dir() && !e.path().is_symlink() {
                out.push(p);
            }
        }
    }
    out
}

/// Hierarchy names (`memory`, `unified`, `cgroup` for pure v2, ...) holding container `leaf`.
pub fn hierarchies_with(mode: Mode, leaf: &str) -> Vec<String> {
    let dir = leaf_dir(mode, leaf);
    cgroup_parents(mode)
        .iter()
        .filter(|p| p.join(&dir).is_dir())
        .filter_map(|p| {
            p.parent()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect()
}

/// `<hierarchy>/<dir>` for every container directory of `mode` whose leaf starts with `prefix`.
pub fn leaves_with_prefix(mode: Mode, prefix: &str) -> Vec<String> {
    let prefix = leaf_dir(mode, prefix);
    let prefix = prefix.strip_suffix(".scope").unwrap_or(&prefix);
    let mut out = Vec::new();
    for parent in cgroup_parents(mode) {
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

/// Removes container `leaf`'s cgroup (and anything below it) in every hierarchy, if empty;
/// in the systemd mode stops its scope, if the runtime left it (failed units: [`cleanup_cgroups`]).
pub fn remove_leaf(mode: Mode, leaf: &str) {
    let dir = leaf_dir(mode, leaf);
    if mode == Mode::Systemd {
        if cgroup_parents(mode).iter().any(|p| p.join(&dir).is_dir()) {
            systemctl(&["stop", &dir]);
        }
        return;
    }
    for h in cgroup_parents(mode) {
        let dir = h.join(&dir);
        if dir.is_dir() {
            rmdir_tree(&dir);
        }
    }
}

/// `systemctl --quiet ARGS` (quiet: a unit that is already gone is not an error here).
fn systemctl(args: &[&str]) {
    let _ = Command::new("systemctl")
        .arg("--quiet")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes our (empty) cgroups: leaves first, then `/oxirun-bench`; stops `oxirun-bench.slice`
/// (and with it any scope a runtime left). Never writes to any cgroup file.
pub fn cleanup_cgroups() {
    if systemd_booted() {
        systemctl(&["stop", SLICE]);
        systemctl(&["reset-failed", SLICE, "oxb-*.scope"]);
    }
    for parent in cgroup_parents(Mode::Cgroups) {
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
