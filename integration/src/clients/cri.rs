//! containerd's CRI plugin as Kubernetes reaches the runtime, for the crictl test: a private
//! containerd (root under the test's dir; state and sockets in a short dir of its own) in a
//! network namespace the test made (`unshare --net`, only `lo` up), so a hostNetwork pod and
//! the CRI streaming server (127.0.0.1, a random port) live there and crictl runs inside it
//! too (`nsenter --net`). Runtime handlers `runc` and `oxirun` (`runtime_type =
//! "io.containerd.runc.v2"`, `BinaryName`, `Root` in the short dir); pods get cgroups under
//! `oxit-cri-<pid>/`; pod networking is our CNI plugin (`cni_oxit.sh`: loopback addresses in
//! the pod's namespace only). The sandbox (pause) image is the busybox rootfs running
//! [`PAUSE_CMD`].
//!
//! `restrict_oom_score_adj = true`: the CRI plugin gives every sandbox `oomScoreAdj: -998`,
//! which no runtime can set where root lacks CAP_SYS_RESOURCE (runc: "can't get final
//! child's PID from pipe: EOF"; oxirun: "process.oomScoreAdj: -998: Permission denied");
//! with it, containerd caps every requested value at its own, the setting made for this.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::cli::seq;
use super::{
    docker_archive_with, ensure, expect_code, remove_tree_with_mounts, rmdir_cgroups, run,
    runtimes, state_writer, wait_for, Daemon, Leftovers, Res, Rt,
};
use crate::{json, Out, TestDir, Value};

pub const IMG: &str = "localhost/oxirun-it-busybox:latest";
pub const PAUSE: &str = "localhost/oxirun-it-pause:1";
/// The sandbox's command: waits, exits 0 on TERM/INT (SIGKILL is what the CRI plugin sends).
pub const PAUSE_CMD: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done";
const T: Duration = Duration::from_secs(60);
/// The pod's address on eth0 (our CNI plugin's).
pub const POD_IP: &str = "127.99.0.2";

/// The CNI plugins (`loopback` and `oxit-veth`, one script).
const CNI_PLUGIN: &str = include_str!("cni_oxit.sh");

/// CRI namespace modes (`NamespaceMode` in the CRI API).
pub const POD: u32 = 0;
pub const CONTAINER: u32 = 1;
pub const NODE: u32 = 2;

pub struct Cri {
    pub dir: TestDir,
    /// containerd's state and sockets (short paths), removed at the end.
    short: PathBuf,
    sock: PathBuf,
    crictl: PathBuf,
    pub daemon: Daemon,
    /// `oxit-cri-<pid>`: the parent of every pod's cgroup.
    cgroup_parent: String,
    leftovers: Leftovers,
}

/// A pod sandbox of a scenario; stopped and removed (with its containers and cgroups) on drop.
pub struct Pod<'a> {
    cri: &'a Cri,
    pub id: String,
    pub config: PathBuf,
    /// The pod's cgroup, relative to each hierarchy.
    pub cgroup: String,
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        let _ = self.cri.crictl(&["stopp", &self.id]);
        let _ = self.cri.crictl(&["rmp", "-f", &self.id]);
        rmdir_cgroups(&self.cgroup);
    }
}

