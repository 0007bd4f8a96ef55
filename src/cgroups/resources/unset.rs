//! runc's reading of `linux.resources`: for the fields below a zero means "not set", so the
//! kernel's current value stays and nothing is checked or written. Every caller of
//! [`effective`] then sees `None` where runc sees "unset", and the per-controller code never
//! has to tell a zero from a missing value.
//!
//! Clients rely on it: dockerd 20.10 writes `"blockIO": {"weight": 0}`, `"cpu": {"shares": 0}`
//! and `"memory": {"disableOOMKiller": false}` into every config.json, and its `update` JSON
//! carries zeros for every limit the user did not change (see
//! `integration/fixtures/docker/`).
//!
//! | field | unset when | why (runc's cgroup drivers) |
//! |---|---|---|
//! | `memory.limit`, `.reservation`, `.swap`, `.kernel`, `.kernelTCP` | 0 | written only if non-zero (v1 and v2) |
//! | `memory.swappiness` | 2^64-1 (Go's `-1`) | "-1" is skipped; 0..=100 is a value |
//! | `memory.disableOOMKiller` | false | only `true` is written |
//! | `cpu.shares`, `.quota`, `.period`, `.realtimeRuntime`, `.realtimePeriod` | 0 | written only if non-zero |
//! | `cpu.cpus`, `cpu.mems` | "" | written only if non-empty |
//! | `pids.limit` | 0 | written only if non-zero (-1 = "max") |
//! | `blockIO.weight`, `.leafWeight` | 0 | written only if non-zero |
//! | `blockIO.weightDevice[].weight`, `.leafWeight` | 0 | written only if non-zero; an entry with neither is dropped |
//! | `network.classID` | 0 | written only if non-zero |
//!
//! Zeros that are values, and stay: `cpu.burst` and `cpu.idle` (runc writes them when
//! present), `memory.swappiness` 0, throttle rates of 0 (v1: remove the rule, v2: "max"),
//! hugepage limits of 0, rdma counts of 0.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources, LinuxWeightDevice,
    LinuxWeightDeviceBuilder,
};

/// `Some(v)` unless `v` is the type's zero.
fn nz<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

fn memory(m: &LinuxMemory) -> LinuxMemory {
    let mut out = *m;
    out.set_limit(nz(m.limit()))
        .set_reservation(nz(m.reservation()))
        .set_swap(nz(m.swap()))
        .set_kernel(nz(m.kernel()))
        .set_kernel_tcp(nz(m.kernel_tcp()))
        .set_swappiness(m.swappiness().filter(|&s| s != u64::MAX))
        .set_disable_oom_killer(m.disable_oom_killer().filter(|&off| off));
    out
}

fn cpu(c: &LinuxCpu) -> LinuxCpu {
    let mut out = c.clone();
    out.set_shares(nz(c.shares()))
        .set_quota(nz(c.quota()))
        .set_period(nz(c.period()))
        .set_realtime_runtime(nz(c.realtime_runtime()))
        .set_realtime_period(nz(c.realtime_period()))
        .set_cpus(c.cpus().clone().filter(|s| !s.is_empty()))
        .set_mems(c.mems().clone().filter(|s| !s.is_empty()));
    out
}

/// A per-device weight without its zeros; `None` when nothing is left to write.
fn weight_device(wd: &LinuxWeightDevice) -> Option<LinuxWeightDevice> {
    let (weight, leaf) = (nz(wd.weight()), nz(wd.leaf_weight()));
    if weight.is_none() && leaf.is_none() {
        return None;
    }
    let mut b = LinuxWeightDeviceBuilder::default()
        .major(wd.major())
        .minor(wd.minor());
    if let Some(w) = weight {
        b = b.weight(w);
    }
    if let Some(w) = leaf {
        b = b.leaf_weight(w);
    }
    b.build().ok()
}

fn block_io(b: &LinuxBlockIo) -> LinuxBlockIo {
    let mut out = b.clone();
    let devices = b
        .weight_device()
        .as_ref()
        .map(|list| list.iter().filter_map(weight_device).collect());
    out.set_weight(nz(b.weight()))
        .set_leaf_weight(nz(b.leaf_weight()))
        .set_weight_device(devices);
    out
}

