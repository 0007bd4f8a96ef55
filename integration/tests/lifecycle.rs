//! Lifecycle: create -> start -> kill -> delete, the state JSON at each step, the pid-file,
//! status derived from reality, signal names accepted by `kill`, and `delete --force` of a
//! created container.

use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::util::{pid_alive, reap, Reap};
use oxirun_integration::Container;

const SLEEPER: &str = "echo started; exec sleep 1000";

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'))
}

#[test]
fn state_json_at_each_step() {
    let mut c = Container::new("states");
    c.sh(SLEEPER).annotation("org.oxirun.test", "yes");
    c.create_ok();

    let st = c.state();
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], c.id.as_str());
    assert!(
        st["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{st}"
    );
    assert_eq!(st["pid"].as_i64(), Some(c.pid.unwrap() as i64), "{st}");
    assert_eq!(st["bundle"], c.bundle_str().as_str(), "{st}");
    assert!(
        st["rootfs"].as_str().is_some_and(|r| r.ends_with("rootfs")),
        "{st}"
    );
    assert!(st["created"].as_str().is_some_and(is_rfc3339), "{st}");
    assert_eq!(st["annotations"]["org.oxirun.test"], "yes", "{st}");
    assert_eq!(st["owner"], "", "{st}");
    assert_eq!(c.container_output().0, "", "process ran before start");

    c.start().ok("start");
    assert_eq!(c.wait_status("running", Duration::from_secs(5)), "running");
    let started = oxirun_integration::util::poll(Duration::from_secs(5), || {
        c.container_output().0.contains("started").then_some(())
    });
    assert!(started.is_some(), "process did not run after start");

    c.kill(Some("KILL")).ok("kill");
    let code = c.wait_exit(Duration::from_secs(5));
    assert_eq!(code, -9, "init should die of SIGKILL");
    let st = c.state();
    assert_eq!(st["status"], "stopped", "{st}");

    c.delete(false).ok("delete stopped");
    c.state_out()
        .fails_with("state after delete", "does not exist");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn state_omits_empty_annotations() {
    let mut c = Container::new("noannot");
    c.sh(SLEEPER).unset("/annotations");
    c.create_ok();
    let st = c.state();
    assert!(
        st.get("annotations").is_none(),
        "annotations should be omitted: {st}"
    );
}

#[test]
fn pid_file_is_host_pid_without_newline() {
    let mut c = Container::new("pidfile");
    c.sh(SLEEPER).create_ok();
    let raw = std::fs::read_to_string(&c.pid_file).unwrap();
    assert!(
        !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()),
        "pid-file {raw:?}"
    );
    let pid: i64 = raw.parse().unwrap();
    assert_eq!(c.state()["pid"].as_i64(), Some(pid));
    // A host pid: /proc/<pid> is the init, pid 1 in its own pid namespace.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("host /proc/<pid>");
    let nspid = oxirun_integration::checks::status_field(&status, "NSpid").unwrap_or("");
    assert_eq!(nspid, format!("{pid}\t1"), "NSpid of init");
}

#[test]
fn status_is_stopped_after_out_of_band_kill() {
    let mut c = Container::new("oob");
    c.sh(SLEEPER).create_ok();
    c.start().ok("start");
    let pid = c.pid.unwrap();
    // SAFETY: kill(2) on our own container's init (our unreaped child).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(c.wait_exit(Duration::from_secs(5)), -9);
    assert_eq!(c.status(), "stopped");
    c.delete(false).ok("delete after out-of-band kill");
}

#[test]
fn status_is_stopped_while_init_is_an_unreaped_zombie() {
    let mut c = Container::new("zombie");
    c.sh(SLEEPER).create_ok();
    c.start().ok("start");
    let pid = c.pid.unwrap();
    c.kill(Some("KILL")).ok("kill");
    let dead =
        oxirun_integration::util::poll(Duration::from_secs(5), || (!pid_alive(pid)).then_some(()));
    assert!(dead.is_some(), "init did not die");
    // Not reaped yet: a zombie is a dead container.
    assert_eq!(c.wait_status("stopped", Duration::from_secs(3)), "stopped");
    c.delete(false).ok("delete");
}

#[test]
fn kill_accepts_signal_forms() {
    for sig in ["9", "KILL", "SIGKILL", "kill"] {
        let mut c = Container::new("sigform");
        c.sh(SLEEPER).create_ok();
        c.start().ok("start");
        c.kill(Some(sig)).ok(&format!("kill {sig}"));
        assert_eq!(c.wait_exit(Duration::from_secs(5)), -9, "kill {sig}");
    }
}

/// Signal 0 asks whether the init is alive, as scripts and engines do: exit 0 while it runs
/// (also with --all, and nothing is delivered), "container not running" once it is gone.
#[test]
fn kill_signal_0_probes_the_init() {
    let mut c = Container::new("sig0");
    c.sh(
        "trap 'echo got-a-signal' HUP INT TERM USR1 USR2; echo ready; while :; do sleep 0.05; done",
    )
    .create_ok();
    c.kill(Some("0")).ok("kill 0 while created");
    c.start().ok("start");
    let ready = oxirun_integration::util::poll(Duration::from_secs(5), || {
        c.container_output().0.contains("ready").then_some(())
    });
    assert!(ready.is_some(), "trap not installed");
    c.kill(Some("0")).ok("kill 0 while running");
    c.rt(&["kill", "--all", &c.id, "0"]).ok("kill --all 0");
    assert_eq!(c.status(), "running");
    c.kill(Some("KILL")).ok("kill KILL");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), -9);
    assert!(!c.container_output().0.contains("got-a-signal"));
    c.kill(Some("0"))
        .fails_with("kill 0 of a stopped container", "container not running");
}

#[test]
fn kill_defaults_to_sigterm() {
    let mut c = Container::new("sigterm");
    c.sh("trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done")
        .create_ok();
    c.start().ok("start");
    let ready = oxirun_integration::util::poll(Duration::from_secs(5), || {
        c.container_output().0.contains("ready").then_some(())
    });
    assert!(ready.is_some(), "trap not installed");
    c.kill(None).ok("kill without signal");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 7);
    assert!(c.container_output().0.contains("got-term"));
}

#[test]
fn delete_force_of_created_container_leaves_nothing() {
    let mut c = Container::new("delcreated");
    c.sh(SLEEPER).create_ok();
    let pid = c.pid.unwrap();
    assert!(!oxirun_integration::checks::cgroup_dirs(&c.cgroup_rel()).is_empty());
    c.delete(true).ok("delete --force");
    match reap(pid, Duration::from_secs(5)) {
        Reap::Exited(_) | Reap::NotChild => {}
        Reap::Timeout => panic!("init {pid} still alive after delete --force"),
    }
    c.reaped = true;
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    assert!(c.container_output().0.is_empty(), "process ran");
}

#[test]
fn delete_force_of_running_container() {
    let mut c = Container::new("delrunning");
    c.sh(SLEEPER).create_ok();
    c.start().ok("start");
    c.delete(true).ok("delete --force running");
    let r = reap(c.pid.unwrap(), Duration::from_secs(5));
    assert_ne!(r, Reap::Timeout, "init survived delete --force");
    c.reaped = true;
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}
