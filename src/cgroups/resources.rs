//! Applying `linux.resources` to a container's cgroup, on v1 hierarchies (hybrid/legacy hosts)
//! and on the unified v2 hierarchy.
//!
//! Two steps, as the runtime calls them: [`Cgroup::validate_resources`] before anything exists
//! (every value checked statically and against the host: controllers present, cpus/mems
//! online, hugepage sizes, block devices, files the kernel offers), then [`Cgroup::apply`]
//! right after the directories are created and before the init joins. `update` goes through
//! [`Cgroup::update_resources`] (same checks plus live ones, devices left alone, as runc).
//!
//! Where a controller lives: its v1 hierarchy if mounted, else the unified hierarchy when the
//! controller is (or will be, after delegation) enabled for the container's v2 directory.
//! A limit for a controller available nowhere is an error naming the field.
//!
//! | file | owns |
//! |---|---|
//! | `convert` | v1 <-> v2 value mappings (shares/weight, blkio/io weight, swap), lists, page sizes |
//! | `memory` | memory limit/reservation/swap/kernel/kernelTCP/swappiness/OOM killer/hierarchy |
//! | `cpu` | cpu shares/weight, quota/period/burst, realtime, idle; cpuset cpus/mems |
//! | `pids` | pids.max |
//! | `blkio` | v1 blkio weight/weight_device/throttle, v2 io.weight/io.bfq.weight/io.max |
//! | `hugetlb` | hugetlb limits, with the `rsvd` (reservation) files where the kernel has them |
//! | `misc` | network (net_cls/net_prio, v1 only), rdma, `unified` (v2 only) |
//! | `devices` | rule checks, runc's default allowed devices, v1 devices.deny/allow |
//! | `devices_bpf` | v2: the device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program |
//! | `unset` | runc's zero-means-unset reading, applied once before every check and write |

mod blkio;
pub mod convert;
mod cpu;
pub mod devices;
mod devices_bpf;
#[cfg(test)]
mod host_tests;
mod hugetlb;
mod memory;
mod misc;
mod pids;
pub mod unset;
#[cfg(test)]
mod validate_tests;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxResources;

use super::{files, Cgroup};

/// Where one controller's files are for this container.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Place<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl<'a> Place<'a> {
    pub fn dir(&self) -> &'a Path {
        match self {
            Place::V1(d) | Place::V2(d) => d,
        }
    }
}

/// What validation and application need to know about the container's cgroup.
pub(crate) struct Target<'a> {
    pub cg: &'a Cgroup,
    /// Pure v2 host: controllers are delegated down to the container by `dirs::create`.
    pub pure_v2: bool,
    /// A live update (the directories exist and hold the container).
    pub update: bool,
}

impl<'a> Target<'a> {
    pub fn new(cg: &'a Cgroup, update: bool) -> Target<'a> {
        Target {
            cg,
            pure_v2: cg.is_unified(),
            update,
        }
    }

    /// The v1 hierarchy carrying `v1` if mounted, else the unified directory if controller
    /// `v2` is (or will be) enabled there.
    pub fn place(&self, v1: &str, v2: &str) -> Option<Place<'a>> {
        if !self.pure_v2 {
            if let Some(d) = self.cg.v1_dir(v1) {
                return Some(Place::V1(d));
            }
        }
        let u = self.cg.unified_dir()?;
        v2_has_controller(u, v2, self.pure_v2).then_some(Place::V2(u))
    }

    /// Whether `file` exists (or will exist: same file in the nearest existing ancestor) in
    /// the cgroup directory `dir`.
    pub fn has_file(&self, dir: &Path, file: &str) -> bool {
        match nearest_existing(dir) {
            Some(d) => d.join(file).exists(),
            None => false,
        }
    }
}

/// The deepest existing cgroup directory at or above `dir`.
pub(crate) fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|a| a.join("cgroup.procs").exists())
        .map(Path::to_path_buf)
}