/// `r` with every "unset" zero of the table above turned into `None`.
pub fn effective(r: &LinuxResources) -> LinuxResources {
    let mut out = r.clone();
    out.set_memory(r.memory().as_ref().map(memory));
    out.set_cpu(r.cpu().as_ref().map(cpu));
    out.set_pids((*r.pids()).filter(|p| p.limit() != 0));
    out.set_block_io(r.block_io().as_ref().map(block_io));
    if let Some(n) = r.network() {
        let mut n = n.clone();
        n.set_class_id(nz(n.class_id()));
        out.set_network(Some(n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eff(json: &str) -> serde_json::Value {
        let r: LinuxResources =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        serde_json::to_value(effective(&r)).unwrap()
    }

    /// The JSON of `effective(json)`, compared with `want` (objects compare key by key).
    #[track_caller]
    fn same(json: &str, want: &str) {
        let want: serde_json::Value = serde_json::from_str(want).unwrap();
        assert_eq!(eff(json), want, "effective({json})");
    }

    #[test]
    fn memory_zeros_are_unset() {
        same(r#"{"memory":{"limit":0}}"#, r#"{"memory":{}}"#);
        same(r#"{"memory":{"reservation":0}}"#, r#"{"memory":{}}"#);
        same(r#"{"memory":{"swap":0}}"#, r#"{"memory":{}}"#);
        same(r#"{"memory":{"kernel":0}}"#, r#"{"memory":{}}"#);
        same(r#"{"memory":{"kernelTCP":0}}"#, r#"{"memory":{}}"#);
        same(
            r#"{"memory":{"disableOOMKiller":false}}"#,
            r#"{"memory":{}}"#,
        );
        same(
            r#"{"memory":{"swappiness":18446744073709551615}}"#,
            r#"{"memory":{}}"#,
        );
    }

    #[test]
    fn memory_values_stay() {
        let all = r#"{"memory":{"limit":-1,"reservation":1,"swap":-1,"kernel":4096,"kernelTCP":8192,
                      "swappiness":0,"disableOOMKiller":true}}"#;
        same(all, all);
        same(
            r#"{"memory":{"limit":67108864,"swap":134217728}}"#,
            r#"{"memory":{"limit":67108864,"swap":134217728}}"#,
        );
    }

    #[test]
    fn cpu_zeros_are_unset() {
        same(r#"{"cpu":{"shares":0}}"#, r#"{"cpu":{}}"#);
        same(r#"{"cpu":{"quota":0}}"#, r#"{"cpu":{}}"#);
        same(r#"{"cpu":{"period":0}}"#, r#"{"cpu":{}}"#);
        same(r#"{"cpu":{"realtimeRuntime":0}}"#, r#"{"cpu":{}}"#);
        same(r#"{"cpu":{"realtimePeriod":0}}"#, r#"{"cpu":{}}"#);
        same(r#"{"cpu":{"cpus":"","mems":""}}"#, r#"{"cpu":{}}"#);
    }

    #[test]
    fn cpu_values_stay() {
        // burst and idle are pointers in runc: a 0 there is written.
        let all = r#"{"cpu":{"shares":2,"quota":-1,"period":1000,"realtimeRuntime":-1,
                      "realtimePeriod":1000000,"cpus":"0","mems":"0","burst":0,"idle":0}}"#;
        same(all, all);
    }

    #[test]
    fn pids_zero_is_unset() {
        same(r#"{"pids":{"limit":0}}"#, r#"{}"#);
        same(r#"{"pids":{"limit":-1}}"#, r#"{"pids":{"limit":-1}}"#);
        same(r#"{"pids":{"limit":50}}"#, r#"{"pids":{"limit":50}}"#);
    }

    #[test]
    fn blkio_zero_weights_are_unset() {
        same(r#"{"blockIO":{"weight":0}}"#, r#"{"blockIO":{}}"#);
        same(r#"{"blockIO":{"leafWeight":0}}"#, r#"{"blockIO":{}}"#);
        same(
            r#"{"blockIO":{"weight":500,"leafWeight":300}}"#,
            r#"{"blockIO":{"weight":500,"leafWeight":300}}"#,
        );
    }

    #[test]
    fn blkio_device_zero_weights_are_unset() {
        same(
            r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":0,"leafWeight":200},
                                           {"major":8,"minor":16,"weight":300,"leafWeight":0}]}}"#,
            r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"leafWeight":200},
                                           {"major":8,"minor":16,"weight":300}]}}"#,
        );
        // Nothing left to write for the device: the entry goes (runc writes nothing for it).
        same(
            r#"{"blockIO":{"weightDevice":[{"major":4095,"minor":4095,"weight":0}]}}"#,
            r#"{"blockIO":{"weightDevice":[]}}"#,
        );
    }

    #[test]
    fn zero_rates_and_limits_that_are_values_stay() {
        let t = r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":0}]},
                    "hugepageLimits":[{"pageSize":"2MB","limit":0}],
                    "rdma":{"mlx5_1":{"hcaHandles":0}}}"#;
        same(t, t);
    }

    #[test]
    fn network_classid_zero_is_unset() {
        same(r#"{"network":{"classID":0}}"#, r#"{"network":{}}"#);
        same(
            r#"{"network":{"classID":1048577}}"#,
            r#"{"network":{"classID":1048577}}"#,
        );
    }

    #[test]
    fn dockerd_defaults_leave_nothing_set() {
        // What dockerd 20.10 writes for `docker run` without resource flags (devices aside).
        same(
            r#"{"memory":{"disableOOMKiller":false},"cpu":{"shares":0},"blockIO":{"weight":0}}"#,
            r#"{"memory":{},"cpu":{},"blockIO":{}}"#,
        );
    }
}
