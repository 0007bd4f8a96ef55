//! Many containers at once, once per runtime row: detached `sleep` containers are started up to
//! `OXIRUN_BENCH_SCALE` (default 1,000) running at once, and at 1, 100 and that many (each
//! level counting the probe) a probe container's `create`, `start`, `state`, `exec /bin/true`
//! and `delete` (after `kill KILL` and reaping its init) are timed, `PROBES` times each, with
//! `list`. Also: the wall of every filler's `run -d` in start order (the last tenth's median
//! over the first tenth's says whether the Nth container costs more than the first), and the
//! host memory each running container costs (`MemTotal - MemAvailable` at the top level minus
//! before the first filler, over the fillers: page cache and slab included, so an upper bound
//! with some noise). Every container is removed with `delete --force` at the end.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use serde_json::{json, Value};

use crate::bundle::Variant;
use crate::cgroups;
use crate::procs::{kill_our_children, reap_strays, us, wait_bounded};
use crate::runtime::Runtime;
use crate::scenarios::Bench;
use crate::stats::{median, ms};
use crate::INIT_EXIT_TIMEOUT_MS;

/// Probe containers per level (medians are reported).
const PROBES: usize = 5;

/// The probe commands, in the order they are timed.
pub const OPS: [&str; 6] = ["create", "start", "state", "exec", "delete", "list"];

/// Medians at one level, microseconds, indexed like [`OPS`].
pub struct Level {
    /// Containers running while probed (the probe included).
    pub running: usize,
    pub op_us: [u64; OPS.len()],
}

pub struct Scale {
    pub levels: Vec<Level>,
    /// Wall of each filler's `run -d`, in start order.
    pub fill_walls: Vec<u64>,
    /// Host memory per running filler, KiB.
    pub mem_per_container_kib: Option<u64>,
    /// Why the phase stopped early, if it did.
    pub error: Option<String>,
}

impl Scale {
    /// Median `run -d` wall of the last tenth of the fillers over that of the first tenth.
    pub fn fill_growth(&self) -> Option<f64> {
        crate::stats::tenth_growth(&self.fill_walls)
    }

    /// The top level's median of `op` over the first level's.
    pub fn op_growth(&self, op: usize) -> Option<f64> {
        let (first, last) = (self.levels.first()?, self.levels.last()?);
        (self.levels.len() > 1).then(|| last.op_us[op] as f64 / first.op_us[op].max(1) as f64)
    }
}

/// The levels probed for `max` containers: 1, 100 and `max` (those up to `max`).
fn levels(max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [1, 100].into_iter().filter(|&l| l < max).collect();
    v.push(max);
    v
}

/// `MemTotal - MemAvailable`, KiB.
fn mem_used_kib() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some(field("MemTotal:")?.saturating_sub(field("MemAvailable:")?))
}

