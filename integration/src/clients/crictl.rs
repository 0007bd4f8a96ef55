//! crictl (the Kubernetes CRI command-line client), built offline from the vendored cri-tools
//! source (`../shared/vendor/cri-tools-v1.26.1.tar.gz` next to the checkout, or
//! `$OXIRUN_CRI_TOOLS_TAR`) with Debian's Go: `GOFLAGS=-mod=vendor GOPROXY=off go build
//! ./cmd/crictl`, about 3 minutes on 2 cores. The binary is cached under
//! `target/oxirun-it/tools/crictl-<sha256 of the archive>/`, so a clean checkout builds it once
//! and a new archive builds anew; Go's build cache and GOPATH stay under `tools/` too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{it_dir, workspace_dir};

const ARCHIVE: &str = "cri-tools-v1.26.1.tar.gz";

/// Where the vendored archive is.
pub fn archive() -> PathBuf {
    if let Some(p) = std::env::var_os("OXIRUN_CRI_TOOLS_TAR") {
        return PathBuf::from(p);
    }
    let ws = workspace_dir();
    ws.parent()
        .unwrap_or(&ws)
        .join("shared/vendor")
        .join(ARCHIVE)
}

fn sha256(p: &Path) -> Result<String, String> {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    let sum = text.split_whitespace().next().unwrap_or_default();
    if !o.status.success() || sum.len() < 16 {
        return Err(format!("sha256sum {}: {o:?}", p.display()));
    }
    Ok(sum[..16].to_string())
}

fn sh(cmd: &mut Command, what: &str) -> Result<(), String> {
    let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if o.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    ))
}

/// The crictl binary, built first if this archive has not been built yet.
pub fn crictl() -> Result<PathBuf, String> {
    let tar = archive();
    if !tar.exists() {
        return Err(format!(
            "{} not found (the vendored cri-tools source; set OXIRUN_CRI_TOOLS_TAR)",
            tar.display()
        ));
    }
    let tools = it_dir().join("tools");
    let out = tools
        .join(format!("crictl-{}", sha256(&tar)?))
        .join("crictl");
    if out.exists() {
        return Ok(out);
    }
    super::packages::ensure(&["go"], &["golang-go"])?;
    let t = Instant::now();
    let tmp = tools.join(format!("build-crictl-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| format!("mkdir {}: {e}", tmp.display()))?;
    let r = (|| {
        sh(
            Command::new("tar")
                .arg("-xzf")
                .arg(&tar)
                .arg("-C")
                .arg(&tmp),
            "tar -xzf cri-tools",
        )?;
        let src = tmp.join("cri-tools");
        let bin = tmp.join("crictl");
        sh(
            Command::new("go")
                .args(["build", "-o"])
                .arg(&bin)
                .arg("./cmd/crictl")
                .current_dir(&src)
                .env("GOFLAGS", "-mod=vendor")
                .env("GOPROXY", "off")
                .env("CGO_ENABLED", "0")
                .env("GOCACHE", tools.join("go-cache"))
                .env("GOPATH", tools.join("gopath")),
            "go build ./cmd/crictl",
        )?;
        let dir = out.parent().expect("crictl dir");
        fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        fs::rename(&bin, &out).map_err(|e| format!("rename crictl into {}: {e}", dir.display()))
    })();
    let _ = fs::remove_dir_all(&tmp);
    r?;
    eprintln!(
        "[crictl] built {} in {:.0}s",
        out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(out)
}
