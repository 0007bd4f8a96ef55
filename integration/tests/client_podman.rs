//! podman (through conmon) driving oxirun: `podman --runtime <oxirun> --cgroup-manager=cgroupfs`
//! with a private storage root, the busybox image imported from a tarball, `--network none`
//! (no networking needed). Every scenario runs with Debian's runc first; a scenario runc fails
//! here is skipped for both with the reason printed; oxirun must pass every other one.
//!
//! Scenarios: foreground `run --rm` exit code; `run -d` + `exec` (+ -e/-w/--user) + `top` +
//! `logs` + `pause`/`unpause` + `stop` (SIGTERM) + `rm -f`; `stop -t 1` escalating to SIGKILL for
//! a process ignoring TERM; `kill` (signal and default KILL) + `wait`; `-v` bind mounts (rw and
//! ro); `--tmpfs`; `-e`; `--memory`/`--pids-limit` seen in the container's cgroup from the
//! host; `--read-only`; `--cap-drop`/`--cap-add`; the default seccomp profile; `-it` through a
//! pty. Hard rlimits here are below podman's defaults, so a containers.conf sets
//! `default_ulimits = nofile/nproc 1024`; all but the seccomp scenario pass
//! `--security-opt seccomp=unconfined`.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oxirun_integration::clients::{self, check, expect_code, Res, Rt};
use oxirun_integration::term::{has_line, openpty, read_until, spawn_on_pty, write_all};
use oxirun_integration::util::{exit_code, poll};
use oxirun_integration::{Out, TestDir};

const IMG: &str = "localhost/oxirun-it-busybox:latest";
const SEC: [&str; 2] = ["--security-opt", "seccomp=unconfined"];
const T: Duration = Duration::from_secs(60);

static SEQ: AtomicUsize = AtomicUsize::new(0);

struct Podman {
    dir: TestDir,
    conf: PathBuf,
    /// Storage driver in use (`overlay`, else `vfs`); storage lives under `<dir>/<driver>/`.
    driver: RefCell<String>,
    /// Short dir for the runroots (podman refuses a runroot longer than 50 characters).
    short: PathBuf,
    /// Host dirs podman (or the runtimes' default roots) create that did not exist before we
    /// started: removed at the end (the blob-info cache, the network dir, `/run/<runtime>`).
    created_host_dirs: Vec<PathBuf>,
    /// `libpod_parent` did not exist before: remove it at the end if empty.
    own_parent: bool,
}

impl Podman {
    fn base_cmd(&self, rt: Option<&Rt>, args: &[&str]) -> Command {
        let driver = self.driver.borrow().clone();
        let store = self.dir.path.join(&driver);
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(store.join("root"))
            .arg("--runroot")
            .arg(self.short.join(&driver))
            .arg("--tmpdir")
            .arg(store.join("tmp"))
            .args(["--storage-driver", &driver])
            .args(["--cgroup-manager=cgroupfs", "--events-backend=file"]);
        if let Some(rt) = rt {
            c.args(["--runtime", rt.path_str()]);
        }
        c.args(args)
            .env("CONTAINERS_CONF", &self.conf)
            .current_dir(&self.dir.path);
        c
    }

    fn pm(&self, rt: &Rt, args: &[&str]) -> Out {
        clients::run(&mut self.base_cmd(Some(rt), args), &self.dir.path, T)
    }

    /// `podman run <flags> --cidfile F IMG <cmd>` (every id is recorded for the cleanup).
    fn run(&self, rt: &Rt, flags: &[&str], cmd: &[&str]) -> Out {
        let cid = self
            .dir
            .join(&format!("cid-{}", SEQ.fetch_add(1, Ordering::Relaxed)));
        let mut a = vec!["run", "--cidfile", cid.to_str().unwrap()];
        a.extend_from_slice(flags);
        a.push(IMG);
        a.extend_from_slice(cmd);
        self.pm(rt, &a)
    }

