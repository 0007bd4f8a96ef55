//! cgroups: where a container's processes live on every mounted hierarchy.
//!
//! Modelled on runc's `fs` driver. A [`Cgroup`] is just the list of the container's
//! directories, one per hierarchy, so it round-trips through state.json and every later command
//! (`kill`, `pause`, `ps`, `delete`) works on the same directories without re-resolving.
//!
//! | file | owns |
//! |---|---|
//! | `mountinfo` | parsing `/proc/self/mountinfo` + `/proc/self/cgroup` into the host [`Layout`] |
//! | `path` | `linux.cgroupsPath` rules (absolute, relative, default `/oxirun/<id>`, rejections) |
//! | `dirs` | create (cpuset / v2 delegation setup), add a pid, list members, remove |
//! | `freezer` | freeze / thaw / is-frozen, v1 `freezer.state` or v2 `cgroup.freeze` |
//! | `kill` | signal every member (v2 `cgroup.kill`, else freeze + pidfd signals + thaw) |
//! | `resources` | `linux.resources` for v1 and v2 (validate, apply, live update) |
//! | `stats` | runc's `events` stats object, the OOM counter |
//! | `events` | the `events` loop (stats every interval, `oom`), Go durations |
//! | `update` | `oxirun update`: merge into the saved resources, apply live, save |
//! | `systemd` | the systemd driver: `slice:prefix:name`, transient units, unit properties |
//! | `files` | reading/writing control files with one-line "cgroup <dir>: <file>: <reason>" errors |
//!
//! Host modes: pure v2 (one cgroup2 mount), hybrid (every v1 hierarchy, named ones such as
//! `name=systemd` included, plus the cgroup2 mount, usually `/sys/fs/cgroup/unified`), legacy
//! (v1 only). Resource limits (`linux.resources`) are applied by their own code on top of
//! [`Cgroup::v1_dir`] / [`Cgroup::unified_dir`].

mod dirs;
pub mod events;
mod files;
mod freezer;
mod kill;
pub mod mountinfo;
mod path;
mod resources;
pub mod stats;
pub mod systemd;
pub mod update;

#[cfg(test)]
mod host_tests;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};

pub use mountinfo::{Layout, Mode};
pub use resources::convert;

/// One hierarchy of a container's cgroup as the host mounts it (see [`Cgroup::mounts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HierarchyMount {
    /// As in [`Cgroup::dirs`]: "memory", "cpu,cpuacct", "name=systemd", "" for v2.
    pub name: String,
    /// The host's mount point of the hierarchy, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub mount_point: PathBuf,
    /// The container's directory, below `mount_point`.
    pub dir: PathBuf,
}

/// A container's cgroup: one directory per mounted hierarchy.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cgroup {
    /// (hierarchy name as in /proc/self/cgroup, e.g. "memory", "cpu,cpuacct", "name=systemd",
    /// "" for the unified v2 hierarchy; absolute directory of the container's cgroup).
    pub dirs: Vec<(String, PathBuf)>,
}

impl Cgroup {
    /// Pure resolution of `linux.cgroupsPath` (None or "" = default `/oxirun/<id>`) for
    /// container `id` against the running host; rejects `..` and systemd-style paths.
    pub fn resolve(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let layout = Layout::current().map_err(|e| anyhow!(e))?;
        Cgroup::resolve_in(&layout, cgroups_path, id)
    }

    /// [`Cgroup::resolve`] against a given host layout.
    pub fn resolve_in(layout: &Layout, cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let dirs = path::resolve(layout, cgroups_path, id).map_err(|e| anyhow!(e))?;
        Ok(Cgroup { dirs })
    }

    /// Create every directory (mkdir -p); on failure removes what it created.
    pub fn create(&self) -> Result<()> {
        dirs::create(&self.dirs)
    }

    /// Move `pid` into the cgroup on every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        dirs::add_pid(&self.dirs, pid)
    }

    /// Host pids of every process in the cgroup (and its sub-cgroups), sorted, deduplicated.
    pub fn pids(&self) -> Result<Vec<i32>> {
        dirs::pids(&self.dirs)
    }

    /// Remove the container's directories (sub-cgroups first), retrying briefly while they
    /// drain; a missing directory is fine.
    pub fn remove(&self) -> Result<()> {
        dirs::remove(&self.dirs)
    }

    /// Freeze every process and wait until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        freezer::freeze(&self.dirs)
    }

    /// Thaw the cgroup and wait until it runs again.
    pub fn thaw(&self) -> Result<()> {
        freezer::thaw(&self.dirs)
    }

    /// The directory whose freezer holds the container (v1 freezer, else v2), if any.
    pub fn freezer_dir(&self) -> Option<&Path> {
        freezer::dir(&self.dirs)
    }

    /// Whether the cgroup is frozen (false when no freezer is available).
    pub fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(&self.dirs)
    }

    /// Whether the container's directory already exists on any hierarchy (made by someone
    /// else: a failed create must not remove it).
    pub fn exists(&self) -> bool {
        self.dirs.iter().any(|(_, d)| d.is_dir())
    }

    /// Frozen or freezing by its own setting or an ancestor's (see `freezer`).
    pub fn frozen_by_anyone(&self) -> bool {
        freezer::frozen_by_anyone(&self.dirs)
    }

    /// Send `sig` to every process of the cgroup (see `kill` for how).
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        kill::kill_all(&self.dirs, sig)
    }

    /// True when the only hierarchy is the unified one (a pure cgroup v2 host).
    pub fn is_unified(&self) -> bool {
        !self.dirs.is_empty() && self.dirs.iter().all(|(n, _)| n.is_empty())
    }

    /// The container's directory on the v1 hierarchy carrying `controller` ("memory", "cpu").
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(n, _)| n.split(',').any(|c| c == controller))
            .map(|(_, d)| d.as_path())
    }

    /// For mounting cgroups inside the container: per hierarchy of this cgroup, where the host
    /// mounts it and the container's directory there (matched by name against the live host).
    pub fn mounts(&self) -> Result<Vec<HierarchyMount>> {
        let layout = Layout::current().map_err(|e| anyhow!(e))?;
        self.dirs
            .iter()
            .map(|(name, dir)| {
                let h = layout
                    .hierarchies
                    .iter()
                    .find(|h| &h.name == name)
                    .ok_or_else(|| {
                        anyhow!(
                            "cgroup {}: hierarchy {name:?} is no longer mounted",
                            dir.display()
                        )
                    })?;
                Ok(HierarchyMount {
                    name: name.clone(),
                    mount_point: h.mount_point.clone(),
                    dir: dir.clone(),
                })
            })
            .collect()
    }

    /// The container's directory on the unified (v2) hierarchy, if one is mounted.
    pub fn unified_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(n, _)| n.is_empty())
            .map(|(_, d)| d.as_path())
    }
}
