//! A private dockerd for the Docker test: Debian's docker.io 20.10 with its own data-root
//! (under the test's dir), exec-root, pidfile and socket (a short dir of its own under /tmp:
//! socket paths are limited to 108 bytes), `"bridge": "none"`, no iptables/ip-masq/ip-forward
//! changes, its own `cgroup-parent`, and the containerd it spawns itself (state and socket
//! under the exec-root). daemon.json registers `"runtimes": {"oxirun": {"path": <the built
//! binary>}}` next to dockerd's built-in `runc` (Debian's /usr/sbin/runc). The busybox rootfs
//! is the image (`docker import`). The client is Debian's `/usr/bin/docker` 20.10, named
//! explicitly: `/usr/local/bin/docker` on this machine is a Docker 28 client shadowing it.
//! [`Docker`] is a [`DockerCli`]: `run --runtime <name>` picks the runtime.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{wait_for, Daemon, DockerCli, Leftovers, Res, Rt};
use crate::{json, Out, TestDir, Value};

/// Debian's docker client, matching the 20.10 daemon.
pub const DOCKER: &str = "/usr/bin/docker";
pub const IMG: &str = "oxirun-it-busybox:latest";
const T: Duration = Duration::from_secs(90);

pub struct Docker {
    pub dir: TestDir,
    /// exec-root, socket and pidfile (short paths), removed at the end.
    short: PathBuf,
    pub sock: PathBuf,
    conf: PathBuf,
    /// The daemon.json as last written (default-runtime is switched by a reload).
    config: std::cell::RefCell<Value>,
    /// `oxit-docker-<pid>`: the cgroup-parent of every container.
    cgroup_parent: String,
    daemon: Option<Daemon>,
    leftovers: Leftovers,
}

impl Docker {
    pub fn base(&self, args: &[&str]) -> Command {
        let mut c = Command::new(DOCKER);
        c.arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.join("client-config"))
            .current_dir(&self.dir.path);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Out {
        super::run(&mut self.base(args), &self.dir.path, T)
    }

    pub fn exec_root(&self) -> PathBuf {
        self.short.join("exec")
    }

    fn write_config(&self) {
        let text = serde_json::to_string_pretty(&*self.config.borrow()).unwrap();
        std::fs::write(&self.conf, text).unwrap();
    }

    /// Makes `name` dockerd's default runtime: daemon.json rewritten, then SIGHUP (dockerd
    /// reloads `runtimes` and `default-runtime` live).
    pub fn set_default_runtime(&self, name: &str) -> Res {
        self.config.borrow_mut()["default-runtime"] = json!(name);
        self.write_config();
        let pid = self.daemon.as_ref().map_or(0, Daemon::pid);
        kill(Pid::from_raw(pid), Signal::SIGHUP).map_err(|e| format!("SIGHUP dockerd: {e}"))?;
        wait_for(
            Duration::from_secs(10),
            || {
                self.docker(&["info", "-f", "{{.DefaultRuntime}}"])
                    .stdout
                    .trim()
                    == name
            },
            || {
                format!(
                    "dockerd's default runtime after the reload: {:?}",
                    self.docker(&["info", "-f", "{{.DefaultRuntime}}"])
                )
            },
        )
    }

    /// Which runtime wrote the state of container `id` (its state.json under the exec-root:
    /// `runtime-*/moby/<id>/`).
    pub fn state_writer(&self, id: &str) -> Option<&'static str> {
        let rd = std::fs::read_dir(self.exec_root()).ok()?;
        rd.flatten()
            .find_map(|e| super::state_writer(&e.path().join("moby").join(id).join("state.json")))
    }
}

