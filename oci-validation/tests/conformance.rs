//! The conformance suite as a test: builds the static `oci-checker` (own target dir
//! `target/ocv`), builds `target/debug/oxirun` if missing, runs the `oci-validation` driver
//! against it (and, when /usr/sbin/runc exists, side by side with runc), prints the whole report
//! and fails if any non-skipped check of oxirun fails. Needs root; skipped (with a message)
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the static checker with its own target dir so it does not fight the normal build.
fn build_checker(ws: &Path) -> PathBuf {
    let target = ws.join("target/ocv");
    let status = Command::new(cargo())
        .current_dir(ws)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--release",
            "-p",
            "oci-validation",
            "--bin",
            "oci-checker",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the static oci-checker failed");
    target.join("x86_64-unknown-linux-gnu/release/oci-checker")
}

fn oxirun(ws: &Path) -> PathBuf {
    let bin = ws.join("target/debug/oxirun");
    if !bin.exists() {
        let status = Command::new(cargo())
            .current_dir(ws)
            .env_remove("CARGO_TARGET_DIR")
            .args(["build", "--bin", "oxirun"])
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build --bin oxirun failed");
    }
    bin
}

#[test]
fn oxirun_conforms_to_the_runtime_spec() {
    if Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout != b"0\n")
        .unwrap_or(true)
    {
        eprintln!("SKIP: the conformance suite needs root");
        return;
    }
    let ws = workspace();
    let checker = build_checker(&ws);
    let runtime = oxirun(&ws);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oci-validation"));
    cmd.arg("--runtime")
        .arg(&runtime)
        .arg("--checker")
        .arg(&checker);
    if Path::new("/usr/sbin/runc").exists() {
        cmd.args(["--compare", "/usr/sbin/runc"]);
    }
    let out = cmd.output().expect("run oci-validation");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let failing: Vec<&str> = stdout
        .lines()
        .take_while(|l| !l.starts_with("# Summary"))
        .filter(|l| l.starts_with("not ok") && !l.contains("# TODO"))
        .collect();
    assert_eq!(
        out.status.code(),
        if failing.is_empty() { Some(0) } else { Some(1) },
        "driver exit status"
    );
    assert!(
        failing.is_empty(),
        "{} failing conformance check(s) for oxirun:\n{}",
        failing.len(),
        failing.join("\n")
    );
}
