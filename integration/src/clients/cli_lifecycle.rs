//! Lifecycle scenarios for any [`DockerCli`] engine: foreground `run --rm` and its exit code;
//! a missing command; `run -d` with `exec` (+ -e/-w/--user), `top`, `logs`,
//! `pause`/`unpause`, a timed `stop` (SIGTERM) and `rm -f`; `stop -t 1` escalating to SIGKILL;
//! `kill` (a signal, then the default KILL) with `wait`; `-it` and `exec -it` through a pty;
//! `restart` (running and exited) with `wait` and `exec --user`; `--init` as pid 1,
//! forwarding SIGTERM.

use std::time::{Duration, Instant};

use super::cli::DockerCli;
use super::matrix::{check, expect_code, Res, Rt};
use super::pty::pty_session;

/// A container that says `ready` and exits 0 on SIGTERM.
const TERM_EXITS_0: &str = "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done";

pub fn run_rm_exit_code<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(rt, &["--rm"], &["sh", "-c", "echo hi; exit 3"]);
    expect_code(&out, 3, "run --rm IMG sh -c 'echo hi; exit 3'")?;
    check(out.stdout == "hi\n", || format!("stdout: {out:#?}"))
}

/// A command that is not in the image: the engine's exit code for "not found" (127) and the
/// runtime's error, as one readable line (no raw log lines of the runtime).
pub fn missing_command<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(rt, &["--rm"], &["no-such-command-xyz"]);
    expect_code(&out, 127, "run --rm IMG no-such-command-xyz")?;
    check(
        out.stderr.contains("no-such-command-xyz")
            && out.stderr.contains("executable file not found in $PATH"),
        || format!("the runtime's error is not shown: {out:#?}"),
    )?;
    // (docker's client may add a logrus line of its own: "error waiting for container")
    let raw = out
        .stderr
        .lines()
        .any(|l| l.contains("no-such-command-xyz") && l.contains("level="));
    check(!raw, || {
        format!("a raw runtime log line instead of the error: {out:#?}")
    })
}

pub fn detached_lifecycle<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let n = e.detached(rt, "life", &[], &["sh", "-c", TERM_EXITS_0], Some("ready"))?;
    let n: &str = &n;
    let out = e.cli(rt, &["exec", n, "sh", "-c", "echo in-exec; exit 4"]);
    expect_code(&out, 4, "exec N sh -c 'echo in-exec; exit 4'")?;
    check(out.stdout == "in-exec\n", || {
        format!("exec stdout: {out:#?}")
    })?;
    let out = e.cli(
        rt,
        &[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "--user",
            "1000",
            n,
            "sh",
            "-c",
            "echo $X $(pwd) $(id -u)",
        ],
    );
    expect_code(&out, 0, "exec -e -w --user")?;
    check(out.stdout.trim() == "1 /tmp 1000", || {
        format!("exec flags: {out:#?}")
    })?;
    let out = e.cli(rt, &["top", n]);
    expect_code(&out, 0, "top")?;
    check(
        out.stdout.contains("sleep") || out.stdout.contains("sh"),
        || format!("top: {out:#?}"),
    )?;
    expect_code(&e.cli(rt, &["pause", n]), 0, "pause")?;
    let st = e.inspect(rt, n, "{{.State.Status}}");
    check(st == "paused", || format!("status after pause: {st:?}"))?;
    expect_code(&e.cli(rt, &["unpause", n]), 0, "unpause")?;
    let st = e.inspect(rt, n, "{{.State.Status}}");
    check(st == "running", || format!("status after unpause: {st:?}"))?;
    expect_code(&e.cli(rt, &["exec", n, "true"]), 0, "exec after unpause")?;
    let t = Instant::now();
    expect_code(&e.cli(rt, &["stop", "-t", "10", n]), 0, "stop -t 10")?;
    let took = t.elapsed();
    let code = e.inspect(rt, n, "{{.State.ExitCode}}");
    check(code == "0", || {
        format!("SIGTERM trap should exit 0, got exit code {code:?} after {took:?}")
    })?;
    // The trap answers TERM at once: stop must not have waited for its 10 s timeout.
    check(took < Duration::from_secs(8), || {
        format!("stop -t 10 of a container that exits on TERM took {took:?}")
    })?;
    expect_code(&e.cli(rt, &["rm", "-f", n]), 0, "rm -f")?;
    let out = e.cli(rt, &["inspect", n]);
    check(!out.success(), || {
        format!("container still there after rm: {out:#?}")
    })
}

