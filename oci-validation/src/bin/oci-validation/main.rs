//! `oci-validation`: the host-side driver of the conformance suite.
//!
//! ```text
//! oci-validation --runtime PATH [--compare PATH] [--checker PATH] [--busybox PATH]
//!                [--jobs N] [--filter SUBSTR] [--keep]
//! ```
//! For each runtime: builds one bundle per case under a temporary work directory, runs the cases
//! in parallel (each has its own id `ocv-<runtime>-<case>`, `--root`, and cgroupsPath
//! `/oci-validation/<runtime>-<case>`), prints TAP and a summary table by spec section, removes
//! the cgroups it created, and exits 1 when a non-skipped check of the first runtime fails.
//! With `--compare`, the second runtime runs too and a side-by-side table follows.

mod bundle;
mod cases;
mod cgroupfs;
mod report;
mod runtime;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use oci_validation::tap::{Check, Outcome};

use bundle::Ctx;
use cases::Case;
use report::Results;
use runtime::Runtime;

struct Args {
    runtime: PathBuf,
    compare: Option<PathBuf>,
    checker: PathBuf,
    busybox: PathBuf,
    jobs: usize,
    filter: Option<String>,
    keep: bool,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut a = Args {
        runtime: std::env::var_os("RUNTIME")
            .map(PathBuf::from)
            .unwrap_or_default(),
        compare: None,
        checker: std::env::var_os("OCV_CHECKER")
            .map(PathBuf::from)
            .unwrap_or_else(|| exe_dir.join("oci-checker")),
        busybox: PathBuf::from("/bin/busybox"),
        jobs: 4,
        filter: None,
        keep: false,
    };
    while let Some(arg) = it.next() {
        let mut val = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--runtime" => a.runtime = val()?.into(),
            "--compare" => a.compare = Some(val()?.into()),
            "--checker" => a.checker = val()?.into(),
            "--busybox" => a.busybox = val()?.into(),
            "--jobs" => a.jobs = val()?.parse().context("--jobs")?,
            "--filter" => a.filter = Some(val()?),
            "--keep" => a.keep = true,
            "-h" | "--help" => {
                println!("usage: oci-validation --runtime PATH [--compare PATH] [--checker PATH] [--busybox PATH] [--jobs N] [--filter SUBSTR] [--keep]");
                std::process::exit(0);
            }
            _ => bail!("unknown argument {arg}"),
        }
    }
    if a.runtime.as_os_str().is_empty() {
        bail!("--runtime PATH (or RUNTIME=PATH) is required");
    }
    for (what, p) in [
        ("runtime", &a.runtime),
        ("checker", &a.checker),
        ("busybox", &a.busybox),
    ] {
        if !p.exists() {
            bail!("{what} {} not found", p.display());
        }
    }
    a.jobs = a.jobs.max(1);
    Ok(a)
}

/// Runs every case against `rt` on `jobs` threads; results in case order.
fn run_all(ctx: &Ctx, rt: &Runtime, cases: &'static [Case], jobs: usize) -> Results {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Vec<Check>>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(cases.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let checks = (case.run)(ctx, rt).unwrap_or_else(|e| {
                    vec![Check::new(
                        case.section,
                        "case setup",
                        Outcome::Fail(format!("{e:#}")),
                    )]
                });
                done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(checks);
            });
        }
    });
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    Results {
        runtime: rt.name.clone(),
        cases: cases
            .iter()
            .zip(done)
            .map(|(c, v)| (c, v.unwrap_or_default()))
            .collect(),
    }
}

fn suite(
    ctx: &Ctx,
    path: &Path,
    name: &str,
    cases: &'static [Case],
    jobs: usize,
) -> Result<Results> {
    let root = ctx.work.join(format!("{name}-state"));
    std::fs::create_dir_all(&root)?;
    let rt = Runtime::new(name, path, root);
    eprintln!(
        "# running {} cases against {} ({})",
        cases.len(),
        name,
        path.display()
    );
    let start = std::time::Instant::now();
    let res = run_all(ctx, &rt, cases, jobs);
    let left = cgroupfs::cleanup(&format!("{name}-"));
    eprintln!(
        "# {name}: done in {:.1}s; cgroups left after cleanup: {left:?}",
        start.elapsed().as_secs_f64()
    );
    Ok(res)
}

fn name_of(p: &Path, taken: Option<&str>) -> String {
    let n = p
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runtime".into());
    let n: String = n
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if Some(n.as_str()) == taken {
        format!("{n}2")
    } else {
        n
    }
}

fn main() {
    match real_main() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("oci-validation: {e:#}");
            std::process::exit(2);
        }
    }
}

fn real_main() -> Result<i32> {
    let a = parse_args()?;
    let work = std::env::temp_dir().join(format!("ocv-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let ctx = Ctx::new(work.clone(), a.busybox.clone(), a.checker.clone());
    let all: Vec<Case> = cases::all()
        .into_iter()
        .filter(|c| a.filter.as_ref().is_none_or(|f| c.id.contains(f.as_str())))
        .collect();
    let cases: &'static [Case] = Box::leak(all.into_boxed_slice());
    let first_name = name_of(&a.runtime, None);
    let first = suite(&ctx, &a.runtime, &first_name, cases, a.jobs)?;
    print!("{}", first.tap());
    print!("{}", first.summary());
    if let Some(cmp) = &a.compare {
        let second = suite(&ctx, cmp, &name_of(cmp, Some(&first_name)), cases, a.jobs)?;
        print!("{}", second.summary());
        print!("{}", report::compare(&first, &second));
    }
    if !a.keep {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        eprintln!("# bundles kept in {}", work.display());
    }
    Ok(if first.failures() > 0 { 1 } else { 0 })
}
