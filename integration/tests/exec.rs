//! `exec`: a new process inside a running container. It joins the container's namespaces (pid,
//! uts, mount, ...), its cgroup, gets the `--env/--cwd/--user/--cap` flags (or a whole
//! `--process` file), reports the process' exit status (128+signal), writes a pid-file only on
//! success in `--detach` mode, refuses stopped/paused containers (unless `--ignore-paused`),
//! passes `--preserve-fds` and never leaks the caller's other fds.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use oxirun_integration::checks::{cgroup_dirs, parse_mask, status_field};
use oxirun_integration::container::CANARY_ENV;
use oxirun_integration::util::{pid_alive, poll, quiet_run, reap, wait_child, OutFiles, Reap};
use oxirun_integration::{cgroupfs, Container, Out};

/// A created + started container whose init is `sleep 1000`, after `setup` edited the config.
fn running(short: &str, setup: impl FnOnce(&mut Container)) -> Container {
    let mut c = Container::new(short);
    c.sh("exec sleep 1000");
    setup(&mut c);
    c.create_ok();
    c.start().ok("start");
    c
}

/// `oxirun --root R exec <flags> ID <cmd...>` (stdin /dev/null, output captured).
fn exec(c: &Container, flags: &[&str], cmd: &[&str]) -> Out {
    let mut a = vec!["exec"];
    a.extend_from_slice(flags);
    a.push(&c.id);
    a.extend_from_slice(cmd);
    c.rt(&a)
}

#[track_caller]
fn exec_ok(c: &Container, flags: &[&str], cmd: &[&str]) -> String {
    let out = exec(c, flags, cmd);
    out.ok(&format!("exec {flags:?} {cmd:?}"));
    out.stdout
}

/// Asserts a runtime failure of `exec`: exit 255 and `phrase` on stderr.
#[track_caller]
fn assert_exec_failed(out: &Out, what: &str, phrase: &str) {
    assert_eq!(out.code, 255, "{what}: expected exit 255: {out:#?}");
    assert!(
        out.stderr_has(phrase),
        "{what}: stderr lacks {phrase:?}: {out:#?}"
    );
}

/// Reads a detached exec's pid-file (strict: decimal, no newline).
#[track_caller]
fn read_pid(p: &Path) -> i32 {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("pid-file {}: {e}", p.display()));
    s.parse()
        .unwrap_or_else(|e| panic!("pid-file content {s:?} is not a bare pid: {e}"))
}

/// Kills (if needed) and reaps a detached exec'd process that was reparented to us.
fn reap_exec(pid: i32) {
    if reap(pid, Duration::from_millis(50)) == Reap::Timeout {
        // SAFETY: kill(2) on our own unreaped child (reparented to this subreaper).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = reap(pid, Duration::from_secs(5));
    }
}

#[test]
fn exec_joins_every_namespace_of_the_init() {
    let c = running("exns", |_| {});
    let init = c.pid.unwrap();
    let types: Vec<String> = c.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.iter().any(|t| t == "pid"), "spec has a pid ns");
    for ty in &types {
        let file = match ty.as_str() {
            "network" => "net",
            "mount" => "mnt",
            t => t,
        };
        let host = std::fs::read_link(format!("/proc/{init}/ns/{file}")).unwrap();
        let seen = exec_ok(&c, &[], &["readlink", &format!("/proc/self/ns/{file}")]);
        assert_eq!(
            seen.trim(),
            host.to_str().unwrap(),
            "exec'd process is not in the init's {ty} namespace"
        );
    }
}

#[test]
fn exec_sees_init_as_pid_1() {
    let c = running("expid", |_| {});
    let ps = exec_ok(&c, &[], &["ps", "-o", "pid,args"]);
    let first = ps
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no pid 1 in the exec's ps: {ps}"));
    assert!(first.contains("sleep 1000"), "pid 1 is not the init: {ps}");
    // Our own shell has a small container pid, not the host one.
    let me: i32 = exec_ok(&c, &[], &["sh", "-c", "echo $$"])
        .trim()
        .parse()
        .unwrap();
    assert!(me > 1 && me < 100, "exec pid {me} looks like a host pid");
}

