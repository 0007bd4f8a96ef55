//! Config cases checked from inside the container: each edits the base config, runs it with
//! `<runtime> run`, and collects the checker's TAP. The checker checks every field it finds, so a
//! case only has to put the fields of its section in the config.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};
use serde_json::json;

use super::{skip, Case};
use crate::bundle::{ns_inodes, Bundle, Ctx};
use crate::runtime::Runtime;

pub fn cases() -> Vec<Case> {
    vec![
        Case { id: "default", section: "config.md", spec: "runtime.md#lifecycle step 2: \"The container's runtime environment MUST be created according to the configuration in config.json\"", run: default },
        Case { id: "process-user", section: "config.md#process", spec: "config.md#user: uid, gid, umask, additionalGids; process.env/cwd/rlimits/capabilities/oomScoreAdj", run: process_user },
        Case { id: "caps-root", section: "config.md#linux-process", spec: "config.md: capabilities \"bounding/effective/permitted/inheritable/ambient\"", run: caps_root },
        Case { id: "ns-inherit", section: "config-linux.md#namespaces", spec: "\"If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type.\"", run: ns_inherit },
        Case { id: "ns-inherit-all", section: "config-linux.md#namespaces", spec: "\"If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type.\" (every type, mount too: the mounts land in the runtime's namespace)", run: ns_inherit_all },
        Case { id: "ns-cgroup", section: "config-linux.md#namespaces", spec: "\"If path is not specified, the runtime MUST create a new container namespace of type type.\" (cgroup)", run: ns_cgroup },
        Case { id: "ns-join", section: "config-linux.md#namespaces", spec: "\"If a path is specified, that particular file is used to join that type of namespace.\"", run: ns_join },
        Case { id: "hostname-joined-uts", section: "config.md#hostname", spec: "hostname \"specifies the container's hostname as seen by processes running inside the container\" (with a joined uts namespace)", run: hostname_joined },
        Case { id: "ns-user", section: "config-linux.md#user-namespace-mappings", spec: "uidMappings/gidMappings \"describes the user namespace uid mappings from the host to the container\"", run: ns_user },
        Case { id: "ns-time", section: "config-linux.md#offset-for-time-namespace", spec: "timeOffsets \"sets the offset for Time Namespace\"", run: ns_time },
        Case { id: "mounts", section: "config.md#mounts", spec: "\"The runtime MUST mount entries in the listed order.\"; options; rootfsPropagation", run: mounts },
        Case { id: "propagation-modes", section: "config-linux.md#rootfs-mount-propagation", spec: "rootfsPropagation \"sets the rootfs's mount propagation\": unbindable, runbindable, rprivate", run: propagation_modes },
        Case { id: "devices", section: "config-linux.md#devices", spec: "devices: type, major, minor, fileMode, uid, gid; device allowlist", run: devices },
        Case { id: "sysctl-personality", section: "config-linux.md#sysctl", spec: "sysctl; personality \"domain ... LINUX and LINUX32\"; oomScoreAdj", run: sysctl_personality },
        Case { id: "seccomp", section: "config-linux.md#seccomp", spec: "seccomp: defaultAction, syscalls[].action SCMP_ACT_ERRNO, errnoRet", run: seccomp },
        Case { id: "seccomp-strict", section: "config-linux.md#seccomp", spec: "seccomp: a profile denying what only a runtime needs after its filter (close_range, accept, sendmsg, capset, setresuid...), with and without noNewPrivileges", run: seccomp_strict },
        Case { id: "masked-readonly", section: "config-linux.md#masked-paths", spec: "maskedPaths \"so that they cannot be read\"; readonlyPaths; root.readonly false", run: masked_readonly },
        Case { id: "lsm", section: "config.md#linux-process", spec: "apparmorProfile / selinuxLabel", run: lsm },
        Case { id: "hugetlb", section: "config-linux.md#huge-page-limits", spec: "hugepageLimits", run: hugetlb },
    ]
}