impl DockerCli for Docker {
    fn engine(&self) -> &'static str {
        "docker"
    }
    fn image(&self) -> &str {
        IMG
    }
    fn dir(&self) -> &Path {
        &self.dir.path
    }
    fn command(&self, _rt: &Rt, args: &[&str]) -> Command {
        self.base(args)
    }
    fn run_flags(&self, rt: &Rt) -> Vec<String> {
        vec!["--runtime".into(), rt.name.into()]
    }
    fn common(&self) -> &'static [&'static str] {
        &[]
    }
    fn cgroup_marker(&self) -> String {
        format!("/{}/", self.cgroup_parent)
    }
    fn init_cmdline(&self) -> &'static str {
        "/sbin/docker-init"
    }
    fn rm_flags(&self) -> &'static [&'static str] {
        &["-f"]
    }
    fn timeout(&self) -> Duration {
        T
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            // Every container and volume of our private daemon is ours.
            let ids = self.docker(&["ps", "-aq", "--no-trunc"]).stdout;
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-f", "-v", id]);
            }
            let _ = self.docker(&["volume", "prune", "-f"]);
            let _ = self.docker(&["rmi", "-f", IMG]);
        }
        if let Some(d) = self.daemon.take() {
            d.stop(); // dockerd stops the containerd it spawned
        }
        super::rmdir_cgroups(&self.cgroup_parent);
        super::remove_tree_with_mounts(&self.short);
        self.leftovers.clean();
    }
}

fn daemon_json(d: &Docker, driver: &str) -> Value {
    let ox = super::runtimes()[1].path_str().to_string();
    json!({
        "data-root": d.dir.join("data"),
        "exec-root": d.exec_root(),
        "pidfile": d.short.join("docker.pid"),
        "hosts": [format!("unix://{}", d.sock.display())],
        "bridge": "none",
        "iptables": false,
        "ip6tables": false,
        "ip-masq": false,
        "ip-forward": false,
        "cgroup-parent": format!("/{}", d.cgroup_parent),
        "exec-opts": ["native.cgroupdriver=cgroupfs"],
        "storage-driver": driver,
        "runtimes": {"oxirun": {"path": ox}},
        "default-runtime": "runc",
    })
}

fn start_daemon(d: &mut Docker, driver: &str) -> Result<(), String> {
    *d.config.borrow_mut() = daemon_json(d, driver);
    d.write_config();
    let mut cmd = Command::new("dockerd");
    cmd.arg("--config-file").arg(&d.conf);
    let daemon = Daemon::spawn("dockerd", cmd, &d.dir.path)?;
    daemon.wait_ready(Duration::from_secs(60), || d.docker(&["version"]).success())?;
    d.daemon = Some(daemon);
    Ok(())
}

/// dockerd running with runtimes `runc` and `oxirun` and the busybox image imported.
pub fn start() -> Result<Docker, String> {
    super::ensure(
        &[
            "dockerd",
            DOCKER,
            "containerd",
            "docker-init",
            "docker-compose",
        ],
        &["docker.io", "docker-compose"],
    )?;
    let dir = TestDir::new(&crate::unique_id("docker"));
    let short = PathBuf::from(format!("/tmp/oxit-dk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&short);
    std::fs::create_dir_all(&short).map_err(|e| format!("mkdir {}: {e}", short.display()))?;
    let mut leftovers = Leftovers::default();
    // dockerd's trust key (written to /etc/docker whatever the data-root), its plugin
    // socket dir, and the shims' sockets (/run/containerd/s).
    leftovers
        .file("/etc/docker/key.json")
        .dir("/etc/docker")
        .dir("/run/docker")
        .dir("/run/containerd");
    let mut d = Docker {
        sock: short.join("docker.sock"),
        conf: dir.join("daemon.json"),
        short,
        dir,
        config: Default::default(),
        cgroup_parent: format!("oxit-docker-{}", std::process::id()),
        daemon: None,
        leftovers,
    };
    let tar = d.dir.join("busybox.tar");
    super::rootfs_tar(&tar);
    let mut errors = Vec::new();
    // overlay2 first; vfs where overlay cannot work on the backing filesystem.
    for driver in ["overlay2", "vfs"] {
        if let Err(e) = start_daemon(&mut d, driver) {
            errors.push(format!("dockerd with {driver}: {e}"));
            if let Some(dm) = d.daemon.take() {
                dm.stop();
            }
            continue;
        }
        let out = d.docker(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            "-c",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            tar.to_str().unwrap(),
            IMG,
        ]);
        let smoke = d.run(&super::runtimes()[0], &["--rm"], &["true"]);
        if out.success() && smoke.success() {
            eprintln!("[docker] storage driver: {driver}");
            return Ok(d);
        }
        errors.push(format!(
            "import / smoke run with {driver}: {out:?} {smoke:?}"
        ));
        if let Some(dm) = d.daemon.take() {
            dm.stop();
        }
    }
    Err(errors.join("\n"))
}