#[test]
fn exec_sees_hostname_and_mounts() {
    let c = running("exmnt", |c| {
        c.hostname("exec-host")
            .add_mount(
                serde_json::json!({"destination": "/scratch", "type": "tmpfs",
                "source": "tmpfs", "options": ["nosuid", "size=1m"]}),
            )
            .sh("echo from-init > /scratch/marker; exec sleep 1000");
    });
    assert_eq!(exec_ok(&c, &[], &["hostname"]).trim(), "exec-host");
    let seen = poll(Duration::from_secs(5), || {
        let o = exec(&c, &[], &["cat", "/scratch/marker"]);
        (o.success() && o.stdout == "from-init\n").then_some(())
    });
    assert!(
        seen.is_some(),
        "exec does not see the init's tmpfs: {:#?}",
        exec(&c, &[], &["cat", "/proc/self/mountinfo"])
    );
    // The exec's root is the container's root, not the host's.
    let mi = exec_ok(&c, &[], &["cat", "/proc/self/mountinfo"]);
    assert!(mi.lines().any(|l| l.split(' ').nth(4) == Some("/scratch")));
    assert!(
        exec(&c, &[], &["test", "-e", "/bin/busybox"]).success(),
        "no busybox at / inside exec"
    );
}

#[test]
fn detached_exec_joins_the_cgroup_and_writes_pid_file() {
    let c = running("excg", |_| {});
    let init = c.pid.unwrap();
    let pf = c.dir.join("exec.pid");
    let pfs = pf.to_str().unwrap();
    let out = exec(&c, &["-d", "--pid-file", pfs], &["sleep", "1000"]);
    out.ok("exec -d");
    let pid = read_pid(&pf);
    assert!(pid_alive(pid), "exec'd pid {pid} not alive");
    let mine = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let theirs = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let procs = cgroupfs::read(&c.cgroup_rel(), "cgroup.procs");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ppid: i32 = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(-1);
    reap_exec(pid);
    assert_eq!(
        ppid,
        std::process::id() as i32,
        "detached exec'd process must be reparented to the caller's subreaper (us)"
    );
    assert_eq!(mine, theirs, "exec'd process is in another cgroup");
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "pid {pid} not in cgroup.procs {procs:?}"
    );
    assert_eq!(
        cmdline, "sleep\x001000\x00",
        "pid-file names the wrong process"
    );
}

#[test]
fn env_cwd_user_and_groups_flags() {
    let c = running("exflags", |c| {
        c.env(&["PATH=/bin:/usr/bin", "FROMSPEC=1", "OVER=spec"]);
    });
    let out = exec_ok(
        &c,
        &[
            "-e",
            "FOO=bar",
            "-e",
            "OVER=flag",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1000",
            "-g",
            "10",
        ],
        &[
            "sh",
            "-c",
            "env; echo cwd=$(pwd); grep -E '^(Uid|Gid|Groups):' /proc/self/status",
        ],
    );
    let env: Vec<&str> = out.lines().collect();
    for want in [
        "FOO=bar",
        "OVER=flag",
        "FROMSPEC=1",
        "PATH=/bin:/usr/bin",
        "cwd=/tmp",
    ] {
        assert!(env.contains(&want), "{want} missing: {out}");
    }
    assert!(
        !env.contains(&"OVER=spec"),
        "spec env not overridden: {out}"
    );
    assert!(
        !out.contains(CANARY_ENV.0),
        "host env leaked into exec: {out}"
    );
    assert_eq!(
        status_field(&out, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "Gid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(status_field(&out, "Groups"), Some("10"), "{out}");
    // A relative/missing cwd is an error, not a silent fallback.
    let bad = exec(&c, &["--cwd", "/does/not/exist"], &["true"]);
    assert_eq!(bad.code, 255, "exec with a missing cwd: {bad:#?}");
}

#[test]
fn user_flag_table() {
    let c = running("exuser", |_| {});
    for (arg, uid, gid) in [
        ("1", "1", "0"),
        ("1:2", "1", "2"),
        ("65535:65535", "65535", "65535"),
        ("0", "0", "0"),
    ] {
        let out = exec(&c, &["-u", arg], &["sh", "-c", "echo $(id -u) $(id -g)"]);
        assert_eq!(out.code, 0, "--user {arg}: {out:#?}");
        assert_eq!(
            out.stdout.trim(),
            format!("{uid} {gid}"),
            "--user {arg}: {out:#?}"
        );
    }
    // Strict parsing (runc 1.1 wraps 4294967296 to 0 and treats "" as "no override"; oxirun
    // refuses both). Both `--user V` and `--user=V` spellings.
    for arg in [
        "4294967296",
        "1x",
        "-1",
        "",
        "1:",
        ":1",
        "1:2:3",
        "root",
        "1:4294967296",
    ] {
        for flags in [
            vec!["--user".to_string(), arg.to_string()],
            vec![format!("--user={arg}")],
        ] {
            let f: Vec<&str> = flags.iter().map(String::as_str).collect();
            let out = exec(&c, &f, &["id"]);
            assert_eq!(out.code, 255, "{f:?} must fail with 255: {out:#?}");
            assert!(
                !out.stderr.trim().is_empty(),
                "{f:?}: no error message: {out:#?}"
            );
            assert!(out.stdout.is_empty(), "{f:?} ran the process: {out:#?}");
        }
    }
}

#[test]
fn cap_flag_on_empty_caps_gives_only_bounding_effective_permitted() {
    // CVE-2022-29162: --cap must not land in the inheritable (or ambient) set.
    let c = running("excap", |c| {
        c.user(0, 0, &[]).caps(&[], &[], &[], &[], &[]);
    });
    let base = exec_ok(&c, &[], &["grep", "^Cap", "/proc/self/status"]);
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            parse_mask(status_field(&base, k).unwrap()),
            0,
            "{k}: {base}"
        );
    }
    let out = exec_ok(
        &c,
        &["--cap", "CAP_KILL"],
        &["grep", "^Cap", "/proc/self/status"],
    );
    let get = |k| parse_mask(status_field(&out, k).unwrap_or_else(|| panic!("{k}: {out}")));
    assert_eq!(get("CapInh"), 0, "{out}");
    assert_eq!(get("CapAmb"), 0, "{out}");
    assert_eq!(get("CapPrm"), 0x20, "{out}");
    assert_eq!(get("CapEff"), 0x20, "{out}");
    assert_eq!(get("CapBnd"), 0x20, "{out}");
}

