//! `oci-checker`: runs as the process of a test container, reads the `config.json` the container
//! was started with (bind-mounted read-only at `/oci-validation/config.json`, or the path in
//! argv[1]) and compares every field it can observe from inside with reality. Prints TAP.
//!
//! Host facts the container cannot see come from the environment (set by the driver, and part of
//! `process.env`): `OCV_HOST_NS` (`type=inode,...` of the runtime's namespaces) and `OCV_JOIN_NS`
//! (`type=inode,...` of the namespaces given by `path`).
//!
//! Check groups: [`process`] (config.md process, user, rlimits, capabilities, hostname),
//! [`fs`] (root, mounts, devices, masked/readonly paths), [`linux`] (namespaces, sysctl,
//! personality, seccomp, cgroups, oom_score_adj).

mod fs;
mod linux;
mod process;

use oci_validation::tap::{Check, Outcome};
use serde_json::Value;

/// Collects checks and prints them as TAP at the end.
pub struct Report {
    checks: Vec<Check>,
}

impl Report {
    pub fn add(&mut self, section: &str, what: impl Into<String>, outcome: Outcome) {
        self.checks.push(Check::new(section, what, outcome));
    }
}

/// `v[a][b]...` or Null.
pub fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

/// An array of strings at `path` (empty when absent).
pub fn strs(v: &Value, path: &[&str]) -> Vec<String> {
    get(v, path)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/oci-validation/config.json".into());
    let mut r = Report { checks: Vec::new() };
    match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(cfg) => {
            process::check(&cfg, &mut r);
            fs::check(&cfg, &mut r);
            linux::check(&cfg, &mut r);
        }
        Err(e) => r.add("config.md", format!("read {path}"), Outcome::Fail(e)),
    }
    println!("TAP version 13");
    for (i, c) in r.checks.iter().enumerate() {
        println!("{}", c.tap(i + 1));
    }
    println!("1..{}", r.checks.len());
    println!("# oci-checker done");
}
