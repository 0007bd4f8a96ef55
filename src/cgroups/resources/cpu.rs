//! CPU: v1 `cpu.*` (shares, CFS quota/period/burst, realtime, idle) and v2 `cpu.weight`
//! (converted from shares), `cpu.max`, `cpu.max.burst`, `cpu.idle`; cpuset cpus/mems on both.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use oci_spec::runtime::LinuxCpu;

use super::convert::{parse_list, shares_to_weight};
use super::{field_err, files, nearest_existing, Place, Target};

fn any_cpu(c: &LinuxCpu) -> bool {
    c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
        || c.idle().is_some()
}

fn any_cpuset(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

pub fn validate(t: &Target, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares() {
        if s != 0 && !(2..=262_144).contains(&s) {
            return Err(field_err!(
                "cpu.shares",
                "invalid value {s} (valid range is 2-262144)"
            ));
        }
    }
    if let Some(q) = c.quota() {
        if q != -1 && q != 0 && q < 1000 {
            return Err(field_err!(
                "cpu.quota",
                "invalid value {q} (microseconds, at least 1000, or -1 for unlimited)"
            ));
        }
    }
    if let Some(p) = c.period() {
        if p != 0 && !(1000..=1_000_000).contains(&p) {
            return Err(field_err!(
                "cpu.period",
                "invalid value {p} (valid range is 1000-1000000 microseconds)"
            ));
        }
    }
    if let (Some(b), Some(q)) = (c.burst(), c.quota()) {
        if q > 0 && b > q as u64 {
            return Err(field_err!(
                "cpu.burst",
                "burst {b} is larger than the quota {q}"
            ));
        }
    }
    if let Some(rt) = c.realtime_runtime() {
        if rt < -1 {
            return Err(field_err!("cpu.realtimeRuntime", "invalid value {rt}"));
        }
        if let Some(p) = c.realtime_period() {
            if rt > 0 && rt as u64 > p {
                return Err(field_err!(
                    "cpu.realtimeRuntime",
                    "runtime {rt} is larger than the period {p}"
                ));
            }
        }
    }
    if let Some(i) = c.idle() {
        if i != 0 && i != 1 {
            return Err(field_err!("cpu.idle", "invalid value {i} (0 or 1)"));
        }
    }
    if any_cpu(c) {
        let place = t
            .place("cpu", "cpu")
            .ok_or_else(|| field_err!("cpu", "the cpu cgroup controller is not available"))?;
        match place {
            Place::V1(d) => {
                let need = [
                    (c.burst().is_some(), "cpu.cfs_burst_us", "cpu.burst"),
                    (c.idle().is_some(), "cpu.idle", "cpu.idle"),
                    (
                        c.realtime_runtime().is_some(),
                        "cpu.rt_runtime_us",
                        "cpu.realtimeRuntime",
                    ),
                    (
                        c.realtime_period().is_some(),
                        "cpu.rt_period_us",
                        "cpu.realtimePeriod",
                    ),
                    (
                        c.quota().is_some() || c.period().is_some(),
                        "cpu.cfs_quota_us",
                        "cpu.quota",
                    ),
                ];
                for (wanted, file, field) in need {
                    if wanted && !t.has_file(d, file) {
                        return Err(field_err!(
                            field,
                            "not supported by this kernel (no {file})"
                        ));
                    }
                }
            }
            Place::V2(_) => {
                if c.realtime_runtime().is_some_and(|v| v != 0)
                    || c.realtime_period().is_some_and(|v| v != 0)
                {
                    return Err(field_err!(
                        "cpu.realtimeRuntime",
                        "realtime scheduling limits do not exist on cgroup v2"
                    ));
                }
            }
        }
    }
    if any_cpuset(c) {
        let place = t.place("cpuset", "cpuset").ok_or_else(|| {
            field_err!("cpu.cpus", "the cpuset cgroup controller is not available")
        })?;
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            check_subset(
                place,
                cpus,
                "cpu.cpus",
                "cpus",
                "/sys/devices/system/cpu/online",
            )?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            check_subset(
                place,
                mems,
                "cpu.mems",
                "mems",
                "/sys/devices/system/node/online",
            )?;
        }
    }
    Ok(())
}

/// `want` must parse and be within what the parent cgroup (or the host) offers.
fn check_subset(place: Place, want: &str, field: &str, kind: &str, host_file: &str) -> Result<()> {
    let set = parse_list(want)
        .ok_or_else(|| field_err!(field, "invalid list {want:?} (e.g. \"0-2,4\")"))?;
    let avail = available(place, kind).or_else(|| {
        std::fs::read_to_string(host_file)
            .ok()
            .and_then(|s| parse_list(&s))
    });
    if let Some(avail) = avail {
        let bad: Vec<u32> = set.difference(&avail).copied().collect();
        if !bad.is_empty() {
            return Err(field_err!(
                field,
                "{kind} {bad:?} not available (available: {})",
                fmt_list(&avail)
            ));
        }
    }
    Ok(())
}

