//! config-linux.md as seen from inside: namespaces (/proc/self/ns vs the runtime's, passed in
//! `OCV_HOST_NS`), user-namespace mappings, time offsets, sysctl, personality, seccomp mode and
//! behaviour, cgroup membership (/proc/self/cgroup vs cgroupsPath).

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;

use oci_validation::sys;
use oci_validation::tap::Outcome;
use serde_json::Value;

use crate::process::status_field;
use crate::{get, Report};

/// OCI namespace type -> /proc/self/ns entry.
pub const NS: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

/// Parses `type=inode,...` from an environment variable.
fn env_map(var: &str) -> HashMap<String, u64> {
    std::env::var(var)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

pub fn check(cfg: &Value, r: &mut Report) {
    namespaces(cfg, r);
    mappings(cfg, r);
    sysctl(cfg, r);
    personality(cfg, r);
    seccomp(cfg, r);
    cgroups(cfg, r);
}

fn namespaces(cfg: &Value, r: &mut Report) {
    const SEC: &str = "config-linux.md#namespaces";
    let host = env_map("OCV_HOST_NS");
    let join = env_map("OCV_JOIN_NS");
    if host.is_empty() {
        r.add(
            SEC,
            "host namespaces known",
            Outcome::Skip("OCV_HOST_NS not set by the driver".into()),
        );
        return;
    }
    let list = get(cfg, &["linux", "namespaces"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (ty, proc_name) in NS {
        let Some(&host_ino) = host.get(proc_name) else {
            continue;
        };
        let got = fs::metadata(format!("/proc/self/ns/{proc_name}"))
            .map(|m| m.ino())
            .unwrap_or(0);
        let entry = list.iter().find(|n| n["type"] == ty);
        let (what, outcome) = match entry {
            // "If a namespace type is not specified in the namespaces array, the container MUST
            // inherit the runtime namespace of that type."
            None => (
                format!("{ty}: not listed, inherits the runtime's"),
                Outcome::check(got == host_ino, || {
                    format!("ns inode {got}, runtime's {host_ino}")
                }),
            ),
            // "If a path is specified, that particular file is used to join that type of namespace."
            Some(n) if n["path"].is_string() => {
                let want = join.get(proc_name).copied().unwrap_or(0);
                (
                    format!("{ty}: joins the namespace of its path"),
                    Outcome::check(got == want && want != 0, || {
                        format!("ns inode {got}, path's {want}")
                    }),
                )
            }
            // "If path is not specified, the runtime MUST create a new container namespace of type type."
            Some(_) => (
                format!("{ty}: new namespace"),
                Outcome::check(got != host_ino && got != 0, || {
                    format!("ns inode {got} is the runtime's ({host_ino})")
                }),
            ),
        };
        r.add(SEC, what, outcome);
    }
}

fn mappings(cfg: &Value, r: &mut Report) {
    const SEC: &str = "config-linux.md#user-namespace-mappings";
    for (key, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let Some(list) = get(cfg, &["linux", key]).as_array() else {
            continue;
        };
        let want: Vec<(u64, u64, u64)> = list
            .iter()
            .map(|m| {
                (
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let got: Vec<(u64, u64, u64)> = fs::read_to_string(format!("/proc/self/{file}"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| (v[0], v[1], v[2]))
            })
            .collect();
        r.add(
            SEC,
            format!("{key} match /proc/self/{file}"),
            Outcome::eq(got, want),
        );
    }
    // timeOffsets: "sets the offset for Time Namespace"
    if let Some(offs) = get(cfg, &["linux", "timeOffsets"]).as_object() {
        let text = fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
        for (clock, o) in offs {
            let want = format!(
                "{} {}",
                o["secs"].as_i64().unwrap_or(0),
                o["nanosecs"].as_u64().unwrap_or(0)
            );
            let name = if clock == "boottime" {
                "boottime"
            } else {
                "monotonic"
            };
            let got = text.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                let c = w.next()?;
                (c == name || c == if name == "boottime" { "7" } else { "1" })
                    .then(|| w.collect::<Vec<_>>().join(" "))
            });
            r.add(
                "config-linux.md#offset-for-time-namespace",
                format!("timeOffsets.{clock} {want}"),
                Outcome::eq(got, Some(want)),
            );
        }
    }
}

fn sysctl(cfg: &Value, r: &mut Report) {
    // sysctl: "allows kernel parameters to be modified at runtime for the container"
    for (k, v) in get(cfg, &["linux", "sysctl"])
        .as_object()
        .into_iter()
        .flatten()
    {
        let got = fs::read_to_string(format!("/proc/sys/{}", k.replace('.', "/")))
            .map(|s| s.trim().to_string())
            .map_err(|e| e.to_string());
        r.add(
            "config-linux.md#sysctl",
            format!("{k} = {}", v.as_str().unwrap_or("")),
            Outcome::eq(got, Ok(v.as_str().unwrap_or("").to_string())),
        );
    }
}

fn personality(cfg: &Value, r: &mut Report) {
    // personality.domain: "Valid options are LINUX and LINUX32"
    let Some(d) = get(cfg, &["linux", "personality", "domain"]).as_str() else {
        return;
    };
    let want = if d == "LINUX32" { 0x0008 } else { 0 };
    let got = sys::personality()
        .map(|p| p & 0xff)
        .map_err(|e| e.to_string());
    r.add(
        "config-linux.md#personality",
        format!("domain {d}"),
        Outcome::eq(got, Ok(want)),
    );
}

fn seccomp(cfg: &Value, r: &mut Report) {
    const SEC: &str = "config-linux.md#seccomp";
    let s = get(cfg, &["linux", "seccomp"]);
    let mode = status_field("Seccomp").unwrap_or_default();
    if s.is_null() {
        return;
    }
    r.add(
        SEC,
        "seccomp filter installed (Seccomp: 2)",
        Outcome::eq(mode.as_str(), "2"),
    );
    // The driver's profile: getpriority -> SCMP_ACT_ERRNO(errnoRet).
    for rule in s["syscalls"].as_array().into_iter().flatten() {
        let names: Vec<&str> = rule["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
            .collect();
        if names.contains(&"getpriority") && rule["action"] == "SCMP_ACT_ERRNO" {
            let want = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64) as i32;
            r.add(
                SEC,
                format!("getpriority fails with errnoRet {want}"),
                Outcome::eq(sys::probe_getpriority_errno(), want),
            );
        }
    }
}

fn cgroups(cfg: &Value, r: &mut Report) {
    // cgroupsPath: "For absolute paths ... the runtime MUST take the path to be relative to the
    // cgroups mount point"; with a cgroup namespace the container sees its cgroup as its root.
    const SEC: &str = "config-linux.md#cgroups-path";
    let Some(path) = get(cfg, &["linux", "cgroupsPath"]).as_str() else {
        return;
    };
    let cgns = get(cfg, &["linux", "namespaces"])
        .as_array()
        .into_iter()
        .flatten()
        .any(|n| n["type"] == "cgroup" && n["path"].is_null());
    let (want, label) = if cgns {
        ("/", "/ (cgroup namespace root)")
    } else {
        (path, "cgroupsPath")
    };
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrl, p) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let name = if ctrl.is_empty() {
            "unified (v2)"
        } else {
            ctrl
        };
        r.add(
            SEC,
            format!("{name} cgroup is {label}"),
            Outcome::eq(p, want),
        );
    }
}
