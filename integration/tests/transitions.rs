//! Illegal lifecycle transitions and unknown ids: each fails with exit 1 and the runc wording
//! clients match on, and leaves the container as it was.

use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::util::{wait_child, OutFiles};
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
    let want = format!(
        "cannot delete container {} that is not stopped: running",
        c.id
    );
    c.delete(false).fails_with("delete running", &want);
    assert_eq!(
        c.status(),
        "running",
        "container disturbed by failed delete"
    );
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

/// SIGKILL to a paused container's init thaws it so the kill lands (runc does this; a frozen
/// cgroup v1 task cannot act on the signal): the container stops and a plain delete works.
/// Other signals leave it paused. Found by the differential harness.
#[test]
fn kill_of_a_paused_container() {
    let mut c = Container::new("killpaused");
    c.sh(SLEEPER).run_detached().ok("run -d");
    c.rt(&["pause", &c.id]).ok("pause");
    c.kill(Some("USR1")).ok("kill USR1");
    assert_eq!(
        c.status(),
        "paused",
        "a non-KILL signal thawed the container"
    );
    c.kill(Some("KILL")).ok("kill KILL");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), -libc::SIGKILL);
    assert_eq!(c.status(), "stopped");
    c.delete(false).ok("delete");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

/// runc's words for pause and resume in the wrong state: pause of anything not running or
/// created (a paused container too) is "container not running", resume of anything not
/// paused (a stopped container too) is "container not paused". Found by the differential
/// harness.
#[test]
fn pause_and_resume_in_the_wrong_state() {
    let mut c = Container::new("pausewrong");
    c.sh(SLEEPER).run_detached().ok("run -d");
    c.rt(&["resume", &c.id])
        .fails_with("resume running", "container not paused");
    c.rt(&["pause", &c.id]).ok("pause");
    c.rt(&["pause", &c.id])
        .fails_with("pause paused", "container not running");
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(5));
    c.rt(&["resume", &c.id])
        .fails_with("resume stopped", "container not paused");
    c.rt(&["pause", &c.id])
        .fails_with("pause stopped", "container not running");
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
    c.delete(true)
        .ok("delete --force of an unknown id succeeds");
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

#[test]
fn parallel_creates_of_one_id_exactly_one_wins() {
    let mut c = Container::new("race");
    c.sh(SLEEPER);
    c.write_config();
    let b = c.bundle_str();
    let mut runs = Vec::new();
    for i in 0..8 {
        let pid_file = c.dir.join(&format!("race-{i}.pid"));
        let files = OutFiles::new(&c.dir.path, "race");
        let mut cmd = c.command(&["create", "--bundle", &b, "--pid-file"]);
        cmd.arg(&pid_file).arg(&c.id);
        files.attach(&mut cmd);
        runs.push((cmd.spawn().expect("spawn create"), files, pid_file));
    }
    let mut winners = Vec::new();
    for (mut child, files, pid_file) in runs {
        let code = wait_child(&mut child, Duration::from_secs(30), "create");
        let out = files.read(code);
        if code == 0 {
            winners.push(pid_file);
        } else {
            out.fails_with("losing create", "already exists");
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let pid: i32 = std::fs::read_to_string(&winners[0])
        .unwrap()
        .parse()
        .unwrap();
    c.pid = Some(pid);
    let st = c.state();
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64), "{st}");
}

#[test]
fn relative_pid_file_is_relative_to_caller_cwd() {
    let mut c = Container::new("relpid");
    c.sh(SLEEPER);
    c.write_config();
    let b = c.bundle_str();
    let files = OutFiles::new(&c.dir.path, "relpid");
    // cwd of the command is the test dir, not the bundle.
    let mut cmd = c.command(&["create", "--bundle", &b, "--pid-file", "rel.pid", &c.id]);
    files.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn create");
    let code = wait_child(&mut child, Duration::from_secs(30), "create");
    let out = files.read(code);
    assert_eq!(code, 0, "{out:#?}");
    let p = c.dir.join("rel.pid");
    let pid: i32 = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (bundle has: {:?})",
                p.display(),
                c.bundle.join("rel.pid").exists()
            )
        })
        .parse()
        .unwrap();
    c.pid = Some(pid);
    assert_eq!(c.state()["pid"].as_i64(), Some(pid as i64));
}

#[test]
fn successful_commands_keep_stderr_silent() {
    let mut c = Container::new("quiet");
    c.sh(SLEEPER);
    let out = c.create();
    out.ok("create");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", ""),
        "create output"
    );
    for args in [vec!["state", c.id.as_str()], vec!["start", c.id.as_str()]] {
        let o = c.rt(&args);
        o.ok(&args.join(" "));
        assert_eq!(o.stderr, "", "{} printed to stderr", args[0]);
    }
    let o = c.kill(Some("KILL"));
    o.ok("kill");
    assert_eq!(o.stderr, "");
    c.wait_exit(Duration::from_secs(5));
    let o = c.delete(false);
    o.ok("delete");
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("", ""),
        "delete output"
    );
}
