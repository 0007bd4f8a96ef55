//! The Debian packages a client test needs: installed with apt-get when a binary is missing
//! (`apt-get update` at most once per test process), as `make test` runs on a clean machine.

use std::process::Command;
use std::sync::Mutex;

static APT: Mutex<bool> = Mutex::new(false);

/// True if `bin` is found on PATH.
pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure every binary of `bins` exists, installing `pkgs` with apt-get if one is
/// missing. Err = why the client is unavailable.
pub fn ensure(bins: &[&str], pkgs: &[&str]) -> Result<(), String> {
    if bins.iter().all(|b| have(b)) {
        return Ok(());
    }
    let mut updated = APT.lock().unwrap_or_else(|e| e.into_inner());
    if !*updated {
        let st = Command::new("apt-get")
            .args(["update", "-qq"])
            .status()
            .map_err(|e| format!("apt-get update: {e}"))?;
        if !st.success() {
            return Err(format!("apt-get update failed: {st}"));
        }
        *updated = true;
    }
    let st = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(pkgs)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get install: {e}"))?;
    if !st.success() {
        return Err(format!("apt-get install {pkgs:?} failed: {st}"));
    }
    match bins.iter().find(|b| !have(b)) {
        Some(b) => Err(format!("{b} still missing after installing {pkgs:?}")),
        None => Ok(()),
    }
}