    fn name(&self, rt: &Rt, short: &str) -> String {
        format!(
            "it-{short}-{}-{}-{}",
            rt.name,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn inspect(&self, rt: &Rt, name: &str, fmt: &str) -> String {
        self.pm(rt, &["inspect", "-f", fmt, name])
            .stdout
            .trim()
            .to_string()
    }

    /// Waits until the container's logs contain `needle`.
    fn wait_log(&self, rt: &Rt, name: &str, needle: &str) -> Res {
        let seen = poll(Duration::from_secs(10), || {
            let o = self.pm(rt, &["logs", name]);
            o.stdout.contains(needle).then_some(())
        });
        check(seen.is_some(), || {
            format!(
                "`podman logs {name}` never showed {needle:?}: {:#?}",
                self.pm(rt, &["logs", name])
            )
        })
    }

    fn rm(&self, rt: &Rt, name: &str) {
        let _ = self.pm(rt, &["rm", "-f", "-t", "0", name]);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Every container of our private store, whatever runtime it uses.
        let ids: Vec<String> = std::fs::read_dir(&self.dir.path)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("cid-"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut rm = self.base_cmd(None, &["rm", "-a", "-f", "-t", "0"]);
        let _ = clients::run(&mut rm, &self.dir.path, T);
        let mut rmi = self.base_cmd(None, &["rmi", "-a", "-f"]);
        let _ = clients::run(&mut rmi, &self.dir.path, T);
        for id in &ids {
            if id.bytes().all(|b| b.is_ascii_hexdigit()) {
                clients::rmdir_cgroups(&format!("libpod_parent/libpod-{id}"));
            }
        }
        if self.own_parent {
            clients::rmdir_cgroups("libpod_parent");
        }
        clients::remove_tree_with_mounts(&self.short);
        for d in &self.created_host_dirs {
            if d.starts_with("/run/runc") || d.starts_with("/run/oxirun") {
                let _ = std::fs::remove_dir(d); // runtime roots: only when empty
            } else {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
}

fn setup() -> Result<Podman, String> {
    clients::ensure(&["podman", "conmon"], &["podman"])?;
    let dir = TestDir::new(&oxirun_integration::unique_id("podman"));
    let conf = dir.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\n\
         default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
         netns = \"none\"\n\
         [engine]\n\
         cgroup_manager = \"cgroupfs\"\n\
         events_logger = \"file\"\n",
    )
    .unwrap();
    let tar = dir.join("busybox.tar");
    clients::rootfs_tar(&tar);
    let own_parent = oxirun_integration::checks::cgroup_dirs("libpod_parent").is_empty();
    let created_host_dirs = [
        "/var/lib/containers",
        "/run/containers",
        "/run/runc",
        "/run/oxirun",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|d| !d.exists())
    .collect();
    let p = Podman {
        created_host_dirs,
        dir,
        conf,
        short: PathBuf::from(format!("/tmp/oxit-pm-{}", std::process::id())),
        driver: RefCell::new(String::new()),
        own_parent,
    };
    let mut errors = Vec::new();
    // overlay first; vfs where overlay cannot work (e.g. no overlay on the backing fs).
    for driver in ["overlay", "vfs"] {
        *p.driver.borrow_mut() = driver.to_string();
        let mut imp = p.base_cmd(None, &["import", tar.to_str().unwrap(), IMG]);
        let out = clients::run(&mut imp, &p.dir.path, T);
        if !out.success() {
            errors.push(format!("import with {driver}: {out:?}"));
            continue;
        }
        // A trivial run proves the driver works end to end (runc).
        let smoke = p.run(
            &clients::runtimes()[0],
            &[SEC[0], SEC[1], "--rm"],
            &["true"],
        );
        if smoke.success() {
            eprintln!("[podman] storage driver: {driver}");
            return Ok(p);
        }
        errors.push(format!("smoke run with {driver}: {smoke:?}"));
        let mut reset = p.base_cmd(None, &["rmi", "-a", "-f"]);
        let _ = clients::run(&mut reset, &p.dir.path, T);
    }
    Err(errors.join("\n"))
}

fn s_run_rm_exit_code(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &["--rm", SEC[0], SEC[1]],
        &["sh", "-c", "echo hi; exit 3"],
    );
    expect_code(&out, 3, "podman run --rm IMG sh -c 'echo hi; exit 3'")?;
    check(out.stdout == "hi\n", || format!("stdout: {out:#?}"))
}

fn s_detached_lifecycle(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "life");
    let r = (|| {
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "podman run -d")?;
        p.wait_log(rt, &n, "started")?;
        let out = p.pm(rt, &["exec", &n, "sh", "-c", "echo in-exec; exit 4"]);
        expect_code(&out, 4, "podman exec N sh -c 'echo in-exec; exit 4'")?;
        check(out.stdout == "in-exec\n", || {
            format!("exec stdout: {out:#?}")
        })?;
        let out = p.pm(
            rt,
            &[
                "exec",
                "-e",
                "X=1",
                "-w",
                "/tmp",
                "--user",
                "1000",
                &n,
                "sh",
                "-c",
                "echo $X $(pwd) $(id -u)",
            ],
        );
        expect_code(&out, 0, "podman exec -e -w --user")?;
        check(out.stdout.trim() == "1 /tmp 1000", || {
            format!("exec flags: {out:#?}")
        })?;
        let out = p.pm(rt, &["top", &n]);
        expect_code(&out, 0, "podman top")?;
        check(
            out.stdout.contains("sleep") || out.stdout.contains("sh"),
            || format!("podman top: {out:#?}"),
        )?;
        expect_code(&p.pm(rt, &["pause", &n]), 0, "podman pause")?;
        let st = p.inspect(rt, &n, "{{.State.Status}}");
        check(st == "paused", || format!("status after pause: {st:?}"))?;
        expect_code(&p.pm(rt, &["unpause", &n]), 0, "podman unpause")?;
        let st = p.inspect(rt, &n, "{{.State.Status}}");
        check(st == "running", || format!("status after unpause: {st:?}"))?;
        let out = p.pm(rt, &["exec", &n, "true"]);
        expect_code(&out, 0, "podman exec after unpause")?;
        let t = Instant::now();
        expect_code(&p.pm(rt, &["stop", "-t", "10", &n]), 0, "podman stop -t 10")?;
        let code = p.inspect(rt, &n, "{{.State.ExitCode}}");
        check(code == "0", || {
            format!(
                "SIGTERM trap should exit 0, got exit code {code:?} after {:?}",
                t.elapsed()
            )
        })?;
        let out = p.pm(rt, &["rm", "-f", &n]);
        expect_code(&out, 0, "podman rm -f")?;
        let out = p.pm(rt, &["inspect", &n]);
        check(!out.success(), || {
            format!("container still there after rm: {out:#?}")
        })
    })();
    p.rm(rt, &n);
    r
}

fn s_stop_escalates_to_kill(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "stopkill");
    let r = (|| {
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "trap '' TERM; echo ready; while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "podman run -d")?;
        p.wait_log(rt, &n, "ready")?;
        let t = Instant::now();
        expect_code(&p.pm(rt, &["stop", "-t", "1", &n]), 0, "podman stop -t 1")?;
        let took = t.elapsed();
        let code = p.inspect(rt, &n, "{{.State.ExitCode}}");
        check(code == "137", || {
            format!("exit code after stop -t 1: {code:?}")
        })?;
        check(took < Duration::from_secs(15), || {
            format!("stop -t 1 took {took:?}")
        })
    })();
    p.rm(rt, &n);
    r
}

fn s_kill_and_wait(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "kill");
    let r = (|| {
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "trap 'exit 7' USR1; echo ready; while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "podman run -d")?;
        p.wait_log(rt, &n, "ready")?;
        expect_code(
            &p.pm(rt, &["kill", "--signal", "USR1", &n]),
            0,
            "podman kill -s USR1",
        )?;
        let out = p.pm(rt, &["wait", &n]);
        expect_code(&out, 0, "podman wait")?;
        check(out.stdout.trim() == "7", || {
            format!("wait after USR1 trap: {out:#?}")
        })?;
        p.rm(rt, &n);
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &["sleep", "1000"],
        );
        expect_code(&out, 0, "podman run -d sleep")?;
        expect_code(&p.pm(rt, &["kill", &n]), 0, "podman kill (default SIGKILL)")?;
        let out = p.pm(rt, &["wait", &n]);
        check(out.stdout.trim() == "137", || {
            format!("wait after kill: {out:#?}")
        })
    })();
    p.rm(rt, &n);
    r
}

