//! The `events` loop: stats every interval and an `oom` event whenever the kernel's OOM
//! killer fires in the container's memory cgroup, until the container stops (or its cgroup
//! disappears). One compact JSON object per line, flushed as it happens.
//!
//! OOM detection polls the kernel's counter (v1 `memory.oom_control` `oom_kill`, v2
//! `memory.events` `oom_kill`) every [`TICK`]: cheap, needs no thread, and cannot miss a kill
//! the way a level-triggered `under_oom` can. A kill that stops the container is still
//! reported: the counter is read once more before returning.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::json;

use super::{stats, Cgroup};

/// How often the OOM counter and the container's liveness are checked.
pub const TICK: Duration = Duration::from_millis(100);

/// One event line, keys in runc's order: `{"type":..,"id":..[,"data":..]}`.
pub fn event_line(kind: &str, id: &str, data: Option<&serde_json::Value>) -> String {
    let mut s = format!(r#"{{"type":{},"id":{}"#, json!(kind), json!(id));
    if let Some(d) = data {
        s.push_str(r#","data":"#);
        s.push_str(&d.to_string());
    }
    s.push('}');
    s
}

/// `{"type":"stats","id":..,"data":{..}}`.
pub fn stats_event(id: &str, cg: &Cgroup) -> String {
    event_line("stats", id, Some(&stats::stats(cg)))
}

/// Run the loop; `running()` says whether the container is still up.
pub fn watch(
    id: &str,
    cg: &Cgroup,
    interval: Duration,
    out: &mut dyn Write,
    running: &mut dyn FnMut() -> bool,
) -> Result<()> {
    let interval = interval.max(Duration::from_millis(10));
    let mut last_oom = stats::oom_count(cg).unwrap_or(0);
    let mut next_stats = Instant::now() + interval;
    let emit = |out: &mut dyn Write, v: String| -> Result<()> {
        writeln!(out, "{v}")
            .and_then(|_| out.flush())
            .map_err(|e| anyhow!("write event: {e}"))
    };
    loop {
        let alive = running() && cg.dirs.iter().any(|(_, d)| d.exists());
        if let Some(n) = stats::oom_count(cg) {
            if n > last_oom {
                emit(out, event_line("oom", id, None))?;
            }
            last_oom = last_oom.max(n);
        }
        if !alive {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_stats {
            emit(out, stats_event(id, cg))?;
            next_stats = now + interval;
        }
        std::thread::sleep(
            TICK.min(next_stats.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
        );
    }
}

/// Go's duration syntax as runc's `--interval` takes it: "5s", "500ms", "1m30s", "1h",
/// "250us", "1.5s"; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return Err(anyhow!("invalid duration \"\""));
    }
    if let Ok(n) = s.parse::<f64>() {
        if n >= 0.0 && n.is_finite() {
            return Ok(Duration::from_secs_f64(n));
        }
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| anyhow!("invalid duration {s:?}: missing unit"))?;
        if n_len == 0 {
            return Err(anyhow!("invalid duration {s:?}"));
        }
        let n: f64 = rest[..n_len]
            .parse()
            .map_err(|_| anyhow!("invalid duration {s:?}"))?;
        rest = &rest[n_len..];
        let u_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(anyhow!("invalid duration {s:?}: unknown unit {u:?}")),
        };
        total += n * mult;
        rest = &rest[u_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn event_lines_keep_runcs_key_order() {
        assert_eq!(event_line("oom", "c1", None), r#"{"type":"oom","id":"c1"}"#);
        assert_eq!(
            event_line("stats", "c\"1", Some(&json!({"pids": {}}))),
            r#"{"type":"stats","id":"c\"1","data":{"pids":{}}}"#
        );
    }

    #[test]
    fn watch_stops_with_the_container() {
        let cg = Cgroup::default();
        let mut out = Vec::new();
        let mut n = 0;
        watch("c1", &cg, Duration::from_millis(10), &mut out, &mut || {
            n += 1;
            n < 3
        })
        .unwrap();
        // No cgroup dirs at all: it stops at once.
        assert!(String::from_utf8(out).unwrap().is_empty());
    }
}
