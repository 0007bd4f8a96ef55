//! Validation without a real cgroupfs: a fake v1 layout (one directory per controller with
//! the files the checks look for) and a fake v2 directory, in a temp dir. Every bad value must
//! be refused with "linux.resources.<field>" in the message, before anything is written.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::cgroups::Cgroup;

struct Fake {
    root: PathBuf,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn touch(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("cgroup.procs"), "").unwrap();
    for (f, v) in files {
        fs::write(dir.join(f), v).unwrap();
    }
}

fn fake(tag: &str) -> Fake {
    let root = std::env::temp_dir().join(format!("oxirun-validate-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    touch(
        &root.join("memory/p"),
        &[
            ("memory.memsw.limit_in_bytes", ""),
            ("memory.limit_in_bytes", ""),
        ],
    );
    touch(
        &root.join("cpu/p"),
        &[
            ("cpu.cfs_quota_us", ""),
            ("cpu.cfs_burst_us", ""),
            ("cpu.idle", ""),
        ],
    );
    touch(
        &root.join("cpuset/p"),
        &[
            ("cpuset.effective_cpus", "0-1"),
            ("cpuset.effective_mems", "0"),
        ],
    );
    touch(&root.join("pids/p"), &[]);
    touch(
        &root.join("blkio/p"),
        &[("blkio.throttle.read_bps_device", "")],
    );
    touch(&root.join("devices/p"), &[]);
    touch(
        &root.join("v2/p"),
        &[
            ("cgroup.controllers", "cpu memory pids io cpuset"),
            ("cpuset.cpus.effective", "0-3"),
        ],
    );
    Fake { root }
}

impl Fake {
    fn v1(&self) -> Cgroup {
        let dirs = ["memory", "cpu", "cpuset", "pids", "blkio", "devices"]
            .iter()
            .map(|c| (c.to_string(), self.root.join(c).join("p/c")))
            .chain([(String::new(), self.root.join("v2/p/c"))])
            .collect();
        Cgroup { dirs }
    }

    fn v2(&self) -> Cgroup {
        Cgroup {
            dirs: vec![(String::new(), self.root.join("v2/p/c"))],
        }
    }
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

#[track_caller]
fn refused(cg: &Cgroup, json: &str, field: &str) {
    let e = cg
        .validate_resources(&res(json))
        .expect_err(&format!("{json} must be refused"));
    let msg = format!("{e:#}");
    assert!(msg.contains(field), "{json}: {msg:?} lacks {field:?}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
}

#[test]
fn good_values_pass_on_v1_and_v2() {
    let f = fake("good");
    let ok = r#"{"memory":{"limit":1048576,"swap":2097152,"swappiness":10},
                 "cpu":{"shares":512,"quota":50000,"period":100000,"burst":1000,"cpus":"0-1","mems":"0"},
                 "pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"}]}"#;
    f.v1().validate_resources(&res(ok)).unwrap();
    f.v2().validate_resources(&res(ok)).unwrap();
    // Nothing was created.
    assert!(!f.root.join("memory/p/c").exists());
}

