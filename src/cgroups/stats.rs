//! Container statistics in runc's `events` shape (`types.Stats`: cpu, cpuset, memory, pids,
//! blkio, hugetlb, intel_rdt, network_interfaces), read from the v1 hierarchies or the v2
//! directory; plus the OOM counter `events` watches.
//!
//! omitempty rules follow runc's types/events.go: zero `total`, `percpu*`, throttling fields,
//! `cache`, `usage`/`max`, pids fields and empty blkio lists are left out; `kernel`, `user`,
//! `limit`, `failcnt` and the cpuset scalars are always present.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::resources::convert::parse_list;
use super::Cgroup;

fn read(d: &Path, f: &str) -> Option<String> {
    std::fs::read_to_string(d.join(f))
        .ok()
        .map(|s| s.trim().to_string())
}

fn num(d: &Path, f: &str) -> u64 {
    read(d, f).map_or(0, |s| parse_u64(&s))
}

/// "max" reads as u64::MAX (runc reports an unlimited limit like that).
fn parse_u64(s: &str) -> u64 {
    if s == "max" {
        return u64::MAX;
    }
    s.parse().unwrap_or(0)
}

/// A flat "key value" file (memory.stat, cpu.stat, memory.events).
pub fn keyed(d: &Path, f: &str) -> BTreeMap<String, u64> {
    read(d, f)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn put_nz(m: &mut Map<String, Value>, k: &str, v: u64) {
    if v != 0 {
        m.insert(k.into(), json!(v));
    }
}

fn list(d: &Path, f: &str) -> Vec<u64> {
    read(d, f)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// A memory entry {usage, max, failcnt, limit}, usage/max omitted when zero.
fn mem_entry(usage: u64, max: u64, failcnt: u64, limit: u64) -> Value {
    let mut m = Map::new();
    put_nz(&mut m, "usage", usage);
    put_nz(&mut m, "max", max);
    m.insert("failcnt".into(), json!(failcnt));
    m.insert("limit".into(), json!(limit));
    Value::Object(m)
}

fn cpuset_entry(d: &Path, cpus: &str, mems: &str) -> Value {
    let l = |f: &str| -> Vec<u32> {
        read(d, f)
            .and_then(|s| parse_list(&s))
            .map(|s| s.into_iter().collect())
            .unwrap_or_default()
    };
    json!({
        "cpus": l(cpus),
        "cpu_exclusive": num(d, "cpuset.cpu_exclusive"),
        "mems": l(mems),
        "mem_hardwall": num(d, "cpuset.mem_hardwall"),
        "mem_exclusive": num(d, "cpuset.mem_exclusive"),
        "memory_migrate": num(d, "cpuset.memory_migrate"),
        "memory_spread_page": num(d, "cpuset.memory_spread_page"),
        "memory_spread_slab": num(d, "cpuset.memory_spread_slab"),
        "memory_pressure": num(d, "cpuset.memory_pressure"),
        "sched_load_balance": num(d, "cpuset.sched_load_balance"),
        "sched_relax_domain_level": read(d, "cpuset.sched_relax_domain_level")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0),
    })
}

fn pids_entry(current: u64, limit: u64) -> Value {
    let mut m = Map::new();
    put_nz(&mut m, "current", current);
    put_nz(&mut m, "limit", if limit == u64::MAX { 0 } else { limit });
    Value::Object(m)
}

fn blkio_entry(bytes: Vec<Value>, serviced: Vec<Value>) -> Value {
    let mut m = Map::new();
    if !bytes.is_empty() {
        m.insert("ioServiceBytesRecursive".into(), Value::Array(bytes));
    }
    if !serviced.is_empty() {
        m.insert("ioServicedRecursive".into(), Value::Array(serviced));
    }
    Value::Object(m)
}

/// v1 blkio lines "8:0 Read 4096" (the "Total" line dropped).
fn blkio_v1(d: &Path, f: &str) -> Vec<Value> {
    read(d, f)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let op = it.next()?;
            let value: u64 = it.next()?.parse().ok()?;
            let (ma, mi) = dev.split_once(':')?;
            Some(
                json!({"major": ma.parse::<u64>().ok()?, "minor": mi.parse::<u64>().ok()?,
                        "op": op, "value": value}),
            )
        })
        .collect()
}

fn hugepage_names() -> Vec<String> {
    std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    super::resources::convert::hugepage_dir_to_name(
                        &e.file_name().to_string_lossy(),
                    )
                })
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default()
}