impl Cri {
    /// `crictl ARGS` inside containerd's network namespace.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let ep = format!("unix://{}", self.sock.display());
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.daemon.pid()))
            .arg(&self.crictl)
            .args(["--runtime-endpoint", &ep, "--image-endpoint", &ep])
            .args(["--timeout", "60s"])
            .args(args)
            .current_dir(&self.dir.path);
        c
    }

    pub fn crictl(&self, args: &[&str]) -> Out {
        run(&mut self.cmd(args), &self.dir.path, T)
    }

    pub fn ctr(&self, args: &[&str]) -> Out {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.sock)
            .args(["-n", "k8s.io"])
            .args(args);
        run(&mut c, &self.dir.path, T)
    }

    pub fn write_json(&self, name: &str, v: &Value) -> PathBuf {
        let p = self.dir.join(&format!("{name}.json"));
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    /// `runp --runtime <rt>` of a pod with these network and PID namespace modes.
    pub fn pod(&self, rt: &Rt, short: &str, net: u32, pid: u32) -> Result<Pod<'_>, String> {
        let name = format!("{short}-{}-{}", rt.name, seq());
        let cgroup = format!("{}/{name}", self.cgroup_parent);
        let logs = self.dir.join(&format!("logs/{name}"));
        std::fs::create_dir_all(&logs).unwrap();
        let mut cfg = json!({
            "metadata": {"name": name, "namespace": "oxit", "uid": name, "attempt": 0},
            "log_directory": logs,
            "linux": {
                "cgroup_parent": format!("/{cgroup}"),
                "security_context": {"namespace_options": {"network": net, "pid": pid, "ipc": POD}}
            }
        });
        // A hostname needs a UTS namespace of the pod's own, which a hostNetwork pod (sharing
        // the node's) does not get: kubelet sends none then, and both runtimes refuse one.
        if net != NODE {
            cfg["hostname"] = json!(name);
        }
        let config = self.write_json(&format!("pod-{name}"), &cfg);
        let mut pod = Pod {
            cri: self,
            id: String::new(),
            config,
            cgroup,
        };
        let out = self.crictl(&["runp", "--runtime", rt.name, pod.config.to_str().unwrap()]);
        expect_code(&out, 0, &format!("crictl runp --runtime {}", rt.name))?;
        pod.id = out.stdout.trim().to_string();
        Ok(pod)
    }

    /// `create --no-pull` + `start` of a container running `cmd` in `pod`, with `linux` as
    /// its config's linux section; its id.
    pub fn run_container(
        &self,
        pod: &Pod,
        short: &str,
        cmd: &[&str],
        linux: Value,
    ) -> Result<String, String> {
        let name = format!("{short}-{}", seq());
        let cfg = json!({
            "metadata": {"name": name},
            "image": {"image": IMG},
            "command": cmd,
            "log_path": format!("{name}.log"),
            "linux": linux,
        });
        let file = self.write_json(&format!("ctr-{name}"), &cfg);
        let out = self.crictl(&[
            "create",
            "--no-pull",
            &pod.id,
            file.to_str().unwrap(),
            pod.config.to_str().unwrap(),
        ]);
        expect_code(&out, 0, "crictl create")?;
        let id = out.stdout.trim().to_string();
        expect_code(&self.crictl(&["start", &id]), 0, "crictl start")?;
        Ok(id)
    }

    /// `crictl inspect ID` (ContainerStatus with its info), parsed.
    pub fn inspect(&self, id: &str) -> Value {
        let out = self.crictl(&["inspect", "-o", "json", id]);
        serde_json::from_str(&out.stdout).unwrap_or(Value::Null)
    }

    pub fn state(&self, id: &str) -> String {
        self.inspect(id)["status"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn pid(&self, id: &str) -> String {
        self.inspect(id)["info"]["pid"].to_string()
    }

    /// `exec -s ID sh -c SCRIPT` (ExecSync).
    pub fn sh(&self, id: &str, script: &str) -> Out {
        self.crictl(&["exec", "-s", id, "sh", "-c", script])
    }

    /// Which runtime wrote the state of `id`: runc's state.json has `init_process_pid`,
    /// oxirun's `pid_start` (both under the handler's `Root`).
    pub fn state_writer(&self, rt: &Rt, id: &str) -> Option<&'static str> {
        state_writer(&self.root_of(rt).join("k8s.io").join(id).join("state.json"))
    }

    pub fn root_of(&self, rt: &Rt) -> PathBuf {
        self.short.join(format!("root-{}", rt.name))
    }

    /// Waits until the logs of `id` contain `needle`.
    pub fn wait_log(&self, id: &str, needle: &str) -> Res {
        wait_for(
            Duration::from_secs(10),
            || self.crictl(&["logs", id]).stdout.contains(needle),
            || {
                format!(
                    "crictl logs {id} never showed {needle:?}: {:#?}",
                    self.crictl(&["logs", id])
                )
            },
        )
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        // Every pod of our private containerd is ours.
        let _ = self.crictl(&["rmp", "-a", "-f"]);
        self.daemon.stop();
        rmdir_cgroups(&self.cgroup_parent);
        remove_tree_with_mounts(&self.short);
        self.leftovers.clean();
    }
}

