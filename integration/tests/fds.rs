//! File descriptors crossing into the container: an fd the caller leaked (not CLOEXEC) never
//! reaches the container process (CVE-2024-21626 class), `--preserve-fds N` passes fds 3..3+N
//! through unchanged, and the container's stdio is the runtime's.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use oxirun_integration::util::{poll, wait_child, OutFiles};
use oxirun_integration::Container;

/// Lists the fds of a child of the container's shell, as inherited at exec time.
const LIST_FDS: &str = "sleep 10 & sleep 0.2; ls /proc/$!/fd | sort -n | tr '\\n' ' '; kill $!";

/// Runs `oxirun <args>` with `file` installed at `target_fd` (not CLOEXEC) in the runtime.
fn spawn_with_fd(c: &Container, args: &[&str], file: &File, target_fd: i32) -> (i32, OutFiles) {
    let files = OutFiles::new(&c.dir.path, "fd");
    let mut cmd = c.command(args);
    files.attach(&mut cmd);
    let src = file.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2(fd, fd) would keep FD_CLOEXEC: clear it explicitly in that case.
            let rc = if src == target_fd {
                libc::fcntl(src, libc::F_SETFD, 0)
            } else {
                libc::dup2(src, target_fd)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn oxirun");
    let code = wait_child(&mut child, Duration::from_secs(30), "oxirun");
    (code, files)
}

#[test]
fn leaked_host_fd_does_not_reach_container() {
    let mut c = Container::new("fdleak");
    c.sh(LIST_FDS);
    c.write_config();
    let host_root = File::open("/").unwrap();
    let b = c.bundle_str();
    let (code, files) = spawn_with_fd(&c, &["run", "--bundle", &b, &c.id], &host_root, 7);
    let out = files.read(code);
    assert_eq!(code, 0, "{out:#?}");
    assert_eq!(
        out.stdout.trim(),
        "0 1 2",
        "fds seen by the container: {out:#?}"
    );
}

#[test]
fn preserve_fds_passes_fd_3() {
    let mut c = Container::new("preserve");
    c.sh("echo through-fd-3 >&3; echo listed: $(ls /proc/self/fd | sort -n | tr '\\n' ' ')");
    c.write_config();
    let target = c.dir.join("fd3.txt");
    let f = File::create(&target).unwrap();
    let (b, p) = (c.bundle_str(), c.pid_file.to_str().unwrap().to_string());
    let args = [
        "create",
        "--preserve-fds",
        "1",
        "--bundle",
        &b,
        "--pid-file",
        &p,
        &c.id,
    ];
    let (code, files) = spawn_with_fd(&c, &args, &f, 3);
    let out = files.read(code);
    assert_eq!(code, 0, "create --preserve-fds 1: {out:#?}");
    drop(f);
    c.pid = Some(c.read_pid_file());
    c.start().ok("start");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 0);
    let stdout = std::fs::read_to_string(&files.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "through-fd-3\n",
        "stdout: {stdout:?}, stderr: {:?}",
        std::fs::read_to_string(&files.stderr)
    );
    let stdout = std::fs::read_to_string(&files.stdout).unwrap();
    assert!(stdout.contains("listed: 0 1 2 3 "), "{stdout:?}");
}

#[test]
fn detached_container_uses_runtime_stdio() {
    let mut c = Container::new("stdio");
    c.sh("echo to-stdout; echo to-stderr >&2");
    c.create_ok();
    c.start().ok("start");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 0);
    let seen = poll(Duration::from_secs(2), || {
        let (o, e) = c.container_output();
        (o == "to-stdout\n" && e == "to-stderr\n").then_some(())
    });
    assert!(
        seen.is_some(),
        "container output: {:?}",
        c.container_output()
    );
}

/// Runs `sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec oxirun <args>'` with `file` at fd 3: systemd's
/// socket activation, where LISTEN_PID names the runtime process itself.
fn spawn_activated(c: &Container, args: &[&str], file: &File) -> (i32, OutFiles) {
    let files = OutFiles::new(&c.dir.path, "listen");
    let rt = c.command(args);
    let mut line = String::from("LISTEN_PID=$$ LISTEN_FDS=1 exec");
    line.push(' ');
    line.push_str(rt.get_program().to_str().unwrap());
    for a in rt.get_args() {
        line.push_str(&format!(" '{}'", a.to_str().unwrap()));
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &line]).current_dir(&c.dir.path);
    files.attach(&mut cmd);
    let src = file.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2(3, 3) would keep FD_CLOEXEC: clear it explicitly in that case.
            let rc = if src == 3 {
                libc::fcntl(src, libc::F_SETFD, 0)
            } else {
                libc::dup2(src, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn sh");
    let code = wait_child(&mut child, Duration::from_secs(30), "oxirun");
    (code, files)
}

#[test]
fn listen_fds_reach_the_container_with_listen_pid_1() {
    let mut c = Container::new("listenfds");
    c.sh("echo env: $LISTEN_FDS $LISTEN_PID; echo fds: $(ls /proc/self/fd | sort -n | tr '\\n' ' '); cat <&3");
    c.write_config();
    let src = c.dir.join("activation.txt");
    std::fs::write(&src, "socket-activation-payload\n").unwrap();
    let f = File::open(&src).unwrap();
    let b = c.bundle_str();
    let (code, files) = spawn_activated(&c, &["run", "--bundle", &b, &c.id], &f);
    let out = files.read(code);
    assert_eq!(code, 0, "run with LISTEN_FDS: {out:#?}");
    assert!(out.stdout.contains("env: 1 1"), "{out:#?}");
    assert!(out.stdout.contains("fds: 0 1 2 3 "), "{out:#?}");
    assert!(out.stdout.contains("socket-activation-payload"), "{out:#?}");
}

#[test]
fn listen_fds_reach_an_exec_process() {
    let mut c = Container::new("listenexec");
    c.args(&["sleep", "30"]);
    c.run_detached().ok("run -d");
    let src = c.dir.join("activation.txt");
    std::fs::write(&src, "exec-activation-payload\n").unwrap();
    let f = File::open(&src).unwrap();
    let (code, files) = spawn_activated(
        &c,
        &[
            "exec",
            &c.id,
            "sh",
            "-c",
            "echo env: $LISTEN_FDS $LISTEN_PID; cat <&3",
        ],
        &f,
    );
    let out = files.read(code);
    assert_eq!(code, 0, "exec with LISTEN_FDS: {out:#?}");
    assert!(out.stdout.contains("env: 1 1"), "{out:#?}");
    assert!(out.stdout.contains("exec-activation-payload"), "{out:#?}");
    c.delete(true).ok("delete -f");
}
