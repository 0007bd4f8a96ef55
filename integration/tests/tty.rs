//! Terminals: `process.terminal` with `--console-socket` (create, run -d, exec -d -t, exec
//! --process with terminal:true): exactly one fd (a pty master) in one SCM_RIGHTS message with a
//! non-empty payload, sent before the runtime exits; the container sees /dev/pts/0 on its stdio
//! and on /dev/console (char 136:0), `consoleSize` applied. Foreground `run`/`exec -t` under a
//! pty the test allocates: proxying both ways, window size copied and SIGWINCH propagated, exit
//! code, the caller's terminal mode restored. And the two flag-combination errors.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use oxirun_integration::term::{
    has_line, is_pty_master, openpty, read_until, set_winsize, termios, write_all, ConsoleSocket,
    Pty,
};
use oxirun_integration::util::{exit_code, poll, reap, wait_child, OutFiles, Reap};
use oxirun_integration::{json, Container, Out};

const T: Duration = Duration::from_secs(10);

/// A container with `process.terminal = true` running `sh -c script`.
fn tty_container(short: &str, script: &str) -> Container {
    let mut c = Container::new(short);
    c.set("/process/terminal", json!(true)).sh(script);
    c
}

/// Runs a runtime command whose children outlive it; stdio to files. Returns the result and
/// the output files (whatever the runtime or container wrote to the runtime's stdio).
fn run_detaching(c: &mut Container, args: &[&str]) -> (Out, OutFiles) {
    c.write_config();
    let files = OutFiles::new(&c.dir.path, "tty");
    let mut cmd = c.command(args);
    files.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn oxirun");
    let code = wait_child(&mut child, Duration::from_secs(30), &format!("{args:?}"));
    (files.read(code), files)
}

/// Receives the console socket message and checks its framing; returns the master.
#[track_caller]
fn one_master(sock: &ConsoleSocket) -> OwnedFd {
    let r = sock
        .recv(Duration::from_secs(5))
        .expect("console socket: no message (it must be sent before the runtime exits)");
    assert_eq!(r.cmsgs, 1, "control messages: {r:?}");
    assert!(!r.ctrunc, "control data truncated (too many fds): {r:?}");
    assert_eq!(r.fds.len(), 1, "exactly one fd expected: {r:?}");
    assert!(
        !r.payload.is_empty() && r.payload.len() < 4096,
        "payload must be a non-empty name: {r:?}"
    );
    let fd = r.fds.into_iter().next().unwrap();
    assert!(is_pty_master(fd.as_raw_fd()), "the fd is not a pty master");
    fd
}

/// Reads the master until a line equals `line`; panics with everything read otherwise.
#[track_caller]
fn expect_line(master: &OwnedFd, acc: &mut Vec<u8>, line: &str) {
    let ok = read_until(master.as_raw_fd(), acc, T, |s| has_line(s, line));
    assert!(
        ok,
        "no line {line:?} from the terminal; read so far: {:?}",
        String::from_utf8_lossy(acc)
    );
}

const PROBE: &str = "tty; readlink /proc/self/fd/1; readlink /proc/self/fd/2; \
    stat -c %t:%T /dev/console; stty size; echo ready; read line; echo got=$line; exit 3";

#[test]
fn create_sends_master_and_container_sees_pty() {
    let mut c = tty_container("ttycreate", PROBE);
    c.set("/process/consoleSize", json!({"height": 30, "width": 100}));
    let sock = ConsoleSocket::bind(&c.dir.path);
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let (out, files) = run_detaching(
        &mut c,
        &[
            "create",
            "--console-socket",
            sock.path_str(),
            "--bundle",
            &b,
            "--pid-file",
            &p,
            &id,
        ],
    );
    out.ok("create --console-socket");
    c.pid = Some(c.read_pid_file());
    let master = one_master(&sock);
    c.start().ok("start");
    let mut acc = Vec::new();
    expect_line(&master, &mut acc, "ready");
    let text = oxirun_integration::term::clean(&acc);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        &lines[..6],
        [
            "/dev/pts/0",
            "/dev/pts/0",
            "/dev/pts/0",
            "88:0",
            "30 100",
            "ready"
        ],
        "tty, stdout, stderr, /dev/console major:minor (hex), consoleSize: {text:?}"
    );
    write_all(master.as_raw_fd(), b"hello\n");
    expect_line(&master, &mut acc, "got=hello");
    assert_eq!(c.wait_exit(T), 3);
    let after = files.read(0);
    assert!(
        after.stdout.is_empty() && after.stderr.is_empty(),
        "runtime/container wrote to the runtime's stdio with a terminal: {after:#?}"
    );
}

