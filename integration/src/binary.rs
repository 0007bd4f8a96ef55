//! Locating (and if needed building) the `oxirun` binary, plus one-time process setup.
//!
//! `OXIRUN_BIN` overrides the binary (e.g. `OXIRUN_BIN=/usr/sbin/runc` to validate the harness
//! against runc). Otherwise `cargo build --bin oxirun` runs once per test process so the tests
//! never exercise a stale binary; if that build fails but an older binary exists, the old one is
//! used with a warning (the crate may be mid-edit).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Once, OnceLock};

use crate::util::{it_dir, workspace_dir};

static INIT: Once = Once::new();
static BIN: OnceLock<PathBuf> = OnceLock::new();

/// One-time setup: become a child subreaper so that detached container inits are reparented to
/// this process (not to PID 1), where tests can reap exactly the pids they know.
pub fn init() {
    INIT.call_once(|| {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "the integration tests must run as root"
        );
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(
            rc,
            0,
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        );
        std::fs::create_dir_all(it_dir()).expect("create target/oxirun-it");
    });
}

/// Path of the runtime binary under test.
pub fn oxirun_bin() -> &'static Path {
    init();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("OXIRUN_BIN") {
            let p = PathBuf::from(p);
            assert!(p.exists(), "OXIRUN_BIN={} does not exist", p.display());
            return p;
        }
        let ws = workspace_dir();
        let bin = ws.join("target/debug/oxirun");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--bin", "oxirun"])
            .current_dir(&ws)
            .status();
        match status {
            Ok(s) if s.success() => {}
            other if bin.exists() => eprintln!(
                "warning: `cargo build --bin oxirun` failed ({other:?}); using the existing {}",
                bin.display()
            ),
            other => panic!("`cargo build --bin oxirun` failed: {other:?}"),
        }
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

/// The static release binary the README ships (`make release`: static PIE, LTO), built once
/// per test process. Tests of what only that build shows use it (code that runs before the C
/// library has relocated the binary).
pub fn static_release_bin() -> &'static Path {
    static STATIC: OnceLock<PathBuf> = OnceLock::new();
    init();
    STATIC.get_or_init(|| {
        let ws = workspace_dir();
        let out = Command::new("make")
            .arg("release")
            .current_dir(&ws)
            .output()
            .expect("run make release");
        assert!(
            out.status.success(),
            "`make release` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = ws.join("target/x86_64-unknown-linux-gnu/release/oxirun");
        assert!(bin.exists(), "{} missing after make release", bin.display());
        bin
    })
}
