//! The small ones: network (v1 `net_cls.classid`, `net_prio.ifpriomap`; no v2 equivalent),
//! rdma (`rdma.max` on both), and `unified` (v2 key/value pairs; refused on v1 like runc).

use std::collections::HashMap;

use anyhow::Result;
use oci_spec::runtime::{LinuxNetwork, LinuxRdma};

use super::{field_err, Place, Target};

fn has_priorities(n: &LinuxNetwork) -> bool {
    n.priorities().as_ref().is_some_and(|p| !p.is_empty())
}

pub fn validate_network(t: &Target, n: &LinuxNetwork) -> Result<()> {
    for p in n.priorities().iter().flatten() {
        let name = p.name();
        if name.is_empty() || name.len() > 15 || name.contains([' ', '/', '\n']) {
            return Err(field_err!(
                "network.priorities",
                "invalid interface name {name:?}"
            ));
        }
    }
    let v1 = |ctrl: &str| !t.pure_v2 && t.cg.v1_dir(ctrl).is_some();
    if n.class_id().is_some() && !v1("net_cls") {
        return Err(field_err!(
            "network.classID",
            "the net_cls cgroup controller is not available (cgroup v1 only)"
        ));
    }
    if has_priorities(n) && !v1("net_prio") {
        return Err(field_err!(
            "network.priorities",
            "the net_prio cgroup controller is not available (cgroup v1 only)"
        ));
    }
    Ok(())
}

pub fn apply_network(t: &Target, n: &LinuxNetwork) -> Result<()> {
    if let Some(id) = n.class_id() {
        let d =
            t.cg.v1_dir("net_cls")
                .ok_or_else(|| field_err!("network.classID", "no net_cls hierarchy"))?;
        super::write(d, "net_cls.classid", &id.to_string(), "network.classID")?;
    }
    if has_priorities(n) {
        let d =
            t.cg.v1_dir("net_prio")
                .ok_or_else(|| field_err!("network.priorities", "no net_prio hierarchy"))?;
        for p in n.priorities().iter().flatten() {
            let v = format!("{} {}", p.name(), p.priority());
            super::write(d, "net_prio.ifpriomap", &v, "network.priorities")?;
        }
    }
    Ok(())
}

/// One `rdma.max` line: "<device> hca_handle=N hca_object=M" (unset = "max").
pub fn rdma_line(dev: &str, r: &LinuxRdma) -> String {
    let f = |v: Option<u32>| v.map_or("max".to_string(), |n| n.to_string());
    format!(
        "{dev} hca_handle={} hca_object={}",
        f(r.hca_handles()),
        f(r.hca_objects())
    )
}

pub fn validate_rdma(t: &Target, rd: &HashMap<String, LinuxRdma>) -> Result<()> {
    if rd.is_empty() {
        return Ok(());
    }
    for dev in rd.keys() {
        if dev.is_empty() || dev.contains([' ', '/', '\n']) {
            return Err(field_err!("rdma", "invalid device name {dev:?}"));
        }
    }
    if t.place("rdma", "rdma").is_none() {
        return Err(field_err!(
            "rdma",
            "the rdma cgroup controller is not available"
        ));
    }
    Ok(())
}

pub fn apply_rdma(t: &Target, rd: &HashMap<String, LinuxRdma>) -> Result<()> {
    if rd.is_empty() {
        return Ok(());
    }
    let place = t
        .place("rdma", "rdma")
        .ok_or_else(|| field_err!("rdma", "the rdma cgroup controller is not available"))?;
    let mut devs: Vec<_> = rd.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, r) in devs {
        super::write(
            place.dir(),
            "rdma.max",
            &rdma_line(dev, r),
            &format!("rdma[{dev}]"),
        )?;
    }
    Ok(())
}

/// Keys that select the cgroup's membership/shape rather than a limit.
const FORBIDDEN: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.kill",
    "cgroup.freeze",
];

pub fn validate_unified(t: &Target, u: &HashMap<String, String>) -> Result<()> {
    if u.is_empty() {
        return Ok(());
    }
    if !t.pure_v2 {
        return Err(field_err!(
            "unified",
            "invalid configuration: cannot use unified on cgroup v1"
        ));
    }
    let dir =
        t.cg.unified_dir()
            .ok_or_else(|| field_err!("unified", "no cgroup v2 hierarchy"))?;
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        let field = format!("unified[{k}]");
        if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(field_err!(
                field,
                "must be a cgroup file name like \"memory.high\""
            ));
        }
        if FORBIDDEN.contains(&k.as_str()) {
            return Err(field_err!(field, "may not be set through unified"));
        }
        if u[k].contains('\n') && !k.ends_with(".max") && !k.starts_with("io.") {
            return Err(field_err!(field, "value must be one line"));
        }
        let ctrl = k.split('.').next().unwrap_or_default();
        if ctrl != "cgroup" && !super::v2_has_controller(dir, ctrl, true) {
            return Err(field_err!(
                field,
                "can't be set: controller {ctrl:?} not available"
            ));
        }
        // At create time the directory does not exist yet; the file must exist in the
        // parent unless it is one the root lacks (checked again when writing).
        if dir.join("cgroup.procs").exists() && !dir.join(k).exists() {
            return Err(field_err!(field, "no such cgroup file"));
        }
    }
    Ok(())
}

pub fn apply_unified(t: &Target, u: &HashMap<String, String>) -> Result<()> {
    if u.is_empty() {
        return Ok(());
    }
    let Some(Place::V2(dir)) = t.cg.unified_dir().map(Place::V2) else {
        return Err(field_err!("unified", "no cgroup v2 hierarchy"));
    };
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        super::write(dir, k, &u[k], &format!("unified[{k}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdma_lines() {
        let r: LinuxRdma = serde_json::from_str(r#"{"hcaHandles":3,"hcaObjects":10000}"#).unwrap();
        assert_eq!(
            rdma_line("mlx5_1", &r),
            "mlx5_1 hca_handle=3 hca_object=10000"
        );
        let r: LinuxRdma = serde_json::from_str(r#"{"hcaHandles":3}"#).unwrap();
        assert_eq!(
            rdma_line("mlx4_0", &r),
            "mlx4_0 hca_handle=3 hca_object=max"
        );
    }
}