impl Bench {
    /// The scale phase for `rt` up to `max` running containers; everything it started is
    /// deleted before it returns, also after a failure (kept in `Scale::error`).
    pub fn scale(&mut self, rt: &Runtime, max: usize) -> Result<Scale> {
        let mut fillers: Vec<(String, String, PathBuf)> = Vec::with_capacity(max);
        let mut out = Scale {
            levels: Vec::new(),
            fill_walls: Vec::with_capacity(max),
            mem_per_container_kib: None,
            error: None,
        };
        self.enter(rt)?;
        let mem0 = mem_used_kib();
        let result = (|| -> Result<()> {
            for level in levels(max) {
                while fillers.len() + 1 < level {
                    let (id, leaf, dir) = self.prepare_dir(rt, "sc-", Variant::Sleep)?;
                    let dir_s = dir.to_string_lossy().into_owned();
                    fillers.push((id.clone(), leaf, dir));
                    let run = self.command(rt, &["run", "-d", "--bundle", &dir_s, &id])?;
                    out.fill_walls.push(us(run.wall));
                }
                if fillers.len() + 1 == max {
                    out.mem_per_container_kib = match (mem0, mem_used_kib()) {
                        (Some(a), Some(b)) if !fillers.is_empty() => {
                            Some(b.saturating_sub(a) / fillers.len() as u64)
                        }
                        _ => None,
                    };
                }
                let mut samples: Vec<[u64; OPS.len()]> = Vec::with_capacity(PROBES);
                for _ in 0..PROBES {
                    samples.push(self.probe(rt)?);
                }
                let mut op_us = [0; OPS.len()];
                for (i, v) in op_us.iter_mut().enumerate() {
                    *v = median(samples.iter().map(|s| s[i]));
                }
                out.levels.push(Level {
                    running: level,
                    op_us,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            out.error = Some(format!("{e:#}"));
        }
        for (id, leaf, dir) in &fillers {
            let _ = self.command(rt, &["delete", "--force", id]);
            cgroups::remove_leaf(rt.mode, leaf);
            let _ = fs::remove_dir_all(dir);
        }
        reap_strays();
        kill_our_children(&self.keep());
        self.leave(rt)?;
        Ok(out)
    }

    /// One probe container's commands, timed (microseconds, indexed like [`OPS`]).
    fn probe(&mut self, rt: &Runtime) -> Result<[u64; OPS.len()]> {
        let (id, leaf, dir) = self.prepare_dir(rt, "scp-", Variant::Sleep)?;
        let pid_file = dir.join("init.pid");
        let (dir_s, pid_s) = (
            dir.to_string_lossy().into_owned(),
            pid_file.to_string_lossy().into_owned(),
        );
        let timed = (|| -> Result<[u64; OPS.len()]> {
            let mut t = [0; OPS.len()];
            let create = ["create", "--bundle", &dir_s, "--pid-file", &pid_s, &id];
            t[0] = us(self.command(rt, &create)?.wall);
            let pid: libc::pid_t = fs::read_to_string(&pid_file)
                .context("create wrote no pid file")?
                .trim()
                .parse()
                .context("pid file")?;
            t[1] = us(self.command(rt, &["start", &id])?.wall);
            t[2] = us(self.command(rt, &["state", &id])?.wall);
            t[3] = us(self.command(rt, &["exec", &id, "/bin/true"])?.wall);
            reap_strays();
            self.command(rt, &["kill", &id, "KILL"])?;
            wait_bounded(pid, INIT_EXIT_TIMEOUT_MS)?
                .ok_or_else(|| anyhow!("the probe's init {pid} did not exit"))?;
            t[4] = us(self.command(rt, &["delete", &id])?.wall);
            t[5] = us(self.command(rt, &["list", "-q"])?.wall);
            Ok(t)
        })();
        if timed.is_err() {
            self.teardown(rt, &id, &leaf);
        } else {
            cgroups::remove_leaf(rt.mode, &leaf);
        }
        let _ = fs::remove_dir_all(&dir);
        timed
    }
}

/// The markdown section: one table row per runtime row and level, then the growth figures.
pub fn markdown(rows: &[(String, &Scale)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### Many containers (medians of {PROBES} probe containers per level, ms)\n"
    );
    let _ = writeln!(s, "| runtime | running | {} |", OPS.join(" | "));
    let _ = writeln!(s, "|---|---:|{}", "---:|".repeat(OPS.len()));
    for (name, sc) in rows {
        for l in &sc.levels {
            let cells: Vec<String> = l.op_us.iter().map(|&v| ms(v)).collect();
            let _ = writeln!(s, "| {name} | {} | {} |", l.running, cells.join(" | "));
        }
    }
    let _ = writeln!(
        s,
        "\n| runtime | `run -d` last tenth / first tenth | create at top / at 1 | list at top / at 1 | host memory per container |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
    for (name, sc) in rows {
        let mem = sc
            .mem_per_container_kib
            .map_or("-".to_string(), |k| format!("{k} KiB"));
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {mem} |",
            ratio(sc.fill_growth()),
            ratio(sc.op_growth(0)),
            ratio(sc.op_growth(5)),
        );
        if let Some(e) = &sc.error {
            let _ = writeln!(s, "\n{name}: stopped early: {e}");
        }
    }
    s
}

/// The JSON of one row's phase.
pub fn to_json(sc: &Scale) -> Value {
    let levels: Vec<Value> = sc
        .levels
        .iter()
        .map(|l| {
            let mut m = serde_json::Map::new();
            m.insert("running".into(), json!(l.running));
            for (op, v) in OPS.iter().zip(l.op_us) {
                m.insert(format!("{op}_us"), json!(v));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "levels": levels,
        "fill_run_d_us": sc.fill_walls,
        "fill_growth": sc.fill_growth(),
        "mem_per_container_kib": sc.mem_per_container_kib,
        "error": sc.error,
    })
}