/// The `data` object of a `{"type":"stats"}` event.
pub fn stats(cg: &Cgroup) -> Value {
    let mut data = Map::new();
    if cg.is_unified() {
        if let Some(d) = cg.unified_dir() {
            v2(d, &mut data);
        }
    } else {
        v1(cg, &mut data);
    }
    data.entry("cpu")
        .or_insert(json!({"usage": {"kernel": 0, "user": 0}, "throttling": {}}));
    data.entry("memory").or_insert(json!({}));
    data.entry("pids").or_insert(json!({}));
    data.entry("blkio").or_insert(json!({}));
    data.entry("hugetlb").or_insert(json!({}));
    data.insert("intel_rdt".into(), json!({}));
    data.insert("network_interfaces".into(), Value::Null);
    Value::Object(data)
}

fn v1(cg: &Cgroup, data: &mut Map<String, Value>) {
    let mut usage = Map::new();
    let mut throttling = Map::new();
    if let Some(d) = cg.v1_dir("cpuacct") {
        put_nz(&mut usage, "total", num(d, "cpuacct.usage"));
        for (k, f) in [
            ("percpu", "cpuacct.usage_percpu"),
            ("percpu_kernel", "cpuacct.usage_percpu_sys"),
            ("percpu_user", "cpuacct.usage_percpu_user"),
        ] {
            let l = list(d, f);
            if !l.is_empty() {
                usage.insert(k.into(), json!(l));
            }
        }
        // cpuacct.stat is in USER_HZ (100/s) ticks.
        let st = keyed(d, "cpuacct.stat");
        let ns = |t: u64| t * (1_000_000_000 / 100);
        usage.insert("kernel".into(), json!(ns(*st.get("system").unwrap_or(&0))));
        usage.insert("user".into(), json!(ns(*st.get("user").unwrap_or(&0))));
    } else {
        usage.insert("kernel".into(), json!(0));
        usage.insert("user".into(), json!(0));
    }
    if let Some(d) = cg.v1_dir("cpu") {
        let st = keyed(d, "cpu.stat");
        put_nz(
            &mut throttling,
            "periods",
            *st.get("nr_periods").unwrap_or(&0),
        );
        put_nz(
            &mut throttling,
            "throttledPeriods",
            *st.get("nr_throttled").unwrap_or(&0),
        );
        put_nz(
            &mut throttling,
            "throttledTime",
            *st.get("throttled_time").unwrap_or(&0),
        );
    }
    data.insert(
        "cpu".into(),
        json!({"usage": usage, "throttling": throttling}),
    );
    if let Some(d) = cg.v1_dir("cpuset") {
        data.insert(
            "cpuset".into(),
            cpuset_entry(d, "cpuset.cpus", "cpuset.mems"),
        );
    }
    if let Some(d) = cg.v1_dir("memory") {
        let e = |p: &str| {
            mem_entry(
                num(d, &format!("{p}usage_in_bytes")),
                num(d, &format!("{p}max_usage_in_bytes")),
                num(d, &format!("{p}failcnt")),
                num(d, &format!("{p}limit_in_bytes")),
            )
        };
        let raw = keyed(d, "memory.stat");
        let mut m = Map::new();
        put_nz(&mut m, "cache", *raw.get("cache").unwrap_or(&0));
        m.insert("usage".into(), e("memory."));
        m.insert("swap".into(), e("memory.memsw."));
        m.insert("kernel".into(), e("memory.kmem."));
        m.insert("kernelTCP".into(), e("memory.kmem.tcp."));
        m.insert("raw".into(), json!(raw));
        data.insert("memory".into(), Value::Object(m));
    }
    if let Some(d) = cg.v1_dir("pids") {
        data.insert(
            "pids".into(),
            pids_entry(num(d, "pids.current"), num(d, "pids.max")),
        );
    }
    if let Some(d) = cg.v1_dir("blkio") {
        data.insert(
            "blkio".into(),
            blkio_entry(
                blkio_v1(d, "blkio.throttle.io_service_bytes_recursive"),
                blkio_v1(d, "blkio.throttle.io_serviced_recursive"),
            ),
        );
    }
    let mut h = Map::new();
    if let Some(d) = cg.v1_dir("hugetlb") {
        for n in hugepage_names() {
            let mut e = Map::new();
            put_nz(
                &mut e,
                "usage",
                num(d, &format!("hugetlb.{n}.usage_in_bytes")),
            );
            put_nz(
                &mut e,
                "max",
                num(d, &format!("hugetlb.{n}.max_usage_in_bytes")),
            );
            e.insert(
                "failcnt".into(),
                json!(num(d, &format!("hugetlb.{n}.failcnt"))),
            );
            h.insert(n, Value::Object(e));
        }
    }
    data.insert("hugetlb".into(), Value::Object(h));
}