#[test]
fn no_new_privs_flag() {
    let c = running("exnnp", |c| {
        c.no_new_privs(false);
    });
    let off = exec_ok(&c, &[], &["grep", "^NoNewPrivs", "/proc/self/status"]);
    assert_eq!(status_field(&off, "NoNewPrivs"), Some("0"), "{off}");
    let on = exec_ok(
        &c,
        &["--no-new-privs"],
        &["grep", "^NoNewPrivs", "/proc/self/status"],
    );
    assert_eq!(status_field(&on, "NoNewPrivs"), Some("1"), "{on}");
}

#[test]
fn process_file_replaces_flags() {
    let c = running("exproc", |_| {});
    let f = c.dir.join("process.json");
    std::fs::write(
        &f,
        serde_json::to_vec(&serde_json::json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
            "args": ["sh", "-c", "echo $(id -u):$(id -g):$(id -G) $(pwd) $ONLY; exit 7"],
            "env": ["PATH=/bin", "ONLY=from-file"],
            "cwd": "/home/tester",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                              "permitted": ["CAP_KILL"]},
            "noNewPrivileges": true
        }))
        .unwrap(),
    )
    .unwrap();
    let out = exec(&c, &["--process", f.to_str().unwrap()], &[]);
    assert_eq!(out.code, 7, "{out:#?}");
    assert_eq!(
        out.stdout.trim(),
        "1000:1000:1000 10 /home/tester from-file",
        "{out:#?}"
    );
    // A process file with a relative cwd or without args is rejected.
    std::fs::write(&f, r#"{"args":["true"],"cwd":"rel","env":[]}"#).unwrap();
    let bad = exec(&c, &["--process", f.to_str().unwrap()], &[]);
    assert_eq!(bad.code, 255, "relative cwd: {bad:#?}");
    std::fs::write(&f, r#"{"args":[],"cwd":"/","env":[]}"#).unwrap();
    let bad = exec(&c, &["--process", f.to_str().unwrap()], &[]);
    assert_eq!(bad.code, 255, "empty args: {bad:#?}");
}

#[test]
fn exit_codes() {
    let c = running("excode", |_| {});
    let out = exec(&c, &[], &["sh", "-c", "echo o; echo e >&2; exit 3"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "o\n", "e\n"),
        "{out:#?}"
    );
    let out = exec(&c, &[], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(out.code, 137, "{out:#?}");
    let out = exec(&c, &[], &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.code, 128 + 15, "{out:#?}");
    assert_eq!(exec(&c, &[], &["true"]).code, 0);
    // The container keeps running after its execs ended.
    assert_eq!(c.status(), "running");
}

#[test]
fn missing_executable_is_255_without_pid_file() {
    let c = running("exmiss", |_| {});
    let out = exec(&c, &[], &["no-such-binary"]);
    assert_exec_failed(&out, "foreground", "executable file not found");
    let pf = c.dir.join("miss.pid");
    let out = exec(
        &c,
        &["-d", "--pid-file", pf.to_str().unwrap()],
        &["/no/such/path"],
    );
    assert_eq!(out.code, 255, "detached: {out:#?}");
    assert!(out.stderr_has("no such file or directory"), "{out:#?}");
    assert!(!pf.exists(), "pid-file written for a failed exec");
    assert_eq!(c.status(), "running");
}

#[test]
fn exec_into_stopped_container_fails() {
    let mut c = Container::new("exstop");
    c.sh("exit 0");
    c.create_ok();
    c.start().ok("start");
    assert_eq!(c.wait_exit(Duration::from_secs(5)), 0);
    let out = exec(&c, &[], &["true"]);
    assert_exec_failed(&out, "exec stopped", "cannot exec in a stopped container");
    let out = exec(&c, &[], &["true"]);
    assert!(out.stdout.is_empty());
    // Unknown container.
    let out = c.rt(&["exec", "it-no-such-container", "true"]);
    assert_exec_failed(&out, "exec unknown", "does not exist");
}

/// Thaws the container's own cgroup on drop (`oxirun resume`, then the freezer files of this
/// test's cgroup directly), so a failure never leaves frozen processes behind.
struct Thaw<'a>(&'a Container);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        let mut cmd = self.0.command(&["resume", &self.0.id]);
        let _ = quiet_run(&mut cmd, Duration::from_secs(5));
        for d in cgroup_dirs(&self.0.cgroup_rel()) {
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
            let _ = std::fs::write(d.join("cgroup.freeze"), "0");
        }
    }
}

