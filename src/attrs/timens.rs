//! `linux.timeOffsets`: clock offsets of a new time namespace, written to
//! /proc/self/timens_offsets after unshare(CLONE_NEWTIME) and before any process enters it.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, LinuxTimeOffset, Spec};

/// The kernel refuses offsets whose magnitude exceeds KTIME_SEC_MAX / 2 seconds.
const MAX_SECS: i64 = i64::MAX / 1_000_000_000 / 2;

/// Keys are "monotonic" or "boottime"; nanoseconds below one second; a new time namespace.
pub fn validate(spec: &Spec, offsets: &HashMap<String, LinuxTimeOffset>) -> Result<()> {
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            bail!("linux.timeOffsets: unknown clock {clock:?} (expected \"monotonic\" or \"boottime\")");
        }
        if off.nanosecs().unwrap_or(0) >= 1_000_000_000 {
            bail!("linux.timeOffsets.{clock}.nanosecs: must be below 1000000000");
        }
        if off.secs().unwrap_or(0).unsigned_abs() > MAX_SECS as u64 {
            bail!("linux.timeOffsets.{clock}.secs: out of range (at most {MAX_SECS} either way)");
        }
    }
    let time_ns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|list| {
            list.iter()
                .find(|n| n.typ() == LinuxNamespaceType::Time)
                .cloned()
        });
    match time_ns {
        None => bail!("linux.timeOffsets: needs a time namespace in linux.namespaces"),
        Some(ns) if ns.path().is_some() => {
            bail!("linux.timeOffsets: cannot set offsets of a time namespace joined by path")
        }
        Some(_) => Ok(()),
    }
}

/// The text for /proc/self/timens_offsets, one "<clock> <secs> <nanosecs>" line per clock,
/// in a fixed order.
pub fn render(offsets: &HashMap<String, LinuxTimeOffset>) -> String {
    let mut out = String::new();
    for clock in ["monotonic", "boottime"] {
        if let Some(off) = offsets.get(clock) {
            out.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }
    }
    out
}

/// Write the offsets in one write(2), as the kernel wants.
pub fn write(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<()> {
    let text = render(offsets);
    if text.is_empty() {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/timens_offsets")
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| anyhow!("linux.timeOffsets: write /proc/self/timens_offsets: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(linux: &str) -> Spec {
        let mut v: serde_json::Value = serde_json::to_value(Spec::default()).unwrap();
        v["linux"] = serde_json::from_str(linux).unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn offsets(s: &Spec) -> HashMap<String, LinuxTimeOffset> {
        s.linux().as_ref().unwrap().time_offsets().clone().unwrap()
    }

    #[test]
    fn validates_and_renders() {
        let s = spec(
            r#"{"namespaces":[{"type":"time"}],
                "timeOffsets":{"boottime":{"secs":-5},"monotonic":{"secs":86400,"nanosecs":7}}}"#,
        );
        validate(&s, &offsets(&s)).unwrap();
        assert_eq!(render(&offsets(&s)), "monotonic 86400 7\nboottime -5 0\n");
    }

    #[test]
    fn rejects_bad_offsets() {
        let e = |linux: &str| {
            let s = spec(linux);
            validate(&s, &offsets(&s)).unwrap_err().to_string()
        };
        assert!(
            e(r#"{"namespaces":[{"type":"time"}],"timeOffsets":{"realtime":{"secs":1}}}"#)
                .contains("unknown clock")
        );
        assert!(e(r#"{"namespaces":[{"type":"time"}],"timeOffsets":{"monotonic":{"nanosecs":1000000000}}}"#)
            .contains("nanosecs"));
        assert!(e(
            r#"{"namespaces":[{"type":"time"}],"timeOffsets":{"monotonic":{"secs":9000000000}}}"#
        )
        .contains("out of range"));
        assert!(
            e(r#"{"namespaces":[{"type":"pid"}],"timeOffsets":{"monotonic":{"secs":1}}}"#)
                .contains("needs a time namespace")
        );
        assert!(e(r#"{"namespaces":[{"type":"time","path":"/proc/1/ns/time"}],"timeOffsets":{"monotonic":{"secs":1}}}"#)
            .contains("joined by path"));
    }
}
