//! config.md `process` (args, env, cwd, user, rlimits, capabilities, noNewPrivileges,
//! oomScoreAdj) and `hostname` / `domainname`, observed from /proc/self and libc.

use std::fs;

use oci_validation::caps;
use oci_validation::sys;
use oci_validation::tap::Outcome;
use serde_json::Value;

use crate::{get, strs, Report};

const PROC: &str = "config.md#process";
const USER: &str = "config.md#user";

/// A `Key:\tvalue` field of /proc/self/status.
pub fn status_field(key: &str) -> Option<String> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

pub fn check(cfg: &Value, r: &mut Report) {
    let p = get(cfg, &["process"]);
    // args: "with similar semantics to IEEE Std 1003.1-2008 execvp's argv"
    let want = strs(p, &["args"]);
    let got: Vec<String> = fs::read("/proc/self/cmdline")
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
        })
        .map(|mut v| {
            v.pop();
            v
        })
        .unwrap_or_default();
    r.add(
        PROC,
        "args are the process argv (/proc/self/cmdline)",
        Outcome::eq(got, want),
    );
    // cwd: "the working directory that will be set for the executable"
    if let Some(cwd) = p["cwd"].as_str() {
        let got = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        r.add(
            PROC,
            format!("cwd is {cwd}"),
            Outcome::eq(got.as_str(), cwd),
        );
    }
    // env: "with the same semantics as IEEE Std 1003.1-2008's environ"
    let env: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    for e in strs(p, &["env"]) {
        r.add(
            PROC,
            format!("env has {}", e.split('=').next().unwrap_or("")),
            Outcome::check(env.contains(&e), || format!("{e:?} missing")),
        );
    }
    user(p, r);
    rlimits(p, r);
    capabilities(p, r);
    // noNewPrivileges: "prevents the process from gaining additional privileges"
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    let got = status_field("NoNewPrivs").unwrap_or_default();
    r.add(
        PROC,
        format!("noNewPrivileges={nnp} (NoNewPrivs in /proc/self/status)"),
        Outcome::eq(got.as_str(), if nnp { "1" } else { "0" }),
    );
    // oomScoreAdj: "If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value"
    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        let got = fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        r.add(
            PROC,
            format!("oomScoreAdj {adj}"),
            Outcome::eq(got.trim().to_string(), adj.to_string()),
        );
    }
    // hostname / domainname: "the container's hostname as seen by processes running inside"
    for (key, file) in [("hostname", "hostname"), ("domainname", "domainname")] {
        if let Some(h) = cfg[key].as_str() {
            let got = fs::read_to_string(format!("/proc/sys/kernel/{file}")).unwrap_or_default();
            r.add(
                &format!("config.md#{key}"),
                format!("{key} is {h:?}"),
                Outcome::eq(got.trim(), h),
            );
        }
    }
}

fn user(p: &Value, r: &mut Report) {
    let u = &p["user"];
    let (uid, euid, gid, egid) = sys::ids();
    if let Some(want) = u["uid"].as_u64() {
        r.add(
            USER,
            format!("uid {want} (real and effective)"),
            Outcome::eq((uid as u64, euid as u64), (want, want)),
        );
    }
    if let Some(want) = u["gid"].as_u64() {
        r.add(
            USER,
            format!("gid {want} (real and effective)"),
            Outcome::eq((gid as u64, egid as u64), (want, want)),
        );
    }
    // additionalGids: "additional group IDs in the container namespace to be added to the process"
    let groups = sys::getgroups().unwrap_or_default();
    for g in u["additionalGids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_u64())
    {
        r.add(
            USER,
            format!("additionalGids has {g}"),
            Outcome::check(groups.contains(&(g as u32)), || {
                format!("groups are {groups:?}")
            }),
        );
    }
    // umask: "specifies the umask of the user"
    if let Some(m) = u["umask"].as_u64() {
        let got = status_field("Umask").unwrap_or_default();
        r.add(
            USER,
            format!("umask {m:04o}"),
            Outcome::eq(got, format!("{m:04o}")),
        );
    }
}

const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

fn rlimits(p: &Value, r: &mut Report) {
    const SEC: &str = "config.md#posix-process";
    for l in p["rlimits"].as_array().into_iter().flatten() {
        let ty = l["type"].as_str().unwrap_or("");
        let want = (
            l["soft"].as_u64().unwrap_or(0),
            l["hard"].as_u64().unwrap_or(0),
        );
        let outcome = match RLIMITS.iter().position(|n| *n == ty) {
            None => Outcome::Fail(format!("unknown rlimit type {ty}")),
            Some(res) => match sys::getrlimit(res as u32) {
                Ok(got) => Outcome::eq(got, want),
                Err(e) => Outcome::Fail(format!("getrlimit: {e}")),
            },
        };
        r.add(
            SEC,
            format!("rlimit {ty} soft/hard {}/{}", want.0, want.1),
            outcome,
        );
    }
}

fn capabilities(p: &Value, r: &mut Report) {
    const SEC: &str = "config.md#linux-process";
    let c = &p["capabilities"];
    if c.is_null() {
        return;
    }
    for (set, field) in [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("ambient", "CapAmb"),
    ] {
        if c[set].is_null() {
            continue;
        }
        let names = strs(c, &[set]);
        let outcome = match caps::mask(names.iter().map(|s| s.as_str())) {
            Err(e) => Outcome::Fail(e),
            Ok(want) => {
                let got = status_field(field)
                    .and_then(|h| u64::from_str_radix(&h, 16).ok())
                    .unwrap_or(u64::MAX);
                Outcome::check(got == want, || {
                    format!(
                        "expected {:?}, got {:?}",
                        caps::names(want),
                        caps::names(got)
                    )
                })
            }
        };
        r.add(
            SEC,
            format!(
                "capabilities.{set} ({} caps, /proc/self/status {field})",
                names.len()
            ),
            outcome,
        );
    }
}
