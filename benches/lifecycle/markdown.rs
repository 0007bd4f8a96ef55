//! The compact markdown tables (for the README): per-scenario medians, then throughput.

use std::fmt::Write as _;

use crate::bundle::{CPU_PERIOD, CPU_QUOTA, CPU_SHARES, MEMORY_LIMIT, PIDS_LIMIT};
use crate::report::{Host, Row};
use crate::scenarios::SCENARIOS;
use crate::stats::ms;
use crate::Config;

pub fn table(rows: &[Row], cfg: &Config, host: &Host) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Lifecycle bench (`cargo bench --bench lifecycle`): busybox bundle, {} iterations after \
         {} warm-ups, kernel {}, {} CPUs; medians in ms unless p90.\n",
        cfg.iters, cfg.warmups, host.kernel, host.cpus
    );
    md.push_str("| runtime (mode) | scenario | wall | wall p90 | CPU total | peak RSS KiB |\n");
    md.push_str("|---|---|---:|---:|---:|---:|\n");
    for row in rows {
        for scenario in SCENARIOS {
            let label = scenario.label(row.rt.mode);
            match row.sum(scenario) {
                Some(s) => {
                    let _ = writeln!(
                        md,
                        "| {} | {label} | {} | {} | {} | {} |",
                        row.rt.row_name(),
                        ms(s.wall_med),
                        ms(s.wall_p90),
                        ms(s.cpu_total),
                        s.rss
                    );
                }
                None => {
                    let _ = writeln!(md, "| {} | {label} | failed | | | |", row.rt.row_name());
                }
            }
        }
    }

    md.push_str(
        "\n| runtime (mode) | throughput | total | containers/s | per container | vs single run \
         | left over |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let t = match &row.rt.throughput {
            None => continue,
            Some(Err(_)) => {
                let _ = writeln!(md, "| {} | failed | | | | | |", row.rt.row_name());
                continue;
            }
            Some(Ok(t)) => t,
        };
        let left = t.left();
        for (name, b) in t.batches() {
            let ok = if b.ok == b.count {
                String::new()
            } else {
                format!(" ({} ok)", b.ok)
            };
            let _ = writeln!(
                md,
                "| {} | {name} {}{ok} | {:.2} s | {:.1} | {} ms | {} | {left} |",
                row.rt.row_name(),
                b.count,
                b.total as f64 / 1e6,
                b.per_second(),
                ms(b.per_container()),
                row.vs_run(b)
                    .map_or("-".to_string(), |r| format!("{r:.2}x")),
            );
        }
    }
    let _ = writeln!(
        md,
        "\nexec = `exec ID /bin/true` into a running container; run+seccomp+limits = Docker \
         default seccomp profile, memory {} MiB, pids {PIDS_LIMIT}, cpu shares {CPU_SHARES}, \
         quota {CPU_QUOTA}/{CPU_PERIOD} (no cgroups: seccomp only). Throughput: per container = \
         total wall / containers; vs single run = that over the `run` median; left over = state \
         entries + cgroup dirs remaining after the batches.",
        MEMORY_LIMIT >> 20
    );
    md
}
