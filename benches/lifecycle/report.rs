//! The results: the table and notes on stdout, and the JSON, markdown and SVG texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use serde_json::{json, Value};

use crate::bundle::{CPU_PERIOD, CPU_QUOTA, CPU_SHARES, MEMORY_LIMIT, PIDS_LIMIT};
use crate::cold;
use crate::rss;
use crate::runtime::{Mode, Runtime};
use crate::scale;
use crate::scenarios::{Scenario, SCENARIOS};
use crate::stats::{ms, summarize, Summary};
use crate::throughput::{Batch, Throughput};
use crate::{markdown, svg, Config, CGROUP_PARENT};

pub struct Output {
    pub json: Value,
    pub markdown: String,
    pub svg: String,
}

/// One runtime row with its per-scenario summaries (`None`: failed).
pub struct Row<'a> {
    pub rt: &'a Runtime,
    pub sums: [Option<Summary>; SCENARIOS.len()],
}

impl Row<'_> {
    pub fn sum(&self, s: Scenario) -> Option<&Summary> {
        self.sums[s as usize].as_ref()
    }

    pub fn throughput(&self) -> Option<&Throughput> {
        self.rt.throughput.as_ref()?.as_ref().ok()
    }

    /// Per-container cost of `batch` over this row's single `run` median.
    pub fn vs_run(&self, batch: &Batch) -> Option<f64> {
        let run = self.sum(Scenario::Run)?.wall_med;
        (batch.ok > 0 && run > 0).then(|| batch.per_container() as f64 / run as f64)
    }
}

/// Host facts printed with every output.
pub struct Host {
    pub kernel: String,
    pub cpus: usize,
}