/// Writes the config, runs the container and parses the checker's TAP.
pub fn run_checker(rt: &Runtime, b: &Bundle) -> Result<Vec<Check>> {
    b.write()?;
    let out = rt.run_in(
        &b.dir,
        &["run", "--bundle", b.path(), &b.id],
        Duration::from_secs(30),
    );
    rt.force_delete(&b.dir, &b.id);
    let mut checks = vec![Check::new(
        "runtime.md#lifecycle",
        "run: container created, started and exited 0",
        Outcome::check(out.ok, || out.brief()),
    )];
    checks.extend(Check::parse_tap(&out.stdout));
    let done = out.stdout.contains("# oci-checker done");
    checks.push(Check::new(
        "runtime.md#lifecycle",
        "the user-specified program (oci-checker) ran to completion",
        Outcome::check(done, || out.brief()),
    ));
    Ok(checks)
}

fn default(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    run_checker(rt, &Bundle::new(ctx, rt, "default")?)
}

fn process_user(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    if std::fs::read_to_string("/proc/self/status")?.contains("NoNewPrivs:\t1") {
        return Ok(skip(
            "config.md#process",
            "noNewPrivileges=false",
            "the driver itself runs with no_new_privs",
        ));
    }
    let mut b = Bundle::new(ctx, rt, "process-user")?;
    let caps = json!(["CAP_CHOWN", "CAP_NET_RAW"]);
    b.set("/process/user", json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23}))
        .set("/process/cwd", json!("/tmp"))
        .set("/process/args", json!(["/oci-checker", "/oci-validation/config.json", "an arg with spaces"]))
        .push("/process/env", json!("OCV_SPACE=a b=c"))
        .set("/process/capabilities", json!({"bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"], "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps}))
        .set("/process/noNewPrivileges", json!(false))
        .set("/process/oomScoreAdj", json!(100))
        .set("/process/rlimits", json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 1024, "hard": 2048},
            {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 16384}]))
        .set("/hostname", json!("ocv-user"))
        .set("/domainname", json!("ocv.example"));
    run_checker(rt, &b)
}

fn caps_root(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "caps-root")?;
    // uid 0 execve: permitted/effective become the bounding set (capabilities(7)), so the
    // observable config keeps them equal; inheritable and ambient are empty.
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_KILL",
        "CAP_NET_ADMIN",
        "CAP_SYS_ADMIN",
        "CAP_SETPCAP"
    ]);
    b.set("/process/capabilities", json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": [], "ambient": []}));
    run_checker(rt, &b)
}

fn ns_inherit(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "ns-inherit")?;
    for ns in ["pid", "network", "ipc", "uts"] {
        b.drop_ns(ns);
    }
    // Without a uts namespace the hostname cannot be set for the container alone.
    b.config.as_object_mut().map(|o| o.remove("hostname"));
    // mqueue needs its own ipc namespace to be meaningful; keep /dev/mqueue out.
    if let Some(m) = b.config["mounts"].as_array_mut() {
        m.retain(|m| m["destination"] != "/dev/mqueue");
    }
    run_checker(rt, &b)
}

fn ns_inherit_all(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "ns-inherit-all")?;
    b.set("/linux/namespaces", json!([]));
    b.config.as_object_mut().map(|o| o.remove("hostname"));
    if let Some(m) = b.config["mounts"].as_array_mut() {
        m.retain(|m| m["destination"] != "/dev/mqueue");
    }
    run_checker(rt, &b)
}

fn ns_cgroup(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    if let Err(e) = rt.has_namespace("cgroup") {
        return Ok(skip("config-linux.md#namespaces", "cgroup namespace", e));
    }
    let mut b = Bundle::new(ctx, rt, "ns-cgroup")?;
    b.push("/linux/namespaces", json!({"type": "cgroup"}));
    run_checker(rt, &b)
}

/// A helper process holding new net/ipc/uts namespaces; killed on drop.
struct NsHolder(std::process::Child);

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ns_join(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    join_case(ctx, rt, "ns-join", false)
}

fn hostname_joined(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    join_case(ctx, rt, "hostname-joined-uts", true)
}

