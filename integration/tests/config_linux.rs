//! `linux.*` and top-level fields from inside: personality, timeOffsets, rootfsPropagation,
//! memoryPolicy, intelRdt, netDevices, domainname, hostname without a UTS namespace,
//! root.readonly, annotations and unknown keys.

use std::process::Command;

use oxirun_integration::confcheck::inside_mounts;
use oxirun_integration::confcheck::{at, compile_static, create_fails, host_self_bind_shared};
use oxirun_integration::{json, Container, Value};

#[test]
fn personality_linux32() {
    let mut c = Container::new("pers32");
    c.set("/linux/personality", json!({"domain": "LINUX32"}));
    assert_eq!(c.inside("uname -m").trim(), "i686");
    let mut c = Container::new("pers64");
    c.set("/linux/personality", json!({"domain": "LINUX"}));
    assert_eq!(c.inside("uname -m").trim(), "x86_64");
}

const CLOCK_C: &str = r#"
#include <stdio.h>
#include <time.h>
int main(void) {
    struct timespec m, b;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_BOOTTIME, &b);
    printf("%ld %ld\n", (long)m.tv_sec, (long)b.tv_sec);
    return 0;
}
"#;

fn host_uptime() -> f64 {
    let s = std::fs::read_to_string("/proc/uptime").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn time_offsets_boottime_and_monotonic() {
    let mut c = Container::new("timens");
    let clock = compile_static(CLOCK_C, &c.dir.join("oxi-clock"), &[]);
    if let Ok(p) = &clock {
        std::fs::copy(p, c.rootfs().join("bin/oxi-clock")).unwrap();
    } else {
        eprintln!("monotonic check skipped: {clock:?}");
    }
    c.namespace("time", None).set(
        "/linux/timeOffsets",
        json!({"boottime": {"secs": 172800, "nanosecs": 0},
               "monotonic": {"secs": 86400, "nanosecs": 0}}),
    );
    let script = if clock.is_ok() {
        "cut -d' ' -f1 /proc/uptime; cat /proc/self/timens_offsets; oxi-clock"
    } else {
        "cut -d' ' -f1 /proc/uptime; cat /proc/self/timens_offsets"
    };
    let before = host_uptime();
    let out = c.inside(script);
    let lines: Vec<&str> = out.lines().collect();
    let up: f64 = lines[0].parse().unwrap();
    assert!(
        up >= 172800.0 + before - 1.0 && up < 172800.0 + before + 60.0,
        "uptime inside {up}, host {before}: {out}"
    );
    let offs: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(offs.contains(&vec!["monotonic", "86400", "0"]), "{out}");
    assert!(offs.contains(&vec!["boottime", "172800", "0"]), "{out}");
    if clock.is_ok() {
        let v: Vec<f64> = lines[3].split(' ').map(|x| x.parse().unwrap()).collect();
        assert!(v[0] >= 86400.0 + before - 1.0, "monotonic {}: {out}", v[0]);
        assert!(v[1] >= 172800.0 + before - 1.0, "boottime {}: {out}", v[1]);
    }
    assert!(
        host_uptime() < 172800.0 || before >= 172800.0,
        "host clock moved"
    );
}

#[test]
fn time_offsets_without_time_namespace_is_an_error() {
    let mut c = Container::new("timensno");
    c.set(
        "/linux/timeOffsets",
        json!({"boottime": {"secs": 100, "nanosecs": 0}}),
    )
    .sh("true");
    create_fails(&mut c, &["timeOffsets"]);
}

fn rootfs_propagation(mode: &str, host_shared: bool) -> oxirun_integration::confcheck::Mnt {
    let mut c = Container::new(&format!("rprop{mode}{host_shared}"));
    if host_shared {
        // Give the rootfs a shared peer group on the host, so that slave can show `master:N`.
        host_self_bind_shared(&c.rootfs());
    }
    c.set("/linux/rootfsPropagation", json!(mode));
    let (_, m) = inside_mounts(&mut c, "true");
    at(&m, "/").clone()
}

#[test]
fn rootfs_propagation_shared() {
    let root = rootfs_propagation("shared", false);
    assert!(root.tagged("shared:"), "{root:?}");
}

#[test]
fn rootfs_propagation_slave() {
    let root = rootfs_propagation("slave", true);
    assert!(
        root.tagged("master:") && !root.tagged("shared:"),
        "{root:?}"
    );
}

#[test]
fn rootfs_propagation_private() {
    let root = rootfs_propagation("private", false);
    assert!(root.optional.is_empty(), "{root:?}");
    let root = rootfs_propagation("private", true);
    assert!(root.optional.is_empty(), "{root:?}");
}

/// unbindable: applied to "/" after the pivot, never before the rootfs is bound onto itself
/// (an unbindable "/" refuses every bind beneath it: create failed with EINVAL).
#[test]
fn rootfs_propagation_unbindable() {
    for mode in ["unbindable", "runbindable"] {
        let root = rootfs_propagation(mode, false);
        assert!(root.tagged("unbindable"), "{mode}: {root:?}");
        assert!(!root.tagged("shared:"), "{mode}: {root:?}");
    }
}

/// Every mode the spec lists starts a container, with and without a shared host mount.
#[test]
fn rootfs_propagation_every_mode_starts() {
    for mode in ["rshared", "rslave", "rprivate", "runbindable"] {
        for host_shared in [false, true] {
            let root = rootfs_propagation(mode, host_shared);
            let want = match mode {
                "rshared" => root.tagged("shared:"),
                "rslave" => !root.tagged("shared:"),
                "rprivate" => root.optional.is_empty(),
                _ => root.tagged("unbindable"),
            };
            assert!(want, "{mode} (host shared: {host_shared}): {root:?}");
        }
    }
}

#[test]
fn memory_policy_bind() {
    let mut c = Container::new("mpol");
    c.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_BIND", "nodes": "0"}),
    );
    let out = c.inside(
        "grep -c ' bind:0 ' /proc/self/numa_maps; grep -c ' default ' /proc/self/numa_maps || true",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].parse::<u32>().unwrap() > 0, "{out}");
    assert_eq!(lines[1], "0", "some mappings not bound: {out}");
}

