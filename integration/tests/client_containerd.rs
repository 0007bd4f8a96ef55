//! containerd (through containerd-shim-runc-v2 and go-runc) driving oxirun: a private
//! `containerd --config <tmp>/config.toml` (root, state, sockets under a temp dir, CRI
//! disabled), the busybox image imported from a hand-made docker-archive, and `ctr` with
//! `--runc-binary <oxirun> --runc-root <tmp> --fifo-dir <tmp>`. Every scenario runs with Debian's
//! runc first; a scenario runc fails here is skipped for both with the reason printed.
//!
//! Scenarios: `ctr run --rm` exit code and output; `run -d` + `task exec` + `task ps` +
//! `task pause/resume` + `task metrics` + `task kill` (cgroup `/default/<id>`); a signal from
//! `task kill -s` ending a foreground `ctr run` with the trap's exit code; `run -t` and
//! `task exec -t` through a pty. containerd is stopped at the end (only the pid we started).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use oxirun_integration::clients::cli::seq;
use oxirun_integration::clients::{
    self, check, defer, expect_code, pty_session, wait_for, Daemon, Leftovers, Res, Rt,
};
use oxirun_integration::util::{exit_code, poll, OutFiles};
use oxirun_integration::{Out, TestDir};

const IMG: &str = "localhost/oxirun-it-busybox:latest";
const T: Duration = Duration::from_secs(60);

struct Containerd {
    dir: TestDir,
    sock: PathBuf,
    daemon: Daemon,
    snapshotter: std::cell::RefCell<String>,
    ids: std::cell::RefCell<Vec<String>>,
    /// `/run/containerd` (shim sockets) and the `default` cgroup (the namespace's parent).
    leftovers: Leftovers,
}

impl Containerd {
    fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.sock)
            .args(args)
            .current_dir(&self.dir.path);
        c
    }

    fn ctr(&self, args: &[&str]) -> Out {
        clients::run(&mut self.ctr_cmd(args), &self.dir.path, T)
    }

    fn id(&self, rt: &Rt, short: &str) -> String {
        let id = format!("it-{short}-{}-{}-{}", rt.name, std::process::id(), seq());
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `ctr run <flags> --runc-binary R --runc-root X --fifo-dir F [--snapshotter S] IMG ID cmd`.
    fn run_args(&self, rt: &Rt, flags: &[&str], id: &str, cmd: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec!["run".into()];
        a.extend(flags.iter().map(|s| s.to_string()));
        a.extend([
            "--runc-binary".into(),
            rt.path_str().to_string(),
            "--runc-root".into(),
            self.dir
                .join(&format!("runc-root-{}", rt.name))
                .display()
                .to_string(),
            "--fifo-dir".into(),
            self.dir.join("fifo").display().to_string(),
            "--snapshotter".into(),
            self.snapshotter.borrow().clone(),
            IMG.into(),
            id.into(),
        ]);
        a.extend(cmd.iter().map(|s| s.to_string()));
        a
    }

    fn run(&self, rt: &Rt, flags: &[&str], id: &str, cmd: &[&str]) -> Out {
        let a = self.run_args(rt, flags, id, cmd);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.ctr(&a)
    }

    /// `(pid, status)` of a task from `ctr task ls`.
    fn task(&self, id: &str) -> Option<(i32, String)> {
        let out = self.ctr(&["task", "ls"]);
        out.stdout.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == id).then(|| (f[1].parse().unwrap_or(0), f[2].to_string()))
        })
    }

    fn wait_status(&self, id: &str, status: &str) -> Res {
        wait_for(
            Duration::from_secs(15),
            || self.task(id).is_some_and(|(_, s)| s == status),
            || format!("task {id} never reached {status}: {:?}", self.task(id)),
        )
    }

    fn remove(&self, id: &str) {
        let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
        let _ = poll(Duration::from_secs(5), || {
            self.task(id)
                .filter(|(_, s)| s == "STOPPED")
                .or_else(|| self.task(id).is_none().then(|| (0, String::new())))
        });
        let _ = self.ctr(&["task", "rm", "-f", id]);
        let _ = self.ctr(&["containers", "rm", id]);
        let _ = self.ctr(&[
            "snapshots",
            "--snapshotter",
            &self.snapshotter.borrow(),
            "rm",
            id,
        ]);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let ids = self.ids.borrow().clone();
        for id in &ids {
            self.remove(id);
        }
        let _ = self.ctr(&["images", "rm", IMG]);
        self.daemon.stop();
        for id in &ids {
            clients::rmdir_cgroups(&format!("default/{id}"));
        }
        self.leftovers.clean();
    }
}

