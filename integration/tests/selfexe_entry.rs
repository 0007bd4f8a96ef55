//! The CVE-2019-5736 re-exec done at the ELF entry point, before the C library starts
//! (src/sys/entry.rs), seen with strace on the static release binary (where that code runs
//! before the binary is even relocated): for `run` the first image makes exactly `openat`
//! (of /proc/self/exe), `open_tree`, `mount_setattr`, `execveat`; the container works; commands
//! that never enter a container do not re-exec; and when the fast path declines (an
//! environment too big for its fixed table, or a re-exec mark forged by the caller) glibc
//! starts and the full re-exec still happens.

use std::path::Path;
use std::process::Command;

use oxirun_integration::binary::static_release_bin;
use oxirun_integration::util::{run_cmd, Out};
use oxirun_integration::Container;

/// The syscalls strace shows, per pid, in order: (pid, name, whole line).
fn traced(log: &Path) -> Vec<(i32, String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (pid, rest) = l.split_once(' ')?;
            let rest = rest.trim_start();
            let name = rest.split('(').next()?.to_string();
            Some((pid.parse().ok()?, name, l.to_string()))
        })
        .collect()
}

/// `strace -f <static oxirun> --root R <args>` with `env` added; returns the command's result
/// and the syscalls of its first process (the one exec'd from the command line).
fn strace_static(c: &Container, args: &[&str], env: &[(String, String)]) -> (Out, Vec<String>) {
    let log = c.dir.join("strace.log");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=execve,execveat,open_tree,mount_setattr,brk,arch_prctl,openat",
        ])
        .arg(static_release_bin())
        .arg("--root")
        .arg(&c.root)
        .args(args)
        .current_dir(&c.dir.path)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = run_cmd(cmd, &c.dir.path, "strace");
    let calls = traced(&log);
    let first = calls.first().map(|c| c.0).expect("strace logged nothing");
    let mine = calls
        .into_iter()
        .filter(|c| c.0 == first)
        .map(|c| c.1)
        .collect();
    (out, mine)
}

/// `run`s a container printing "inside" under strace (with `env` added), checks it worked,
/// and returns the syscalls of the runtime's first process.
fn run_traced(short: &str, env: &[(String, String)]) -> Vec<String> {
    let mut c = Container::new(short);
    c.sh("echo inside");
    c.write_config();
    let b = c.bundle_str();
    let (out, calls) = strace_static(&c, &["run", "--bundle", &b, &c.id], env);
    out.ok("run with the static binary");
    assert_eq!(out.stdout.trim(), "inside", "{out:#?}");
    calls
}

/// The slow path happened: glibc started (arch_prctl), then exactly one re-exec.
#[track_caller]
fn reexec_after_libc_start(calls: &[String]) {
    let exec_at = calls.iter().position(|n| n == "execveat");
    let libc_at = calls.iter().position(|n| n == "arch_prctl");
    assert!(
        matches!((libc_at, exec_at), (Some(l), Some(e)) if l < e),
        "expected glibc to start, then the re-exec: {calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|n| *n == "execveat").count(),
        1,
        "{calls:?}"
    );
}

fn strace_available() -> bool {
    Command::new("strace").arg("-V").output().is_ok()
}

#[test]
fn run_reexecs_before_libc_starts_and_the_container_runs() {
    assert!(
        strace_available(),
        "strace is needed (make deps installs it)"
    );
    let calls = run_traced("entry", &[]);
    // The first image: its own execve, one open of /proc/self/exe (is it already on a
    // read-only mount?), then the protected re-exec; glibc's start-up (brk, arch_prctl) never
    // ran in it.
    let upto: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .take_while(|n| *n != "execveat")
        .collect();
    assert_eq!(
        upto,
        ["execve", "openat", "open_tree", "mount_setattr"],
        "syscalls of the first image before its re-exec: {calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|n| *n == "execveat").count(),
        1,
        "the re-executed image must not re-exec again: {calls:?}"
    );
    // After the re-exec glibc does start (the image that does the work).
    let after: Vec<&String> = calls.iter().skip_while(|n| *n != "execveat").collect();
    assert!(
        after.iter().any(|n| *n == "arch_prctl"),
        "glibc never started after the re-exec: {calls:?}"
    );
}

#[test]
fn commands_that_never_enter_a_container_do_not_reexec() {
    assert!(
        strace_available(),
        "strace is needed (make deps installs it)"
    );
    let c = Container::new("entrystate");
    let (out, calls) = strace_static(&c, &["state", "no-such-container"], &[]);
    out.fails_with("state of a missing container", "does not exist");
    assert!(
        !calls.iter().any(|n| n == "open_tree" || n == "execveat"),
        "state re-executed itself: {calls:?}"
    );
    // An id spelled like a subcommand costs a re-exec, never a different answer.
    let (out, calls) = strace_static(&c, &["state", "run"], &[]);
    out.fails_with(
        "state of a missing container named run",
        "run does not exist",
    );
    assert_eq!(
        calls.iter().filter(|n| *n == "execveat").count(),
        1,
        "{calls:?}"
    );
}

#[test]
fn huge_environment_falls_back_to_the_reexec_after_libc_start() {
    assert!(
        strace_available(),
        "strace is needed (make deps installs it)"
    );
    let env: Vec<(String, String)> = (0..1100)
        .map(|i| (format!("OXIRUN_IT_FILL_{i}"), "x".into()))
        .collect();
    reexec_after_libc_start(&run_traced("entryenv", &env));
}

#[test]
fn a_mark_set_by_the_caller_does_not_switch_the_defence_off() {
    assert!(
        strace_available(),
        "strace is needed (make deps installs it)"
    );
    // The caller pretends we were already re-executed: the entry point trusts the mark and
    // lets glibc start, but `selfexe` finds the binary still writable, drops the mark and
    // re-executes from the read-only clone all the same.
    let env = [("_OXIRUN_SEALED_EXE".to_string(), "1".to_string())];
    reexec_after_libc_start(&run_traced("entrymark", &env));
}