#[test]
fn exec_into_paused_container() {
    let c = running("expause", |_| {});
    c.rt(&["pause", &c.id]).ok("pause");
    let _thaw = Thaw(&c);
    assert_eq!(c.status(), "paused");
    let out = exec(&c, &[], &["true"]);
    assert_exec_failed(&out, "exec paused", "cannot exec in a paused container");
    // --ignore-paused: the process is created (frozen with the rest) and runs after resume.
    // The runtime may wait until then (runc 1.1 does), but must not block `resume`.
    let pf = c.dir.join("ign.pid");
    let files = OutFiles::new(&c.dir.path, "ignpaused");
    let pfs = pf.to_str().unwrap();
    let mut cmd = c.command(&[
        "exec",
        "--ignore-paused",
        "-d",
        "--pid-file",
        pfs,
        &c.id,
        "sh",
        "-c",
        "echo ran > /tmp/ignored-pause; exit 4",
    ]);
    files.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn oxirun exec");
    let pid_seen = poll(Duration::from_secs(10), || pf.exists().then_some(()));
    let mut resume = c.command(&["resume", &c.id]);
    let resumed = quiet_run(&mut resume, Duration::from_secs(10));
    if resumed.is_none() {
        let _ = child.kill(); // our own child: unblocks a runtime-side deadlock
    }
    let code = wait_child(&mut child, Duration::from_secs(20), "exec --ignore-paused");
    let out = files.read(code);
    assert_eq!(
        resumed,
        Some(0),
        "`resume` did not finish within 10 s while `exec --ignore-paused -d` was waiting \
         (pid-file seen: {}): {out:#?}",
        pid_seen.is_some()
    );
    out.ok("exec --ignore-paused -d");
    assert_eq!(c.status(), "running");
    let pid = read_pid(&pf);
    assert_eq!(reap(pid, Duration::from_secs(10)), Reap::Exited(4));
    assert_eq!(exec_ok(&c, &[], &["cat", "/tmp/ignored-pause"]), "ran\n");
}

