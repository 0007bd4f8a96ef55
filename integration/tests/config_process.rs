//! `process.*` fields not covered by process.rs, from inside (or the host's /proc): rlimits
//! above the hard limit, oomScoreAdj, LSM labels on an LSM-less host, ioPriority, scheduler,
//! consoleSize and user.umask.

use std::os::fd::AsRawFd;
use std::time::Duration;

use oxirun_integration::confcheck::create_fails;
use oxirun_integration::term::{read_until, ConsoleSocket};
use oxirun_integration::{json, Container};

#[test]
fn rlimit_above_the_hard_limit_is_a_clear_error() {
    let mut c = Container::new("rlimhard");
    // This host's hard nofile is 20000 and root lacks CAP_SYS_RESOURCE.
    c.rlimits(&[("RLIMIT_NOFILE", 1024, 1 << 20)]).sh("true");
    create_fails(&mut c, &["RLIMIT_NOFILE"]);
}

#[test]
fn oom_score_adj_is_applied() {
    let mut c = Container::new("oomadj");
    c.set("/process/oomScoreAdj", json!(345))
        .sh("cat /proc/self/oom_score_adj; exec sleep 30");
    c.create_ok();
    let pid = c.pid.unwrap();
    let host = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(host.trim(), "345");
    c.start().ok("start");
    let mut seen = String::new();
    for _ in 0..200 {
        seen = c.container_output().0;
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen, "345\n");
    let own = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_ne!(
        own.trim(),
        "345",
        "the runtime changed its caller's oom_score_adj"
    );
}

#[test]
fn apparmor_profile_is_a_clear_error() {
    let mut c = Container::new("apparmor");
    c.set("/process/apparmorProfile", json!("oxi-profile"))
        .sh("true");
    let out = create_fails(&mut c, &["apparmor"]);
    assert!(out.stderr.contains("oxi-profile") || out.stderr.contains("apparmorProfile"));
}

/// SELinux labels on a host without SELinux: ignored with a debug line (there is nothing to
/// confine with), as crun and youki do and the OCI runtime-tools suite expects.
#[test]
fn selinux_labels_are_ignored_without_selinux() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        panic!("this test is written for a host without SELinux (this one has it)");
    }
    let mut c = Container::new("selinux");
    c.set(
        "/process/selinuxLabel",
        json!("system_u:system_r:container_t:s0:c1,c2"),
    )
    .set(
        "/linux/mountLabel",
        json!("system_u:object_r:container_file_t:s0:c1,c2"),
    );
    c.sh("grep -c ' /dev ' /proc/mounts");
    c.write_config();
    let out = c.rt(&["--debug", "run", "--bundle", &c.bundle_str(), &c.id]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "1\n"), "{out:#?}");
    for field in ["process.selinuxLabel", "linux.mountLabel"] {
        assert!(
            out.stderr_has(&format!("{field}: ignored, SELinux is not enabled")),
            "{field}: {out:#?}"
        );
    }
}

#[test]
fn io_priority_is_applied() {
    let mut c = Container::new("ioprio");
    c.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_RT", "priority": 2}),
    );
    assert_eq!(c.inside("ionice").trim(), "realtime: prio 2");
    let mut c = Container::new("ioprio2");
    c.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    );
    assert_eq!(c.inside("ionice").trim(), "best-effort: prio 6");
}

#[test]
fn scheduler_batch_with_nice() {
    let mut c = Container::new("sched");
    c.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 7}),
    );
    // Field 19 is nice, field 41 the policy (3 = SCHED_BATCH).
    assert_eq!(c.inside("cut -d' ' -f19,41 /proc/self/stat").trim(), "7 3");
}

#[test]
fn scheduler_fifo_without_priority_is_an_error() {
    let mut c = Container::new("schedfifo");
    c.set("/process/scheduler", json!({"policy": "SCHED_FIFO"}))
        .sh("true");
    create_fails(&mut c, &["process.scheduler.priority"]);
}

#[test]
fn console_size_with_a_console_socket() {
    let mut c = Container::new("consz");
    let sock = ConsoleSocket::bind(&c.dir.path);
    c.set("/process/terminal", json!(true))
        .set("/process/consoleSize", json!({"height": 33, "width": 111}))
        .sh("stty size; sleep 1");
    c.write_config();
    let (b, p) = (c.bundle_str(), c.dir.join("init.pid"));
    let id = c.id.clone();
    let out = c.rt(&[
        "run",
        "--detach",
        "--console-socket",
        sock.path_str(),
        "--bundle",
        &b,
        "--pid-file",
        p.to_str().unwrap(),
        &id,
    ]);
    out.ok("run -d --console-socket");
    c.pid = Some(c.read_pid_file());
    let got = sock.recv(Duration::from_secs(10)).expect("console master");
    assert_eq!(got.fds.len(), 1);
    let mut acc = Vec::new();
    let ok = read_until(
        got.fds[0].as_raw_fd(),
        &mut acc,
        Duration::from_secs(10),
        |t| t.contains("33 111"),
    );
    assert!(ok, "stty size: {:?}", String::from_utf8_lossy(&acc));
}

#[test]
fn user_umask_applies_to_created_files() {
    let mut c = Container::new("umask2");
    c.umask(0o077);
    let out = c.inside("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d");
    assert_eq!(out, "0077\n600\n700\n");
}

/// A cwd only root can enter (`/root`, mode 700) for a non-root user: entered before the user
/// switch, as runc does, so the process starts there.
#[test]
fn cwd_only_root_can_enter() {
    let mut c = Container::new("cwdroot");
    let root = c.rootfs().join("root");
    std::fs::create_dir_all(&root).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    c.user(1000, 1000, &[]).cwd("/root");
    let out = c.inside("pwd; id -u; ls . 2>&1 >/dev/null | grep -c 'Permission denied'");
    assert_eq!(out, "/root\n1000\n1\n");
}

/// A cwd missing from the rootfs is created (0755, owned by root), as runc does, also inside
/// a mount of the config; a symlink in the way cannot take the creation outside the rootfs.
/// Found by the differential harness (oxirun failed with ENOENT).
#[test]
fn missing_cwd_is_created() {
    let mut c = Container::new("cwdnew");
    c.add_mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}))
        .cwd("/scratch/a/b");
    let out = c.inside("pwd; stat -c '%a %u' .; grep -c ' /scratch ' /proc/self/mountinfo");
    assert_eq!(out, "/scratch/a/b\n755 0\n1\n");
    assert!(
        !c.rootfs().join("scratch/a").exists(),
        "created beneath the tmpfs, not in the rootfs"
    );

    let mut c = Container::new("cwdlink");
    let outside = c.dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, c.rootfs().join("esc")).unwrap();
    c.cwd("/esc/x");
    // The link resolves inside the rootfs: to <rootfs>/<outside>/x.
    let out = c.inside("pwd");
    assert_eq!(out, format!("{}/x\n", outside.display()));
    assert!(
        !outside.join("x").exists(),
        "cwd created through a symlink on the host"
    );
    assert!(c
        .rootfs()
        .join(outside.strip_prefix("/").unwrap())
        .join("x")
        .is_dir());
}
