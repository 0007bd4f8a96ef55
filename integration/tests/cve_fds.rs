//! CVE-2024-21626 "Leaky Vessels" (docs/security-cases.md): the harness deliberately leaks a
//! non-CLOEXEC fd to the host's `/` at every fd 3..=20 into the runtime; then a cwd of
//! `/proc/self/fd/$n` fails, `args = /proc/self/fd/$n/bin/busybox` (the host's static
//! busybox; the doc's /usr/bin/id is dynamic and cannot run without its loader) fails, `exec --cwd` through a
//! planted symlink fails, and in the created state every fd of the init is on an allowlist.
//! Related tests elsewhere: `security::cve_2024_21626_cwd_through_leaked_fd_refused` (fd 7, run),
//! `fds::leaked_host_fd_does_not_reach_container`, `exec::no_host_fd_leaks_into_exec`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use oxirun_integration::util::{reap, wait_child, OutFiles};
use oxirun_integration::{Container, Out};

const LEAKED: std::ops::RangeInclusive<i32> = 3..=20;

/// Makes `file` appear (not CLOEXEC) at every fd in 3..=20 of the spawned command.
fn leak_into(cmd: &mut Command, file: &File) {
    let src = file.as_raw_fd();
    // SAFETY: dup2/fcntl only (async-signal-safe) in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            // Move the source out of the way first so dup2 onto it cannot clobber it.
            let hi = libc::fcntl(src, libc::F_DUPFD, 100);
            if hi < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for t in LEAKED {
                if libc::dup2(hi, t) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::close(hi);
            Ok(())
        });
    }
}

fn run_leaking(c: &Container, args: &[&str], tag: &str) -> Out {
    let host_root = File::open("/").unwrap();
    let files = OutFiles::new(&c.dir.path, tag);
    let mut cmd = c.command(args);
    files.attach(&mut cmd);
    leak_into(&mut cmd, &host_root);
    let mut child = cmd.spawn().expect("spawn oxirun");
    let code = wait_child(&mut child, Duration::from_secs(30), tag);
    files.read(code)
}

#[test]
fn cve_2024_21626_leaked_fd_cwd() {
    for n in LEAKED {
        let mut c = Container::new("lvcwd");
        c.sh("pwd; ls").cwd(&format!("/proc/self/fd/{n}"));
        c.write_config();
        let b = c.bundle_str();
        let out = run_leaking(&c, &["run", "--bundle", &b, &c.id], "run");
        assert_ne!(
            out.code, 0,
            "fd {n}: container ran with a host cwd: {out:#?}"
        );
        assert!(
            !out.stdout.contains("usr") && !out.stdout.contains("work"),
            "fd {n}: host / listed: {out:#?}"
        );
    }
}

#[test]
fn cve_2024_21626_leaked_fd_args() {
    let mut c = Container::new("lvargs");
    for n in [3, 7, 20] {
        // The host's static busybox (a dynamic host binary would fail for lack of its loader
        // inside the rootfs and hide the escape).
        let path = format!("/proc/self/fd/{n}/bin/busybox");
        c.args(&[&path, "echo", "ran-host-binary"]);
        c.write_config();
        let b = c.bundle_str();
        let out = run_leaking(&c, &["run", "--bundle", &b, &c.id], "run");
        assert_ne!(out.code, 0, "fd {n}: ran a host binary: {out:#?}");
        assert!(
            !out.stdout.contains("uid="),
            "fd {n}: host id ran: {out:#?}"
        );
        let _ = c.delete(true);
    }
}

#[test]
fn cve_2024_21626_exec_cwd_through_planted_symlink() {
    let mut c = Container::new("lvexec");
    c.sh("exec sleep 1000").create_ok();
    c.start().ok("start");
    for n in [3, 7, 20] {
        // The container plants /tmp/l<n> -> /proc/self/fd/<n> (a root-owned process could).
        std::fs::create_dir_all(c.rootfs().join("tmp")).unwrap();
        let l = format!("/tmp/l{n}");
        let _ = std::fs::remove_file(c.rootfs().join(&l[1..]));
        std::os::unix::fs::symlink(format!("/proc/self/fd/{n}"), c.rootfs().join(&l[1..])).unwrap();
        let out = run_leaking(
            &c,
            &["exec", "--cwd", &l, &c.id, "sh", "-c", "pwd; ls"],
            "exec",
        );
        assert_ne!(out.code, 0, "fd {n}: exec ran with a host cwd: {out:#?}");
        assert!(
            !out.stdout.contains("usr") && !out.stdout.contains("work"),
            "fd {n}: host / listed: {out:#?}"
        );
        // Also --cwd /proc/self/fd/<n> directly.
        let direct = format!("/proc/self/fd/{n}");
        let out = run_leaking(&c, &["exec", "--cwd", &direct, &c.id, "ls"], "exec");
        assert_ne!(out.code, 0, "fd {n}: exec --cwd {direct}: {out:#?}");
    }
}

/// In the created state every fd of the init is a pty, pipe, socket, /dev/null, anon inode or
/// the exec fifo: nothing of the host's.
#[test]
fn cve_2024_21626_created_init_fd_allowlist() {
    let mut c = Container::new("lvfds");
    c.sh("true");
    c.write_config();
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let out = run_leaking(
        &c,
        &["create", "--bundle", &b, "--pid-file", &p, &id],
        "create",
    );
    out.ok("create with leaked fds");
    let pid = c.read_pid_file();
    c.pid = Some(pid);
    let mut bad = Vec::new();
    let mut all = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let t = std::fs::read_link(e.path())
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.push(format!("{}->{t}", e.file_name().to_string_lossy()));
        let ok = t.starts_with("pipe:")
            || t.starts_with("socket:")
            || t.starts_with("anon_inode:")
            || t.starts_with("/dev/pts/")
            || t == "/dev/null"
            || t.contains("exec.fifo")
            || t.contains("fifo")
            || t.starts_with(c.dir.path.to_str().unwrap());
        if !ok {
            bad.push(t);
        }
    }
    assert!(bad.is_empty(), "init holds host fds {bad:?} (all: {all:?})");
    c.delete(true).ok("delete");
    let _ = reap(pid, Duration::from_secs(5));
    c.reaped = true;
}

/// Two runs through the same leaking parent: the runtime's fd table (as the container sees it)
/// does not grow, and never includes the leaked fds.
#[test]
fn cve_2024_21626_fd_table_is_stable_across_runs() {
    let mut c = Container::new("lvdiff");
    c.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
    c.write_config();
    let b = c.bundle_str();
    let first = run_leaking(&c, &["run", "--bundle", &b, &c.id], "run1");
    first.ok("run 1");
    let second = run_leaking(&c, &["run", "--bundle", &b, &c.id], "run2");
    second.ok("run 2");
    assert_eq!(first.stdout, second.stdout, "fd table differs between runs");
    // `ls` itself holds one directory fd (3).
    assert_eq!(first.stdout.trim(), "0 1 2 3", "fds in the container");
}
