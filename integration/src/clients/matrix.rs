//! The one way every client test says "this scenario, with runc first, then with oxirun, same
//! checks": a table of named scenario functions over the client's environment `E`, run by
//! [`matrix`] with Debian's runc and then oxirun.
//!
//! A scenario is a plain `fn(&E, &Rt) -> Res`: it drives the client with the runtime `rt`
//! and returns `Err(what was expected, what came)` at the first check that fails. Both
//! runtimes must pass. A scenario that runc fails is a failure of the test too (an
//! environment or test problem, told apart from an oxirun bug in the report): where runc
//! cannot do something on this host, the scenario asserts that failure, for both, and says
//! why in its doc.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{run_cmd_timeout, Out};

/// Debian's runc, the reference runtime.
pub const RUNC: &str = "/usr/sbin/runc";

/// A runtime the scenarios are run with.
#[derive(Debug, Clone)]
pub struct Rt {
    /// `runc` or `oxirun` (also the name the engines register it under).
    pub name: &'static str,
    /// Absolute path of the binary.
    pub path: PathBuf,
}

impl Rt {
    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

/// The two runtimes, runc first.
pub fn runtimes() -> [Rt; 2] {
    let ox = crate::binary::oxirun_bin();
    let ox = fs::canonicalize(ox).unwrap_or_else(|_| ox.to_path_buf());
    [
        Rt {
            name: "runc",
            path: PathBuf::from(RUNC),
        },
        Rt {
            name: "oxirun",
            path: ox,
        },
    ]
}

/// Result of one scenario: Ok, or what went wrong (command, expected, got).
pub type Res = Result<(), String>;

/// A named scenario over a client environment `E`, run once per runtime.
pub type Scenario<'a, E> = (&'a str, fn(&E, &Rt) -> Res);

/// Checks `cond`, else `Err(msg)`.
pub fn check(cond: bool, msg: impl FnOnce() -> String) -> Res {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Checks a command's exit code, with the whole output in the error.
pub fn expect_code(out: &Out, code: i32, what: &str) -> Res {
    check(out.code == code, || {
        format!("`{what}`: expected exit {code}, got {out:#?}")
    })
}

/// Polls `f` (every 10 ms) until it holds or `timeout` passes; `Err(msg())` then.
pub fn wait_for(
    timeout: Duration,
    mut f: impl FnMut() -> bool,
    msg: impl FnOnce() -> String,
) -> Res {
    let seen = crate::util::poll(timeout, || f().then_some(()));
    check(seen.is_some(), msg)
}

/// Runs `cmd` with a timeout, output captured through files in `dir`. A timeout is reported as
/// exit code -1000 (the client is killed: it is our child) rather than a panic, so the matrix
/// can go on and clean up.
pub fn run(cmd: &mut Command, dir: &Path, timeout: Duration) -> Out {
    let what = format!("{cmd:?}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_cmd_timeout(cmd, dir, "client", timeout)
    }));
    r.unwrap_or_else(|_| Out {
        code: -1000,
        stdout: String::new(),
        stderr: format!("timed out after {timeout:?}: {what}"),
    })
}

/// Runs `f` when dropped: a scenario's cleanup (`let _rm = defer(|| e.rm(rt, &name));`)
/// happens however the scenario ends, `?` and panics included.
pub struct Defer<F: FnOnce()>(Option<F>);

pub fn defer<F: FnOnce()>(f: F) -> Defer<F> {
    Defer(Some(f))
}

impl<F: FnOnce()> Drop for Defer<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    l.chars().take(160).collect()
}

/// Runs every scenario with runc, then with oxirun, within `budget`; prints a table with both
/// times, and panics listing every scenario that failed (oxirun failures first, then those
/// runc fails too, then those the budget left unrun). While working on one scenario,
/// `OXIRUN_IT_ONLY=<part of its name>` runs only the matching ones (the table says so).
pub fn matrix<E>(client: &str, env: &E, scenarios: &[Scenario<E>], budget: Duration) {
    let only = std::env::var("OXIRUN_IT_ONLY").ok();
    let picked: Vec<&Scenario<E>> = scenarios
        .iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| name.contains(o)))
        .collect();
    if let Some(o) = &only {
        eprintln!(
            "[{client}] OXIRUN_IT_ONLY={o:?}: {} of {} scenarios",
            picked.len(),
            scenarios.len()
        );
    }
    let scenarios = picked;
    let start = Instant::now();
    let [runc, ox] = runtimes();
    let mut rows = Vec::new();
    let (mut ox_fail, mut runc_fail, mut not_run) = (Vec::new(), Vec::new(), Vec::new());
    for &(name, f) in &scenarios {
        if start.elapsed() > budget {
            rows.push(format!(
                "{name:36} NOT RUN (time budget of {budget:?} used up)"
            ));
            not_run.push(name.to_string());
            continue;
        }
        let t = Instant::now();
        let with_runc = f(env, &runc);
        let runc_t = t.elapsed();
        let t = Instant::now();
        let with_ox = f(env, &ox);
        let ox_t = t.elapsed();
        let row = match (&with_runc, &with_ox) {
            (Ok(()), Ok(())) => format!("ok   (runc {}, oxirun {})", secs(runc_t), secs(ox_t)),
            (Ok(()), Err(e)) => format!("FAIL oxirun: {}", first_line(e)),
            (Err(e), Ok(())) => format!("FAIL runc (oxirun ok): {}", first_line(e)),
            (Err(e), Err(_)) => format!("FAIL both: {}", first_line(e)),
        };
        rows.push(format!("{name:36} {row}"));
        if let Err(e) = with_ox {
            ox_fail.push(format!("--- {client} / {name} with oxirun:\n{e}"));
        }
        if let Err(e) = with_runc {
            runc_fail.push(format!("--- {client} / {name} with runc:\n{e}"));
        }
    }
    eprintln!(
        "[{client}] scenario table ({} in {}):\n  {}",
        scenarios.len(),
        secs(start.elapsed()),
        rows.join("\n  ")
    );
    let mut report = Vec::new();
    if !ox_fail.is_empty() {
        report.push(format!(
            "{} scenario(s) fail with oxirun:\n{}",
            ox_fail.len(),
            ox_fail.join("\n")
        ));
    }
    if !runc_fail.is_empty() {
        report.push(format!(
            "{} scenario(s) fail with runc too (an environment or test problem, not an \
             oxirun bug; where runc cannot do it on this host, the scenario must assert that \
             failure and say why):\n{}",
            runc_fail.len(),
            runc_fail.join("\n")
        ));
    }
    if !not_run.is_empty() {
        report.push(format!("not run (time budget): {not_run:?}"));
    }
    assert!(report.is_empty(), "[{client}] {}", report.join("\n\n"));
}
