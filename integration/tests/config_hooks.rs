//! OCI hooks, observed through what the hooks themselves record: all six kinds run in order
//! with their args and env, the state JSON on stdin (status and pid per kind), in the right
//! mount namespace; failing / timing-out hooks abort create (nothing left, poststop still
//! runs), a failing startContainer fails start, failing poststart/poststop only warn.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxirun_integration::confcheck::create_fails;
use oxirun_integration::{json, Container, Value};

/// Appends "<kind> <status> <pid> <arg2> <HOOKVAR> <mntns> <n>" where n counts the container-only
/// mount `/oxi-hookmnt` in its mountinfo. Writes to $LOG if its dir exists (host / pre-pivot),
/// else to /hooklog/log (the same dir bind-mounted into the container).
const HOOK: &str = r#"#!/bin/sh
json=$(cat)
status=$(echo "$json" | sed -n 's/.*"status": *"\([a-zA-Z]*\)".*/\1/p')
pid=$(echo "$json" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
n=$(grep -c '/oxi-hookmnt ' /proc/self/mountinfo)
line="$1 $status $pid $2 $HOOKVAR $(readlink /proc/self/ns/mnt) $n"
if [ -d "$(dirname "$LOG")" ]; then echo "$line" >> "$LOG"; else echo "$line" >> /hooklog/log; fi
case "$MODE" in
  fail) echo "hook-said-boom-$1"; echo "hook-stderr-$1" >&2; exit 3 ;;
  hang) echo "about-to-hang-$1"; exec sleep 30 ;;
esac
exit 0
"#;

struct Hooks {
    log: PathBuf,
    host_script: String,
}

fn setup(c: &mut Container) -> Hooks {
    let logdir = c.dir.join("hooklog");
    std::fs::create_dir(&logdir).unwrap();
    let script = c.dir.join("hook.sh");
    std::fs::write(&script, HOOK).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let inner = c.rootfs().join("oxi-hook.sh");
    std::fs::write(&inner, HOOK).unwrap();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(c.rootfs().join("hooklog")).unwrap();
    std::fs::create_dir_all(c.rootfs().join("oxi-hookmnt")).unwrap();
    c.add_mount(
        json!({"destination": "/hooklog", "type": "bind", "source": logdir,
                       "options": ["rbind", "rw"]}),
    )
    .add_mount(json!({"destination": "/oxi-hookmnt", "type": "tmpfs", "source": "tmpfs"}));
    Hooks {
        log: logdir.join("log"),
        host_script: script.to_str().unwrap().to_string(),
    }
}

impl Hooks {
    fn hook(&self, kind: &str, mode: &str, timeout: Option<u32>) -> Value {
        let path = if kind == "startContainer" {
            "/oxi-hook.sh".to_string()
        } else {
            self.host_script.clone()
        };
        let mut h = json!({
            "path": path,
            "args": ["hook.sh", kind, format!("arg-of-{kind}")],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOOKVAR=env-ok",
                    format!("LOG={}", self.log.display()), format!("MODE={mode}")],
        });
        if let Some(t) = timeout {
            h["timeout"] = json!(t);
        }
        h
    }

    fn lines(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(String::from).collect())
            .collect()
    }

    fn kinds(&self) -> Vec<String> {
        self.lines().into_iter().map(|l| l[0].clone()).collect()
    }
}