#[test]
fn bad_values_name_the_field() {
    let f = fake("bad");
    let cg = f.v1();
    refused(
        &cg,
        r#"{"memory":{"limit":-2}}"#,
        "linux.resources.memory.limit",
    );
    refused(
        &cg,
        r#"{"memory":{"reservation":-9}}"#,
        "linux.resources.memory.reservation",
    );
    refused(
        &cg,
        r#"{"memory":{"swappiness":101}}"#,
        "linux.resources.memory.swappiness",
    );
    refused(
        &cg,
        r#"{"memory":{"limit":200,"swap":100}}"#,
        "linux.resources.memory.swap",
    );
    refused(&cg, r#"{"cpu":{"shares":1}}"#, "linux.resources.cpu.shares");
    refused(&cg, r#"{"cpu":{"quota":999}}"#, "linux.resources.cpu.quota");
    refused(
        &cg,
        r#"{"cpu":{"period":100}}"#,
        "linux.resources.cpu.period",
    );
    refused(
        &cg,
        r#"{"cpu":{"quota":5000,"burst":6000}}"#,
        "linux.resources.cpu.burst",
    );
    refused(&cg, r#"{"cpu":{"idle":2}}"#, "linux.resources.cpu.idle");
    refused(&cg, r#"{"cpu":{"cpus":"2"}}"#, "linux.resources.cpu.cpus");
    refused(&cg, r#"{"cpu":{"cpus":"1-0"}}"#, "linux.resources.cpu.cpus");
    refused(&cg, r#"{"cpu":{"mems":"3"}}"#, "linux.resources.cpu.mems");
    refused(
        &cg,
        r#"{"cpu":{"realtimeRuntime":5}}"#,
        "linux.resources.cpu.realtimeRuntime",
    );
    refused(
        &cg,
        r#"{"pids":{"limit":-3}}"#,
        "linux.resources.pids.limit",
    );
    refused(
        &cg,
        r#"{"blockIO":{"weight":5}}"#,
        "linux.resources.blockIO.weight",
    );
    refused(
        &cg,
        r#"{"blockIO":{"weight":500}}"#,
        "linux.resources.blockIO.weight",
    );
    refused(
        &cg,
        r#"{"blockIO":{"throttleReadBpsDevice":[{"major":4095,"minor":4095,"rate":1}]}}"#,
        "linux.resources.blockIO.throttleReadBpsDevice",
    );
    refused(
        &cg,
        r#"{"hugepageLimits":[{"pageSize":"3XB","limit":1}]}"#,
        "linux.resources.hugepageLimits",
    );
    refused(
        &cg,
        r#"{"network":{"classID":1}}"#,
        "linux.resources.network.classID",
    );
    refused(
        &cg,
        r#"{"rdma":{"mlx5_1":{"hcaHandles":1}}}"#,
        "linux.resources.rdma",
    );
    refused(
        &cg,
        r#"{"unified":{"memory.high":"1"}}"#,
        "cannot use unified on cgroup v1",
    );
    refused(
        &cg,
        r#"{"devices":[{"allow":true,"type":"c","major":-1,"access":"r"}]}"#,
        "linux.resources.devices[0]",
    );
    refused(
        &cg,
        r#"{"devices":[{"allow":true,"type":"b","access":"q"}]}"#,
        "linux.resources.devices[0]",
    );
}

#[test]
fn v2_only_rules() {
    let f = fake("v2");
    let cg = f.v2();
    refused(
        &cg,
        r#"{"cpu":{"realtimeRuntime":1000}}"#,
        "linux.resources.cpu.realtimeRuntime",
    );
    refused(
        &cg,
        r#"{"memory":{"limit":-1,"swap":100}}"#,
        "linux.resources.memory.swap",
    );
    refused(
        &cg,
        r#"{"unified":{"nosuch.max":"1"}}"#,
        "linux.resources.unified[nosuch.max]",
    );
    refused(
        &cg,
        r#"{"unified":{"../x.max":"1"}}"#,
        "linux.resources.unified",
    );
    refused(
        &cg,
        r#"{"unified":{"cgroup.procs":"1"}}"#,
        "linux.resources.unified[cgroup.procs]",
    );
    refused(
        &cg,
        r#"{"network":{"classID":1}}"#,
        "linux.resources.network.classID",
    );
    refused(&cg, r#"{"cpu":{"cpus":"4"}}"#, "linux.resources.cpu.cpus");
    cg.validate_resources(&res(
        r#"{"unified":{"memory.high":"1048576"},"cpu":{"cpus":"3"}}"#,
    ))
    .unwrap();
}

/// runc reads these zeros as "not set": they pass where the value itself could not be
/// checked or written (no blkio weight file, no blkio/io controller, no net_cls, no such
/// block device, no realtime files).
#[test]
fn zeros_are_unset_and_pass() {
    let f = fake("zeros");
    let zeros = r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0,
                              "disableOOMKiller":false,"swappiness":18446744073709551615},
                    "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,
                           "realtimePeriod":0,"cpus":"","mems":""},
                    "pids":{"limit":0},
                    "blockIO":{"weight":0,"leafWeight":0,
                               "weightDevice":[{"major":4095,"minor":4095,"weight":0,"leafWeight":0}]},
                    "network":{"classID":0}}"#;
    f.v1().validate_resources(&res(zeros)).unwrap();
    f.v2().validate_resources(&res(zeros)).unwrap();
    // Without any blkio/io controller either.
    let mut no_blkio = f.v1();
    no_blkio.dirs.retain(|(c, _)| c != "blkio");
    no_blkio.validate_resources(&res(zeros)).unwrap();
    // The same fields with a value are still checked.
    for (cg, json, field) in [
        (
            f.v1(),
            r#"{"blockIO":{"leafWeight":500}}"#,
            "blockIO.leafWeight",
        ),
        (
            f.v1(),
            r#"{"blockIO":{"weightDevice":[{"major":4095,"minor":4095,"weight":500}]}}"#,
            "blockIO.weightDevice",
        ),
        (f.v2(), r#"{"network":{"classID":1}}"#, "network.classID"),
        (
            f.v1(),
            r#"{"cpu":{"realtimePeriod":1000000}}"#,
            "cpu.realtimePeriod",
        ),
    ] {
        refused(&cg, json, &format!("linux.resources.{field}"));
    }
}

/// The resources of the config.json files dockerd 20.10 wrote (`docker run` without and with
/// --memory/--memory-swap/--memory-reservation/--cpus/--cpu-shares/--pids-limit/--cpuset-cpus)
/// pass on v1 and v2.
#[test]
fn dockerd_configs_pass() {
    let f = fake("dockerd");
    for text in [
        include_str!("../../../integration/fixtures/docker/run-default.config.json"),
        include_str!("../../../integration/fixtures/docker/run-limits.config.json"),
    ] {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let r: LinuxResources =
            serde_json::from_value(v.pointer("/linux/resources").unwrap().clone()).unwrap();
        f.v1().validate_resources(&r).unwrap();
        f.v2().validate_resources(&r).unwrap();
    }
}
