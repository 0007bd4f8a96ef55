//! Cold paths, once per runtime row: `run` of `/bin/true` with a config that is large where
//! real configs are small, `COLD_RUNS` times each (medians; a run past `COLD_TIMEOUT_MS` is
//! killed and counted once):
//!
//! * `16 MiB config`: 3,900 annotations of 4 KiB, just under the 16 MiB oxirun reads
//!   (parsed, never used);
//! * `1,000 mounts`: tmpfs mounts at `/cold/m0` .. `/cold/m999`;
//! * `150k seccomp rules`: 150,000 argument rules on `getpid` (more than the kernel's
//!   4,096-instruction limit can hold: a runtime should refuse it, the question is how soon).
//!
//! Reported per case: wall, CPU (user+sys of the runtime command and what it reaped), peak RSS
//! (through `rss-exec` when the peak RSS phase built it), and the outcome (`ok`, or the exit status with the last stderr line).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde_json::{json, Value};

use crate::bundle::Variant;
use crate::cgroups;
use crate::procs::{cpu_us, describe_status, kill_our_children, reap_strays, us, wait_bounded};
use crate::rss::read_rss;
use crate::runtime::Runtime;
use crate::scenarios::Bench;
use crate::stats::{median, ms};

const COLD_RUNS: usize = 3;
const COLD_TIMEOUT_MS: i32 = 60_000;

/// The cases, in report order.
pub const CASES: [&str; 3] = ["16 MiB config", "1,000 mounts", "150k seccomp rules"];

pub struct Cold {
    pub case: &'static str,
    pub wall_us: u64,
    pub cpu_us: u64,
    pub maxrss_kib: u64,
    /// `ok`, or how the last run ended.
    pub outcome: String,
}

/// The config.json text of `spec` changed for `case` (see the module docs), compact. The
/// large part is made as text into a placeholder: the bench never holds it as a JSON tree.
fn cold_config(mut spec: Value, case: &str) -> String {
    const SLOT: &str = "\"@COLD@\"";
    let big = match case {
        "16 MiB config" => {
            // 3,900 x 4 KiB: just under the 16 MiB that oxirun reads at most.
            let value = "a".repeat(4096);
            let items: Vec<String> = (0..3900)
                .map(|i| format!("\"bench.oxirun/cold-{i}\":\"{value}\""))
                .collect();
            spec["annotations"] = json!("@COLD@");
            format!("{{{}}}", items.join(","))
        }
        "1,000 mounts" => {
            let mut items: Vec<String> = spec["mounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(Value::to_string)
                .collect();
            items.extend((0..1000).map(|i| {
                json!({"destination": format!("/cold/m{i}"), "type": "tmpfs",
                    "source": "tmpfs", "options": ["size=64k"]})
                .to_string()
            }));
            spec["mounts"] = json!("@COLD@");
            format!("[{}]", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..150_000)
                .map(|i| {
                    format!(
                        "{{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{{\"index\":0,\"value\":{i},\"op\":\"SCMP_CMP_EQ\"}}]}}"
                    )
                })
                .collect();
            spec["linux"]["seccomp"] = json!("@COLD@");
            format!(
                "{{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],\"syscalls\":[{}]}}",
                items.join(",")
            )
        }
    };
    spec.to_string().replacen(SLOT, &big, 1)
}

impl Bench {
    /// Every cold case for `rt`; what a run leaves is deleted after it.
    pub fn cold(&mut self, rt: &Runtime) -> Result<Vec<Cold>> {
        self.enter(rt)?;
        let mut out = Vec::new();
        for case in CASES {
            let r = self.cold_case(rt, case);
            reap_strays();
            kill_our_children(&self.keep());
            out.push(r?);
        }
        self.leave(rt)?;
        Ok(out)
    }

    fn cold_case(&mut self, rt: &Runtime, case: &'static str) -> Result<Cold> {
        let (mut walls, mut cpus, mut rss) = (Vec::new(), Vec::new(), 0);
        let mut outcome = String::new();
        for _ in 0..COLD_RUNS {
            let (id, leaf, dir) = self.prepare_dir(rt, "cold-", Variant::True)?;
            let config = dir.join("config.json");
            let base: Value = serde_json::from_slice(&fs::read(&config)?)?;
            fs::write(&config, cold_config(base, case))?;
            let dir_s = dir.to_string_lossy().into_owned();
            let (stderr, rss_out) = (dir.join("stderr.txt"), dir.join("rss.out"));
            let args = ["run", "--bundle", &dir_s, &id];
            let t0 = Instant::now();
            // Through rss-exec when it was built: the bench's own RSS would floor the figure.
            let via = self.rss_helper.as_deref().map(|h| (h, rss_out.as_path()));
            let pid = self.spawn_with(rt, &args, &stderr, via)?;
            // A run past the bound is killed (an error here): its outcome, and no more runs.
            let exit = wait_bounded(pid, COLD_TIMEOUT_MS);
            walls.push(us(t0.elapsed()));
            let strays = reap_strays();
            let timed_out = exit.is_err();
            outcome = match exit {
                Ok(Some((status, ru))) => {
                    cpus.push(cpu_us(&ru) + strays);
                    let kib = read_rss(&rss_out).unwrap_or(ru.ru_maxrss as u64);
                    rss = rss.max(kib);
                    ended(status, &stderr)
                }
                Ok(None) => "lost (reaped elsewhere)".into(),
                Err(_) => format!("killed after {} s", COLD_TIMEOUT_MS / 1000),
            };
            let _ = self.command(rt, &["delete", "--force", &id]);
            cgroups::remove_leaf(rt.mode, &leaf);
            let _ = fs::remove_dir_all(&dir);
            if timed_out {
                kill_our_children(&self.keep());
                break;
            }
        }
        Ok(Cold {
            case,
            wall_us: median(walls.into_iter()),
            cpu_us: median(cpus.into_iter()),
            maxrss_kib: rss,
            outcome,
        })
    }
}

/// `ok`, or the status and the last line of stderr (shortened).
fn ended(status: i32, stderr: &Path) -> String {
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return "ok".into();
    }
    let text = fs::read_to_string(stderr).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let last: String = last.trim().chars().take(100).collect();
    format!("{}: {last}", describe_status(status))
}

/// The markdown section.
pub fn markdown(rows: &[(String, &Vec<Cold>)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### Cold paths (`run /bin/true`, median of {COLD_RUNS}, ms; RSS of the runtime command)\n"
    );
    let _ = writeln!(
        s,
        "| runtime | case | wall | CPU | peak RSS KiB | outcome |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|");
    for (name, cases) in rows {
        for c in cases.iter() {
            let outcome = c.outcome.replace('|', "/");
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {outcome} |",
                c.case,
                ms(c.wall_us),
                ms(c.cpu_us),
                c.maxrss_kib
            );
        }
    }
    s
}

pub fn to_json(cases: &[Cold]) -> Value {
    let m: serde_json::Map<String, Value> = cases
        .iter()
        .map(|c| {
            (
                c.case.to_string(),
                json!({"wall_us": c.wall_us, "cpu_us": c.cpu_us, "maxrss_kib": c.maxrss_kib,
                    "outcome": c.outcome}),
            )
        })
        .collect();
    Value::Object(m)
}
