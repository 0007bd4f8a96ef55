//! Running the `criu` binary: finding it and checking its version, building the options that
//! `dump`, `pre-dump` and `restore` share, and turning a failure into one line from its log.
//!
//! We shell out to `criu` rather than speak its RPC (`criu swrk` over a socketpair, messages
//! from CRIU's .proto files): every option runc sets over RPC has a command-line twin, the
//! process tree CRIU restores is ours either way (`--restore-sibling` makes the restored init
//! our child, as `swrk`'s does), and it costs no protobuf code in a binary that mostly never
//! checkpoints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Result};

/// runc's minimum (3.0.0), as CRIU numbers versions: major * 10000 + minor * 100 + sublevel.
pub const MIN_VERSION: u32 = 30000;

/// A CRIU binary that answered `--version` with a version we can use.
pub struct Criu {
    pub bin: PathBuf,
}

/// `3.17.1` -> 31701 (from `criu --version`'s `Version: 3.17.1` line).
pub fn parse_version(text: &str) -> Option<u32> {
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?
        .trim();
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    let sub = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    Some(major * 10000 + minor * 100 + sub)
}

/// The CRIU to use (`--criu`, default `criu` on PATH), refused in runc's words when it is
/// missing or older than [`MIN_VERSION`].
pub fn find(bin: &Path) -> Result<Criu> {
    let out = Command::new(bin).arg("--version").output().map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "executable file not found in $PATH".to_string(),
            _ => e.to_string(),
        };
        anyhow!(
            "CRIU version check failed: exec: {:?}: {what}",
            bin.display().to_string()
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        anyhow!(
            "CRIU version check failed: unexpected `{} --version` output {:?}",
            bin.display(),
            text.trim()
        )
    })?;
    if version < MIN_VERSION {
        bail!("CRIU version {version} must be {MIN_VERSION} or higher");
    }
    Ok(Criu {
        bin: bin.to_path_buf(),
    })
}

/// Whether CRIU can checkpoint on this machine (`criu check`: it refuses kernels it does not
/// understand, e.g. criu 3.17 on 6.18's vDSO layout). For `features`.
pub fn usable(bin: &Path) -> bool {
    find(bin).is_ok()
        && Command::new(bin)
            .arg("check")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

impl Criu {
    /// `criu ACTION` with the images and work directories and a verbose log `log` in the
    /// work directory.
    pub fn command(&self, action: &str, images: &Path, work: &Path, log: &str) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg(action)
            .arg("--images-dir")
            .arg(images)
            .arg("--work-dir")
            .arg(work)
            .args(["--log-file", log, "-v4"]);
        c
    }

    /// Runs `cmd`; on failure one line: CRIU's first error from `work/log`, and the log's path.
    pub fn run(&self, mut cmd: Command, work: &Path, log: &str) -> Result<()> {
        let status = cmd
            .status()
            .map_err(|e| anyhow!("exec {}: {e}", self.bin.display()))?;
        if status.success() {
            return Ok(());
        }
        let path = work.join(log);
        let text = fs::read_to_string(&path).unwrap_or_default();
        let why = first_error(&text).unwrap_or_else(|| format!("criu exited with {status}"));
        bail!("criu failed: {why} (log file: {})", path.display())
    }
}

/// The first `Error (file:line): message` of a CRIU log (the cause; later ones are its
/// consequences, "Dump files failed", "Dumping FAILED"), without timestamp and location.
pub fn first_error(log: &str) -> Option<String> {
    log.lines()
        .filter_map(|l| l.split_once("Error (").map(|(_, r)| r))
        .next()
        .map(|r| match r.split_once("): ") {
            Some((_, msg)) => msg.trim().to_string(),
            None => r.trim().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("Version: 3.17.1\n"), Some(31701));
        assert_eq!(parse_version("Version: 4.0\nGitID: v4.0\n"), Some(40000));
        assert_eq!(parse_version("criu 3\n"), None);
    }

    #[test]
    fn first_error_line() {
        let log = "(00.1) Warn  (a.c:1): w\n(00.6) Error (criu/files-reg.c:1710): Can't lookup mount=31 for fd=1\n(00.7) Error (criu/cr-dump.c:1635): Dump files (pid: 193) failed with -1\n(00.9) Error (criu/cr-dump.c:2053): Dumping FAILED.\n";
        assert_eq!(
            first_error(log).as_deref(),
            Some("Can't lookup mount=31 for fd=1")
        );
        assert_eq!(first_error("all fine\n"), None);
    }

    #[test]
    fn missing_binary_is_runc_s_line() {
        let e = find(Path::new("/nonexistent/criu"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("CRIU version check failed: exec:"), "{e}");
    }
}