fn config_toml(short: &Path, dir: &Path) -> String {
    let [runc, ox] = runtimes();
    let mut handlers = String::new();
    for rt in [&runc, &ox] {
        handlers.push_str(&format!(
            "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{n}]\n\
             \x20     runtime_type = \"io.containerd.runc.v2\"\n\
             \x20     [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{n}.options]\n\
             \x20       BinaryName = \"{bin}\"\n\
             \x20       Root = \"{root}\"\n",
            n = rt.name,
            bin = rt.path_str(),
            root = short.join(format!("root-{}", rt.name)).display(),
        ));
    }
    format!(
        "version = 2\n\
         root = \"{root}\"\n\
         state = \"{state}\"\n\
         [grpc]\n  address = \"{sock}\"\n\
         [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
         [debug]\n  address = \"{short}/debug.sock\"\n\
         [plugins.\"io.containerd.grpc.v1.cri\"]\n\
         \x20 sandbox_image = \"{PAUSE}\"\n\
         \x20 stream_server_address = \"127.0.0.1\"\n\
         \x20 stream_server_port = \"0\"\n\
         \x20 enable_selinux = false\n\
         \x20 restrict_oom_score_adj = true\n\
         \x20 netns_mounts_under_state_dir = true\n\
         \x20 [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
         \x20   bin_dir = \"{dir}/cni-bin\"\n\
         \x20   conf_dir = \"{dir}/cni-conf\"\n\
         \x20 [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n\
         \x20   default_runtime_name = \"runc\"\n\
         {handlers}",
        root = dir.join("root").display(),
        state = short.join("state").display(),
        sock = short.join("c.sock").display(),
        short = short.display(),
        dir = dir.display(),
    )
}

/// containerd with the CRI plugin, running, with the busybox and sandbox images imported.
pub fn start() -> Result<Cri, String> {
    ensure(
        &[
            "containerd",
            "ctr",
            "containerd-shim-runc-v2",
            "nsenter",
            "unshare",
            "ip",
        ],
        &["containerd", "util-linux", "iproute2"],
    )?;
    let crictl = super::crictl::crictl()?;
    let dir = TestDir::new(&crate::unique_id("cri"));
    let short = PathBuf::from(format!("/tmp/oxit-cri-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&short);
    std::fs::create_dir_all(&short).map_err(|e| format!("mkdir {}: {e}", short.display()))?;
    for d in ["cni-bin", "cni-conf"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let plugin = dir.join("cni-bin/oxit-veth");
    std::fs::write(&plugin, CNI_PLUGIN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("oxit-veth", dir.join("cni-bin/loopback")).unwrap();
    std::fs::write(
        dir.join("cni-conf/10-oxit.conflist"),
        r#"{"cniVersion":"0.4.0","name":"oxit","plugins":[{"type":"oxit-veth"}]}"#,
    )
    .unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, config_toml(&short, &dir.path)).unwrap();
    let mut leftovers = Leftovers::default();
    // The shims' sockets and default dirs, and libcni's result cache (/var/lib/cni).
    leftovers.dir("/run/containerd").dir("/var/lib/cni");
    // containerd in a network namespace of its own, with `lo` up: `unshare` execs the shell,
    // which execs containerd, so the pid we spawn is containerd's.
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "sh",
        "-c",
        "ip link set lo up && exec containerd --config \"$0\"",
    ])
    .arg(&cfg);
    let daemon = Daemon::spawn("containerd-cri", cmd, &dir.path)?;
    let c = Cri {
        sock: short.join("c.sock"),
        short,
        crictl,
        daemon,
        cgroup_parent: format!("oxit-cri-{}", std::process::id()),
        leftovers,
        dir,
    };
    c.daemon
        .wait_ready(Duration::from_secs(30), || c.crictl(&["version"]).success())?;
    for (tag, config, file) in [
        (IMG, json!({"Cmd": ["sh"]}), "busybox.tar"),
        (
            PAUSE,
            json!({"Entrypoint": ["sh", "-c", PAUSE_CMD]}),
            "pause.tar",
        ),
    ] {
        let archive = c.dir.join(file);
        docker_archive_with(&c.dir.path, tag, &archive, config);
        let out = c.ctr(&["images", "import", archive.to_str().unwrap()]);
        if !out.success() {
            return Err(format!("ctr -n k8s.io images import {file}: {out:?}"));
        }
    }
    Ok(c)
}