fn s_bind_mounts(p: &Podman, rt: &Rt) -> Res {
    let host = p.dir.join(&format!("vol-{}", rt.name));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("host-file"), "from-host\n").unwrap();
    let h = host.to_str().unwrap();
    let rw = format!("{h}:/data");
    let out = p.run(
        rt,
        &["--rm", "-v", &rw, SEC[0], SEC[1]],
        &[
            "sh",
            "-c",
            "cat /data/host-file; echo from-container > /data/out",
        ],
    );
    expect_code(&out, 0, "podman run -v H:/data")?;
    check(out.stdout == "from-host\n", || {
        format!("bind mount read: {out:#?}")
    })?;
    let back = std::fs::read_to_string(host.join("out")).unwrap_or_default();
    check(back == "from-container\n", || {
        format!("bind mount write: {back:?}")
    })?;
    let ro = format!("{h}:/data:ro");
    let out = p.run(
        rt,
        &["--rm", "-v", &ro, SEC[0], SEC[1]],
        &["sh", "-c", "echo x > /data/denied && echo wrote"],
    );
    check(out.code != 0 && !out.stdout.contains("wrote"), || {
        format!("write to a :ro bind mount succeeded: {out:#?}")
    })?;
    check(!host.join("denied").exists(), || {
        "file written through :ro".into()
    })
}

