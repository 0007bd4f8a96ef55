//! The runtimes measured: which binaries, in which cgroup mode, and their results.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

use crate::cold::Cold;
use crate::rss::Rss;
use crate::scale::Scale;
use crate::scenarios::SCENARIOS;
use crate::stats::Sample;
use crate::throughput::Throughput;

#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    /// The runtime's cgroupfs manager, `cgroupsPath` `/oxirun-bench/<leaf>`.
    Cgroups,
    /// `--cgroup-manager=disabled`, no `cgroupsPath`.
    NoCgroups,
    /// `--systemd-cgroup`, `cgroupsPath` `oxirun-bench.slice:oxb:<leaf>` (systemd as PID 1 only).
    Systemd,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Cgroups => "cgroups",
            Mode::NoCgroups => "no cgroups",
            Mode::Systemd => "systemd",
        }
    }

    /// Whether the container gets a cgroup (and the limits of `run+seccomp+limits`).
    pub fn has_cgroups(self) -> bool {
        self != Mode::NoCgroups
    }

    /// The global flags that select this mode (runc, crun, youki and oxirun share them).
    fn global_args(self) -> &'static [&'static str] {
        match self {
            Mode::Cgroups => &[],
            Mode::NoCgroups => &["--cgroup-manager=disabled"],
            Mode::Systemd => &["--systemd-cgroup"],
        }
    }
}

/// systemd is PID 1 (its own test, sd_booted): the `systemd` rows are measured.
pub fn systemd_booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Row name of oxirun run from a read-only mount of its binary (no re-exec).
pub const RO_EXE: &str = "oxirun-roexe";

pub struct Runtime {
    pub name: String,
    pub bin: PathBuf,
    pub mode: Mode,
    pub global_args: Vec<String>,
    /// Mount namespace to spawn this runtime's commands from (crun on a hybrid host).
    pub mnt_ns: Option<libc::c_int>,
    pub version: String,
    /// `--root` state directory, one per row.
    pub root: PathBuf,
    /// Per scenario (indexed by `Scenario as usize`): samples, or the error that stopped it.
    pub samples: [Vec<Sample>; SCENARIOS.len()],
    pub errors: [Option<String>; SCENARIOS.len()],
    /// The once-per-row throughput phase (`None`: not run).
    pub throughput: Option<Result<Throughput, String>>,
    /// The once-per-row many-containers phase (`None`: not run).
    pub scale: Option<Result<Scale, String>>,
    /// Peak RSS spawned from the few-page helper (`None`: not run).
    pub rss: Option<Result<Rss, String>>,
    /// The once-per-row cold-path cases (`None`: not run).
    pub cold: Option<Result<Vec<Cold>, String>>,
}

impl Runtime {
    pub fn row_name(&self) -> String {
        format!("{} ({})", self.name, self.mode.label())
    }

    /// File-name-safe row name, e.g. `oxirun-no-cgroups`; prefixes ids and cgroup leaves.
    pub fn key(&self) -> String {
        format!("{}-{}", self.name, self.mode.label().replace(' ', "-"))
    }

    pub fn fail_all(&mut self, err: &str) {
        self.errors = std::array::from_fn(|_| Some(err.to_string()));
        self.throughput = Some(Err(err.to_string()));
    }
}

pub fn find_runtimes(manifest: &Path, bench_dir: &Path) -> Result<Vec<Runtime>> {
    let list = |var: &str| -> Option<Vec<String>> {
        std::env::var(var)
            .ok()
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
    };
    let wanted = list("OXIRUN_BENCH_RUNTIMES");
    let want = |n: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == n));
    // OXIRUN_BENCH_MODES: a comma list of `cgroups`, `no-cgroups`, `systemd`.
    let modes = list("OXIRUN_BENCH_MODES");
    let hybrid = crate::cgroups::hybrid_cgroups();
    let systemd = systemd_booted();
    let mode_ok = |m: Mode| {
        (m != Mode::Systemd || systemd)
            && modes
                .as_ref()
                .is_none_or(|w| w.iter().any(|x| *x == m.label().replace(' ', "-")))
    };
    let mut out = Vec::new();
    let mut add = |name: &str, bin: PathBuf, mode: Mode, err: Option<String>| {
        if !mode_ok(mode) {
            return;
        }
        let version = match &err {
            Some(_) => String::new(),
            None => version_of(&bin),
        };
        let mut rt = Runtime {
            name: name.to_string(),
            bin,
            mode,
            global_args: mode.global_args().iter().map(|s| s.to_string()).collect(),
            mnt_ns: None,
            version,
            root: PathBuf::new(),
            samples: std::array::from_fn(|_| Vec::new()),
            errors: std::array::from_fn(|_| None),
            throughput: None,
            scale: None,
            cold: None,
            rss: None,
        };
        rt.root = bench_dir.join("state").join(rt.key());
        if let Some(e) = err {
            rt.fail_all(&e);
        }
        out.push(rt);
    };
    if want("oxirun") {
        let bin = std::env::var_os("OXIRUN_BIN")
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_BIN_EXE_oxirun").map(PathBuf::from))
            .unwrap_or_else(|| manifest.join("target/release/oxirun"));
        let err = (!bin.exists()).then(|| {
            format!(
                "binary not found: {} (cargo build --release --bin oxirun, or set OXIRUN_BIN)",
                bin.display()
            )
        });
        add("oxirun", bin.clone(), Mode::Cgroups, err.clone());
        // The same mode as crun on a hybrid host (crun cannot use its cgroups).
        add("oxirun", bin.clone(), Mode::NoCgroups, err.clone());
        // The same binary seen through a read-only bind mount (a private mount namespace, see
        // mntns::ro_exe_namespace): oxirun then skips its CVE-2019-5736 re-exec, so the
        // difference to the row above is what that defence costs.
        add(RO_EXE, bin.clone(), Mode::NoCgroups, err.clone());
        add("oxirun", bin, Mode::Systemd, err);
    }
    for name in ["runc", "crun", "youki"] {
        if !want(name) {
            continue;
        }
        let Some(bin) = which(name) else { continue };
        if name == "crun" {
            // crun 1.8 refuses a hybrid cgroup host unless cgroups are disabled.
            add(name, bin.clone(), Mode::NoCgroups, None);
            if hybrid {
                continue;
            }
        }
        add(name, bin.clone(), Mode::Cgroups, None);
        add(name, bin, Mode::Systemd, None);
    }
    if out.is_empty() {
        bail!("no runtime to measure");
    }
    for rt in &out {
        fs::create_dir_all(&rt.root)?;
    }
    Ok(out)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn version_of(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(|l| l.trim().to_string())
        })
        .unwrap_or_default()
}
