//! `run`: foreground exit codes (plain, 128+signal), signal forwarding from the runtime process to
//! the container, `--detach`, `--keep`, and removal of the container after a foreground run.

use std::time::Duration;

use oxirun_integration::checks::{assert_nothing_left, cgroup_dirs};
use oxirun_integration::util::{poll, wait_child};
use oxirun_integration::Container;

#[test]
fn exit_code_is_propagated() {
    let mut c = Container::new("exit3");
    c.sh("echo out; echo err >&2; exit 3");
    let out = c.run(&[]);
    assert_eq!(out.code, 3, "{out:#?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn foreground_run_removes_the_container() {
    let mut c = Container::new("rmafter");
    c.sh("exit 0");
    c.run(&[]).ok("run");
    c.state_out()
        .fails_with("state after run", "does not exist");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn killed_by_signal_gives_128_plus_signal() {
    let mut c = Container::new("sig9");
    c.sh("echo ready; exec sleep 1000");
    let (mut child, files) = c.spawn_run(&[]);
    let pid = poll(Duration::from_secs(10), || {
        let st = c.state_out();
        let v: serde_json::Value = serde_json::from_str(&st.stdout).ok()?;
        (v["status"] == "running")
            .then(|| v["pid"].as_i64())
            .flatten()
    })
    .expect("container never reached running");
    // SAFETY: kill(2) on the init of our own container.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let code = wait_child(&mut child, Duration::from_secs(10), "run");
    assert_eq!(code, 128 + 9, "{:#?}", files.read(code));
}

#[test]
fn sigterm_to_runtime_is_forwarded() {
    let mut c = Container::new("fwd");
    c.sh("trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done");
    let (mut child, files) = c.spawn_run(&[]);
    let ready = poll(Duration::from_secs(10), || {
        std::fs::read_to_string(&files.stdout)
            .ok()
            .filter(|s| s.contains("ready"))
    });
    assert!(
        ready.is_some(),
        "container never became ready: {:#?}",
        files.read(-1)
    );
    // SAFETY: kill(2) on the runtime process we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let code = wait_child(&mut child, Duration::from_secs(10), "run");
    assert_eq!(code, 42, "{:#?}", files.read(code));
}

#[test]
fn detach_leaves_container_running() {
    let mut c = Container::new("detach");
    c.sh("echo hello; exec sleep 1000");
    c.run_detached().ok("run --detach");
    assert_eq!(c.status(), "running");
    let st = c.state();
    assert_eq!(st["pid"].as_i64(), Some(c.pid.unwrap() as i64));
    let hello = poll(Duration::from_secs(5), || {
        c.container_output().0.contains("hello").then_some(())
    });
    assert!(hello.is_some(), "container output missing");
    c.kill(Some("KILL")).ok("kill");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), -9);
    c.delete(false).ok("delete");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn keep_leaves_a_stopped_container() {
    let mut c = Container::new("keep");
    c.sh("exit 5");
    let out = c.run(&["--keep"]);
    assert_eq!(out.code, 5, "{out:#?}");
    assert_eq!(c.status(), "stopped");
    c.delete(false).ok("delete kept container");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    assert!(cgroup_dirs(&c.cgroup_rel()).is_empty());
}

#[test]
fn run_reports_missing_executable() {
    let mut c = Container::new("runnobin");
    c.args(&["nosuchbin"]);
    let out = c.run(&[]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr_has("exec: \"nosuchbin\": executable file not found in $PATH"),
        "{out:#?}"
    );
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}