#[test]
fn intel_rdt_not_supported_here() {
    let mut c = Container::new("rdt");
    c.set("/linux/intelRdt", json!({"closID": "oxi"}))
        .sh("true");
    create_fails(&mut c, &["intelRdt", "not supported on this host"]);
}

struct Veth(String);

impl Veth {
    fn new(n: u32) -> Veth {
        let a = format!("oxt-{n}a");
        let _ = Command::new("ip")
            .args(["link", "del", &a])
            .stderr(std::process::Stdio::null())
            .status();
        let ok = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ok(&[
            "link",
            "add",
            &a,
            "type",
            "veth",
            "peer",
            "name",
            &format!("oxt-{n}b"),
        ]);
        let v = Veth(a.clone());
        ok(&["addr", "add", &format!("10.254.{n}.1/24"), "dev", &a]);
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn host_has_link(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn net_device_moved_in_and_renamed() {
    let n = 200 + (std::process::id() % 50);
    let veth = Veth::new(n);
    let mut c = Container::new("netdev");
    c.set(
        "/linux/netDevices",
        json!({ veth.0.clone(): {"name": "eth0"} }),
    )
    .sh("ip -o addr show dev eth0; ip -o link show dev eth0");
    c.create_ok();
    assert!(
        !host_has_link(&veth.0),
        "device still on the host after create"
    );
    c.start().ok("start");
    let code = c.wait_exit(std::time::Duration::from_secs(10));
    let (out, err) = c.container_output();
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains(&format!("inet 10.254.{n}.1/24")),
        "address not kept: {out}"
    );
    assert!(out.contains("eth0"), "{out}");
    let link = out.lines().find(|l| l.contains("link/")).unwrap_or("");
    assert!(
        link.contains(",UP") || link.contains("<UP"),
        "not up: {out}"
    );
}

#[test]
fn domainname_and_hostname() {
    let mut c = Container::new("domain");
    c.set("/domainname", json!("oxi.example"))
        .hostname("oxi-host");
    assert_eq!(
        c.inside("cat /proc/sys/kernel/domainname; hostname"),
        "oxi.example\noxi-host\n"
    );
}

#[test]
fn hostname_without_uts_namespace_is_an_error() {
    let mut c = Container::new("nouts");
    let ns = c.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "uts");
    c.hostname("oxi-nope").sh("true");
    create_fails(&mut c, &["hostname"]);
    let mut c = Container::new("noutsdom");
    let ns = c.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "uts");
    c.unset("/hostname");
    c.set("/domainname", json!("oxi.nope")).sh("true");
    create_fails(&mut c, &["domainname"]);
}

#[test]
fn root_readonly() {
    let mut c = Container::new("roroot2");
    c.readonly_root(true);
    let (out, m) = inside_mounts(
        &mut c,
        "(echo x > /etc/oxi) 2>&1 | grep -o 'Read-only file system'; \
         echo y > /dev/shm/y && echo shm-ok",
    );
    assert_eq!(out, "Read-only file system\nshm-ok\n");
    assert!(at(&m, "/").has("ro"));
    assert!(!c.rootfs().join("etc/oxi").exists());
}

#[test]
fn annotations_pass_through_and_unknown_keys_are_ignored() {
    let mut c = Container::new("annot");
    c.annotation("org.example.oxi", "value-1")
        .annotation("com.example/empty", "")
        .set("/oxiUnknownTop", json!({"x": 1}))
        .set("/process/oxiUnknown", json!([1, 2]))
        .set("/linux/oxiUnknown", json!("y"))
        .sh("sleep 30");
    c.create_ok();
    let st = c.state();
    assert_eq!(st["annotations"]["org.example.oxi"], "value-1", "{st}");
    assert_eq!(st["annotations"]["com.example/empty"], "", "{st}");
    assert_eq!(st["status"], "created");
}

#[test]
fn bad_values_fail_naming_the_field() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "rprop",
            "/linux/rootfsPropagation",
            json!("bogus"),
            "rootfsPropagation",
        ),
        (
            "pers",
            "/linux/personality",
            json!({"domain": "LINUX128"}),
            "personality",
        ),
        (
            "mpol",
            "/linux/memoryPolicy",
            json!({"mode": "MPOL_NOPE", "nodes": "0"}),
            "memoryPolicy",
        ),
        (
            "mpoln",
            "/linux/memoryPolicy",
            json!({"mode": "MPOL_BIND", "nodes": "63"}),
            "memoryPolicy",
        ),
        (
            "iopr",
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_NOPE", "priority": 1}),
            "ioPriority",
        ),
        (
            "netdev",
            "/linux/netDevices",
            json!({"oxt-nonexistent0": {"name": "eth0"}}),
            "oxt-nonexistent0",
        ),
        (
            "sysctl",
            "/linux/sysctl",
            json!({"net.ipv4.../x": "1"}),
            "linux.sysctl",
        ),
        (
            "ts",
            "/linux/timeOffsets",
            json!({"realtime": {"secs": 5}}),
            "timeOffsets",
        ),
    ];
    for (short, ptr, v, phrase) in cases {
        let mut c = Container::new(&format!("bad{short}"));
        if short == "ts" {
            c.namespace("time", None);
        }
        c.set(ptr, v).sh("true");
        create_fails(&mut c, &[phrase]);
    }
}