fn fmt_list(s: &BTreeSet<u32>) -> String {
    s.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The effective cpus/mems of the nearest existing ancestor (the parent at create time).
fn available(place: Place, kind: &str) -> Option<BTreeSet<u32>> {
    let start = place.dir().parent()?;
    let anc = nearest_existing(start)?;
    let file = match place {
        Place::V1(_) => format!("cpuset.effective_{kind}"),
        Place::V2(_) => format!("cpuset.{kind}.effective"),
    };
    let text = std::fs::read_to_string(anc.join(file)).ok()?;
    let set = parse_list(&text)?;
    (!set.is_empty()).then_some(set)
}

pub fn apply_cpuset(t: &Target, c: &LinuxCpu) -> Result<()> {
    if !any_cpuset(c) {
        return Ok(());
    }
    let place = t
        .place("cpuset", "cpuset")
        .ok_or_else(|| field_err!("cpu.cpus", "the cpuset cgroup controller is not available"))?;
    let d = place.dir();
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        super::write(d, "cpuset.cpus", cpus, "cpu.cpus")?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        super::write(d, "cpuset.mems", mems, "cpu.mems")?;
    }
    Ok(())
}

pub fn apply(t: &Target, c: &LinuxCpu) -> Result<()> {
    if !any_cpu(c) {
        return Ok(());
    }
    let place = t
        .place("cpu", "cpu")
        .ok_or_else(|| field_err!("cpu", "the cpu cgroup controller is not available"))?;
    match place {
        Place::V1(d) => apply_v1(d, c),
        Place::V2(d) => apply_v2(d, c),
    }
}

fn apply_v1(d: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        super::write(d, "cpu.shares", &s.to_string(), "cpu.shares")?;
        // The kernel clamps silently; say so like runc.
        let got: u64 = files::read(d, "cpu.shares")?.parse().unwrap_or(s);
        if got != s {
            return Err(field_err!(
                "cpu.shares",
                "the kernel set {got} instead of {s} (out of its allowed range)"
            ));
        }
    }
    if let Some(p) = c.period().filter(|&p| p != 0) {
        set_period_v1(d, p)?;
    }
    if let Some(q) = c.quota().filter(|&q| q != 0) {
        super::write(d, "cpu.cfs_quota_us", &q.to_string(), "cpu.quota")?;
    }
    if let Some(b) = c.burst() {
        super::write(d, "cpu.cfs_burst_us", &b.to_string(), "cpu.burst")?;
    }
    // The period first: a runtime is checked against the current period.
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        super::write(d, "cpu.rt_period_us", &p.to_string(), "cpu.realtimePeriod")?;
    }
    if let Some(r) = c.realtime_runtime().filter(|&r| r != 0) {
        super::write(
            d,
            "cpu.rt_runtime_us",
            &r.to_string(),
            "cpu.realtimeRuntime",
        )?;
    }
    if let Some(i) = c.idle() {
        super::write(d, "cpu.idle", &i.to_string(), "cpu.idle")?;
    }
    Ok(())
}

/// A period shorter than the current quota's burst can be refused (EINVAL) until the quota is
/// lowered; runc retries after the quota write, so do we.
fn set_period_v1(d: &Path, p: u64) -> Result<()> {
    match files::write_raw(d, "cpu.cfs_period_us", &p.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let _ = files::write_raw(d, "cpu.cfs_quota_us", "-1");
            super::write(d, "cpu.cfs_period_us", &p.to_string(), "cpu.period")
        }
        Err(e) => Err(field_err!(
            "cpu.period",
            "{}: cpu.cfs_period_us: {}",
            d.display(),
            files::errstr(&e)
        )),
    }
}

/// v2 `cpu.max` value: "<quota|max> [period]" (runc: unset quota is "max").
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let q = quota.unwrap_or(0);
    let p = period.unwrap_or(0);
    if q == 0 && p == 0 {
        return None;
    }
    let mut s = if q > 0 {
        q.to_string()
    } else {
        "max".to_string()
    };
    if p != 0 {
        s.push(' ');
        s.push_str(&p.to_string());
    }
    Some(s)
}

fn apply_v2(d: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        let w = shares_to_weight(s);
        super::write(d, "cpu.weight", &w.to_string(), "cpu.shares")?;
    }
    if let Some(v) = cpu_max(c.quota(), c.period()) {
        super::write(d, "cpu.max", &v, "cpu.quota")?;
    }
    if let Some(b) = c.burst() {
        super::write(d, "cpu.max.burst", &b.to_string(), "cpu.burst")?;
    }
    if let Some(i) = c.idle() {
        super::write(d, "cpu.idle", &i.to_string(), "cpu.idle")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_values() {
        assert_eq!(cpu_max(None, None), None);
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).as_deref(),
            Some("50000 100000")
        );
        assert_eq!(
            cpu_max(Some(-1), Some(100_000)).as_deref(),
            Some("max 100000")
        );
        assert_eq!(cpu_max(Some(20_000), None).as_deref(), Some("20000"));
        assert_eq!(cpu_max(None, Some(10_000)).as_deref(), Some("max 10000"));
    }
}