pub fn stop_escalates_to_kill<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let script = "trap '' TERM; echo ready; while :; do sleep 0.1; done";
    let n = e.detached(rt, "stopkill", &[], &["sh", "-c", script], Some("ready"))?;
    let n: &str = &n;
    let t = Instant::now();
    expect_code(&e.cli(rt, &["stop", "-t", "1", n]), 0, "stop -t 1")?;
    let took = t.elapsed();
    let code = e.inspect(rt, n, "{{.State.ExitCode}}");
    check(code == "137", || {
        format!("exit code after stop -t 1: {code:?}")
    })?;
    check(took >= Duration::from_millis(900), || {
        format!("stop -t 1 returned after {took:?}: TERM was not given its second")
    })?;
    check(took < Duration::from_secs(15), || {
        format!("stop -t 1 took {took:?}")
    })
}

pub fn kill_and_wait<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let script = "trap 'exit 7' USR1; echo ready; while :; do sleep 0.1; done";
    let n = e.detached(rt, "kill", &[], &["sh", "-c", script], Some("ready"))?;
    expect_code(
        &e.cli(rt, &["kill", "--signal", "USR1", &n]),
        0,
        "kill --signal USR1",
    )?;
    let out = e.cli(rt, &["wait", &n]);
    expect_code(&out, 0, "wait")?;
    check(out.stdout.trim() == "7", || {
        format!("wait after USR1 trap: {out:#?}")
    })?;
    let n = e.detached(rt, "kill", &[], &["sleep", "1000"], None)?;
    expect_code(&e.cli(rt, &["kill", &n]), 0, "kill (default SIGKILL)")?;
    let out = e.cli(rt, &["wait", &n]);
    check(out.stdout.trim() == "137", || {
        format!("wait after kill: {out:#?}")
    })
}

/// `args` under a pty: a shell prompt, `input` typed, a line `want`, exit `code`, and a pty
/// inside (`input` runs `tty`).
fn tty_session<E: DockerCli>(
    e: &E,
    rt: &Rt,
    args: &[&str],
    input: &str,
    want: &str,
    code: i32,
) -> Res {
    let text = pty_session(&mut e.command(rt, args), e.timeout(), input, want, code)?;
    check(text.contains("/dev/pts/"), || {
        format!("{} {args:?}: no pty inside: {text:?}", e.engine())
    })
}

pub fn interactive_tty<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let own = e.run_flags(rt);
    let mut args: Vec<&str> = vec!["run", "-it", "--rm"];
    args.extend(own.iter().map(String::as_str));
    args.extend_from_slice(e.common());
    args.extend([e.image(), "sh"]);
    tty_session(e, rt, &args, "tty; echo hi; exit 5\n", "hi", 5)
}

pub fn exec_interactive_tty<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let n = e.detached(rt, "execit", &[], &["sleep", "1000"], None)?;
    let args = ["exec", "-it", &n, "sh"];
    tty_session(e, rt, &args, "tty; echo viaexec; exit 9\n", "viaexec", 9)
}