pub fn report(
    runtimes: &[Runtime],
    cfg: &Config,
    cgroups_seen: &BTreeMap<String, Vec<String>>,
) -> Output {
    let host = Host {
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
    };
    let rows: Vec<Row> = runtimes
        .iter()
        .map(|rt| Row {
            rt,
            sums: std::array::from_fn(|s| {
                (rt.errors[s].is_none() && !rt.samples[s].is_empty())
                    .then(|| summarize(&rt.samples[s]))
            }),
        })
        .collect();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nlifecycle: busybox /bin/true, {} iterations after {} warm-ups, kernel {}, {} CPUs; \
         times in ms (medians unless p90)",
        cfg.iters, cfg.warmups, host.kernel, host.cpus
    );
    let json_rows = main_table(&mut out, &rows, cgroups_seen);
    phase_table(&mut out, &rows);
    seccomp_overhead(&mut out, &rows);
    throughput_table(&mut out, &rows, cfg);
    let ratios = ratio_table(&mut out, &rows);
    let reexec = reexec_cost(&mut out, &rows);
    let systemd = systemd_cost(&mut out, &rows);
    let scale_rows = phase_rows(runtimes, |rt| &rt.scale);
    let cold_rows = phase_rows(runtimes, |rt| &rt.cold);
    let rss_rows = phase_rows(runtimes, |rt| &rt.rss);
    let mut extra_md = String::new();
    if !rss_rows.is_empty() {
        extra_md.push_str(&rss::markdown(&rss_rows));
    }
    if !scale_rows.is_empty() {
        extra_md.push_str(&scale::markdown(&scale_rows));
    }
    if !cold_rows.is_empty() {
        extra_md.push_str(&cold::markdown(&cold_rows));
    }
    out.push_str(&extra_md);
    for rt in runtimes {
        for (what, failed) in [
            (
                "many containers",
                rt.scale.as_ref().and_then(|r| r.as_ref().err()),
            ),
            (
                "cold paths",
                rt.cold.as_ref().and_then(|r| r.as_ref().err()),
            ),
            ("peak RSS", rt.rss.as_ref().and_then(|r| r.as_ref().err())),
        ] {
            if let Some(e) = failed {
                let _ = writeln!(out, "{}: {what}: {e}", rt.row_name());
            }
        }
    }
    notes(&mut out, &rows, cgroups_seen);
    print!("{out}");

    let chart = svg::chart(&rows, cfg, &host);
    let mut md = markdown::table(&rows, cfg, &host);
    md.push_str(&extra_md);
    let scale_json: serde_json::Map<String, Value> = scale_rows
        .iter()
        .map(|(n, sc)| (n.clone(), scale::to_json(sc)))
        .collect();
    let rss_json: serde_json::Map<String, Value> = rss_rows
        .iter()
        .map(|(n, r)| (n.clone(), rss::to_json(r)))
        .collect();
    let cold_json: serde_json::Map<String, Value> = cold_rows
        .iter()
        .map(|(n, c)| (n.clone(), cold::to_json(c)))
        .collect();
    let json = json!({
        "bench": "lifecycle",
        "workload": "busybox /bin/true",
        "iterations": cfg.iters,
        "warmups": cfg.warmups,
        "kernel": host.kernel,
        "cpus": host.cpus,
        "cgroup_layout": crate::cgroups::layout(),
        "systemd_pid1": crate::runtime::systemd_booted(),
        "modes": {
            "cgroups": format!("linux.cgroupsPath /{CGROUP_PARENT}/<runtime>-<n>, runtime's default cgroupfs manager"),
            "systemd": format!("--systemd-cgroup, linux.cgroupsPath {}:oxb:<runtime>-<n> (a transient scope per container; only where systemd is PID 1)", crate::cgroups::SLICE),
            "no cgroups": "--cgroup-manager=disabled (crun, oxirun), no cgroupsPath; on a hybrid host crun runs from a private mount namespace with /sys/fs/cgroup/unified detached (crun 1.8 refuses hybrid hosts even with cgroups disabled)",
        },
        "scenarios": {
            "create+start+wait+delete": "create --pid-file, start, wait4 the init, delete",
            "run": "run, foreground",
            "exec": "exec ID /bin/true into one long-running container per row (/bin/sleep 1000000, created and started before the first iteration, untimed)",
            "run+seccomp+limits": "run with the Docker default seccomp profile; in the cgroups mode also the limits below; in the no cgroups mode seccomp only",
        },
        "seccomp_limits": {
            "seccomp_profile": "seccomp/tests/data/docker-default.json",
            "memory_limit_bytes": MEMORY_LIMIT,
            "pids_limit": PIDS_LIMIT,
            "cpu_shares": CPU_SHARES,
            "cpu_quota": CPU_QUOTA,
            "cpu_period": CPU_PERIOD,
            "applied_in_modes": ["cgroups", "systemd"],
        },
        "throughput_counts": { "serial": cfg.serial, "parallel": cfg.parallel },
        "scale_max_running": cfg.scale,
        "scale": scale_json,
        "cold_paths": cold_json,
        "peak_rss_via_helper": rss_json,
        "runtimes": json_rows,
        "ratios_oxirun_over_peer": ratios,
        "cve_2019_5736_reexec_cost": reexec,
        "systemd_driver_cost": systemd,
        "outputs": ["lifecycle.json", "lifecycle.md", "lifecycle.svg"],
    });
    Output {
        json,
        markdown: md,
        svg: chart,
    }
}

