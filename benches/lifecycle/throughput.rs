//! Throughput, once per runtime row: `run`s back to back and all at once, then a count of what
//! they left behind (state entries, cgroup directories).

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Result};

use crate::bundle::Variant;
use crate::cgroups;
use crate::procs::{cpu_us, kill_our_children, reap_strays, us, wait_all, wait_bounded};
use crate::runtime::Runtime;
use crate::scenarios::{check_status, Bench};
use crate::stats::{median, percentile};
use crate::COMMAND_TIMEOUT_MS;

/// A serial run stops after this many failed containers.
const MAX_SERIAL_FAILURES: usize = 5;

/// One batch of `run`s. Times in microseconds.
#[derive(Default)]
pub struct Batch {
    pub count: usize,
    pub ok: usize,
    /// First spawn to last reap.
    pub total: u64,
    /// Wall of each successful command, in start order (serial) or completion order.
    pub walls: Vec<u64>,
    /// User+sys of every command and of the orphans reaped after them.
    pub cpu: u64,
    /// Largest `ru_maxrss` of a command, KiB.
    pub maxrss_kib: u64,
    pub failures: usize,
    pub first_error: Option<String>,
}

impl Batch {
    /// An empty batch of `count` containers.
    fn new(count: usize) -> Batch {
        Batch {
            count,
            ..Batch::default()
        }
    }

    /// Containers per second (successful ones).
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / (self.total.max(1) as f64 / 1e6)
    }

    /// Amortized cost of one container: total wall / successful containers.
    pub fn per_container(&self) -> u64 {
        self.total / self.ok.max(1) as u64
    }

    pub fn wall_p50(&self) -> u64 {
        median(self.walls.iter().copied())
    }

    pub fn wall_p90(&self) -> u64 {
        let mut w = self.walls.clone();
        w.sort_unstable();
        percentile(&w, 90.0)
    }

    /// Median wall of the last tenth of the commands over that of the first tenth.
    pub fn growth(&self) -> Option<f64> {
        crate::stats::tenth_growth(&self.walls)
    }

    fn fail(&mut self, e: anyhow::Error) {
        self.failures += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{e:#}"));
        }
    }
}

/// What the throughput containers left behind once all of them had ended.
pub struct Leftover {
    /// State-directory entries named like a throughput container.
    pub state: Vec<String>,
    /// `<hierarchy>/<leaf>` under `/oxirun-bench` (none expected in the `no cgroups` mode).
    pub cgroup_dirs: Vec<String>,
}

pub struct Throughput {
    pub serial: Batch,
    pub parallel: Batch,
    pub leftover: Leftover,
}

impl Throughput {
    /// The batches that ran, named ("serial", "parallel").
    pub fn batches(&self) -> impl Iterator<Item = (&'static str, &Batch)> {
        [("serial", &self.serial), ("parallel", &self.parallel)]
            .into_iter()
            .filter(|(_, b)| b.count > 0)
    }

    /// State entries plus cgroup directories left behind.
    pub fn left(&self) -> usize {
        self.leftover.state.len() + self.leftover.cgroup_dirs.len()
    }
}

