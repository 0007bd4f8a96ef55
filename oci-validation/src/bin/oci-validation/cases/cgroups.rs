//! config-linux.md#control-groups: `cgroupsPath` placement and `linux.resources` limits, read
//! from the host's cgroupfs while the container is created (v1 files on hybrid hosts, v2 files
//! on pure v2 hosts).

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};
use serde_json::json;

use super::lifecycle::{sleeper, Log};
use super::Case;
use crate::bundle::Ctx;
use crate::cgroupfs;
use crate::runtime::Runtime;

pub fn cases() -> Vec<Case> {
    vec![Case {
        id: "resources",
        section: "config-linux.md#control-groups",
        spec: "\"the runtime MUST take the path to be relative to the cgroups mount point\"; memory.limit, pids.limit, cpu shares/quota/period/cpus",
        run: resources,
    }]
}

fn resources(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = sleeper(ctx, rt, "resources")?;
    b.set(
        "/linux/resources",
        json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 64},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
        }),
    );
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "config-linux.md#cgroups-path");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    if !out.ok {
        return Ok(v);
    }
    let pid = rt
        .state(&b.dir, &b.id)
        .ok()
        .and_then(|s| s["pid"].as_i64())
        .unwrap_or(0);
    let dirs = cgroupfs::dirs(&b.cgroup);
    l.add(
        "cgroupsPath exists in the hierarchies",
        Outcome::check(!dirs.is_empty(), || "no directory".into()),
    );
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        let name = d
            .parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.file_name())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        l.add(
            format!("init pid is in the {name} cgroup"),
            Outcome::check(procs.lines().any(|p| p.trim() == pid.to_string()), || {
                format!("cgroup.procs {procs:?}, pid {pid}")
            }),
        );
    }
    let v2 = cgroupfs::hierarchies().len() == 1;
    let checks: &[(&'static str, &str, &str, &str)] = if v2 {
        &[
            (
                "config-linux.md#memory",
                "memory.limit",
                "memory.max",
                "67108864",
            ),
            ("config-linux.md#pids", "pids.limit", "pids.max", "64"),
            (
                "config-linux.md#cpu",
                "cpu.quota/period",
                "cpu.max",
                "50000 100000",
            ),
            ("config-linux.md#cpu", "cpu.cpus", "cpuset.cpus", "0"),
        ]
    } else {
        &[
            (
                "config-linux.md#memory",
                "memory.limit",
                "memory.limit_in_bytes",
                "67108864",
            ),
            ("config-linux.md#pids", "pids.limit", "pids.max", "64"),
            ("config-linux.md#cpu", "cpu.shares", "cpu.shares", "512"),
            (
                "config-linux.md#cpu",
                "cpu.quota",
                "cpu.cfs_quota_us",
                "50000",
            ),
            (
                "config-linux.md#cpu",
                "cpu.period",
                "cpu.cfs_period_us",
                "100000",
            ),
            ("config-linux.md#cpu", "cpu.cpus", "cpuset.cpus", "0"),
        ]
    };
    for (sec, field, file, want) in checks {
        let got = cgroupfs::read(&b.cgroup, file);
        l.section(sec).add(
            format!("{field} -> {file} = {want}"),
            Outcome::eq(got.as_deref(), Some(*want)),
        );
    }
    rt.force_delete(&b.dir, &b.id);
    l.section("runtime.md#delete").add(
        "delete --force removed the cgroups",
        Outcome::check(cgroupfs::dirs(&b.cgroup).is_empty(), || {
            format!("{:?}", cgroupfs::dirs(&b.cgroup))
        }),
    );
    Ok(v)
}