fn main_table(
    out: &mut String,
    rows: &[Row],
    cgroups_seen: &BTreeMap<String, Vec<String>>,
) -> Vec<Value> {
    let _ = writeln!(
        out,
        "{:<20} {:<25} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9}",
        "runtime (mode)",
        "scenario",
        "wall",
        "wall p90",
        "CPU rt",
        "CPU init",
        "CPU total",
        "RSS KiB"
    );
    let mut json_rows = Vec::new();
    for row in rows {
        let rt = row.rt;
        let mut scen = serde_json::Map::new();
        for scenario in SCENARIOS {
            let s = scenario as usize;
            let label = scenario.label(rt.mode);
            let Some(sum) = row.sum(scenario) else {
                let err = rt.errors[s].clone().unwrap_or_else(|| "no samples".into());
                let _ = writeln!(out, "{:<20} {:<25} FAILED: {err}", rt.row_name(), label);
                scen.insert(scenario.key().to_string(), json!({ "error": err }));
                continue;
            };
            let _ = writeln!(
                out,
                "{:<20} {:<25} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9}",
                rt.row_name(),
                label,
                ms(sum.wall_med),
                ms(sum.wall_p90),
                ms(sum.cpu_rt),
                ms(sum.cpu_init),
                ms(sum.cpu_total),
                sum.rss
            );
            let phases: serde_json::Map<String, Value> = sum
                .phases
                .iter()
                .map(|(n, v)| (format!("{n}_median_us"), json!(v)))
                .collect();
            let mut entry = json!({
                "iterations": rt.samples[s].len(),
                "wall_median_us": sum.wall_med,
                "wall_p90_us": sum.wall_p90,
                "cpu_runtime_median_us": sum.cpu_rt,
                "cpu_init_and_orphans_median_us": sum.cpu_init,
                "cpu_total_median_us": sum.cpu_total,
                "maxrss_median_kib": sum.rss,
                "phases": phases,
                "wall_us": rt.samples[s].iter().map(|x| x.wall).collect::<Vec<_>>(),
            });
            if scenario == Scenario::RunSeccomp {
                entry["limits_applied"] = json!(rt.mode.has_cgroups());
                entry["overhead_over_run"] = match row.sum(Scenario::Run) {
                    Some(run) => json!({
                        "wall_median_delta_us": sum.wall_med as i64 - run.wall_med as i64,
                        "wall_median_ratio": ratio(sum.wall_med, run.wall_med),
                        "cpu_total_median_delta_us": sum.cpu_total as i64 - run.cpu_total as i64,
                        "cpu_total_median_ratio": ratio(sum.cpu_total, run.cpu_total),
                    }),
                    None => Value::Null,
                };
            }
            scen.insert(scenario.key().to_string(), entry);
        }
        json_rows.push(json!({
            "runtime": rt.name,
            "binary": rt.bin,
            "version": rt.version,
            "mode": rt.mode.label(),
            "cgroup_hierarchies_after_create": cgroups_seen.get(&rt.row_name()),
            "scenarios": scen,
            "throughput": throughput_json(row),
        }));
    }
    json_rows
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b.max(1) as f64
}

fn signed_ms(delta: i64) -> String {
    format!("{:+.2}", delta as f64 / 1000.0)
}

fn phase_table(out: &mut String, rows: &[Row]) {
    let _ = writeln!(out, "\nphase medians (create+start+wait+delete), ms:");
    for row in rows {
        if let Some(sum) = row.sum(Scenario::Lifecycle) {
            let parts: Vec<String> = sum
                .phases
                .iter()
                .map(|(n, v)| format!("{n} {}", ms(*v)))
                .collect();
            let _ = writeln!(out, "  {:<20} {}", row.rt.row_name(), parts.join("  "));
        }
    }
}

fn seccomp_overhead(out: &mut String, rows: &[Row]) {
    let _ = writeln!(
        out,
        "\nseccomp+limits overhead over the bare `run` of the same row (medians; limits = memory \
         {} MiB, pids {PIDS_LIMIT}, cpu shares {CPU_SHARES} quota {CPU_QUOTA}/{CPU_PERIOD}, \
         modes with cgroups only):",
        MEMORY_LIMIT >> 20
    );
    for row in rows {
        let what = match row.rt.mode {
            Mode::Cgroups | Mode::Systemd => "seccomp+limits",
            Mode::NoCgroups => "seccomp only (no cgroups: no limits)",
        };
        let (Some(run), Some(sec)) = (row.sum(Scenario::Run), row.sum(Scenario::RunSeccomp)) else {
            let _ = writeln!(out, "  {:<20} n/a (a side failed)", row.rt.row_name());
            continue;
        };
        let _ = writeln!(
            out,
            "  {:<20} wall {} ms ({:.2}x)  CPU {} ms ({:.2}x)  [{what}]",
            row.rt.row_name(),
            signed_ms(sec.wall_med as i64 - run.wall_med as i64),
            ratio(sec.wall_med, run.wall_med),
            signed_ms(sec.cpu_total as i64 - run.cpu_total as i64),
            ratio(sec.cpu_total, run.cpu_total),
        );
    }
}