fn s_tmpfs(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &[
            "--rm",
            "--tmpfs",
            "/scratch:rw,size=1m,mode=1777",
            SEC[0],
            SEC[1],
        ],
        &[
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; echo x > /scratch/f && cat /scratch/f",
        ],
    );
    expect_code(&out, 0, "podman run --tmpfs /scratch:size=1m")?;
    check(
        out.stdout.contains("tmpfs /scratch tmpfs") && out.stdout.contains("size=1024k"),
        || format!("tmpfs mount: {out:#?}"),
    )?;
    check(has_line(&out.stdout, "x"), || {
        format!("tmpfs write: {out:#?}")
    })
}

fn s_env(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &["--rm", "-e", "FOO=bar baz", "-e", "EMPTY=", SEC[0], SEC[1]],
        &["sh", "-c", "echo \"$FOO|$EMPTY|$HOME|$PATH\""],
    );
    expect_code(&out, 0, "podman run -e")?;
    check(out.stdout.starts_with("bar baz||/root|"), || {
        format!("env: {out:#?}")
    })
}

/// Reads the container's cgroup file from the host (v1: the controller's line; v2: `0::`).
fn cgroup_file(pid: &str, controller: &str, file_v1: &str, file_v2: &str) -> Option<String> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for l in cg.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        if ctrls.split(',').any(|c| c == controller) {
            let p = format!("/sys/fs/cgroup/{controller}{path}/{file_v1}");
            return std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string());
        }
    }
    let path = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    std::fs::read_to_string(format!("/sys/fs/cgroup{path}/{file_v2}"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn s_memory_pids_limits(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "limits");
    let r = (|| {
        let out = p.run(
            rt,
            &[
                "-d",
                "--name",
                &n,
                "--memory",
                "64m",
                "--pids-limit",
                "50",
                SEC[0],
                SEC[1],
            ],
            &["sleep", "1000"],
        );
        expect_code(&out, 0, "podman run -d --memory 64m --pids-limit 50")?;
        let pid = p.inspect(rt, &n, "{{.State.Pid}}");
        let mem = cgroup_file(&pid, "memory", "memory.limit_in_bytes", "memory.max");
        check(mem.as_deref() == Some("67108864"), || {
            format!("memory limit of pid {pid}: {mem:?}")
        })?;
        let pids = cgroup_file(&pid, "pids", "pids.max", "pids.max");
        check(pids.as_deref() == Some("50"), || {
            format!("pids.max of pid {pid}: {pids:?}")
        })?;
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        check(cg.contains("/libpod_parent/libpod-"), || {
            format!("init not in podman's cgroupfs cgroup: {cg}")
        })?;
        // podman stats reads the cgroup itself.
        let out = p.pm(
            rt,
            &["stats", "--no-stream", "--format", "{{.MemLimit}}", &n],
        );
        expect_code(&out, 0, "podman stats --no-stream")?;
        check(
            out.stdout.contains("67.11MB") || out.stdout.contains("64"),
            || format!("podman stats mem limit: {out:#?}"),
        )
    })();
    p.rm(rt, &n);
    r
}

fn s_read_only(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &["--rm", "--read-only", SEC[0], SEC[1]],
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo wrote-root; touch /tmp/y && echo wrote-tmp",
        ],
    );
    expect_code(&out, 0, "podman run --read-only")?;
    check(out.stdout == "wrote-tmp\n", || {
        format!("--read-only: {out:#?}")
    })
}

fn s_caps(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &[
            "--rm",
            "--cap-drop",
            "all",
            "--cap-add",
            "CAP_KILL",
            SEC[0],
            SEC[1],
        ],
        &["grep", "-E", "^Cap(Eff|Prm|Bnd)", "/proc/self/status"],
    );
    expect_code(&out, 0, "podman run --cap-drop all --cap-add CAP_KILL")?;
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        let v = oxirun_integration::checks::status_field(&out.stdout, k);
        check(v == Some("0000000000000020"), || format!("{k}: {out:#?}"))?;
    }
    let script = "touch /tmp/f; chown 1 /tmp/f && echo chowned";
    let out = p.run(rt, &["--rm", SEC[0], SEC[1]], &["sh", "-c", script]);
    check(out.stdout.contains("chowned"), || {
        format!("default caps cannot chown: {out:#?}")
    })?;
    let out = p.run(
        rt,
        &["--rm", "--cap-drop", "CHOWN", SEC[0], SEC[1]],
        &["sh", "-c", script],
    );
    check(!out.stdout.contains("chowned"), || {
        format!("chown despite --cap-drop CHOWN: {out:#?}")
    })
}

