//! `oxirun update`: merge new resource values into the container's saved ones, apply the
//! merged set to the live cgroup (devices excluded, as runc), and save them in state.json.
//!
//! Like runc, only the values given are written (the kernel keeps the others); where two
//! values travel together the missing half comes from the saved set: the CFS quota/period
//! (v2 writes both in one `cpu.max`, so changing only the period keeps the quota) and the
//! memory limit a new swap value is relative to.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

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
    let merged = merge(&saved, new)?;
    let live = live_set(new, &merged);
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
}
