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
//! pty; named volumes (`volume create`/`rm`, shared between containers, `:ro`); `--cpus` /
//! `--cpu-shares` seen in the cgroup from the host + `stats --no-stream`; `lo` up in a new
//! netns; a pod (`--network none`) whose two containers share the infra's net/ipc/uts
//! namespaces and a volume and talk over 127.0.0.1, then `pod rm -f` leaving no process or
//! container cgroup; `restart` (running and exited) + `wait` exit codes + `exec --user`;
//! `--init` (podman-init as pid 1, forwarding SIGTERM). Hard rlimits here are below podman's
//! defaults, so a containers.conf sets `default_ulimits = nofile/nproc 1024`; all but the
//! seccomp scenario pass `--security-opt seccomp=unconfined`.

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
        // Every pod, container and volume of our private store, whatever runtime it uses.
        let ids = clients::ids_in(&self.dir.path, "cid-");
        let pods = clients::ids_in(&self.dir.path, "podid-");
        // With each runtime first: podman finds a container's runtime by the name it was
        // created with, which a plain invocation may not know.
        let rts = clients::runtimes();
        for rt in rts.iter().map(Some).chain([None]) {
            for args in [
                &["pod", "rm", "-a", "-f", "-t", "0"][..],
                &["rm", "-a", "-f", "-t", "0"],
            ] {
                let _ = clients::run(&mut self.base_cmd(rt, args), &self.dir.path, T);
            }
        }
        for args in [&["volume", "rm", "-a", "-f"][..], &["rmi", "-a", "-f"]] {
            let _ = clients::run(&mut self.base_cmd(None, args), &self.dir.path, T);
        }
        for id in &ids {
            clients::rmdir_cgroups(&format!("libpod_parent/libpod-{id}"));
        }
        // A pod's cgroup holds its containers' (infra included) and their conmon's.
        for id in &pods {
            clients::rmdir_cgroups(&format!("libpod_parent/{id}"));
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

fn s_named_volume(p: &Podman, rt: &Rt) -> Res {
    let v = p.name(rt, "vol");
    let r = (|| {
        let out = p.pm(rt, &["volume", "create", &v]);
        expect_code(&out, 0, "podman volume create V")?;
        let mnt = format!("{v}:/data");
        let out = p.run(
            rt,
            &["--rm", "-v", &mnt, SEC[0], SEC[1]],
            &["sh", "-c", "echo payload > /data/f && echo wrote"],
        );
        expect_code(&out, 0, "podman run -v V:/data (writer)")?;
        check(out.stdout == "wrote\n", || format!("writer: {out:#?}"))?;
        let out = p.run(
            rt,
            &["--rm", "-v", &mnt, SEC[0], SEC[1]],
            &["cat", "/data/f"],
        );
        expect_code(&out, 0, "podman run -v V:/data cat /data/f (reader)")?;
        check(out.stdout == "payload\n", || {
            format!("second container does not see the file: {out:#?}")
        })?;
        // The data really is in the volume on the host.
        let out = p.pm(rt, &["volume", "inspect", "-f", "{{.Mountpoint}}", &v]);
        expect_code(&out, 0, "podman volume inspect")?;
        let host = std::fs::read_to_string(PathBuf::from(out.stdout.trim()).join("f"));
        check(host.as_deref().ok() == Some("payload\n"), || {
            format!("volume mountpoint {:?} on the host: {host:?}", out.stdout)
        })?;
        let ro = format!("{v}:/data:ro");
        let out = p.run(
            rt,
            &["--rm", "-v", &ro, SEC[0], SEC[1]],
            &["sh", "-c", "cat /data/f; echo x > /data/g && echo wrote"],
        );
        check(
            out.stdout.contains("payload") && !out.stdout.contains("wrote"),
            || format!("-v V:/data:ro: {out:#?}"),
        )?;
        expect_code(&p.pm(rt, &["volume", "rm", &v]), 0, "podman volume rm V")?;
        let out = p.pm(rt, &["volume", "inspect", &v]);
        check(!out.success(), || {
            format!("volume still there after rm: {out:#?}")
        })
    })();
    let _ = p.pm(rt, &["volume", "rm", "-f", &v]);
    r
}

fn s_cpu_limits(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "cpu");
    let r = (|| {
        let out = p.run(
            rt,
            &[
                "-d",
                "--name",
                &n,
                "--cpus",
                "0.5",
                "--cpu-shares",
                "512",
                SEC[0],
                SEC[1],
            ],
            &["sleep", "1000"],
        );
        expect_code(&out, 0, "podman run -d --cpus 0.5 --cpu-shares 512")?;
        let pid = p.inspect(rt, &n, "{{.State.Pid}}");
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        check(cg.contains("/libpod_parent/libpod-"), || {
            format!("init (pid {pid:?}) not in podman's cgroupfs cgroup: {cg}")
        })?;
        let quota = cgroup_file(&pid, "cpu", "cpu.cfs_quota_us", "cpu.max");
        let v1 = cg.lines().any(|l| l.split(':').nth(1) == Some("cpu"));
        if v1 {
            check(quota.as_deref() == Some("50000"), || {
                format!("cpu.cfs_quota_us of pid {pid}: {quota:?}")
            })?;
            let period = cgroup_file(&pid, "cpu", "cpu.cfs_period_us", "cpu.max");
            check(period.as_deref() == Some("100000"), || {
                format!("cpu.cfs_period_us of pid {pid}: {period:?}")
            })?;
            let shares = cgroup_file(&pid, "cpu", "cpu.shares", "cpu.weight");
            check(shares.as_deref() == Some("512"), || {
                format!("cpu.shares of pid {pid}: {shares:?}")
            })?;
        } else {
            check(quota.as_deref() == Some("50000 100000"), || {
                format!("cpu.max of pid {pid}: {quota:?}")
            })?;
        }
        let out = p.pm(
            rt,
            &[
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}} {{.CPUPerc}}",
                &n,
            ],
        );
        expect_code(&out, 0, "podman stats --no-stream N")?;
        check(
            out.stdout.starts_with(&format!("{n} ")) && out.stdout.contains('%'),
            || format!("podman stats --no-stream: {out:#?}"),
        )?;
        let out = p.pm(rt, &["stats", "--no-stream", "-a"]);
        expect_code(&out, 0, "podman stats --no-stream -a")?;
        check(out.stdout.contains(&n), || {
            format!("container missing from podman stats: {out:#?}")
        })
    })();
    p.rm(rt, &n);
    r
}