fn v2_has_controller(dir: &Path, ctrl: &str, pure: bool) -> bool {
    let has = |d: &Path, f: &str| {
        std::fs::read_to_string(d.join(f))
            .map(|s| s.split_whitespace().any(|c| c == ctrl))
            .unwrap_or(false)
    };
    if dir.join("cgroup.procs").exists() {
        return has(dir, "cgroup.controllers");
    }
    let Some(anc) = nearest_existing(dir) else {
        return false;
    };
    if pure {
        // dirs::create enables every available controller down to the container.
        has(&anc, "cgroup.controllers")
    } else {
        // Hybrid: nothing is delegated for us; the parent must already hand it down.
        Some(anc.as_path()) == dir.parent() && has(&anc, "cgroup.subtree_control")
    }
}

/// Write `value` to `dir/file`; errors name the OCI field.
pub(crate) fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    files::write(dir, file, value).with_context(|| format!("linux.resources.{field}"))
}

/// An error naming the field: "linux.resources.<field>: <reason>".
macro_rules! field_err {
    ($field:expr, $($arg:tt)*) => {
        anyhow::anyhow!("linux.resources.{}: {}", $field, format!($($arg)*))
    };
}
pub(crate) use field_err;

impl Cgroup {
    /// Check resources against the host before anything is created.
    pub fn validate_resources(&self, r: &LinuxResources) -> Result<()> {
        validate(&Target::new(self, false), &unset::effective(r), true)
    }

    /// Write every limit of `resources` into the cgroup (create; `update` for live changes).
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        apply(&Target::new(self, false), &unset::effective(r), true)
    }

    /// [`Cgroup::apply`] for a rootless container in a delegated cgroup: without the device
    /// rules, which an unprivileged user cannot load (a BPF program; runc ignores that
    /// error for rootless too). The user namespace keeps device nodes out of reach anyway.
    pub fn apply_rootless(&self, r: &LinuxResources) -> Result<()> {
        apply(&Target::new(self, false), &unset::effective(r), false)
    }

    /// A live update (`oxirun update`): validate then apply `r` (only the fields it sets),
    /// leaving the device rules alone as runc does.
    pub fn update_resources(&self, r: &LinuxResources) -> Result<()> {
        let t = Target::new(self, true);
        let r = unset::effective(r);
        validate(&t, &r, false)?;
        apply(&t, &r, false)
    }
}

fn validate(t: &Target, r: &LinuxResources, with_devices: bool) -> Result<()> {
    if let Some(m) = r.memory() {
        memory::validate(t, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::validate(t, c)?;
    }
    if let Some(p) = r.pids() {
        pids::validate(t, p)?;
    }
    if let Some(b) = r.block_io() {
        blkio::validate(t, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb::validate(t, h)?;
    }
    if let Some(n) = r.network() {
        misc::validate_network(t, n)?;
    }
    if let Some(rd) = r.rdma() {
        misc::validate_rdma(t, rd)?;
    }
    if let Some(u) = r.unified() {
        misc::validate_unified(t, u)?;
    }
    if with_devices {
        devices::validate(t, r.devices().as_deref().unwrap_or(&[]))?;
    }
    Ok(())
}

fn apply(t: &Target, r: &LinuxResources, with_devices: bool) -> Result<()> {
    if let Some(c) = r.cpu() {
        // cpuset first: memory migration and cpu placement before limits bite.
        cpu::apply_cpuset(t, c)?;
    }
    if let Some(m) = r.memory() {
        memory::apply(t, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(t, c)?;
    }
    if let Some(p) = r.pids() {
        pids::apply(t, p)?;
    }
    if let Some(b) = r.block_io() {
        blkio::apply(t, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb::apply(t, h)?;
    }
    if let Some(n) = r.network() {
        misc::apply_network(t, n)?;
    }
    if let Some(rd) = r.rdma() {
        misc::apply_rdma(t, rd)?;
    }
    if let Some(u) = r.unified() {
        misc::apply_unified(t, u)?;
    }
    if with_devices {
        devices::apply(t, r.devices().as_deref().unwrap_or(&[]))?;
    }
    Ok(())
}
