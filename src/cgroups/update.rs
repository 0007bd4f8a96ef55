//! `oxirun update`: merge new resource values into the container's saved ones, apply the
//! merged set to the live cgroup (devices excluded, as runc), and save them in state.json.
//!
//! Like runc, the whole merged set is re-applied, so changing only the CFS period keeps the
//! quota (v2 writes both in one `cpu.max`).

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
    let mut live = merged.clone();
    live.set_devices(None);
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
    }
}
