//! Rootless podman driving oxirun: podman runs as an unprivileged user (`oxirun-pr`, with an
//! /etc/subuid + /etc/subgid range for newuidmap/newgidmap), with its own HOME and
//! XDG_RUNTIME_DIR in a private temp dir, `--cgroup-manager=cgroupfs` (on cgroup v1 rootless
//! podman runs without cgroups), `--network none`, overlay storage (vfs if overlay fails) and
//! `--runtime <absolute path>`. podman puts the runtime in its own user namespace, where the
//! runtime is uid 0 but not real root: runc then keeps its state under
//! `$XDG_RUNTIME_DIR/runc` and runs without a cgroup it cannot create; oxirun must do the same.
//!
//! Scenarios (runc first, then oxirun, same checks):
//! `run --rm busybox id` (uid 0 inside, mapped to the user outside), and `run -d` + `exec` +
//! `stop` + `rm` (the container's init runs as the user's uid on the host).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oxirun_integration::clients::cli::seq;
use oxirun_integration::clients::{self, check, defer, expect_code, Res, Rt};
use oxirun_integration::{Out, TestDir};

const USER: &str = "oxirun-pr";
const IMG: &str = "localhost/oxirun-it-busybox:latest";
const T: Duration = Duration::from_secs(90);

struct Rootless {
    uid: u32,
    gid: u32,
    /// Everything podman writes: HOME, XDG_RUNTIME_DIR, storage (a short path: podman refuses
    /// long runroots). Owned by the user.
    work: PathBuf,
    driver: String,
    /// Holds the image tarball and the outputs; removed last.
    dir: TestDir,
}

fn id_of(flag: &str) -> Option<u32> {
    let o = Command::new("id").args([flag, USER]).output().ok()?;
    if !o.status.success() {
        return None;
    }
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// Makes sure `file` (/etc/subuid or /etc/subgid) gives the user a range of 65536 ids that
/// overlaps no other entry.
fn ensure_subids(file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    if text.lines().any(|l| l.starts_with(&format!("{USER}:"))) {
        return Ok(());
    }
    let end = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
        })
        .max()
        .unwrap_or(100_000)
        .max(100_000);
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!("{USER}:{end}:65536\n"));
    std::fs::write(file, new).map_err(|e| format!("write {file}: {e}"))
}