fn setup() -> Result<Containerd, String> {
    clients::ensure(
        &["containerd", "ctr", "containerd-shim-runc-v2"],
        &["containerd"],
    )?;
    let dir = TestDir::new(&oxirun_integration::unique_id("ctd"));
    let sock = dir.join("c.sock");
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"{dbg}\"\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            sock = sock.display(),
            dbg = dir.join("debug.sock").display(),
        ),
    )
    .unwrap();
    let mut leftovers = Leftovers::default();
    leftovers.dir("/run/containerd").cgroup("default");
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(&cfg);
    let daemon = Daemon::spawn("containerd", cmd, &dir.path)?;
    let c = Containerd {
        dir,
        sock,
        daemon,
        snapshotter: std::cell::RefCell::new("overlayfs".into()),
        ids: Default::default(),
        leftovers,
    };
    c.daemon
        .wait_ready(Duration::from_secs(20), || c.ctr(&["version"]).success())?;
    let archive = c.dir.join("busybox-docker.tar");
    clients::docker_archive(&c.dir.path, IMG, &archive);
    let mut errors = Vec::new();
    for snap in ["overlayfs", "native"] {
        *c.snapshotter.borrow_mut() = snap.into();
        let out = c.ctr(&[
            "images",
            "import",
            "--snapshotter",
            snap,
            archive.to_str().unwrap(),
        ]);
        if !out.success() {
            errors.push(format!("import ({snap}): {out:?}"));
            continue;
        }
        let runc = &clients::runtimes()[0];
        let id = c.id(runc, "smoke");
        let out = c.run(runc, &["--rm"], &id, &["true"]);
        if out.success() {
            eprintln!("[containerd] snapshotter: {snap}");
            return Ok(c);
        }
        errors.push(format!("smoke run with runc ({snap}): {out:?}"));
        c.remove(&id);
    }
    Err(errors.join("\n"))
}

fn s_run_rm_exit_code(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "exit3");
    let out = c.run(
        rt,
        &["--rm"],
        &id,
        &["sh", "-c", "echo hi; echo err >&2; exit 3"],
    );
    expect_code(&out, 3, "ctr run --rm IMG ID sh -c 'exit 3'")?;
    check(out.stdout == "hi\n" && out.stderr.contains("err"), || {
        format!("output: {out:#?}")
    })?;
    check(c.task(&id).is_none(), || {
        format!("task left after run --rm: {:?}", c.task(&id))
    })
}

fn s_detached_task_ops(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "task");
    let _rm = defer(|| c.remove(&id));
    {
        let out = c.run(
            rt,
            &["-d"],
            &id,
            &[
                "sh",
                "-c",
                "trap 'exit 0' TERM; while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "ctr run -d")?;
        c.wait_status(&id, "RUNNING")?;
        let (pid, _) = c.task(&id).unwrap_or_default();
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        check(cg.contains(&format!("/default/{id}")), || {
            format!("init {pid} not in /default/{id}: {cg}")
        })?;
        let out = c.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo in-exec; hostname; exit 4",
        ]);
        expect_code(&out, 4, "ctr task exec --exec-id e1 ID sh -c 'exit 4'")?;
        check(out.stdout.starts_with("in-exec\n"), || {
            format!("exec output: {out:#?}")
        })?;
        let out = c.ctr(&["task", "ps", &id]);
        expect_code(&out, 0, "ctr task ps")?;
        check(has_line_starting(&out.stdout, &pid.to_string()), || {
            format!("task ps lacks init pid {pid}: {out:#?}")
        })?;
        expect_code(&c.ctr(&["task", "pause", &id]), 0, "ctr task pause")?;
        c.wait_status(&id, "PAUSED")?;
        expect_code(&c.ctr(&["task", "resume", &id]), 0, "ctr task resume")?;
        c.wait_status(&id, "RUNNING")?;
        let out = c.ctr(&["task", "metrics", &id]);
        expect_code(&out, 0, "ctr task metrics")?;
        check(
            out.stdout.contains("pids.current") || out.stdout.contains("memory"),
            || format!("metrics: {out:#?}"),
        )?;
        expect_code(&c.ctr(&["task", "kill", &id]), 0, "ctr task kill (SIGTERM)")?;
        c.wait_status(&id, "STOPPED")?;
        let out = c.ctr(&["task", "rm", &id]);
        expect_code(&out, 0, "ctr task rm")?;
        let out = c.ctr(&["containers", "rm", &id]);
        expect_code(&out, 0, "ctr containers rm")
    }
}