/// Joins a helper's net/ipc/uts namespaces; `hostname` keeps the hostname field (config.md
/// sets no condition on it; Kubernetes sandboxes join a pod's uts namespace with one set).
fn join_case(ctx: &Ctx, rt: &Runtime, case: &str, hostname: bool) -> Result<Vec<Check>> {
    let child = std::process::Command::new("unshare")
        .args(["--net", "--ipc", "--uts", "sleep", "120"])
        .spawn()?;
    let holder = NsHolder(child);
    let pid = holder.0.id() as i32;
    // Wait until unshare has exec'd sleep in the new namespaces.
    let host_net =
        fs::metadata("/proc/self/ns/net").map(|m| std::os::unix::fs::MetadataExt::ino(&m))?;
    for _ in 0..200 {
        let ino = fs::metadata(format!("/proc/{pid}/ns/net"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(host_net);
        if ino != host_net {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut b = Bundle::new(ctx, rt, case)?;
    if !hostname {
        b.config.as_object_mut().map(|o| o.remove("hostname"));
    }
    for (ty, f) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
        b.drop_ns(ty);
        b.push(
            "/linux/namespaces",
            json!({"type": ty, "path": format!("/proc/{pid}/ns/{f}")}),
        );
    }
    let joined: Vec<String> = ns_inodes(pid)
        .split(',')
        .filter(|kv| ["net=", "ipc=", "uts="].iter().any(|p| kv.starts_with(p)))
        .map(String::from)
        .collect();
    b.push(
        "/process/env",
        json!(format!("OCV_JOIN_NS={}", joined.join(","))),
    );
    let r = run_checker(rt, &b);
    drop(holder);
    r
}

fn ns_user(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    if let Err(e) = rt.has_namespace("user") {
        return Ok(skip(
            "config-linux.md#user-namespace-mappings",
            "user namespace",
            e,
        ));
    }
    let mut b = Bundle::new(ctx, rt, "ns-user")?;
    b.push("/linux/namespaces", json!({"type": "user"}))
        .set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
    // sysfs cannot be mounted read-write and /dev nodes are bind-mounted in a user namespace:
    // keep the default config otherwise.
    run_checker(rt, &b)
}

fn ns_time(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    if let Err(e) = rt.has_namespace("time") {
        return Ok(skip(
            "config-linux.md#offset-for-time-namespace",
            "time namespace",
            e,
        ));
    }
    let mut b = Bundle::new(ctx, rt, "ns-time")?;
    b.push("/linux/namespaces", json!({"type": "time"}))
        .set("/linux/timeOffsets", json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 3600, "nanosecs": 500}}));
    run_checker(rt, &b)
}

/// Creates a host directory holding the `.ocv-source` marker the checker compares.
fn bind_source(b: &Bundle, name: &str) -> Result<String> {
    let p = b.dir.join(name);
    fs::create_dir_all(&p)?;
    let s = p.display().to_string();
    fs::write(p.join(".ocv-source"), &s)?;
    Ok(s)
}

fn mounts(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "mounts")?;
    let (s1, s2) = (bind_source(&b, "share1")?, bind_source(&b, "share2")?);
    for d in ["mnt/t1", "mnt/b1", "mnt/b2", "mnt/t2"] {
        fs::create_dir_all(b.rootfs().join(d))?;
    }
    b.push("/mounts", json!({"destination": "/mnt/t1", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "mode=700", "size=1m"]}))
        .push("/mounts", json!({"destination": "/mnt/t1/nested", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=755"]}))
        .push("/mounts", json!({"destination": "/mnt/b1", "type": "bind", "source": s1, "options": ["rbind", "ro", "rprivate"]}))
        .push("/mounts", json!({"destination": "/mnt/b2", "source": s2, "options": ["bind", "nosuid", "noatime", "rshared"]}))
        .push("/mounts", json!({"destination": "/mnt/t2/", "type": "tmpfs", "source": "tmpfs", "options": ["nodev", "unbindable"]}))
        .push("/mounts", json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}))
        .set("/linux/rootfsPropagation", json!("shared"));
    run_checker(rt, &b)
}

fn propagation_modes(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    // (slave shows as private unless the host mount holding the rootfs is shared.)
    for mode in ["unbindable", "runbindable", "rprivate"] {
        let mut b = Bundle::new(ctx, rt, &format!("propagation-{mode}"))?;
        b.set("/linux/rootfsPropagation", json!(mode));
        checks.extend(run_checker(rt, &b)?);
    }
    Ok(checks)
}

fn devices(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "devices")?;
    b.set("/linux/devices", json!([
        {"path": "/dev/ocv-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1000},
        {"path": "/dev/ocv-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 6},
        {"path": "/dev/ocv-fifo", "type": "p", "fileMode": 0o644},
        {"path": "/dev/ocv-sub/zero", "type": "c", "major": 1, "minor": 5}
    ]))
    .set("/linux/resources", json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
    ]}));
    run_checker(rt, &b)
}