fn throughput_table(out: &mut String, rows: &[Row], cfg: &Config) {
    let _ = writeln!(
        out,
        "\nthroughput, once per row ({} serial, {} parallel `run`s): total = first spawn to last \
         reap; per ctr = total / containers;\nx run = per ctr / single `run` median; cmd = wall of \
         each command; growth = median of the last tenth / first tenth (serial); left = state \
         entries + cgroup dirs remaining",
        cfg.serial, cfg.parallel
    );
    let _ = writeln!(
        out,
        "{:<20} {:<9} {:>9} {:>8} {:>8} {:>8} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5}",
        "runtime (mode)",
        "batch",
        "ok/n",
        "total s",
        "ctr/s",
        "per ctr",
        "x run",
        "cmd p50",
        "cmd p90",
        "growth",
        "CPU/ctr",
        "RSS KiB",
        "left"
    );
    for row in rows {
        let t = match &row.rt.throughput {
            None => continue,
            Some(Err(e)) => {
                let _ = writeln!(out, "{:<20} FAILED: {e}", row.rt.row_name());
                continue;
            }
            Some(Ok(t)) => t,
        };
        let left = t.left();
        for (name, b) in t.batches() {
            let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(
                out,
                "{:<20} {:<9} {:>9} {:>8.2} {:>8.1} {:>8} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5}",
                row.rt.row_name(),
                name,
                format!("{}/{}", b.ok, b.count),
                b.total as f64 / 1e6,
                b.per_second(),
                ms(b.per_container()),
                opt(row.vs_run(b)),
                ms(b.wall_p50()),
                ms(b.wall_p90()),
                opt(if name == "serial" { b.growth() } else { None }),
                ms(b.cpu / b.ok.max(1) as u64),
                b.maxrss_kib,
                left
            );
            if let Some(e) = &b.first_error {
                let _ = writeln!(out, "    {} failed, first: {e}", b.failures);
            }
        }
        if left > 0 {
            let mut all = t.leftover.state.clone();
            all.extend(t.leftover.cgroup_dirs.iter().cloned());
            let _ = writeln!(out, "    left behind: {}", all.join(" "));
        }
    }
}

fn batch_json(row: &Row, b: &Batch, serial: bool) -> Value {
    json!({
        "count": b.count,
        "ok": b.ok,
        "failures": b.failures,
        "first_error": b.first_error,
        "total_wall_us": b.total,
        "containers_per_second": b.per_second(),
        "per_container_us": b.per_container(),
        "per_container_over_run_median": row.vs_run(b),
        "command_wall_median_us": b.wall_p50(),
        "command_wall_p90_us": b.wall_p90(),
        "last_tenth_over_first_tenth": if serial { b.growth() } else { None },
        "cpu_total_us": b.cpu,
        "cpu_per_container_us": b.cpu / b.ok.max(1) as u64,
        "maxrss_max_kib": b.maxrss_kib,
        "wall_us": b.walls,
    })
}

fn throughput_json(row: &Row) -> Value {
    match &row.rt.throughput {
        None => Value::Null,
        Some(Err(e)) => json!({ "error": e }),
        Some(Ok(t)) => json!({
            "serial": batch_json(row, &t.serial, true),
            "parallel": batch_json(row, &t.parallel, false),
            "leftover": {
                "count": t.left(),
                "state_entries": t.leftover.state,
                "cgroup_dirs": t.leftover.cgroup_dirs,
            },
        }),
    }
}