impl Bench {
    /// Both batches for `rt`, the leftover count, then removal of whatever was left.
    pub fn throughput(
        &mut self,
        rt: &Runtime,
        serial: usize,
        parallel: usize,
    ) -> Result<Throughput> {
        let tag = "tp-";
        let prefix_leaf = format!("{}-{tag}", rt.key());
        let prefix_id = format!("oxb-{prefix_leaf}");
        let mut made: Vec<(String, String, PathBuf)> = Vec::new();

        let serial_batch = self.serial_batch(rt, serial, tag, &mut made)?;
        let parallel_batch = self.parallel_batch(rt, parallel, tag, &mut made)?;

        // Leak check before any cleanup: nothing of these containers should remain.
        let state: Vec<String> = fs::read_dir(&rt.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix_id))
                    .collect()
            })
            .unwrap_or_default();
        let cgroup_dirs = cgroups::leaves_with_prefix(rt.mode, &prefix_leaf);
        let leftover = Leftover { state, cgroup_dirs };

        if !leftover.state.is_empty() {
            self.enter(rt)?;
            for id in &leftover.state {
                let _ = self.command(rt, &["delete", "--force", id]);
            }
            self.leave(rt)?;
        }
        reap_strays();
        kill_our_children(&self.keep());
        for (_, leaf, dir) in &made {
            cgroups::remove_leaf(rt.mode, leaf);
            let _ = fs::remove_dir_all(dir);
        }
        Ok(Throughput {
            serial: serial_batch,
            parallel: parallel_batch,
            leftover,
        })
    }

    /// `count` bundles written up front, so that the timed loop holds only the `run`s.
    fn make_bundles(
        &mut self,
        rt: &Runtime,
        count: usize,
        tag: &str,
        made: &mut Vec<(String, String, PathBuf)>,
    ) -> Result<Vec<(String, String, PathBuf)>> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let c = self.prepare_dir(rt, tag, Variant::True)?;
            made.push(c.clone());
            out.push(c);
        }
        Ok(out)
    }

    fn serial_batch(
        &mut self,
        rt: &Runtime,
        count: usize,
        tag: &str,
        made: &mut Vec<(String, String, PathBuf)>,
    ) -> Result<Batch> {
        let containers = self.make_bundles(rt, count, tag, made)?;
        let mut batch = Batch::new(count);
        self.enter(rt)?;
        let t0 = Instant::now();
        for (id, _, dir) in &containers {
            let dir_s = dir.to_string_lossy().into_owned();
            let args = ["run", "--bundle", &dir_s, id];
            let stderr = dir.join("stderr.txt");
            let t = Instant::now();
            let result = self.spawn(rt, &args, &stderr).and_then(|pid| {
                let (status, ru) = wait_bounded(pid, COMMAND_TIMEOUT_MS)?
                    .ok_or_else(|| anyhow!("wait4({pid}) lost the child"))?;
                let wall = t.elapsed();
                check_status(rt, &args, status, &stderr)?;
                Ok((wall, ru))
            });
            batch.cpu += reap_strays();
            match result {
                Ok((wall, ru)) => {
                    batch.ok += 1;
                    batch.walls.push(us(wall));
                    batch.cpu += cpu_us(&ru);
                    batch.maxrss_kib = batch.maxrss_kib.max(ru.ru_maxrss as u64);
                }
                Err(e) => {
                    batch.fail(e);
                    if batch.failures >= MAX_SERIAL_FAILURES {
                        break;
                    }
                }
            }
        }
        batch.total = us(t0.elapsed());
        self.leave(rt)?;
        Ok(batch)
    }

    fn parallel_batch(
        &mut self,
        rt: &Runtime,
        count: usize,
        tag: &str,
        made: &mut Vec<(String, String, PathBuf)>,
    ) -> Result<Batch> {
        let containers = self.make_bundles(rt, count, tag, made)?;
        let mut batch = Batch::new(count);
        let mut spawned: Vec<(libc::pid_t, usize)> = Vec::with_capacity(count);
        let mut started = Vec::with_capacity(count);
        self.enter(rt)?;
        let t0 = Instant::now();
        for (i, (id, _, dir)) in containers.iter().enumerate() {
            let dir_s = dir.to_string_lossy().into_owned();
            started.push(t0.elapsed());
            match self.spawn(
                rt,
                &["run", "--bundle", &dir_s, id],
                &dir.join("stderr.txt"),
            ) {
                Ok(pid) => spawned.push((pid, i)),
                Err(e) => batch.fail(e),
            }
        }
        self.leave(rt)?;
        let pids: Vec<libc::pid_t> = spawned.iter().map(|p| p.0).collect();
        let timeout = COMMAND_TIMEOUT_MS as u64 + 1000 * count as u64;
        let reaped = wait_all(&pids, t0, timeout);
        batch.total = reaped.iter().map(|r| us(r.done)).max().unwrap_or(0);
        batch.cpu += reap_strays();
        for r in reaped {
            let Some(&(_, i)) = spawned.iter().find(|p| p.0 == r.pid) else {
                continue;
            };
            let (id, _, dir) = &containers[i];
            let dir_s = dir.to_string_lossy().into_owned();
            let args = ["run", "--bundle", &dir_s, id];
            let Some((status, ru)) = r.exit else {
                batch.fail(anyhow!(
                    "`{} {}`: still running after {timeout} ms, killed",
                    rt.name,
                    args.join(" ")
                ));
                continue;
            };
            batch.cpu += cpu_us(&ru);
            match check_status(rt, &args, status, &dir.join("stderr.txt")) {
                Ok(()) => {
                    batch.ok += 1;
                    batch.walls.push(us(r.done.saturating_sub(started[i])));
                    batch.maxrss_kib = batch.maxrss_kib.max(ru.ru_maxrss as u64);
                }
                Err(e) => batch.fail(e),
            }
        }
        Ok(batch)
    }
}