fn has_line_starting(text: &str, word: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().next() == Some(word))
}

fn s_kill_signal_ends_foreground_run(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "sig");
    let _rm = defer(|| c.remove(&id));
    let a = c.run_args(
        rt,
        &["--rm"],
        &id,
        &[
            "sh",
            "-c",
            "trap 'exit 7' USR1; while :; do sleep 0.1; done",
        ],
    );
    let files = OutFiles::new(&c.dir.path, "ctr-run-fg");
    let mut cmd = c.ctr_cmd(&a.iter().map(String::as_str).collect::<Vec<_>>());
    files.attach(&mut cmd);
    let child = std::cell::RefCell::new(cmd.spawn().map_err(|e| format!("spawn ctr: {e}"))?);
    let _kill = defer(|| {
        let mut child = child.borrow_mut();
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill(); // our own child
            let _ = child.wait();
        }
    });
    c.wait_status(&id, "RUNNING")?;
    std::thread::sleep(Duration::from_millis(300)); // let sh install its trap
    expect_code(
        &c.ctr(&["task", "kill", "-s", "SIGUSR1", &id]),
        0,
        "ctr task kill -s USR1",
    )?;
    let code = poll(Duration::from_secs(20), || {
        child.borrow_mut().try_wait().ok().flatten()
    })
    .map(exit_code);
    check(code == Some(7), || {
        format!(
            "foreground ctr run after USR1: exit {code:?}: {:#?}",
            files.read(-1)
        )
    })
}

/// `args` (a ctr command) under a pty: a shell prompt, `input` typed, a line `want`, exit
/// `code`, and a pty inside (`input` runs `tty`).
fn tty_session(c: &Containerd, args: &[&str], input: &str, want: &str, code: i32) -> Res {
    let text = pty_session(&mut c.ctr_cmd(args), T, input, want, code)?;
    check(text.contains("/dev/pts/"), || {
        format!("ctr {args:?}: no pty inside: {text:?}")
    })
}

fn s_tty(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "tty");
    let _rm = defer(|| c.remove(&id));
    let a = c.run_args(rt, &["-t", "--rm"], &id, &["sh"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    tty_session(c, &a, "tty; echo hi; exit 5\n", "hi", 5)
}

fn s_exec_tty(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "exectty");
    let _rm = defer(|| c.remove(&id));
    let out = c.run(rt, &["-d"], &id, &["sleep", "1000"]);
    expect_code(&out, 0, "ctr run -d")?;
    c.wait_status(&id, "RUNNING")?;
    tty_session(
        c,
        &["task", "exec", "-t", "--exec-id", "t1", &id, "sh"],
        "tty; echo viaexec; exit 9\n",
        "viaexec",
        9,
    )
}

fn s_memory_limit(c: &Containerd, rt: &Rt) -> Res {
    let id = c.id(rt, "mem");
    let _rm = defer(|| c.remove(&id));
    let out = c.run(
        rt,
        &["-d", "--memory-limit", "67108864"],
        &id,
        &["sleep", "1000"],
    );
    expect_code(&out, 0, "ctr run -d --memory-limit 67108864")?;
    c.wait_status(&id, "RUNNING")?;
    let pid = c.task(&id).map(|t| t.0).unwrap_or(0).to_string();
    let mem = clients::cgroup_file(&pid, "memory", "memory.limit_in_bytes", "memory.max");
    check(mem.as_deref() == Some("67108864"), || {
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        format!("memory limit of {pid}: {mem:?} ({cg})")
    })
}

#[test]
fn containerd_with_oxirun() {
    let c = setup().unwrap_or_else(|e| panic!("containerd unusable here: {e}"));
    type S = fn(&Containerd, &Rt) -> Res;
    let scenarios: &[(&str, S)] = &[
        ("run --rm exit code", s_run_rm_exit_code),
        ("run -d/exec/ps/pause/metrics/kill", s_detached_task_ops),
        (
            "task kill -s ends foreground run",
            s_kill_signal_ends_foreground_run,
        ),
        ("--memory-limit in the cgroup", s_memory_limit),
        ("run -t through a pty", s_tty),
        ("task exec -t through a pty", s_exec_tty),
    ];
    clients::matrix("containerd", &c, scenarios, Duration::from_secs(600));
}