fn sysctl_personality(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "sysctl-personality")?;
    b.set(
        "/linux/sysctl",
        json!({"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}),
    )
    .set("/linux/personality", json!({"domain": "LINUX32"}))
    .set("/process/oomScoreAdj", json!(500));
    run_checker(rt, &b)
}

fn seccomp(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    if !rt.features.is_null() && rt.features["linux"]["seccomp"]["enabled"] != true {
        return Ok(skip(
            "config-linux.md#seccomp",
            "seccomp profile",
            format!("{}'s features: seccomp not enabled", rt.name),
        ));
    }
    let mut b = Bundle::new(ctx, rt, "seccomp")?;
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]
        }),
    );
    run_checker(rt, &b)
}

/// A profile that lets the checker do its work but denies what only a runtime does after
/// loading its filter: a runtime whose own calls come after the filter fails to start.
fn seccomp_strict(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for nnp in [true, false] {
        let mut b = Bundle::new(ctx, rt, &format!("seccomp-strict-{nnp}"))?;
        b.set("/process/noNewPrivileges", json!(nnp)).set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["close_range", "accept", "accept4", "sendmsg", "recvmsg",
                                        "capset", "setresuid", "setresgid", "setgroups", "fchdir",
                                        "getpriority"],
                              "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]
            }),
        );
        checks.extend(run_checker(rt, &b)?);
    }
    Ok(checks)
}

fn masked_readonly(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "masked-readonly")?;
    let r = b.rootfs();
    fs::create_dir_all(r.join("secret/dir"))?;
    fs::write(r.join("secret/dir/file"), "secret")?;
    fs::write(r.join("secret/file"), "secret")?;
    fs::create_dir_all(r.join("ro-dir"))?;
    b.set("/root/readonly", json!(false))
        .set(
            "/linux/maskedPaths",
            json!([
                "/proc/kcore",
                "/proc/timer_list",
                "/sys/firmware",
                "/secret/dir",
                "/secret/file",
                "/does/not/exist"
            ]),
        )
        .set(
            "/linux/readonlyPaths",
            json!([
                "/proc/sys",
                "/proc/sysrq-trigger",
                "/ro-dir",
                "/etc/hostname"
            ]),
        );
    run_checker(rt, &b)
}

fn lsm(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let aa = Path::new("/sys/kernel/security/apparmor").exists();
    let se = Path::new("/sys/fs/selinux/enforce").exists();
    let mut checks = Vec::new();
    if !se {
        // No SELinux: labels have nothing to confine with and are ignored (crun, youki; the
        // OCI runtime-tools suite expects it).
        let mut b = Bundle::new(ctx, rt, "lsm-selinux-off")?;
        b.set(
            "/process/selinuxLabel",
            json!("system_u:system_r:container_t:s0:c1,c2"),
        )
        .set(
            "/linux/mountLabel",
            json!("system_u:object_r:container_file_t:s0:c1,c2"),
        );
        checks.extend(run_checker(rt, &b)?);
    }
    if !aa {
        checks.extend(skip(
            "config.md#linux-process",
            "apparmorProfile",
            "AppArmor is not active on this host",
        ));
    } else {
        checks.extend(skip(
            "config.md#linux-process",
            "apparmorProfile",
            format!(
                "AppArmor is active but this suite has no profile to load for {}",
                rt.name
            ),
        ));
    }
    Ok(checks)
}

fn hugetlb(_ctx: &Ctx, _rt: &Runtime) -> Result<Vec<Check>> {
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Total:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let v1 = Path::new("/sys/fs/cgroup/hugetlb").exists();
    let reason = match (total.as_str(), v1) {
        ("0" | "", _) => "no huge pages reserved on this host (HugePages_Total: 0)".to_string(),
        (_, false) => {
            "hybrid cgroups: hugetlb only in the v2 hierarchy, limits need the v1 controller".into()
        }
        _ => "hugetlb limits need a workload that faults huge pages: not covered".into(),
    };
    Ok(skip(
        "config-linux.md#huge-page-limits",
        "hugepageLimits",
        reason,
    ))
}
