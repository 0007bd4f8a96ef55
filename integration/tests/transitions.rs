//! Illegal lifecycle transitions and unknown ids: each fails with exit 1 and the runc wording
//! clients match on, and leaves the container as it was.

use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::Container;

const SLEEPER: &str = "exec sleep 1000";

#[test]
fn duplicate_create_already_exists() {
    let mut c = Container::new("dup");
    c.sh(SLEEPER).create_ok();
    let pid = c.pid;
    let out = c.create();
    out.fails_with("second create", "already exists");
    c.pid = pid;
    assert_eq!(c.status(), "created", "first container disturbed");
    assert_eq!(c.read_pid_file(), pid.unwrap(), "pid-file overwritten");
}

#[test]
fn start_running_fails() {
    let mut c = Container::new("startrun");
    c.sh(SLEEPER).create_ok();
    c.start().ok("start");
    c.start()
        .fails_with("second start", "cannot start an already running container");
    assert_eq!(c.status(), "running");
}

#[test]
fn start_stopped_fails() {
    let mut c = Container::new("startstop");
    c.sh("exit 0").create_ok();
    c.start().ok("start");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 0);
    assert_eq!(c.status(), "stopped");
    c.start()
        .fails_with("start stopped", "cannot start a container that has stopped");
}

#[test]
fn delete_running_without_force_fails() {
    let mut c = Container::new("delrun");
    c.sh(SLEEPER).create_ok();
    c.start().ok("start");
    let want = format!("cannot delete container {} that is not stopped: running", c.id);
    c.delete(false).fails_with("delete running", &want);
    assert_eq!(c.status(), "running", "container disturbed by failed delete");
}

#[test]
fn kill_stopped_is_not_running() {
    let mut c = Container::new("killstop");
    c.sh("exit 0").create_ok();
    c.start().ok("start");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 0);
    c.kill(Some("KILL"))
        .fails_with("kill stopped", "container not running");
    c.rt(&["kill", "--all", &c.id, "KILL"])
        .ok("kill --all on a stopped container succeeds");
}

#[test]
fn unknown_id_does_not_exist() {
    let c = Container::new("unknown");
    for args in [
        vec!["state", c.id.as_str()],
        vec!["start", c.id.as_str()],
        vec!["kill", c.id.as_str(), "KILL"],
        vec!["delete", c.id.as_str()],
    ] {
        c.rt(&args).fails_with(&args.join(" "), "does not exist");
    }
    c.delete(true).ok("delete --force of an unknown id succeeds");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn missing_executable_reported_by_create() {
    let mut c = Container::new("nobin");
    c.args(&["nosuchbin"]);
    let out = c.create();
    out.fails_with(
        "create",
        "exec: \"nosuchbin\": executable file not found in $PATH",
    );
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}
