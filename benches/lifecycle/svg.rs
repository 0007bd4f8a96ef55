//! A hand-written SVG grouped bar chart: per scenario (and per-container throughput cost), one
//! bar per runtime row, its median wall time in ms printed on top; legend below.

use std::fmt::Write as _;

use crate::report::{Host, Row};
use crate::scenarios::SCENARIOS;
use crate::Config;

const COLORS: [&str; 8] = [
    "#d9480f", "#f59f00", "#1c7ed6", "#37b24d", "#7048e8", "#e64980", "#0c8599", "#868e96",
];
const BAR_W: f64 = 30.0;
const BAR_GAP: f64 = 4.0;
const MIN_SLOT: f64 = 170.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 76.0;
const PLOT_H: f64 = 320.0;

pub fn chart(rows: &[Row], cfg: &Config, host: &Host) -> String {
    // (group label, value in ms per row)
    let mut groups: Vec<(String, Vec<Option<f64>>)> = SCENARIOS
        .iter()
        .map(|&s| {
            let values = rows
                .iter()
                .map(|r| r.sum(s).map(|x| x.wall_med as f64 / 1000.0))
                .collect();
            (s.key().to_string(), values)
        })
        .collect();
    for (parallel, count) in [(false, cfg.serial), (true, cfg.parallel)] {
        if count == 0 {
            continue;
        }
        let values = rows
            .iter()
            .map(|r| {
                let t = r.throughput()?;
                let b = if parallel { &t.parallel } else { &t.serial };
                (b.ok > 0).then(|| b.per_container() as f64 / 1000.0)
            })
            .collect();
        let kind = if parallel { "parallel" } else { "serial" };
        groups.push((format!("{kind} {count}: per container"), values));
    }

    let n = rows.len().max(1) as f64;
    let bars_w = n * (BAR_W + BAR_GAP) - BAR_GAP;
    let slot = (bars_w + 36.0).max(MIN_SLOT);
    let width = LEFT + slot * groups.len() as f64 + RIGHT;
    let legend_y = TOP + PLOT_H + 44.0;
    // Legend entries flow left to right, wrapping at the chart width.
    let mut legend = Vec::new();
    let (mut x, mut y) = (LEFT, legend_y);
    for (i, row) in rows.iter().enumerate() {
        let name = row.rt.row_name();
        let w = 26.0 + 7.0 * name.len() as f64 + 18.0;
        if x + w > width - RIGHT && x > LEFT {
            x = LEFT;
            y += 20.0;
        }
        legend.push((x, y, COLORS[i % COLORS.len()], name));
        x += w;
    }
    let height = y + 30.0;

    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let y_max = nice_ceil(max * 1.08);
    let scale = |v: f64| TOP + PLOT_H - v / y_max * PLOT_H;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"##
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="16" font-weight="bold">oxirun lifecycle bench: median wall time per scenario (ms, lower is better)</text>
<text x="{LEFT}" y="44" font-size="11" fill="#444">busybox bundle, {} iterations after {} warm-ups, kernel {}, {} CPUs. Throughput groups: total wall / containers.</text>
<text x="{LEFT}" y="60" font-size="11" fill="#444">run+seccomp+limits: Docker default seccomp + memory/pids/cpu limits; no cgroups rows: seccomp only.</text>"##,
        cfg.iters,
        cfg.warmups,
        esc(&host.kernel),
        host.cpus
    );
    // Grid and y axis.
    for i in 0..=5 {
        let v = y_max * i as f64 / 5.0;
        let yy = scale(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{}" stroke-width="1"/>
        <text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#444">{}</text>"##,
            width - RIGHT,
            if i == 0 { "#333" } else { "#e5e5e5" },
            LEFT - 6.0,
            yy + 3.5,
            tick(v)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="16" y="{:.1}" font-size="11" fill="#444" transform="rotate(-90 16 {:.1})" text-anchor="middle">ms</text>"##,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0
    );
    // Bars.
    for (g, (label, values)) in groups.iter().enumerate() {
        let x0 = LEFT + slot * g as f64 + (slot - bars_w) / 2.0;
        for (i, v) in values.iter().enumerate() {
            let x = x0 + i as f64 * (BAR_W + BAR_GAP);
            let cx = x + BAR_W / 2.0;
            let color = COLORS[i % COLORS.len()];
            match v {
                Some(v) => {
                    let top = scale(*v);
                    let _ = writeln!(
                        s,
                        r##"<rect x="{x:.1}" y="{top:.1}" width="{BAR_W}" height="{:.1}" fill="{color}"><title>{}: {} ms</title></rect>
                    <text x="{cx:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#222">{}</text>"##,
                        TOP + PLOT_H - top,
                        esc(&format!("{} {label}", rows[i].rt.row_name())),
                        value(*v),
                        top - 3.0,
                        value(*v)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{cx:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="#999">n/a</text>"##,
                        TOP + PLOT_H - 4.0
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            LEFT + slot * (g as f64 + 0.5),
            TOP + PLOT_H + 18.0,
            esc(label)
        );
    }
    // Legend.
    for (x, y, color, name) in legend {
        let _ = writeln!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="14" height="14" fill="{color}"/>
<text x="{:.1}" y="{y:.1}" font-size="12">{}</text>"##,
            y - 11.0,
            x + 20.0,
            esc(&name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The smallest 1, 2, 2.5 or 5 times a power of ten that is >= `v` (1 for nothing to show).
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn tick(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