pub fn restart_wait_exec_user<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let script = "echo boot >> /boots; echo boots=$(wc -l < /boots); trap 'exit 3' TERM; \
                  while :; do sleep 0.1; done";
    let n = e.detached(rt, "restart", &[], &["sh", "-c", script], Some("boots=1"))?;
    let n: &str = &n;
    let pid1 = e.inspect(rt, n, "{{.State.Pid}}");
    expect_code(&e.cli(rt, &["restart", "-t", "10", n]), 0, "restart -t 10")?;
    e.wait_log(rt, n, "boots=2")?;
    let st = e.inspect(rt, n, "{{.State.Status}} {{.State.Pid}}");
    check(
        st.starts_with("running ") && !st.ends_with(&format!(" {pid1}")),
        || format!("after restart: {st:?} (pid before: {pid1})"),
    )?;
    let out = e.cli(rt, &["exec", "--user", "1000", n, "id", "-u"]);
    expect_code(&out, 0, "exec --user 1000 N id -u")?;
    check(out.stdout.trim() == "1000", || {
        format!("exec --user 1000: {out:#?}")
    })?;
    let out = e.cli(
        rt,
        &[
            "exec",
            "--user",
            "1000:1000",
            n,
            "sh",
            "-c",
            "id -g; touch /x",
        ],
    );
    check(out.code != 0 && out.stdout.trim() == "1000", || {
        format!("exec --user 1000:1000 (gid 1000, no write to the root-owned /): {out:#?}")
    })?;
    expect_code(
        &e.cli(rt, &["kill", "--signal", "TERM", n]),
        0,
        "kill --signal TERM",
    )?;
    let out = e.cli(rt, &["wait", n]);
    expect_code(&out, 0, "wait")?;
    check(out.stdout.trim() == "3", || {
        format!("wait after TERM (trap exits 3): {out:#?}")
    })?;
    // A container that exits by itself; restarted from `exited`.
    let script = "echo run; sleep 0.3; exit 42";
    let m = e.detached(rt, "exit42", &[], &["sh", "-c", script], None)?;
    let m: &str = &m;
    let out = e.cli(rt, &["wait", m]);
    check(out.code == 0 && out.stdout.trim() == "42", || {
        format!("wait (exit 42): {out:#?}")
    })?;
    let st = e.inspect(rt, m, "{{.State.Status}} {{.State.ExitCode}}");
    check(st == "exited 42", || format!("state after exit: {st:?}"))?;
    expect_code(&e.cli(rt, &["restart", m]), 0, "restart (exited)")?;
    let out = e.cli(rt, &["wait", m]);
    check(out.code == 0 && out.stdout.trim() == "42", || {
        format!("wait after restart: {out:#?}")
    })?;
    let logs = e.cli(rt, &["logs", m]);
    check(logs.stdout == "run\nrun\n", || {
        format!("logs of the restarted container: {logs:#?}")
    })
}

pub fn init<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "--init"],
        &[
            "sh",
            "-c",
            "echo init=$(tr '\\0' ' ' < /proc/1/cmdline); echo self=$$; exit 6",
        ],
    );
    expect_code(&out, 6, "run --rm --init IMG sh -c '...; exit 6'")?;
    let want = format!("init={} -- sh -c", e.init_cmdline());
    check(
        out.stdout.contains(&want) && !out.stdout.contains("self=1\n"),
        || format!("--init: pid 1 should be {want:?}..., sh not pid 1: {out:#?}"),
    )?;
    // The init forwards `stop`'s SIGTERM to the command.
    let n = e.detached(
        rt,
        "init",
        &["--init"],
        &["sh", "-c", TERM_EXITS_0],
        Some("ready"),
    )?;
    let n: &str = &n;
    let t = Instant::now();
    expect_code(
        &e.cli(rt, &["stop", "-t", "10", n]),
        0,
        "stop -t 10 (--init)",
    )?;
    let code = e.inspect(rt, n, "{{.State.ExitCode}}");
    check(code == "0" && t.elapsed() < Duration::from_secs(8), || {
        format!(
            "TERM not forwarded by the init: exit code {code:?} after {:?}",
            t.elapsed()
        )
    })
}
