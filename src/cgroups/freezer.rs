//! Freezing and thawing a container's cgroup: the v1 `freezer` hierarchy (`freezer.state`)
//! when it is mounted, otherwise the v2 core freezer (`cgroup.freeze` + `cgroup.events`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::files;

/// How long a freeze or thaw may take to settle before it is reported as failed.
const SETTLE: Duration = Duration::from_secs(2);

enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn pick(dirs: &[(String, PathBuf)]) -> Option<Freezer<'_>> {
    if let Some((_, d)) = dirs
        .iter()
        .find(|(n, _)| n.split(',').any(|c| c == "freezer"))
    {
        return Some(Freezer::V1(d));
    }
    dirs.iter()
        .find(|(n, _)| n.is_empty())
        .map(|(_, d)| Freezer::V2(d))
}

fn none(dirs: &[(String, PathBuf)]) -> anyhow::Error {
    let where_ = dirs
        .first()
        .map(|(_, d)| d.display().to_string())
        .unwrap_or_default();
    anyhow!("cgroup {where_}: no freezer (neither a v1 freezer hierarchy nor cgroup v2)")
}

/// The directory whose freezer holds the cgroup (the v1 freezer's, else the v2 one).
pub fn dir(dirs: &[(String, PathBuf)]) -> Option<&Path> {
    match pick(dirs)? {
        Freezer::V1(d) | Freezer::V2(d) => Some(d),
    }
}

/// Freeze every process of the cgroup and wait until the kernel reports it frozen.
pub fn freeze(dirs: &[(String, PathBuf)]) -> Result<()> {
    match pick(dirs).ok_or_else(|| none(dirs))? {
        Freezer::V1(d) => freeze_v1(d),
        Freezer::V2(d) => {
            files::write(d, "cgroup.freeze", "1")?;
            if let Err(e) = wait_v2(d, true) {
                let _ = files::write(d, "cgroup.freeze", "0");
                return Err(e);
            }
            Ok(())
        }
    }
}

/// Thaw the cgroup and wait until it runs again.
pub fn thaw(dirs: &[(String, PathBuf)]) -> Result<()> {
    match pick(dirs).ok_or_else(|| none(dirs))? {
        Freezer::V1(d) => {
            files::write(d, "freezer.state", "THAWED")?;
            let deadline = Instant::now() + SETTLE;
            loop {
                let state = files::read(d, "freezer.state")?;
                if state == "THAWED" {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(anyhow!(
                        "cgroup {}: freezer.state: still {state} after thaw",
                        d.display()
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Freezer::V2(d) => {
            files::write(d, "cgroup.freeze", "0")?;
            wait_v2(d, false)
        }
    }
}

/// Whether the cgroup is frozen (false when there is no freezer at all).
pub fn is_frozen(dirs: &[(String, PathBuf)]) -> Result<bool> {
    match pick(dirs) {
        None => Ok(false),
        Some(Freezer::V1(d)) => Ok(files::read(d, "freezer.state")? == "FROZEN"),
        Some(Freezer::V2(d)) => {
            if files::read(d, "cgroup.freeze")? != "1" {
                return Ok(false);
            }
            Ok(frozen_event(d)?)
        }
    }
}

/// Whether the cgroup is frozen or freezing, by its own setting or an ancestor's (a new
/// cgroup below a frozen parent freezes whatever enters it). A missing directory or freezer
/// is not frozen.
pub fn frozen_by_anyone(dirs: &[(String, PathBuf)]) -> bool {
    match pick(dirs) {
        None => false,
        Some(Freezer::V1(d)) => files::read(d, "freezer.state").is_ok_and(|s| s != "THAWED"),
        Some(Freezer::V2(d)) => {
            files::read(d, "cgroup.freeze").is_ok_and(|s| s == "1")
                || frozen_event(d).unwrap_or(false)
        }
    }
}

/// runc's loop: write FROZEN until the state reads FROZEN; an occasional thaw gets a task
/// stuck in FREEZING (e.g. in a vfork) going; give up after [`SETTLE`] and thaw.
fn freeze_v1(d: &Path) -> Result<()> {
    let deadline = Instant::now() + SETTLE;
    let mut round = 0u32;
    loop {
        round += 1;
        if round % 50 == 0 {
            files::write(d, "freezer.state", "THAWED")?;
            std::thread::sleep(Duration::from_millis(10));
        }
        files::write(d, "freezer.state", "FROZEN")?;
        match files::read(d, "freezer.state")?.as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => {}
            other => {
                return Err(anyhow!(
                    "cgroup {}: freezer.state: unexpected {other:?} while freezing",
                    d.display()
                ))
            }
        }
        if Instant::now() >= deadline {
            let _ = files::write(d, "freezer.state", "THAWED");
            return Err(anyhow!(
                "cgroup {}: freezer.state: stuck in FREEZING, thawed again",
                d.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Poll `cgroup.events` until its `frozen` key is `want`.
fn wait_v2(d: &Path, want: bool) -> Result<()> {
    let deadline = Instant::now() + SETTLE;
    loop {
        if frozen_event(d)? == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let what = if want { "frozen" } else { "thawed" };
            return Err(anyhow!(
                "cgroup {}: cgroup.events: not {what} after {SETTLE:?}",
                d.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn frozen_event(d: &Path) -> Result<bool> {
    let events = files::read(d, "cgroup.events")?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}
