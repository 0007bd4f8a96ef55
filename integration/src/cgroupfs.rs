//! Reading a container's cgroup control files from the host, whatever the hierarchy layout
//! (v1 controller mounts, hybrid, pure v2): find the container's directory holding a file.

use std::fs;
use std::path::PathBuf;

use crate::checks::cgroup_dirs;

/// The container's cgroup directory (for `rel`, e.g. `oxirun-it/<id>`) that has `file`.
pub fn dir_with(rel: &str, file: &str) -> Option<PathBuf> {
    cgroup_dirs(rel).into_iter().find(|d| d.join(file).exists())
}

/// `file` of the container's cgroup, trimmed; panics if no hierarchy has it.
#[track_caller]
pub fn read(rel: &str, file: &str) -> String {
    let d = dir_with(rel, file).unwrap_or_else(|| panic!("no cgroup dir of {rel} has {file}"));
    fs::read_to_string(d.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", d.display()))
        .trim()
        .to_string()
}

/// A "key value" line of a flat keyed file (memory.stat, memory.oom_control, pids.events).
pub fn keyed(rel: &str, file: &str, key: &str) -> Option<u64> {
    read(rel, file)
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The state letter of a process (`R`, `S`, `D`, `Z`...) from /proc/<pid>/stat.
pub fn proc_state(pid: i32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..].chars().next()
}

/// True when this host mounts cgroup v1 controllers (hybrid or legacy).
pub fn has_v1(controller: &str) -> bool {
    PathBuf::from("/sys/fs/cgroup")
        .join(controller)
        .join("cgroup.procs")
        .exists()
}