/// `run -d --console-socket` of `c`; returns the pty master the runtime sent.
fn run_d_with_console(c: &mut Container) -> OwnedFd {
    let sock = ConsoleSocket::bind(&c.dir.path);
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let args = [
        "run",
        "-d",
        "--console-socket",
        sock.path_str(),
        "--bundle",
        &b,
        "--pid-file",
        &p,
        &id,
    ];
    let (out, _) = run_detaching(c, &args);
    out.ok("run -d --console-socket");
    c.pid = Some(c.read_pid_file());
    one_master(&sock)
}

#[test]
fn run_detached_with_console_socket() {
    let mut c = tty_container("ttyrund", PROBE);
    let master = run_d_with_console(&mut c);
    let mut acc = Vec::new();
    expect_line(&master, &mut acc, "ready");
    let text = oxirun_integration::term::clean(&acc);
    assert!(has_line(&text, "/dev/pts/0"), "{text:?}");
    assert!(has_line(&text, "88:0"), "{text:?}");
    write_all(master.as_raw_fd(), b"x\n");
    expect_line(&master, &mut acc, "got=x");
    assert_eq!(c.wait_exit(T), 3);
}

/// A running container without a terminal (init `sleep 1000`).
fn running_plain(short: &str) -> Container {
    let mut c = Container::new(short);
    c.sh("exec sleep 1000");
    c.create_ok();
    c.start().ok("start");
    c
}

#[test]
fn exec_detached_tty_with_console_socket() {
    let c = running_plain("ttyexec");
    let sock = ConsoleSocket::bind(&c.dir.path);
    let pf = c.dir.join("exec.pid");
    let out = c.rt(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock.path_str(),
        "--pid-file",
        pf.to_str().unwrap(),
        &c.id,
        "sh",
        "-c",
        "tty; echo exec-ready; read l; echo got=$l; exit 6",
    ]);
    out.ok("exec -d -t --console-socket");
    let master = one_master(&sock);
    let pid: i32 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    let mut acc = Vec::new();
    expect_line(&master, &mut acc, "exec-ready");
    let text = oxirun_integration::term::clean(&acc);
    let first = text.lines().next().unwrap_or("").trim().to_string();
    assert!(
        first.starts_with("/dev/pts/") && first != "/dev/pts/ptmx",
        "exec's stdin is not a pty: {text:?}"
    );
    write_all(master.as_raw_fd(), b"yes\n");
    expect_line(&master, &mut acc, "got=yes");
    assert_eq!(reap(pid, T), Reap::Exited(6));
}

#[test]
fn exec_process_file_terminal_with_console_size() {
    // containerd's path: `exec --process F --detach --pid-file P --console-socket S ID`.
    let c = running_plain("ttyexecp");
    let sock = ConsoleSocket::bind(&c.dir.path);
    let pf = c.dir.join("exec.pid");
    let proc_file = c.dir.join("process.json");
    std::fs::write(
        &proc_file,
        serde_json::to_vec(&json!({
            "terminal": true,
            "consoleSize": {"height": 25, "width": 90},
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "stty size; echo p-ready; read l; exit 0"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/"
        }))
        .unwrap(),
    )
    .unwrap();
    let out = c.rt(&[
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pf.to_str().unwrap(),
        "--console-socket",
        sock.path_str(),
        &c.id,
    ]);
    out.ok("exec --process (terminal) --detach --console-socket");
    let master = one_master(&sock);
    let pid: i32 = std::fs::read_to_string(&pf).unwrap().parse().unwrap();
    let mut acc = Vec::new();
    expect_line(&master, &mut acc, "p-ready");
    assert!(
        has_line(&oxirun_integration::term::clean(&acc), "25 90"),
        "consoleSize not applied: {:?}",
        String::from_utf8_lossy(&acc)
    );
    write_all(master.as_raw_fd(), b"\n");
    assert_eq!(reap(pid, T), Reap::Exited(0));
}

