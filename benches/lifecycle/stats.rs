//! Samples and their summaries (medians, nearest-rank percentiles).

/// One measured iteration of one scenario. Times in microseconds.
#[derive(Default, Clone)]
pub struct Sample {
    pub wall: u64,
    /// (phase name, wall) for the lifecycle scenario.
    pub phases: Vec<(&'static str, u64)>,
    pub cpu_rt: u64,
    pub cpu_init: u64,
    pub maxrss_kib: u64,
}

pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    }
}

pub struct Summary {
    pub wall_med: u64,
    pub wall_p90: u64,
    pub cpu_rt: u64,
    pub cpu_init: u64,
    pub cpu_total: u64,
    pub rss: u64,
    pub phases: Vec<(&'static str, u64)>,
}

pub fn summarize(samples: &[Sample]) -> Summary {
    let mut walls: Vec<u64> = samples.iter().map(|s| s.wall).collect();
    walls.sort_unstable();
    let phase_names: Vec<&'static str> = samples
        .first()
        .map(|s| s.phases.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    Summary {
        wall_med: median(walls.iter().copied()),
        wall_p90: percentile(&walls, 90.0),
        cpu_rt: median(samples.iter().map(|s| s.cpu_rt)),
        cpu_init: median(samples.iter().map(|s| s.cpu_init)),
        cpu_total: median(samples.iter().map(|s| s.cpu_rt + s.cpu_init)),
        rss: median(samples.iter().map(|s| s.maxrss_kib)),
        phases: phase_names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, median(samples.iter().map(|s| s.phases[i].1))))
            .collect(),
    }
}

pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// Median of the last tenth of `walls` over that of the first tenth (in order): whether a
/// command costs more as more have run. `None` with fewer than two tenths.
pub fn tenth_growth(walls: &[u64]) -> Option<f64> {
    let tenth = (walls.len() / 10).max(1);
    if walls.len() < 2 * tenth {
        return None;
    }
    let first = median(walls[..tenth].iter().copied());
    let last = median(walls[walls.len() - tenth..].iter().copied());
    Some(last as f64 / first.max(1) as f64)
}
