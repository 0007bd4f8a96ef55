//! `oxirun update`: merge new resource values into the container's saved ones, apply the
//! merged set to the live cgroup (devices excluded, as runc), and save them in state.json.
//!
//! Like runc, only the values given are written (the kernel keeps the others); where two
//! values travel together the missing half comes from the saved set: the CFS quota/period
//! (v2 writes both in one `cpu.max`, so changing only the period keeps the quota) and the
//! memory limit a new swap value is relative to.
//!
//! Zeros are read as runc reads them (`resources::unset`): dockerd's update JSON carries a 0
//! for every limit the user left alone, and such a 0 neither reaches the cgroup nor replaces
//! the saved value.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use super::resources::unset;
use crate::container::{self, Status};
use crate::state::StateDir;

/// Deep-merge `new` into `base`: objects merge key by key, anything else replaces.
fn merge_json(base: &mut Value, new: Value) {
    match (base, new) {
        (Value::Object(b), Value::Object(n)) => {
            for (k, v) in n {
                match b.get_mut(&k) {
                    Some(slot) if !v.is_null() => merge_json(slot, v),
                    Some(_) => {}
                    None => {
                        if !v.is_null() {
                            b.insert(k, v);
                        }
                    }
                }
            }
        }
        (b, n) => *b = n,
    }
}

/// `base` with every field `new` sets (except `devices`) overridden.
pub fn merge(base: &LinuxResources, new: &LinuxResources) -> Result<LinuxResources> {
    let mut b = serde_json::to_value(base).context("encode resources")?;
    let mut n = serde_json::to_value(new).context("encode resources")?;
    if let Value::Object(m) = &mut n {
        m.remove("devices");
    }
    merge_json(&mut b, n);
    serde_json::from_value(b).map_err(|e| anyhow!("merged resources: {e}"))
}

/// What to write for an update: `new` without devices, completed from `merged` where a
/// value is only meaningful with its partner.
pub fn live_set(new: &LinuxResources, merged: &LinuxResources) -> LinuxResources {
    let mut live = new.clone();
    live.set_devices(None);
    if let (Some(c), Some(m)) = (live.cpu().clone(), merged.cpu().as_ref()) {
        let mut c = c;
        if c.quota().is_some() != c.period().is_some() {
            c.set_quota(c.quota().or(m.quota()));
            c.set_period(c.period().or(m.period()));
        }
        live.set_cpu(Some(c));
    }
    if let (Some(mem), Some(m)) = (*live.memory(), merged.memory().as_ref()) {
        let mut mem = mem;
        if mem.swap().is_some() && mem.limit().is_none() {
            mem.set_limit(m.limit());
        }
        live.set_memory(Some(mem));
    }
    live
}

/// What an update does with the saved resources and the new ones, zeros read as unset:
/// (the set to save, the set to write now).
pub fn plan(
    saved: &LinuxResources,
    new: &LinuxResources,
) -> Result<(LinuxResources, LinuxResources)> {
    let (saved, new) = (unset::effective(saved), unset::effective(new));
    let merged = merge(&saved, &new)?;
    let live = live_set(&new, &merged);
    Ok((merged, live))
}