/// Spawns `oxirun <args>` with the pty slave as stdio and controlling terminal (a new session),
/// like a shell in a terminal emulator would.
fn spawn_on_pty(c: &Container, args: &[&str], pty: &Pty) -> Child {
    let mut cmd = c.command(args);
    let s = || Stdio::from(pty.slave.try_clone().expect("dup slave"));
    cmd.stdin(s()).stdout(s()).stderr(s());
    // SAFETY: setsid/ioctl are async-signal-safe; run in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().expect("spawn oxirun on a pty")
}

/// The interactive part shared by foreground `run` and `exec -t`: initial size copied, resize
/// propagated (SIGWINCH), input/output proxied, exit code, terminal mode restored.
fn interactive_session(c: &Container, args: &[&str]) {
    let pty = openpty(40, 120);
    let before = termios(pty.slave.as_raw_fd());
    let mut child = spawn_on_pty(c, args, &pty);
    let m = &pty.master;
    let mut acc = Vec::new();
    let fail = |child: &mut Child, what: &str, acc: &[u8]| -> ! {
        let _ = child.kill(); // our own child
        let _ = child.wait();
        panic!(
            "{what}; terminal so far: {:?}",
            String::from_utf8_lossy(acc)
        );
    };
    // Wait for the shell's prompt so our input goes through the runtime's raw-mode proxy.
    if !read_until(m.as_raw_fd(), &mut acc, T, |s| s.contains("# ")) {
        fail(&mut child, "no shell prompt through the proxied pty", &acc);
    }
    write_all(m.as_raw_fd(), b"stty size\n");
    if !read_until(m.as_raw_fd(), &mut acc, T, |s| has_line(s, "40 120")) {
        fail(&mut child, "initial window size 40x120 not copied", &acc);
    }
    set_winsize(m.as_raw_fd(), 50, 132);
    std::thread::sleep(Duration::from_millis(300));
    write_all(m.as_raw_fd(), b"stty size\n");
    let resized = read_until(m.as_raw_fd(), &mut acc, T, |s| has_line(s, "50 132"));
    write_all(m.as_raw_fd(), b"echo hi; exit 5\n");
    let hi = read_until(m.as_raw_fd(), &mut acc, T, |s| has_line(s, "hi"));
    let code = poll(T, || child.try_wait().ok().flatten()).map(exit_code);
    let Some(code) = code else {
        fail(
            &mut child,
            "the runtime did not exit after the shell did",
            &acc,
        )
    };
    let after = termios(pty.slave.as_raw_fd());
    let text = String::from_utf8_lossy(&acc).into_owned();
    assert!(hi, "no \"hi\" line: {text:?}");
    assert_eq!(code, 5, "exit code of the session: {text:?}");
    assert!(resized, "resize (SIGWINCH) not propagated: {text:?}");
    assert_eq!(
        (after.c_lflag, after.c_iflag, after.c_oflag),
        (before.c_lflag, before.c_iflag, before.c_oflag),
        "the caller's terminal mode was not restored"
    );
}

#[test]
fn foreground_run_with_terminal_under_a_pty() {
    let mut c = Container::new("ttyfg");
    c.set("/process/terminal", json!(true)).args(&["sh"]);
    c.write_config();
    let b = c.bundle_str();
    interactive_session(&c, &["run", "--bundle", &b, &c.id]);
    c.state_out()
        .fails_with("state after foreground run", "does not exist");
}

#[test]
fn foreground_exec_tty_under_a_pty() {
    let c = running_plain("ttyfgexec");
    interactive_session(&c, &["exec", "-t", &c.id, "sh"]);
    assert_eq!(c.status(), "running");
}