/// Runs `oxirun <args>` with `file` dup'ed (not CLOEXEC) at each of `targets`.
fn spawn_with_fds(c: &Container, args: &[&str], file: &File, targets: &[i32]) -> Out {
    let files = OutFiles::new(&c.dir.path, "fdexec");
    let mut cmd = c.command(args);
    files.attach(&mut cmd);
    let src = file.as_raw_fd();
    let targets = targets.to_vec();
    // SAFETY: dup2/fcntl are async-signal-safe; this runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            for &t in &targets {
                let rc = if src == t {
                    libc::fcntl(src, libc::F_SETFD, 0)
                } else {
                    libc::dup2(src, t)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn oxirun");
    let code = wait_child(&mut child, Duration::from_secs(30), "oxirun exec");
    files.read(code)
}

/// The fds of a child of the exec'd shell, as inherited at exec time.
const LIST_FDS: &str = "sleep 10 & sleep 0.2; ls /proc/$!/fd | sort -n | tr '\\n' ' '; kill $!";

#[test]
fn no_host_fd_leaks_into_exec() {
    let c = running("exfdleak", |_| {});
    let host_root = File::open("/").unwrap();
    let out = spawn_with_fds(
        &c,
        &["exec", &c.id, "sh", "-c", LIST_FDS],
        &host_root,
        &[7, 12],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout.trim(),
        "0 1 2",
        "fds seen by the exec'd process: {out:#?}"
    );
    let pf = c.dir.join("leak.pid");
    let out = spawn_with_fds(
        &c,
        &[
            "exec",
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            &c.id,
            "sleep",
            "1000",
        ],
        &host_root,
        &[5, 9],
    );
    out.ok("exec -d with leaked fds");
    let pid = read_pid(&pf);
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    reap_exec(pid);
    let mut fds: Vec<i32> = fds.iter().filter_map(|f| f.parse().ok()).collect();
    fds.sort();
    assert_eq!(fds, [0, 1, 2], "fds of the detached exec'd process");
}

#[test]
fn preserve_fds_passes_through() {
    let c = running("expres", |_| {});
    let target = c.dir.join("fd3.txt");
    let f = File::create(&target).unwrap();
    let script = format!("echo through-fd-3 >&3; {LIST_FDS}");
    let out = spawn_with_fds(
        &c,
        &["exec", "--preserve-fds", "1", &c.id, "sh", "-c", &script],
        &f,
        &[3, 8],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout.trim(),
        "0 1 2 3",
        "fds seen with --preserve-fds 1: {out:#?}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "through-fd-3\n");
    // Asking for more fds than exist is an error (runc >= 1.2: "unable to stat preserved-fd";
    // runc 1.1 silently passes nothing).
    let out = exec(&c, &["--preserve-fds", "3"], &["true"]);
    assert_eq!(
        out.code, 255,
        "--preserve-fds beyond the open fds: {out:#?}"
    );
}

#[test]
fn many_execs_leave_only_the_init() {
    let c = running("exmany", |_| {});
    for i in 0..10 {
        assert_eq!(
            exec_ok(&c, &[], &["echo", &i.to_string()]).trim(),
            i.to_string()
        );
    }
    let procs = poll(Duration::from_secs(5), || {
        let p = cgroupfs::read(&c.cgroup_rel(), "cgroup.procs");
        (p.lines().count() == 1).then_some(p)
    });
    assert!(
        procs.is_some(),
        "exec'd processes left in the cgroup: {}",
        cgroupfs::read(&c.cgroup_rel(), "cgroup.procs")
    );
}

#[test]
fn foreground_exec_forwards_signals() {
    let c = running("exsig", |_| {});
    let files = OutFiles::new(&c.dir.path, "exsig");
    let mut cmd = c.command(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    files.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn oxirun exec");
    let ready = poll(Duration::from_secs(10), || {
        std::fs::read_to_string(&files.stdout)
            .ok()
            .filter(|s| s.contains("ready"))
    });
    assert!(
        ready.is_some(),
        "exec never printed ready: {:#?}",
        files.read(-1)
    );
    // SAFETY: kill(2) on our own child (the oxirun exec process).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let code = poll(Duration::from_secs(10), || child.try_wait().ok().flatten());
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let code = code.map(oxirun_integration::util::exit_code);
    assert_eq!(
        code,
        Some(42),
        "SIGTERM to `oxirun exec` must reach the process (its trap exits 42): {:#?}",
        files.read(code.unwrap_or(-1))
    );
    assert_eq!(c.status(), "running");
}

/// A process file without `user` runs as uid 0, gid 0, as runc reads it (it was refused:
/// "missing field `user`"). Found by the differential harness.
#[test]
fn process_file_without_user_is_root() {
    let c = running("exprocnouser", |_| {});
    let f = c.dir.join("process.json");
    std::fs::write(
        &f,
        r#"{"args": ["sh", "-c", "echo $(id -u):$(id -g)"], "cwd": "/", "env": ["PATH=/bin"]}"#,
    )
    .unwrap();
    let out = exec(&c, &["--process", f.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(out.stdout.trim(), "0:0", "{out:#?}");
}
