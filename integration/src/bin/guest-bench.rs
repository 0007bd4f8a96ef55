//! `make bench`'s second half: what the systemd cgroup driver costs, and the lifecycle rows on
//! a host where every runtime can use cgroups.
//!
//! 1. Binary size: the static release binary (`OXIRUN_BIN`, what `make release` built) and the
//!    share of its code that belongs to the driver: the same build unstripped (its own target
//!    dir), the sizes `nm` gives every function of `oxirun::dbus` and `oxirun::cgroups::systemd`
//!    summed. Code that LTO inlined into other modules' functions is not counted there, so this
//!    is a lower bound; the whole binary's size is the upper one.
//! 2. The lifecycle bench (the `lifecycle` bench binary cargo built) inside the QEMU guest of
//!    `oxirun_integration::guest`: systemd as PID 1, pure cgroup v2, this machine's `/` over
//!    9p. Rows `cgroups` (cgroupfs driver) and `systemd` (`--systemd-cgroup`) for oxirun, runc
//!    and crun, interleaved in one run; the report's `systemd driver cost` section is each
//!    runtime's systemd row minus its cgroupfs row. TCG's absolute times mean nothing: read
//!    the ratios.
//!
//! Output: stdout, and `target/bench/guest/` (`lifecycle.{md,json,svg}` from the guest,
//! `console.log`, `driver-size.txt`). Environment: `OXIRUN_BIN` (required), and
//! `OXIRUN_GUEST_BENCH_{ITERS,WARMUPS,SERIAL,PARALLEL}` (defaults 20, 3, 30, 10: TCG is slow).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use oxirun_integration::guest;
use oxirun_integration::util::workspace_dir;

const TIMEOUT: Duration = Duration::from_secs(45 * 60);
const FILES: [&str; 3] = ["lifecycle.md", "lifecycle.json", "lifecycle.svg"];

