//! `oxirun update [--resources FILE|-] [runc's flags] ID`: change a live container's limits.
//! The flags override the values read from `--resources` (JSON `LinuxResources`).

use std::io::Read;

use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::{LinuxMemory, LinuxPids, LinuxResources};

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to a JSON LinuxResources file, or "-" for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds, -1 for unlimited)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst (microseconds)
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period (microseconds)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (microseconds)
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// SCHED_IDLE for the cgroup (0 or 1)
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (ignored by recent kernels)
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit)
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Container id
    pub id: String,
}

/// docker/go-units RAMInBytes: "512", "64k", "16m", "1.5g", "1GiB"; binary units; "-1".
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| anyhow!("--{flag}: invalid size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        "p" | "pb" | "pib" => 1024f64.powi(5),
        _ => return Err(anyhow!("--{flag}: invalid size {s:?}")),
    };
    Ok((n * mult) as i64)
}

fn read_resources(src: &str) -> Result<LinuxResources> {
    let mut text = String::new();
    if src == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--resources: read stdin")?;
    } else {
        text = std::fs::read_to_string(src).with_context(|| format!("--resources: {src}"))?;
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        anyhow!(
            "--resources: invalid LinuxResources at {}: {}",
            e.path(),
            e.inner()
        )
    })
}

/// The LinuxResources the flags describe, on top of `r`.
pub fn apply_flags(a: &Args, mut r: LinuxResources) -> Result<LinuxResources> {
    let mut mem = (*r.memory()).unwrap_or_default();
    let mut mem_set = r.memory().is_some();
    for (flag, v, set) in [
        (
            "memory",
            &a.memory,
            LinuxMemory::set_limit as fn(&mut LinuxMemory, Option<i64>) -> &mut LinuxMemory,
        ),
        (
            "memory-reservation",
            &a.memory_reservation,
            LinuxMemory::set_reservation,
        ),
        ("memory-swap", &a.memory_swap, LinuxMemory::set_swap),
        ("kernel-memory", &a.kernel_memory, LinuxMemory::set_kernel),
        (
            "kernel-memory-tcp",
            &a.kernel_memory_tcp,
            LinuxMemory::set_kernel_tcp,
        ),
    ] {
        if let Some(v) = v {
            set(&mut mem, Some(parse_bytes(flag, v)?));
            mem_set = true;
        }
    }
    if mem_set {
        r.set_memory(Some(mem));
    }
    let mut cpu = r.cpu().clone().unwrap_or_default();
    let mut cpu_set = r.cpu().is_some();
    let mut touch = |b: bool| cpu_set |= b;
    touch(a.cpu_period.is_some());
    if let Some(v) = a.cpu_period {
        cpu.set_period(Some(v));
    }
    if let Some(v) = a.cpu_quota {
        cpu.set_quota(Some(v));
    }
    if let Some(v) = a.cpu_burst {
        cpu.set_burst(Some(v));
    }
    if let Some(v) = a.cpu_share {
        cpu.set_shares(Some(v));
    }
    if let Some(v) = a.cpu_rt_period {
        cpu.set_realtime_period(Some(v));
    }
    if let Some(v) = a.cpu_rt_runtime {
        cpu.set_realtime_runtime(Some(v));
    }
    if let Some(v) = a.cpu_idle {
        cpu.set_idle(Some(v));
    }
    if let Some(v) = &a.cpuset_cpus {
        cpu.set_cpus(Some(v.clone()));
    }
    if let Some(v) = &a.cpuset_mems {
        cpu.set_mems(Some(v.clone()));
    }
    touch(
        a.cpu_quota.is_some()
            || a.cpu_burst.is_some()
            || a.cpu_share.is_some()
            || a.cpu_rt_period.is_some()
            || a.cpu_rt_runtime.is_some()
            || a.cpu_idle.is_some()
            || a.cpuset_cpus.is_some()
            || a.cpuset_mems.is_some(),
    );
    if cpu_set {
        r.set_cpu(Some(cpu));
    }
    if let Some(l) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(l);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let base = match &args.resources {
        Some(src) => read_resources(src)?,
        None => LinuxResources::default(),
    };
    let r = apply_flags(&args, base)?;
    crate::cgroups::update::update(&g.root, &args.id, &r)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("memory", "16m").unwrap(), 16 << 20);
        assert_eq!(parse_bytes("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory", "4096").unwrap(), 4096);
        assert_eq!(parse_bytes("memory", "-1").unwrap(), -1);
        assert_eq!(parse_bytes("memory", "1.5k").unwrap(), 1536);
        assert!(parse_bytes("memory", "12x").is_err());
    }
}
