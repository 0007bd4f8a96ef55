//! Peak RSS, once per runtime row: `create`, `run` and `exec` each `RSS_RUNS` times, spawned
//! through `rss-exec` (a few-page helper without libc, built here with `cc`), medians in KiB.
//!
//! Why a helper: at `execve` the kernel folds the RSS high-water mark of the address space a
//! process was forked with into its `ru_maxrss`, so every command the bench spawns itself
//! reports at least the bench's own RSS (~2.8 MiB). The main table's RSS column is that
//! floored figure; this phase's is the runtime's own.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use crate::bundle::Variant;
use crate::procs::{reap_strays, wait_bounded, wait_init};
use crate::runtime::Runtime;
use crate::scenarios::{check_status, Bench};
use crate::stats::median;
use crate::COMMAND_TIMEOUT_MS;

const RSS_RUNS: usize = 10;

/// The commands measured, in report order.
pub const COMMANDS: [&str; 3] = ["create", "run", "exec"];

/// Median peak RSS per command, KiB, indexed like [`COMMANDS`].
pub struct Rss(pub [u64; COMMANDS.len()]);

/// What `rss-exec` wrote to `out`: the command's peak RSS, KiB.
pub fn read_rss(out: &Path) -> Result<u64> {
    let text = fs::read_to_string(out).context("rss-exec wrote nothing")?;
    text.trim().parse().context("rss-exec output")
}

/// Builds `rss-exec` into `dir` (from `benches/lifecycle/rss-exec.c`).
pub fn build_helper(manifest: &Path, dir: &Path) -> Result<PathBuf> {
    let src = manifest.join("benches/lifecycle/rss-exec.c");
    let bin = dir.join("rss-exec");
    let out = Command::new("cc")
        .args(["-static", "-nostdlib", "-O2", "-fno-stack-protector", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .context("run cc (apt-get install gcc)")?;
    if !out.status.success() {
        bail!(
            "cc rss-exec.c: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(bin)
}

impl Bench {
    /// `RT [global] --root R <args>` through `helper`; its peak RSS in KiB (an error unless it
    /// exits 0).
    fn rss_of(&self, rt: &Runtime, helper: &Path, args: &[&str]) -> Result<u64> {
        let out = self.bundles.join("rss.out");
        let pid = self.spawn_with(rt, args, &self.stderr_log, Some((helper, &out)))?;
        let (status, _) = wait_bounded(pid, COMMAND_TIMEOUT_MS)?
            .ok_or_else(|| anyhow!("wait4({pid}) lost the child"))?;
        check_status(rt, args, status, &self.stderr_log)?;
        read_rss(&out)
    }

    /// The phase for `rt` (after the timed scenarios: it starts and ends its own `exec`
    /// container).
    pub fn peak_rss(&mut self, rt: &Runtime, helper: &Path) -> Result<Rss> {
        fs::create_dir_all(&self.bundles)?;
        self.enter(rt)?;
        let result = self.peak_rss_inner(rt, helper);
        reap_strays();
        let stopped = self.stop_long(rt);
        self.leave(rt)?;
        let rss = result?;
        stopped.context("the exec container")?;
        Ok(rss)
    }

    fn peak_rss_inner(&mut self, rt: &Runtime, helper: &Path) -> Result<Rss> {
        let mut samples: [Vec<u64>; COMMANDS.len()] = Default::default();
        let bundle = self.bundle.to_string_lossy().into_owned();
        let pid_file = self.pid_file.to_string_lossy().into_owned();
        for _ in 0..RSS_RUNS {
            let (id, leaf) = self.prepare(rt, Variant::True)?;
            let create = ["create", "--bundle", &bundle, "--pid-file", &pid_file, &id];
            let created = self.rss_of(rt, helper, &create).and_then(|kib| {
                let pid = fs::read_to_string(&self.pid_file)?.trim().parse()?;
                self.command(rt, &["start", &id])?;
                wait_init(pid)?;
                self.command(rt, &["delete", &id])?;
                Ok(kib)
            });
            match created {
                Ok(kib) => samples[0].push(kib),
                Err(e) => {
                    self.teardown(rt, &id, &leaf);
                    return Err(e);
                }
            }
            let (id, leaf) = self.prepare(rt, Variant::True)?;
            match self.rss_of(rt, helper, &["run", "--bundle", &bundle, &id]) {
                Ok(kib) => samples[1].push(kib),
                Err(e) => {
                    self.teardown(rt, &id, &leaf);
                    return Err(e);
                }
            }
            reap_strays();
            let long = self.long_id(rt)?;
            samples[2].push(self.rss_of(rt, helper, &["exec", &long, "/bin/true"])?);
        }
        Ok(Rss(samples.map(|s| median(s.into_iter()))))
    }
}

/// The markdown section: each row's medians, then oxirun's over each peer's in the same mode.
pub fn markdown(rows: &[(String, &Rss)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### Peak RSS (KiB, median of {RSS_RUNS}, each command spawned from a few-page helper)\n"
    );
    let _ = writeln!(s, "| runtime | {} |", COMMANDS.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(COMMANDS.len()));
    for (name, r) in rows {
        let cells: Vec<String> = r.0.iter().map(u64::to_string).collect();
        let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
    }
    let mode = |n: &str| n.split_once(" (").map(|(_, m)| m.to_string());
    for (peer, p) in rows.iter().filter(|(n, _)| !n.starts_with("oxirun")) {
        let ours = format!("oxirun ({}", mode(peer).unwrap_or_default());
        if let Some((name, o)) = rows.iter().find(|(n, _)| *n == ours) {
            let ratios: Vec<String> = (0..COMMANDS.len())
                .map(|i| {
                    format!(
                        "{} {:.2}x",
                        COMMANDS[i],
                        o.0[i] as f64 / p.0[i].max(1) as f64
                    )
                })
                .collect();
            let _ = writeln!(s, "\n{name} / {peer}: {}", ratios.join(", "));
        }
    }
    s
}

pub fn to_json(r: &Rss) -> Value {
    let m: serde_json::Map<String, Value> = COMMANDS
        .iter()
        .zip(r.0)
        .map(|(c, v)| (format!("{c}_kib"), json!(v)))
        .collect();
    Value::Object(m)
}