fn main() {
    if let Err(e) = real_main() {
        eprintln!("guest bench: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let ws = workspace_dir();
    let out = ws.join("target/bench/guest");
    fs::create_dir_all(&out).with_context(|| format!("mkdir {}", out.display()))?;
    let bin = PathBuf::from(std::env::var_os("OXIRUN_BIN").context("OXIRUN_BIN is not set")?);
    let bin = bin
        .canonicalize()
        .with_context(|| format!("OXIRUN_BIN {}", bin.display()))?;

    let size = driver_size(&bin)?;
    println!("{size}");
    fs::write(out.join("driver-size.txt"), &size)?;

    if let Some(why) = guest::unavailable() {
        println!("guest bench skipped: {why}");
        return Ok(());
    }
    let exe = bench_exe(&ws)?;
    let env = |name: &str, default: usize| -> String {
        std::env::var(format!("OXIRUN_GUEST_BENCH_{name}")).unwrap_or(default.to_string())
    };
    let mut script = format!(
        "echo GUEST-START\n\
         export CARGO_TARGET_DIR=/tmp/bt OXIRUN_BIN={bin} OXIRUN_BENCH_MODES=cgroups,systemd \
         OXIRUN_BENCH_RUNTIMES=oxirun,runc,crun OXIRUN_BENCH_ITERS={} OXIRUN_BENCH_WARMUPS={} \
         OXIRUN_BENCH_SERIAL={} OXIRUN_BENCH_PARALLEL={}\n\
         # crun's sd-bus wants the system bus (runc and oxirun also take systemd's private\n\
         # socket); this guest starts only its test unit, a real host has dbus running.\n\
         systemctl start dbus.socket\n\
         cd /tmp && {exe}; echo \"BENCH-EXIT $?\"\n",
        env("ITERS", 20),
        env("WARMUPS", 3),
        env("SERIAL", 30),
        env("PARALLEL", 10),
        bin = bin.display(),
        exe = exe.display(),
    );
    for f in FILES {
        script.push_str(&format!(
            "echo 'BEGIN-FILE {f}'; cat /tmp/bt/bench/{f}; echo; echo 'END-FILE {f}'\n"
        ));
    }
    let work = ws.join("target/bench/guest/boot");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    eprintln!("guest bench: booting the pure cgroup v2 guest (systemd as PID 1)");
    let run = guest::boot(&work, &[], &script, TIMEOUT);
    fs::write(out.join("console.log"), &run.console)?;
    eprintln!("guest bench: the guest ran {:?}", run.wall);
    if run.timed_out {
        bail!(
            "the guest timed out after {TIMEOUT:?}; see {}/console.log",
            out.display()
        );
    }
    if !run.console.contains("BENCH-EXIT 0") {
        bail!(
            "the bench failed in the guest; see {}/console.log",
            out.display()
        );
    }
    for f in FILES {
        let text = between(
            &run.console,
            &format!("BEGIN-FILE {f}\n"),
            &format!("\nEND-FILE {f}"),
        )
        .with_context(|| format!("{f} missing from the guest's console"))?;
        fs::write(out.join(f), text.trim_end().to_string() + "\n")?;
    }
    let md = fs::read_to_string(out.join("lifecycle.md"))?;
    println!("\npure cgroup v2 guest with systemd as PID 1 (TCG: ratios only):\n{md}");
    // The report's text sections (ratios, the systemd driver cost) as the guest printed them.
    if let Some(text) = between(&run.console, "oxirun / peer", "\ncgroup of the container") {
        println!("oxirun / peer{text}");
    }
    println!("written: {}/{{{}}}", out.display(), FILES.join(","));
    Ok(())
}

/// The text between `start` and `end` in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The lifecycle bench executable cargo builds (`cargo bench --no-run`, already built by the
/// host half of `make bench`).
fn bench_exe(ws: &Path) -> Result<PathBuf> {
    let out = Command::new(env!("CARGO"))
        .current_dir(ws)
        .args([
            "bench",
            "--bench",
            "lifecycle",
            "--no-run",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cargo bench --no-run")?;
    if !out.status.success() {
        bail!("cargo bench --bench lifecycle --no-run: {}", out.status);
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact" && v["target"]["name"] == "lifecycle" {
            if let Some(exe) = v["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    bail!("cargo named no lifecycle bench executable")
}

/// The static binary's size and the driver's share of its code (see the module docs).
fn driver_size(stripped: &Path) -> Result<String> {
    eprintln!("guest bench: building an unstripped release binary for its symbol sizes");
    // The flags of `make release`, symbols kept.
    let unstripped = oxirun_integration::qemu::release_build(
        "target/bench-symbols",
        "-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs",
        &[("CARGO_PROFILE_RELEASE_STRIP", "false")],
    );
    let nm = Command::new("nm")
        .args(["-C", "-S", "--defined-only"])
        .arg(&unstripped)
        .output()
        .context("nm (package binutils)")?;
    if !nm.status.success() {
        bail!("nm {}: {}", unstripped.display(), nm.status);
    }
    let (mut dbus, mut systemd, mut text) = (0u64, 0u64, 0u64);
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        // "ADDR SIZE TYPE NAME"; only functions (t/T) count.
        let mut it = line.splitn(4, ' ');
        let (Some(_), Some(size), Some(kind), Some(name)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if !kind.eq_ignore_ascii_case("t") {
            continue;
        }
        let size = u64::from_str_radix(size, 16).unwrap_or(0);
        text += size;
        if name.contains("oxirun::dbus::") {
            dbus += size;
        } else if name.contains("oxirun::cgroups::systemd::") {
            systemd += size;
        }
    }
    let file = fs::metadata(stripped)?.len();
    let kib = |b: u64| b as f64 / 1024.0;
    Ok(format!(
        "systemd driver, binary size: the static release binary {} is {:.0} KiB; of its {:.0} KiB \
         of functions, oxirun::dbus (the D-Bus client) is {:.1} KiB and oxirun::cgroups::systemd \
         (slices, unit properties) {:.1} KiB: {:.1} KiB, {:.1}% of the code (a lower bound: \
         what LTO inlined elsewhere counts there)",
        stripped.display(),
        kib(file),
        kib(text),
        kib(dbus),
        kib(systemd),
        kib(dbus + systemd),
        100.0 * (dbus + systemd) as f64 / text.max(1) as f64
    ))
}