/// Update a live container's resources and record them.
pub fn update(root: &Path, id: &str, new: &LinuxResources) -> Result<()> {
    let sdir = StateDir::open(root, id)?;
    let mut st = sdir.load()?;
    if container::status(root, &st) == Status::Stopped {
        bail!("cannot update container {id}: container not running");
    }
    let saved = st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let (merged, live) = plan(&saved, new)?;
    if let Some(unit) = &st.systemd_unit {
        // runc's order: the unit's properties first (systemd would otherwise write its old
        // values back), then the files.
        let props = super::systemd::props::resources(&live, !st.cgroup.is_unified())
            .map_err(|e| anyhow!(e))?;
        super::systemd::Systemd::connect(st.rootless)?.set(unit, props)?;
    }
    st.cgroup.update_resources(&live)?;
    let mut linux = st.config.linux().clone().unwrap_or_default();
    linux.set_resources(Some(merged));
    st.config.set_linux(Some(linux));
    sdir.save(&st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_unset_fields_and_ignores_devices() {
        let base: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":100,"swap":200},"cpu":{"quota":5000,"period":10000},
                "devices":[{"allow":false,"access":"rwm"}],"pids":{"limit":5}}"#,
        )
        .unwrap();
        let new: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":150},"cpu":{"period":20000},"devices":[{"allow":true}]}"#,
        )
        .unwrap();
        let m = merge(&base, &new).unwrap();
        let mem = m.memory().as_ref().unwrap();
        assert_eq!(mem.limit(), Some(150));
        assert_eq!(mem.swap(), Some(200));
        let cpu = m.cpu().as_ref().unwrap();
        assert_eq!(cpu.quota(), Some(5000));
        assert_eq!(cpu.period(), Some(20000));
        assert_eq!(m.pids().as_ref().unwrap().limit(), 5);
        assert!(!m.devices().as_ref().unwrap()[0].allow());

        let live = live_set(&new, &m);
        assert!(live.devices().is_none());
        let cpu = live.cpu().as_ref().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(5000), Some(20000)));
        let mem = live.memory().as_ref().unwrap();
        assert_eq!((mem.limit(), mem.swap()), (Some(150), None));
        assert!(live.pids().is_none());
    }

    fn fixture(name: &str) -> LinuxResources {
        let text = match name {
            "run-limits" => {
                include_str!("../../integration/fixtures/docker/run-limits.config.json")
            }
            "update-limits" => include_str!("../../integration/fixtures/docker/update-limits.json"),
            "update-cpu-shares" => {
                include_str!("../../integration/fixtures/docker/update-cpu-shares.json")
            }
            "update-restart-policy" => {
                include_str!("../../integration/fixtures/docker/update-restart-policy.json")
            }
            _ => unreachable!("no fixture {name}"),
        };
        let v: Value = serde_json::from_str(text).unwrap();
        let r = v.pointer("/linux/resources").cloned().unwrap_or(v);
        serde_json::from_value(r).unwrap()
    }

    #[test]
    fn dockerd_update_zeros_neither_write_nor_replace() {
        let saved = fixture("run-limits");
        // `docker update --cpu-shares 256`: only the shares change.
        let (merged, live) = plan(&saved, &fixture("update-cpu-shares")).unwrap();
        let cpu = live.cpu().as_ref().unwrap();
        assert_eq!(cpu.shares(), Some(256));
        assert_eq!((cpu.quota(), cpu.period()), (None, None));
        assert!(live.memory().as_ref().unwrap().limit().is_none());
        assert!(live.block_io().as_ref().unwrap().weight().is_none());
        let mem = merged.memory().as_ref().unwrap();
        assert_eq!((mem.limit(), mem.swap()), (Some(67108864), Some(134217728)));
        assert_eq!(mem.reservation(), Some(33554432));
        let cpu = merged.cpu().as_ref().unwrap();
        assert_eq!((cpu.shares(), cpu.quota()), (Some(256), Some(50000)));
        assert_eq!(merged.pids().unwrap().limit(), 50);

        // `docker update --restart ...` sends zeros only: nothing to write, nothing changes.
        let (merged, live) = plan(&saved, &fixture("update-restart-policy")).unwrap();
        assert_eq!(
            serde_json::to_value(&live).unwrap(),
            serde_json::json!({"memory": {}, "cpu": {}, "blockIO": {}})
        );
        assert_eq!(merged, unset::effective(&saved));

        // `docker update --memory 96m --memory-swap 192m --cpus 0.25 --pids-limit 40`.
        let (merged, live) = plan(&saved, &fixture("update-limits")).unwrap();
        let mem = live.memory().as_ref().unwrap();
        assert_eq!(
            (mem.limit(), mem.swap()),
            (Some(100663296), Some(201326592))
        );
        assert_eq!((mem.reservation(), mem.kernel()), (None, None));
        let cpu = live.cpu().as_ref().unwrap();
        assert_eq!(
            (cpu.shares(), cpu.quota(), cpu.period()),
            (None, Some(25000), Some(100000))
        );
        assert_eq!(live.pids().unwrap().limit(), 40);
        assert_eq!(merged.cpu().as_ref().unwrap().shares(), Some(512));
        assert_eq!(
            merged.memory().as_ref().unwrap().reservation(),
            Some(33554432)
        );
    }
}