fn s_default_seccomp(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(rt, &["--rm"], &["grep", "^Seccomp:", "/proc/self/status"]);
    expect_code(&out, 0, "podman run (default seccomp profile)")?;
    check(
        oxirun_integration::checks::status_field(&out.stdout, "Seccomp") == Some("2"),
        || format!("no seccomp filter: {out:#?}"),
    )
}

/// Runs a podman command under a fresh pty: waits for a shell prompt, types `input`, expects a
/// line `want` and exit code `code`.
fn pty_session(p: &Podman, rt: &Rt, args: &[&str], input: &str, want: &str, code: i32) -> Res {
    let pty = openpty(24, 80);
    let mut child = spawn_on_pty(&mut p.base_cmd(Some(rt), args), &pty)
        .map_err(|e| format!("spawn podman: {e}"))?;
    let m = pty.master.as_raw_fd();
    let mut acc = Vec::new();
    let prompt = read_until(m, &mut acc, T, |s| s.contains("# "));
    if prompt {
        write_all(m, input.as_bytes());
    }
    let seen = prompt && read_until(m, &mut acc, Duration::from_secs(20), |s| has_line(s, want));
    let got = poll(Duration::from_secs(20), || child.try_wait().ok().flatten()).map(exit_code);
    if got.is_none() {
        let _ = child.kill(); // our own child
        let _ = child.wait();
    }
    let text = String::from_utf8_lossy(&acc).into_owned();
    check(prompt && seen, || {
        format!("podman {args:?}: no prompt / {want:?}: {text:?}")
    })?;
    check(text.contains("/dev/pts/"), || {
        format!("podman {args:?}: no pty inside: {text:?}")
    })?;
    check(got == Some(code), || {
        format!("podman {args:?}: exit {got:?}, want {code}: {text:?}")
    })
}

fn s_interactive_tty(p: &Podman, rt: &Rt) -> Res {
    let args = ["run", "-it", "--rm", SEC[0], SEC[1], IMG, "sh"];
    pty_session(p, rt, &args, "tty; echo hi; exit 5\n", "hi", 5)
}

fn s_exec_interactive_tty(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "execit");
    let r = (|| {
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &["sleep", "1000"],
        );
        expect_code(&out, 0, "podman run -d")?;
        let args = ["exec", "-it", n.as_str(), "sh"];
        pty_session(p, rt, &args, "tty; echo viaexec; exit 9\n", "viaexec", 9)
    })();
    p.rm(rt, &n);
    r
}

fn s_user_hostname_workdir(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &[
            "--rm",
            "--user",
            "1000:1000",
            "--hostname",
            "pm-host",
            "--workdir",
            "/tmp",
            SEC[0],
            SEC[1],
        ],
        &["sh", "-c", "echo $(id -u):$(id -g) $(hostname) $(pwd)"],
    );
    expect_code(&out, 0, "podman run --user --hostname --workdir")?;
    check(out.stdout.trim() == "1000:1000 pm-host /tmp", || {
        format!("{out:#?}")
    })
}

#[test]
fn podman_with_oxirun() {
    let p = match setup() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("SKIP podman_with_oxirun: podman unusable here: {e}");
            return;
        }
    };
    type S = fn(&Podman, &Rt) -> Res;
    let scenarios: &[(&str, S)] = &[
        ("run --rm exit code", s_run_rm_exit_code),
        ("run -d/exec/top/logs/pause/stop/rm", s_detached_lifecycle),
        ("stop -t 1 escalates to SIGKILL", s_stop_escalates_to_kill),
        ("kill + wait", s_kill_and_wait),
        ("-v bind mounts rw/ro", s_bind_mounts),
        ("--tmpfs", s_tmpfs),
        ("-e", s_env),
        ("--memory/--pids-limit", s_memory_pids_limits),
        ("--read-only", s_read_only),
        ("--cap-drop/--cap-add", s_caps),
        ("default seccomp profile", s_default_seccomp),
        ("-it through a pty", s_interactive_tty),
        ("exec -it through a pty", s_exec_interactive_tty),
        ("--user/--hostname/--workdir", s_user_hostname_workdir),
    ];
    clients::matrix("podman", &p, scenarios, Duration::from_secs(600));
}