fn ratio_table(out: &mut String, rows: &[Row]) -> Vec<Value> {
    let mut ratios = Vec::new();
    let _ = writeln!(
        out,
        "\noxirun / peer (median wall, median total CPU; throughput: per-container cost; \
         < 1 = oxirun cheaper):"
    );
    let Some(first) = rows.iter().position(|r| r.rt.name == "oxirun") else {
        let _ = writeln!(out, "  oxirun not measured");
        return ratios;
    };
    for row in rows.iter().filter(|r| !r.rt.name.starts_with("oxirun")) {
        let rt = row.rt;
        // Compare with oxirun in the peer's own cgroup mode when it was measured so.
        let ox = rows
            .iter()
            .find(|x| x.rt.name == "oxirun" && x.rt.mode == rt.mode)
            .unwrap_or(&rows[first]);
        let note = if rt.mode != ox.rt.mode {
            format!(
                " [modes differ: oxirun {}, {} {}]",
                ox.rt.mode.label(),
                rt.name,
                rt.mode.label()
            )
        } else {
            String::new()
        };
        for scenario in SCENARIOS {
            let (Some(a), Some(b)) = (ox.sum(scenario), row.sum(scenario)) else {
                let _ = writeln!(
                    out,
                    "  vs {:<18} {:<25} n/a (a side failed)",
                    rt.row_name(),
                    scenario.label(rt.mode)
                );
                continue;
            };
            let wall = ratio(a.wall_med, b.wall_med);
            let cpu = ratio(a.cpu_total, b.cpu_total);
            let _ = writeln!(
                out,
                "  vs {:<18} {:<25} wall {:.2}x  CPU {:.2}x{note}",
                rt.row_name(),
                scenario.label(rt.mode),
                wall,
                cpu
            );
            ratios.push(json!({
                "peer": rt.name, "peer_mode": rt.mode.label(),
                "oxirun_mode": ox.rt.mode.label(), "scenario": scenario.key(),
                "wall_median_ratio": wall, "cpu_total_median_ratio": cpu,
            }));
        }
        let (Some(a), Some(b)) = (ox.throughput(), row.throughput()) else {
            continue;
        };
        for (name, x, y) in [
            ("throughput serial", &a.serial, &b.serial),
            ("throughput parallel", &a.parallel, &b.parallel),
        ] {
            if x.ok == 0 || y.ok == 0 {
                continue;
            }
            let per = ratio(x.per_container(), y.per_container());
            let cpu = ratio(x.cpu / x.ok as u64, y.cpu / y.ok as u64);
            let _ = writeln!(
                out,
                "  vs {:<18} {:<25} per ctr {per:.2}x  CPU/ctr {cpu:.2}x{note}",
                rt.row_name(),
                name,
            );
            ratios.push(json!({
                "peer": rt.name, "peer_mode": rt.mode.label(),
                "oxirun_mode": ox.rt.mode.label(), "scenario": name,
                "per_container_ratio": per, "cpu_per_container_ratio": cpu,
            }));
        }
    }
    ratios
}

/// What oxirun's CVE-2019-5736 re-exec costs: `oxirun (no cgroups)` minus the same binary run
/// from a read-only mount (`oxirun-roexe`, which skips the re-exec), per scenario; and where
/// that row stands against each peer measured without cgroups.
fn reexec_cost(out: &mut String, rows: &[Row]) -> Value {
    let mode = Mode::NoCgroups;
    let find = |name: &str| rows.iter().find(|r| r.rt.name == name && r.rt.mode == mode);
    let (Some(ox), Some(ro)) = (find("oxirun"), find(crate::runtime::RO_EXE)) else {
        return Value::Null;
    };
    let _ = writeln!(
        out,
        "
CVE-2019-5736 re-exec cost: oxirun (no cgroups) minus the same binary from a read-only \
         mount ({}, no re-exec), medians:",
        crate::runtime::RO_EXE
    );
    let mut per = serde_json::Map::new();
    for scenario in SCENARIOS {
        let (Some(a), Some(b)) = (ox.sum(scenario), ro.sum(scenario)) else {
            continue;
        };
        let (mut line, delta) = difference(scenario, mode, a, b);
        for peer in rows
            .iter()
            .filter(|r| !r.rt.name.starts_with("oxirun") && r.rt.mode == mode)
        {
            if let Some(p) = peer.sum(scenario) {
                line.push_str(&format!(
                    "  | {} vs {}: wall {:.2}x CPU {:.2}x",
                    crate::runtime::RO_EXE,
                    peer.rt.name,
                    ratio(b.wall_med, p.wall_med),
                    ratio(b.cpu_total, p.cpu_total)
                ));
            }
        }
        let _ = writeln!(out, "{line}");
        per.insert(scenario.key().to_string(), delta);
    }
    Value::Object(per)
}

/// `a` minus `b` for one scenario: the report line (wall, CPU, peak RSS) and its JSON.
fn difference(scenario: Scenario, mode: Mode, a: &Summary, b: &Summary) -> (String, Value) {
    let wall = a.wall_med as i64 - b.wall_med as i64;
    let cpu = a.cpu_total as i64 - b.cpu_total as i64;
    let rss = a.rss as i64 - b.rss as i64;
    let line = format!(
        "  {:<25} wall {} ms ({:.2}x)  CPU {} ms ({:.2}x)  RSS {rss:+} KiB",
        scenario.label(mode),
        signed_ms(wall),
        ratio(a.wall_med, b.wall_med),
        signed_ms(cpu),
        ratio(a.cpu_total, b.cpu_total),
    );
    let json = json!({
        "wall_us": wall, "cpu_us": cpu, "rss_kib": rss,
        "wall_ratio": ratio(a.wall_med, b.wall_med), "cpu_ratio": ratio(a.cpu_total, b.cpu_total),
    });
    (line, json)
}