fn v2(d: &Path, data: &mut Map<String, Value>) {
    let st = keyed(d, "cpu.stat");
    let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
    let mut usage = Map::new();
    put_nz(&mut usage, "total", us("usage_usec"));
    usage.insert("kernel".into(), json!(us("system_usec")));
    usage.insert("user".into(), json!(us("user_usec")));
    let mut throttling = Map::new();
    put_nz(
        &mut throttling,
        "periods",
        *st.get("nr_periods").unwrap_or(&0),
    );
    put_nz(
        &mut throttling,
        "throttledPeriods",
        *st.get("nr_throttled").unwrap_or(&0),
    );
    put_nz(&mut throttling, "throttledTime", us("throttled_usec"));
    data.insert(
        "cpu".into(),
        json!({"usage": usage, "throttling": throttling}),
    );
    if d.join("cpuset.cpus.effective").exists() {
        data.insert(
            "cpuset".into(),
            cpuset_entry(d, "cpuset.cpus.effective", "cpuset.mems.effective"),
        );
    }
    let raw = keyed(d, "memory.stat");
    let events = keyed(d, "memory.events");
    let mut m = Map::new();
    put_nz(&mut m, "cache", *raw.get("file").unwrap_or(&0));
    m.insert(
        "usage".into(),
        mem_entry(
            num(d, "memory.current"),
            num(d, "memory.peak"),
            *events.get("max").unwrap_or(&0),
            num(d, "memory.max"),
        ),
    );
    let swap_events = keyed(d, "memory.swap.events");
    m.insert(
        "swap".into(),
        mem_entry(
            num(d, "memory.swap.current"),
            num(d, "memory.swap.peak"),
            *swap_events.get("max").unwrap_or(&0),
            num(d, "memory.swap.max"),
        ),
    );
    m.insert("kernel".into(), mem_entry(0, 0, 0, 0));
    m.insert("kernelTCP".into(), mem_entry(0, 0, 0, 0));
    m.insert("raw".into(), json!(raw));
    data.insert("memory".into(), Value::Object(m));
    data.insert(
        "pids".into(),
        pids_entry(num(d, "pids.current"), num(d, "pids.max")),
    );
    let (mut bytes, mut serviced) = (Vec::new(), Vec::new());
    for line in read(d, "io.stat").unwrap_or_default().lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|dev| dev.split_once(':')) else {
            continue;
        };
        let (Ok(ma), Ok(mi)) = (ma.parse::<u64>(), mi.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v: u64 = v.parse().unwrap_or(0);
            let e = |op: &str| json!({"major": ma, "minor": mi, "op": op, "value": v});
            match k {
                "rbytes" => bytes.push(e("Read")),
                "wbytes" => bytes.push(e("Write")),
                "rios" => serviced.push(e("Read")),
                "wios" => serviced.push(e("Write")),
                _ => {}
            }
        }
    }
    data.insert("blkio".into(), blkio_entry(bytes, serviced));
    let mut h = Map::new();
    for n in hugepage_names() {
        if !d.join(format!("hugetlb.{n}.current")).exists() {
            continue;
        }
        let mut e = Map::new();
        put_nz(&mut e, "usage", num(d, &format!("hugetlb.{n}.current")));
        let ev = keyed(d, &format!("hugetlb.{n}.events"));
        e.insert("failcnt".into(), json!(ev.get("max").copied().unwrap_or(0)));
        h.insert(n, Value::Object(e));
    }
    data.insert("hugetlb".into(), Value::Object(h));
}

/// How many times the kernel's OOM killer fired in the container's memory cgroup (v1
/// `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`, falling back to `oom`).
/// None when there is no memory controller.
pub fn oom_count(cg: &Cgroup) -> Option<u64> {
    if !cg.is_unified() {
        if let Some(d) = cg.v1_dir("memory") {
            let m = keyed(d, "memory.oom_control");
            return Some(m.get("oom_kill").copied().unwrap_or(0));
        }
    }
    let d = cg.unified_dir()?;
    if !d.join("memory.events").exists() {
        return None;
    }
    let m = keyed(d, "memory.events");
    Some(
        m.get("oom_kill")
            .copied()
            .unwrap_or(0)
            .max(m.get("oom").copied().unwrap_or(0)),
    )
}