/// A new network namespace (`--network none`) has `lo` up: a server and a client in one
/// container talk over 127.0.0.1 (runc and crun bring `lo` up in a netns they create).
fn s_loopback_up(p: &Podman, rt: &Rt) -> Res {
    let out = p.run(
        rt,
        &["--rm", "--network", "none", SEC[0], SEC[1]],
        &[
            "sh",
            "-c",
            "ip -o link show lo; mkdir /www && echo lo-ok > /www/x; \
             httpd -p 127.0.0.1:8081 -h /www; i=0; \
             until wget -qO- http://127.0.0.1:8081/x; do i=$((i+1)); \
             [ $i -gt 30 ] && exit 1; sleep 0.1; done",
        ],
    );
    expect_code(
        &out,
        0,
        "podman run --rm --network none (httpd + wget on 127.0.0.1)",
    )?;
    check(
        out.stdout.contains("<LOOPBACK,UP") && has_line(&out.stdout, "lo-ok"),
        || format!("`lo` not up / no reply over 127.0.0.1: {out:#?}"),
    )
}

fn s_pod(p: &Podman, rt: &Rt) -> Res {
    let pod = p.name(rt, "pod");
    let vol = p.name(rt, "podvol");
    let podid_file = p
        .dir
        .join(&format!("podid-{}", SEQ.fetch_add(1, Ordering::Relaxed)));
    let r = (|| {
        let out = p.pm(
            rt,
            &[
                "pod",
                "create",
                "--name",
                &pod,
                "--network",
                "none",
                "--pod-id-file",
                podid_file.to_str().unwrap(),
            ],
        );
        expect_code(&out, 0, "podman pod create --name P --network none")?;
        let podid = out.stdout.trim().to_string();
        expect_code(
            &p.pm(rt, &["volume", "create", &vol]),
            0,
            "podman volume create",
        )?;
        let mnt = format!("{vol}:/data");
        let srv = format!("{pod}-srv");
        let cli = format!("{pod}-cli");
        let body = format!("served-by-{}", rt.name);
        let script = format!(
            "mkdir -p /www && echo {body} > /www/x && echo shared-{} > /data/f && echo ready && \
             exec httpd -f -p 127.0.0.1:8080 -h /www",
            rt.name
        );
        let out = p.run(
            rt,
            &[
                "-d", "--pod", &pod, "--name", &srv, "-v", &mnt, SEC[0], SEC[1],
            ],
            &["sh", "-c", &script],
        );
        expect_code(&out, 0, "podman run -d --pod P (httpd on 127.0.0.1:8080)")?;
        p.wait_log(rt, &srv, "ready")?;
        let out = p.run(
            rt,
            &[
                "-d", "--pod", &pod, "--name", &cli, "-v", &mnt, SEC[0], SEC[1],
            ],
            &[
                "sh",
                "-c",
                "cat /data/f; echo client-ready; exec sleep 1000",
            ],
        );
        expect_code(&out, 0, "podman run -d --pod P (client)")?;
        p.wait_log(rt, &cli, "client-ready")?;
        let logs = p.pm(rt, &["logs", &cli]);
        check(logs.stdout.contains(&format!("shared-{}", rt.name)), || {
            format!("client in the pod does not see the server's file in the volume: {logs:#?}")
        })?;
        // Infra + both containers: one network (and ipc, uts) namespace, only `lo` in it.
        let infra = p
            .pm(rt, &["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod])
            .stdout
            .trim()
            .to_string();
        let mut pids = Vec::new();
        for c in [infra.as_str(), &srv, &cli] {
            let pid = p.inspect(rt, c, "{{.State.Pid}}");
            check(pid.parse::<i32>().is_ok_and(|n| n > 0), || {
                format!("podman inspect {c}: pid {pid:?}")
            })?;
            pids.push((c.to_string(), pid));
        }
        let host_net = clients::ns_of("self", "net");
        for ns in ["net", "ipc", "uts"] {
            let got: Vec<_> = pids
                .iter()
                .map(|(c, pid)| (c.as_str(), clients::ns_of(pid, ns)))
                .collect();
            check(got.iter().all(|g| g.1.is_some() && g.1 == got[0].1), || {
                format!("{ns} namespaces of infra/srv/cli differ: {got:?}")
            })?;
        }
        let net = clients::ns_of(&pids[0].1, "net");
        check(net != host_net, || {
            format!("pod shares the host netns {net:?}")
        })?;
        let ifs = clients::net_ifaces(&pids[0].1);
        check(ifs == ["lo"], || format!("pod netns interfaces: {ifs:?}"))?;
        // The pod's netns has `lo` up (the runtime that creates a netns brings `lo` up), and
        // the client reaches the server over it. A failure here is reported after the
        // `pod rm` checks below have run too.
        let net = (|| {
            let out = p.pm(rt, &["exec", &cli, "ip", "-o", "link", "show", "lo"]);
            expect_code(&out, 0, "podman exec CLI ip -o link show lo")?;
            check(out.stdout.contains(",UP"), || {
                format!("`lo` is not up in the pod's network namespace: {out:#?}")
            })?;
            let out = p.pm(
                rt,
                &[
                    "exec",
                    &cli,
                    "sh",
                    "-c",
                    "i=0; until wget -qO- http://127.0.0.1:8080/x; do i=$((i+1)); \
                 [ $i -gt 50 ] && exit 1; sleep 0.1; done",
                ],
            );
            expect_code(&out, 0, "podman exec CLI wget -qO- http://127.0.0.1:8080/x")?;
            check(out.stdout.trim() == body, || {
                format!("reply from the server container over 127.0.0.1: {out:#?}, want {body:?}")
            })
        })();
        // `pod rm -f` removes everything, processes and the containers' cgroups included.
        let cids: Vec<String> = [infra.as_str(), &srv, &cli]
            .iter()
            .map(|c| p.inspect(rt, c, "{{.Id}}"))
            .collect();
        let out = p.pm(rt, &["pod", "rm", "-f", "-t", "0", &pod]);
        expect_code(&out, 0, "podman pod rm -f P")?;
        let out = p.pm(rt, &["pod", "inspect", &pod]);
        check(!out.success(), || format!("pod still there: {out:#?}"))?;
        for c in [&srv, &cli] {
            let out = p.pm(rt, &["inspect", c]);
            check(!out.success(), || {
                format!("container {c} still there: {out:#?}")
            })?;
        }
        let rel = format!("libpod_parent/{podid}");
        let left = poll(Duration::from_secs(5), || {
            let procs = clients::cgroup_pids(&rel);
            procs.is_empty().then_some(())
        });
        check(left.is_some(), || {
            format!(
                "processes left in the pod cgroup {rel}: {:?}",
                clients::cgroup_pids(&rel)
            )
        })?;
        for id in &cids {
            let dirs = oxirun_integration::checks::cgroup_dirs(&format!("{rel}/libpod-{id}"));
            check(dirs.is_empty(), || {
                format!("container cgroups left after pod rm: {dirs:?}")
            })?;
        }
        expect_code(&p.pm(rt, &["volume", "rm", &vol]), 0, "podman volume rm")?;
        net
    })();
    let _ = p.pm(rt, &["pod", "rm", "-f", "-t", "0", &pod]);
    let _ = p.pm(rt, &["volume", "rm", "-f", &vol]);
    for id in clients::ids_in(&p.dir.path, "podid-") {
        clients::rmdir_cgroups(&format!("libpod_parent/{id}"));
    }
    r
}

fn s_restart_wait_exec_user(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "restart");
    let m = p.name(rt, "exit42");
    let r = (|| {
        let out = p.run(
            rt,
            &["-d", "--name", &n, SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "echo boot >> /boots; echo boots=$(wc -l < /boots); trap 'exit 3' TERM; \
                 while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "podman run -d")?;
        p.wait_log(rt, &n, "boots=1")?;
        let pid1 = p.inspect(rt, &n, "{{.State.Pid}}");
        expect_code(
            &p.pm(rt, &["restart", "-t", "10", &n]),
            0,
            "podman restart -t 10",
        )?;
        p.wait_log(rt, &n, "boots=2")?;
        let st = p.inspect(rt, &n, "{{.State.Status}} {{.State.Pid}}");
        check(
            st.starts_with("running ") && !st.ends_with(&format!(" {pid1}")),
            || format!("after restart: {st:?} (pid before: {pid1})"),
        )?;
        let out = p.pm(rt, &["exec", "--user", "1000", &n, "id", "-u"]);
        expect_code(&out, 0, "podman exec --user 1000 N id -u")?;
        check(out.stdout.trim() == "1000", || {
            format!("exec --user 1000: {out:#?}")
        })?;
        let out = p.pm(
            rt,
            &[
                "exec",
                "--user",
                "1000:1000",
                &n,
                "sh",
                "-c",
                "id -g; touch /x",
            ],
        );
        check(out.code != 0 && out.stdout.trim() == "1000", || {
            format!("exec --user 1000:1000 (gid 1000, no write to the root-owned /): {out:#?}")
        })?;
        expect_code(
            &p.pm(rt, &["kill", "--signal", "TERM", &n]),
            0,
            "podman kill -s TERM",
        )?;
        let out = p.pm(rt, &["wait", &n]);
        expect_code(&out, 0, "podman wait")?;
        check(out.stdout.trim() == "3", || {
            format!("wait after TERM (trap exits 3): {out:#?}")
        })?;
        // A container that exits by itself; restarted from `exited`.
        let out = p.run(
            rt,
            &["-d", "--name", &m, SEC[0], SEC[1]],
            &["sh", "-c", "echo run; sleep 0.3; exit 42"],
        );
        expect_code(&out, 0, "podman run -d (exit 42)")?;
        let out = p.pm(rt, &["wait", &m]);
        check(out.code == 0 && out.stdout.trim() == "42", || {
            format!("podman wait (exit 42): {out:#?}")
        })?;
        let st = p.inspect(rt, &m, "{{.State.Status}} {{.State.ExitCode}}");
        check(st == "exited 42", || format!("state after exit: {st:?}"))?;
        expect_code(&p.pm(rt, &["restart", &m]), 0, "podman restart (exited)")?;
        let out = p.pm(rt, &["wait", &m]);
        check(out.code == 0 && out.stdout.trim() == "42", || {
            format!("podman wait after restart: {out:#?}")
        })?;
        let logs = p.pm(rt, &["logs", &m]);
        check(logs.stdout == "run\nrun\n", || {
            format!("logs of the restarted container: {logs:#?}")
        })
    })();
    p.rm(rt, &n);
    p.rm(rt, &m);
    r
}

fn s_init(p: &Podman, rt: &Rt) -> Res {
    let n = p.name(rt, "init");
    let r = (|| {
        let out = p.run(
            rt,
            &["--rm", "--init", SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "echo init=$(tr '\\0' ' ' < /proc/1/cmdline); echo self=$$; exit 6",
            ],
        );
        expect_code(&out, 6, "podman run --rm --init IMG sh -c '...; exit 6'")?;
        check(
            out.stdout.contains("init=/run/podman-init -- sh -c")
                && !out.stdout.contains("self=1\n"),
            || format!("--init: pid 1 should be podman-init, sh not pid 1: {out:#?}"),
        )?;
        // The init forwards `podman stop`'s SIGTERM to the command.
        let out = p.run(
            rt,
            &["-d", "--init", "--name", &n, SEC[0], SEC[1]],
            &[
                "sh",
                "-c",
                "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
            ],
        );
        expect_code(&out, 0, "podman run -d --init")?;
        p.wait_log(rt, &n, "ready")?;
        let t = Instant::now();
        expect_code(
            &p.pm(rt, &["stop", "-t", "10", &n]),
            0,
            "podman stop -t 10 (--init)",
        )?;
        let code = p.inspect(rt, &n, "{{.State.ExitCode}}");
        check(code == "0" && t.elapsed() < Duration::from_secs(8), || {
            format!(
                "TERM not forwarded by the init: exit code {code:?} after {:?}",
                t.elapsed()
            )
        })
    })();
    p.rm(rt, &n);
    r
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
        ("named volume", s_named_volume),
        ("--cpus/--cpu-shares + stats", s_cpu_limits),
        ("--network none: lo up", s_loopback_up),
        ("pod: shared netns/volume", s_pod),
        ("restart/wait/exec --user", s_restart_wait_exec_user),
        ("--init", s_init),
    ];
    clients::matrix("podman", &p, scenarios, Duration::from_secs(600));
}
