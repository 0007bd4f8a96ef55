//! podman (through conmon) driving oxirun: `podman --runtime <oxirun> --cgroup-manager=cgroupfs`
//! with a private storage root, the busybox image imported from a tarball, `--network none`
//! (no networking needed). Every scenario runs with Debian's runc first, then with oxirun,
//! same checks (`clients::matrix`).
//!
//! Scenarios: every `DockerCli` scenario (`clients::cli::scenarios`: run/exit codes, a
//! missing command (127 and the runtime's error as one line), the detached lifecycle with exec/top/logs/pause/stop/rm, stop escalating to SIGKILL, kill +
//! wait, bind mounts, tmpfs, env, memory/pids/cpu limits in the cgroup + stats, read-only,
//! caps, the default seccomp profile and unconfined, `-it` and `exec -it` through a pty,
//! user/hostname/workdir, named volumes, `lo` up in a new netns, restart/wait/exec --user,
//! `--init`), plus a pod (`--network none`) whose two containers share the infra's
//! net/ipc/uts namespaces and a volume and talk over 127.0.0.1, then `pod rm -f` leaving no
//! process or container cgroup. Hard rlimits here are below podman's defaults, so a
//! containers.conf sets `default_ulimits = nofile/nproc 1024`; all but the seccomp scenario
//! pass `--security-opt seccomp=unconfined`. containers.conf lists oxirun in
//! `runtime_supports_json` (podman then passes `--log-format=json` and shows the runtime's
//! error message; without it, the raw log line `time=... level=error msg=...`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oxirun_integration::clients::cli::seq;
use oxirun_integration::clients::{self, check, defer, expect_code, DockerCli, Leftovers, Res, Rt};
use oxirun_integration::util::poll;
use oxirun_integration::TestDir;

const IMG: &str = "localhost/oxirun-it-busybox:latest";
const SEC: [&str; 2] = ["--security-opt", "seccomp=unconfined"];
const T: Duration = Duration::from_secs(60);

struct Podman {
    dir: TestDir,
    conf: PathBuf,
    /// Storage driver in use (`overlay`, else `vfs`); storage lives under `<dir>/<driver>/`.
    driver: RefCell<String>,
    /// Short dir for the runroots (podman refuses a runroot longer than 50 characters).
    short: PathBuf,
    /// Host dirs podman (or the runtimes' default roots) create, and `libpod_parent`.
    leftovers: Leftovers,
}

impl Podman {
    /// `podman <global flags> [--runtime R] ARGS` on our private store.
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
}

impl DockerCli for Podman {
    fn engine(&self) -> &'static str {
        "podman"
    }
    fn image(&self) -> &str {
        IMG
    }
    fn dir(&self) -> &Path {
        &self.dir.path
    }
    fn command(&self, rt: &Rt, args: &[&str]) -> Command {
        self.base_cmd(Some(rt), args)
    }
    /// Every id is recorded (`--cidfile`) for the cgroup cleanup.
    fn run_flags(&self, _rt: &Rt) -> Vec<String> {
        let cid = self.dir.join(&format!("cid-{}", seq()));
        vec!["--cidfile".into(), cid.to_str().unwrap().into()]
    }
    fn common(&self) -> &'static [&'static str] {
        &SEC
    }
    fn cgroup_marker(&self) -> String {
        "/libpod_parent/libpod-".into()
    }
    fn init_cmdline(&self) -> &'static str {
        "/run/podman-init"
    }
    fn rm_flags(&self) -> &'static [&'static str] {
        &["-f", "-t", "0"]
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
        clients::remove_tree_with_mounts(&self.short);
        self.leftovers.clean();
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
         runtime_supports_json = [\"crun\", \"runc\", \"oxirun\"]\n\
         events_logger = \"file\"\n",
    )
    .unwrap();
    let tar = dir.join("busybox.tar");
    clients::rootfs_tar(&tar);
    let mut leftovers = Leftovers::default();
    leftovers
        .tree("/var/lib/containers")
        .tree("/run/containers")
        .dir("/run/runc")
        .dir("/run/oxirun")
        .cgroup("libpod_parent");
    let p = Podman {
        leftovers,
        dir,
        conf,
        short: PathBuf::from(format!("/tmp/oxit-pm-{}", std::process::id())),
        driver: RefCell::new(String::new()),
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
        let smoke = p.run_c(&clients::runtimes()[0], &["--rm"], &["true"]);
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

fn s_pod(p: &Podman, rt: &Rt) -> Res {
    let pod = p.name(rt, "pod");
    let vol = p.name(rt, "podvol");
    let podid_file = p.dir.join(&format!("podid-{}", seq()));
    let _rm = defer(|| {
        let _ = p.cli(rt, &["pod", "rm", "-f", "-t", "0", &pod]);
        let _ = p.cli(rt, &["volume", "rm", "-f", &vol]);
        for id in clients::ids_in(&p.dir.path, "podid-") {
            clients::rmdir_cgroups(&format!("libpod_parent/{id}"));
        }
    });
    let out = p.cli(
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
        &p.cli(rt, &["volume", "create", &vol]),
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
    let out = p.run_c(
        rt,
        &["-d", "--pod", &pod, "--name", &srv, "-v", &mnt],
        &["sh", "-c", &script],
    );
    expect_code(&out, 0, "podman run -d --pod P (httpd on 127.0.0.1:8080)")?;
    p.wait_log(rt, &srv, "ready")?;
    let out = p.run_c(
        rt,
        &["-d", "--pod", &pod, "--name", &cli, "-v", &mnt],
        &[
            "sh",
            "-c",
            "cat /data/f; echo client-ready; exec sleep 1000",
        ],
    );
    expect_code(&out, 0, "podman run -d --pod P (client)")?;
    p.wait_log(rt, &cli, "client-ready")?;
    let logs = p.cli(rt, &["logs", &cli]);
    check(logs.stdout.contains(&format!("shared-{}", rt.name)), || {
        format!("client in the pod does not see the server's file in the volume: {logs:#?}")
    })?;
    // Infra + both containers: one network (and ipc, uts) namespace, only `lo` in it.
    let infra = p
        .cli(rt, &["pod", "inspect", "-f", "{{.InfraContainerID}}", &pod])
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
        let out = p.cli(rt, &["exec", &cli, "ip", "-o", "link", "show", "lo"]);
        expect_code(&out, 0, "podman exec CLI ip -o link show lo")?;
        check(out.stdout.contains(",UP"), || {
            format!("`lo` is not up in the pod's network namespace: {out:#?}")
        })?;
        let out = p.cli(
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
    let out = p.cli(rt, &["pod", "rm", "-f", "-t", "0", &pod]);
    expect_code(&out, 0, "podman pod rm -f P")?;
    let out = p.cli(rt, &["pod", "inspect", &pod]);
    check(!out.success(), || format!("pod still there: {out:#?}"))?;
    for c in [&srv, &cli] {
        let out = p.cli(rt, &["inspect", c]);
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
    expect_code(&p.cli(rt, &["volume", "rm", &vol]), 0, "podman volume rm")?;
    net
}

#[test]
fn podman_with_oxirun() {
    let p = setup().unwrap_or_else(|e| panic!("podman unusable here: {e}"));
    let mut scenarios = clients::cli::scenarios::<Podman>();
    scenarios.push(("pod: shared netns/volume", s_pod));
    clients::matrix("podman", &p, &scenarios, Duration::from_secs(600));
}
