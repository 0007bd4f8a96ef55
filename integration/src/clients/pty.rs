//! An interactive client session through a pty the test holds the master of, as a user at a
//! terminal runs `run -it` / `exec -it` (the runtime's end: the console socket).

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use super::matrix::check;
use crate::term::{has_line, openpty, read_until, spawn_on_pty, write_all};
use crate::util::{exit_code, poll};

/// Runs `cmd` on a fresh pty: waits (up to `prompt_timeout`) for a shell prompt (`# `), types
/// `input`, expects a line `want` and then exit code `code`. Ok = the whole transcript, up to
/// the client's last output (`\r` removed), for further checks.
pub fn pty_session(
    cmd: &mut Command,
    prompt_timeout: Duration,
    input: &str,
    want: &str,
    code: i32,
) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let pty = openpty(24, 80);
    let mut child = spawn_on_pty(cmd, &pty).map_err(|e| format!("spawn {what}: {e}"))?;
    let m = pty.master.as_raw_fd();
    let mut acc = Vec::new();
    let prompt = read_until(m, &mut acc, prompt_timeout, |s| s.contains("# "));
    if prompt {
        write_all(m, input.as_bytes());
    }
    let seen = prompt && read_until(m, &mut acc, Duration::from_secs(20), |s| has_line(s, want));
    let got = poll(Duration::from_secs(20), || child.try_wait().ok().flatten()).map(exit_code);
    if got.is_none() {
        let _ = child.kill(); // our own child
        let _ = child.wait();
    }
    // What the client printed on its way out (e.g. the remote exit code), up to EOF.
    read_until(m, &mut acc, Duration::from_millis(500), |_| false);
    let text = crate::term::clean(&acc);
    check(prompt && seen, || {
        format!("{what}: no prompt / {want:?}: {text:?}")
    })?;
    check(got == Some(code), || {
        format!("{what}: exit {got:?}, want {code}: {text:?}")
    })?;
    Ok(text)
}