fn setup() -> Result<Rootless, String> {
    clients::ensure(
        &["podman", "conmon", "newuidmap", "newgidmap"],
        &["podman", "uidmap"],
    )?;
    if id_of("-u").is_none() {
        let st = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", USER])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
        if !st.success() {
            return Err(format!("useradd {USER}: {st}"));
        }
    }
    let (uid, gid) = (id_of("-u").ok_or("no uid")?, id_of("-g").ok_or("no gid")?);
    ensure_subids("/etc/subuid")?;
    ensure_subids("/etc/subgid")?;
    let dir = TestDir::new(&oxirun_integration::unique_id("podman-rl"));
    let work = PathBuf::from(format!("/tmp/oxit-pr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    for d in ["", "home", "xdg"] {
        std::fs::create_dir_all(work.join(d)).map_err(|e| format!("mkdir: {e}"))?;
        std::os::unix::fs::chown(work.join(d), Some(uid), Some(gid))
            .map_err(|e| format!("chown: {e}"))?;
    }
    use std::os::unix::fs::PermissionsExt;
    for d in ["", "xdg"] {
        std::fs::set_permissions(work.join(d), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod: {e}"))?;
    }
    let tar = work.join("busybox.tar");
    clients::rootfs_tar(&tar);
    std::os::unix::fs::chown(&tar, Some(uid), Some(gid)).map_err(|e| format!("chown: {e}"))?;
    let mut r = Rootless {
        uid,
        gid,
        work,
        driver: String::new(),
        dir,
    };
    let mut errors = Vec::new();
    for driver in ["overlay", "vfs"] {
        r.driver = driver.to_string();
        let out = r.pm(None, &["import", tar.to_str().unwrap(), IMG]);
        if !out.success() {
            errors.push(format!("import with {driver}: {out:?}"));
            continue;
        }
        let smoke = r.pm(
            Some(&clients::runtimes()[0]),
            &["run", "--rm", "--network", "none", IMG, "true"],
        );
        if smoke.success() {
            eprintln!("[podman rootless] storage driver: {driver}");
            return Ok(r);
        }
        errors.push(format!("smoke run (runc) with {driver}: {smoke:?}"));
        let _ = r.pm(None, &["rmi", "-a", "-f"]);
    }
    Err(errors.join("\n"))
}

impl Rootless {
    /// `podman <globals> [--runtime rt] args` as the unprivileged user.
    fn pm(&self, rt: Option<&Rt>, args: &[&str]) -> Out {
        let store = self.work.join(&self.driver);
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(store.join("root"))
            .arg("--runroot")
            .arg(self.work.join("xdg").join(format!("run-{}", self.driver)))
            .arg("--tmpdir")
            .arg(store.join("tmp"))
            .args(["--storage-driver", &self.driver])
            .args(["--cgroup-manager=cgroupfs", "--events-backend=file"]);
        if let Some(rt) = rt {
            c.args(["--runtime", rt.path_str()]);
        }
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.work.join("home"))
            .env("USER", USER)
            .env("LOGNAME", USER)
            .env("XDG_RUNTIME_DIR", self.work.join("xdg"))
            .current_dir(&self.work)
            // As root, std drops the supplementary groups when it sets the uid.
            .uid(self.uid)
            .gid(self.gid);
        clients::run(&mut c, &self.dir.path, T)
    }

    fn name(&self, rt: &Rt, short: &str) -> String {
        format!("it-{short}-{}-{}-{}", rt.name, std::process::id(), seq())
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        if !self.driver.is_empty() {
            let rts = clients::runtimes();
            for rt in rts.iter().map(Some).chain([None]) {
                let _ = self.pm(rt, &["rm", "-a", "-f", "-t", "0"]);
            }
            let _ = self.pm(None, &["rmi", "-a", "-f"]);
        }
        // podman's pause process holds its user namespace; it is ours (started by our podman).
        for driver in ["overlay", "vfs"] {
            kill_pause_process(&self.work.join(driver).join("tmp"), self.uid);
        }
        clients::remove_tree_with_mounts(&self.work);
    }
}

/// Kill the rootless pause process podman left, only if the pid file names a process of our
/// user whose command is podman's pause.
fn kill_pause_process(tmpdir: &Path, uid: u32) {
    let Ok(text) = std::fs::read_to_string(tmpdir.join("pause.pid")) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let ours = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .is_some_and(|u| u == uid.to_string());
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if ours && matches!(comm.trim(), "podman" | "catatonit") {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The first line of a uid_map, as numbers.
fn first_map_line(text: &str) -> Vec<u64> {
    text.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

fn s_run_rm_id(r: &Rootless, rt: &Rt) -> Res {
    let out = r.pm(
        Some(rt),
        &[
            "run",
            "--rm",
            "--network",
            "none",
            IMG,
            "sh",
            "-c",
            "id; cat /proc/self/uid_map",
        ],
    );
    expect_code(&out, 0, "podman run --rm busybox id")?;
    check(out.stdout.contains("uid=0(root) gid=0(root)"), || {
        format!("`podman run --rm busybox id`: expected uid=0(root) gid=0(root), got {out:#?}")
    })?;
    // Root inside is the user outside: the first line maps 0 to the user's uid.
    let after_id = out.stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    let map = first_map_line(&after_id);
    check(
        map.len() == 3 && map[0] == 0 && map[1] == r.uid as u64,
        || {
            format!(
                "uid_map inside: expected `0 {} 1` first, got {:?}",
                r.uid, out.stdout
            )
        },
    )
}

fn s_detached_exec_stop_rm(r: &Rootless, rt: &Rt) -> Res {
    let n = r.name(rt, "rl");
    let _rm = defer(|| {
        let _ = r.pm(Some(rt), &["rm", "-f", "-t", "0", &n]);
    });
    let out = r.pm(
        Some(rt),
        &[
            "run",
            "-d",
            "--name",
            &n,
            "--network",
            "none",
            IMG,
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    expect_code(&out, 0, "podman run -d busybox sh -c <loop>")?;
    let pid = r.pm(Some(rt), &["inspect", "-f", "{{.State.Pid}}", &n]);
    let pid: i32 = pid.stdout.trim().parse().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let host_uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    check(host_uid == r.uid.to_string(), || {
        format!(
            "the container init (host pid {pid}) should run as uid {} on the host, got {host_uid:?}",
            r.uid
        )
    })?;
    let out = r.pm(
        Some(rt),
        &["exec", &n, "sh", "-c", "id -u; echo in-exec; exit 3"],
    );
    expect_code(&out, 3, "podman exec N sh -c 'id -u; echo in-exec; exit 3'")?;
    check(out.stdout == "0\nin-exec\n", || {
        format!("exec stdout: expected \"0\\nin-exec\\n\", got {out:#?}")
    })?;
    let out = r.pm(Some(rt), &["exec", "--user", "1000", &n, "id", "-u"]);
    expect_code(&out, 0, "podman exec --user 1000 N id -u")?;
    check(out.stdout.trim() == "1000", || {
        format!("exec --user: {out:#?}")
    })?;
    expect_code(
        &r.pm(Some(rt), &["stop", "-t", "10", &n]),
        0,
        "podman stop -t 10 N",
    )?;
    let st = r.pm(
        Some(rt),
        &["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", &n],
    );
    check(st.stdout.trim() == "exited 0", || {
        format!("after stop (TERM trapped, exit 0): expected \"exited 0\", got {st:#?}")
    })?;
    expect_code(&r.pm(Some(rt), &["rm", &n]), 0, "podman rm N")?;
    let gone = r.pm(Some(rt), &["container", "exists", &n]);
    check(gone.code == 1, || {
        format!("container still exists after rm: {gone:#?}")
    })?;
    check(
        !Path::new(&format!("/proc/{pid}")).exists() || pid == 0,
        || format!("the container init {pid} is still alive after stop + rm"),
    )
}

#[test]
fn rootless_podman_with_oxirun() {
    let r = setup().unwrap_or_else(|e| panic!("rootless podman unusable here: {e}"));
    type S = fn(&Rootless, &Rt) -> Res;
    let scenarios: &[(&str, S)] = &[
        ("run --rm id (mapped root)", s_run_rm_id),
        ("run -d/exec/stop/rm", s_detached_exec_stop_rm),
    ];
    clients::matrix("podman-rootless", &r, scenarios, Duration::from_secs(300));
}