fn own_mntns() -> String {
    std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn wait_for(path: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn all_six_kinds_in_order_with_state_args_env_and_namespace() {
    let mut c = Container::new("hooks6");
    let h = setup(&mut c);
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    let mut hooks = json!({});
    for k in kinds {
        hooks[k] = json!([h.hook(k, "ok", Some(10))]);
    }
    c.set("/hooks", hooks)
        .sh("readlink /proc/self/ns/mnt > /hooklog/ctr-ns; exec sleep 30");
    c.create_ok();
    let pid = c.pid.unwrap().to_string();
    assert_eq!(h.kinds(), ["prestart", "createRuntime", "createContainer"]);
    c.start().ok("start");
    assert!(wait_for(
        &h.log.with_file_name("ctr-ns"),
        Duration::from_secs(10)
    ));
    let ctr_ns = std::fs::read_to_string(h.log.with_file_name("ctr-ns"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        h.kinds(),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ]
    );
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    c.delete(false).ok("delete");
    let lines = h.lines();
    assert_eq!(h.kinds(), kinds, "{lines:?}");
    let host_ns = own_mntns();
    assert_ne!(host_ns, ctr_ns);
    let want_status = [
        "creating", "creating", "creating", "created", "running", "stopped",
    ];
    for (i, l) in lines.iter().enumerate() {
        let kind = l[0].as_str();
        let in_ctr = kind == "createContainer" || kind == "startContainer";
        assert_eq!(l[1], want_status[i], "status for {kind}: {lines:?}");
        if kind == "poststop" {
            // runc: a stopped container's state has no pid (0 / absent).
            assert!(
                l[2].is_empty() || l[2] == "0",
                "pid for poststop: {lines:?}"
            );
        } else {
            let want_pid = if in_ctr { "1" } else { pid.as_str() };
            assert_eq!(l[2], want_pid, "pid for {kind}: {lines:?}");
        }
        assert_eq!(l[3], format!("arg-of-{kind}"), "args for {kind}: {lines:?}");
        assert_eq!(l[4], "env-ok", "env for {kind}: {lines:?}");
        let (want_ns, want_mnt) = if in_ctr {
            (&ctr_ns, "1")
        } else {
            (&host_ns, "0")
        };
        assert_eq!(&l[5], want_ns, "mount namespace of {kind}: {lines:?}");
        assert_eq!(
            l[6], want_mnt,
            "{kind} sees the container-only mount /oxi-hookmnt? {lines:?}"
        );
    }
}

/// A failing (or hanging) create-time hook: create exits 1 naming the hook with its output,
/// nothing is left, later hooks never ran, poststop still ran.
fn create_hook_fails(kind: &str, mode: &str) {
    let mut c = Container::new(&format!("hk{}{mode}", &kind[..4]));
    let h = setup(&mut c);
    let mut hooks = json!({"poststop": [h.hook("poststop", "ok", Some(10))]});
    hooks[kind] = json!([h.hook(kind, mode, Some(1))]);
    if kind != "createContainer" {
        hooks["createContainer"] = json!([h.hook("createContainer", "ok", Some(10))]);
    }
    c.set("/hooks", hooks).sh("true");
    let t0 = Instant::now();
    let phrase = if mode == "fail" {
        format!("hook-said-boom-{kind}")
    } else {
        format!("about-to-hang-{kind}")
    };
    let out = create_fails(&mut c, &[kind, &phrase]);
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t0.elapsed()
    );
    if mode == "hang" {
        assert!(
            out.stderr.contains("timed out") || out.stderr.contains("timeout"),
            "message should say the hook timed out: {out:#?}"
        );
    }
    assert_eq!(
        h.kinds().last().map(String::as_str),
        Some("poststop"),
        "poststop did not run after the failed create: {:?} {out:#?}",
        h.lines()
    );
    assert!(
        !h.kinds().iter().any(|k| k == "createContainer") || kind == "createContainer",
        "createContainer ran after a failed {kind}: {:?}",
        h.lines()
    );
}

#[test]
fn failing_prestart_aborts_create() {
    create_hook_fails("prestart", "fail");
}

#[test]
fn failing_create_runtime_aborts_create() {
    create_hook_fails("createRuntime", "fail");
}

#[test]
fn failing_create_container_aborts_create() {
    create_hook_fails("createContainer", "fail");
}

#[test]
fn timing_out_prestart_aborts_create() {
    create_hook_fails("prestart", "hang");
}

#[test]
fn timing_out_create_runtime_aborts_create() {
    create_hook_fails("createRuntime", "hang");
}

#[test]
fn timing_out_create_container_aborts_create() {
    create_hook_fails("createContainer", "hang");
}

#[test]
fn failing_start_container_fails_start() {
    let mut c = Container::new("hkstartfail");
    let h = setup(&mut c);
    c.set(
        "/hooks",
        json!({"startContainer": [h.hook("startContainer", "fail", Some(10))]}),
    )
    .sh("touch /hooklog/process-ran");
    c.create_ok();
    let out = c.start();
    assert_ne!(out.code, 0, "start should fail: {out:#?}");
    assert!(
        out.stderr.contains("startContainer") && out.stderr.contains("hook-said-boom"),
        "start error should name the hook and carry its output: {out:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !h.log.with_file_name("process-ran").exists(),
        "the process ran although startContainer failed"
    );
}

#[test]
fn failing_poststart_and_poststop_only_warn() {
    let mut c = Container::new("hkpostwarn");
    let h = setup(&mut c);
    c.set(
        "/hooks",
        json!({"poststart": [h.hook("poststart", "fail", Some(10))],
               "poststop": [h.hook("poststop", "fail", Some(10))]}),
    )
    .sh("touch /hooklog/process-ran; exec sleep 30");
    c.create_ok();
    let out = c.start();
    out.ok("start with a failing poststart");
    assert!(
        out.stderr.contains("poststart"),
        "start should warn about poststart: {out:#?}"
    );
    assert!(wait_for(
        &h.log.with_file_name("process-ran"),
        Duration::from_secs(10)
    ));
    assert_eq!(c.status(), "running");
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    let out = c.delete(false);
    out.ok("delete with a failing poststop");
    assert!(
        out.stderr.contains("poststop"),
        "delete should warn about poststop: {out:#?}"
    );
    assert_eq!(h.kinds(), ["poststart", "poststop"]);
    oxirun_integration::checks::assert_nothing_left(&c.root, &c.id, &c.bundle);
}

/// `run` starts through the sync channel, not the exec gate: a failing startContainer hook must
/// still fail it with the hook's error, keep the process from running, and leave nothing.
#[test]
fn failing_start_container_fails_run_and_cleans_up() {
    for detach in [false, true] {
        let mut c = Container::new(if detach { "hkrunfaild" } else { "hkrunfail" });
        let h = setup(&mut c);
        c.set(
            "/hooks",
            json!({"startContainer": [h.hook("startContainer", "fail", Some(10))]}),
        )
        .sh("touch /hooklog/process-ran");
        let out = if detach { c.run_detached() } else { c.run(&[]) };
        assert_ne!(out.code, 0, "run (detach={detach}) should fail: {out:#?}");
        assert!(
            out.stderr.contains("startContainer") && out.stderr.contains("hook-said-boom"),
            "run error should name the hook and carry its output: {out:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !h.log.with_file_name("process-ran").exists(),
            "the process ran although startContainer failed (detach={detach})"
        );
        assert!(
            !c.root.join(&c.id).exists(),
            "state left behind (detach={detach})"
        );
    }
}