/// What the systemd driver costs over the cgroupfs one, per runtime measured both ways:
/// `<rt> (systemd)` minus `<rt> (cgroups)`, medians (the D-Bus round trips to systemd, the
/// transient unit's job, and for oxirun its own D-Bus client).
fn systemd_cost(out: &mut String, rows: &[Row]) -> Value {
    let mut all = serde_json::Map::new();
    for sd in rows.iter().filter(|r| r.rt.mode == Mode::Systemd) {
        let Some(fs) = rows
            .iter()
            .find(|r| r.rt.name == sd.rt.name && r.rt.mode == Mode::Cgroups)
        else {
            continue;
        };
        let _ = writeln!(
            out,
            "
systemd driver cost: {} minus {} (medians):",
            sd.rt.row_name(),
            fs.rt.row_name()
        );
        let mut per = serde_json::Map::new();
        for scenario in SCENARIOS {
            let (Some(a), Some(b)) = (sd.sum(scenario), fs.sum(scenario)) else {
                let _ = writeln!(out, "  {:<25} n/a (a side failed)", scenario.key());
                continue;
            };
            let (line, delta) = difference(scenario, Mode::Systemd, a, b);
            let _ = writeln!(out, "{line}");
            per.insert(scenario.key().to_string(), delta);
        }
        all.insert(sd.rt.name.clone(), Value::Object(per));
    }
    Value::Object(all)
}

fn notes(out: &mut String, rows: &[Row], cgroups_seen: &BTreeMap<String, Vec<String>>) {
    let _ = writeln!(
        out,
        "\ncgroup of the container right after `create` (first warm-up):"
    );
    for row in rows {
        let seen = match cgroups_seen.get(&row.rt.row_name()) {
            None => "not checked (create failed)".to_string(),
            Some(v) if v.is_empty() => "none".to_string(),
            Some(v) => v.join(" "),
        };
        let _ = writeln!(out, "  {:<20} {seen}", row.rt.row_name());
    }
    let layout = if crate::cgroups::hybrid_cgroups() {
        "this hybrid v1+v2 host"
    } else {
        "this host"
    };
    let slice = crate::cgroups::SLICE;
    let _ = writeln!(
        out,
        "\nmodes: cgroups = linux.cgroupsPath /{CGROUP_PARENT}/<runtime>-<n>, the runtime's \
         default cgroupfs manager on {layout};\n       no cgroups = \
         --cgroup-manager=disabled (crun, oxirun), no cgroupsPath; systemd = --systemd-cgroup, \
         cgroupsPath {slice}:oxb:<runtime>-<n>\n       (measured only where systemd is PID 1); \
         on a hybrid host crun is spawned from a private mount namespace\n       without \
         /sys/fs/cgroup/unified (crun 1.8 refuses hybrid hosts even with cgroups disabled).\n\
         exec = `exec ID /bin/true` into a long-running /bin/sleep container (started untimed); \
         run+seccomp+limits = Docker default\nseccomp profile plus limits, seccomp only in the no \
         cgroups mode.\n\
         CPU rt = user+sys of the runtime commands (create+start+delete, run, or exec) incl. \
         children they reaped;\nCPU init = the container init (runtime setup inside it before \
         execve, plus /bin/true) and orphans reparented to the bench.\nRSS = ru_maxrss of the \
         create (or run, or exec) command, floored at the bench's own RSS (the kernel folds the \
         parent's\nhigh-water mark in at execve): see the peak RSS section for the runtimes' own."
    );
}

/// (row name, result) of each runtime row whose once-per-row phase `phase` succeeded.
fn phase_rows<'a, T>(
    runtimes: &'a [Runtime],
    phase: impl Fn(&'a Runtime) -> &'a Option<Result<T, String>>,
) -> Vec<(String, &'a T)> {
    runtimes
        .iter()
        .filter_map(|rt| Some((rt.row_name(), phase(rt).as_ref()?.as_ref().ok()?)))
        .collect()
}