#[test]
fn console_socket_flag_combination_errors() {
    const NO_SOCKET: &str =
        "cannot allocate tty if runc will detach without setting console socket";
    const USELESS: &str = "cannot use console socket if runc will not detach or allocate tty";
    // create / run -d with terminal:true but no socket.
    let mut c = tty_container("ttyerr", "exit 0");
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let (out, _) = run_detaching(&mut c, &["create", "--bundle", &b, "--pid-file", &p, &id]);
    out.fails_with("create terminal without socket", NO_SOCKET);
    let (out, _) = run_detaching(
        &mut c,
        &["run", "-d", "--bundle", &b, "--pid-file", &p, &id],
    );
    out.fails_with("run -d terminal without socket", NO_SOCKET);
    // Foreground run with a socket.
    let sock = ConsoleSocket::bind(&c.dir.path);
    let (out, _) = run_detaching(
        &mut c,
        &[
            "run",
            "--console-socket",
            sock.path_str(),
            "--bundle",
            &b,
            &id,
        ],
    );
    out.fails_with("foreground run with socket", USELESS);
    // terminal:false with a socket.
    c.set("/process/terminal", json!(false));
    let (out, _) = run_detaching(
        &mut c,
        &[
            "create",
            "--console-socket",
            sock.path_str(),
            "--bundle",
            &b,
            "--pid-file",
            &p,
            &id,
        ],
    );
    out.fails_with("create without terminal, with socket", USELESS);
    assert!(!c.pid_file.exists(), "pid-file written by a failed create");
    c.state_out()
        .fails_with("state after failed create", "does not exist");

    let r = running_plain("ttyerrx");
    let pf = r.dir.join("x.pid");
    let pfs = pf.to_str().unwrap();
    let out = r.rt(&["exec", "-d", "-t", "--pid-file", pfs, &r.id, "true"]);
    assert_eq!(out.code, 255, "{out:#?}");
    assert!(out.stderr_has(NO_SOCKET), "{out:#?}");
    let out = r.rt(&[
        "exec",
        "-d",
        "--console-socket",
        sock.path_str(),
        &r.id,
        "true",
    ]);
    assert_eq!(out.code, 255, "{out:#?}");
    assert!(out.stderr_has(USELESS), "{out:#?}");
    let out = r.rt(&[
        "exec",
        "-t",
        "--console-socket",
        sock.path_str(),
        &r.id,
        "true",
    ]);
    assert_eq!(out.code, 255, "{out:#?}");
    assert!(out.stderr_has(USELESS), "{out:#?}");
    assert!(!pf.exists());
}

/// A non-root container process owns its terminal (as with runc), in the init and in
/// `exec -t`: ssh, sudo, su and script check their tty's owner.
#[test]
fn terminal_belongs_to_a_non_root_user() {
    let mut c = tty_container(
        "ttyowner",
        "stat -c owner=%u $(tty); id -u; echo ready; read line; exit 0",
    );
    c.user(1000, 100, &[]);
    let master = run_d_with_console(&mut c);
    let id = c.id.clone();
    let mut acc = Vec::new();
    expect_line(&master, &mut acc, "ready");
    let text = oxirun_integration::term::clean(&acc);
    assert!(has_line(&text, "owner=1000"), "the init's tty: {text:?}");
    // exec -t -d as the same user, through a second console socket.
    let exec_dir = c.dir.join("exec");
    std::fs::create_dir_all(&exec_dir).unwrap();
    let sock2 = ConsoleSocket::bind(&exec_dir);
    let pidf = c.dir.join("exec.pid");
    let (out, _) = run_detaching(
        &mut c,
        &[
            "exec",
            "-t",
            "-d",
            "--user",
            "1000:100",
            "--console-socket",
            sock2.path_str(),
            "--pid-file",
            pidf.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "stat -c exec-owner=%u $(tty); echo exec-ready; read line",
        ],
    );
    out.ok("exec -t -d --user 1000:100");
    let m2 = one_master(&sock2);
    let mut acc2 = Vec::new();
    expect_line(&m2, &mut acc2, "exec-ready");
    let text2 = oxirun_integration::term::clean(&acc2);
    assert!(has_line(&text2, "exec-owner=1000"), "exec's tty: {text2:?}");
    write_all(m2.as_raw_fd(), b"x\n");
    write_all(master.as_raw_fd(), b"done\n");
    // The exec'd process is ours to reap (the init, pid 1 of its namespace, waits for it).
    let exec_pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(
        reap(exec_pid, T),
        Reap::Timeout,
        "exec'd process did not exit"
    );
    assert_eq!(c.wait_exit(T), 0, "{:?}", String::from_utf8_lossy(&acc));
}
