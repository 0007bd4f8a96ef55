//! Bundles: a busybox rootfs (Debian's busybox-static) plus the static `oci-checker`, and the
//! base `config.json` every case starts from (then edits with [`Bundle::set`]).

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::runtime::Runtime;

/// Busybox applets linked into /bin (the hooks and shell-driven cases use these).
const APPLETS: [&str; 12] = [
    "sh", "cat", "echo", "sleep", "true", "false", "readlink", "ls", "touch", "mkdir", "id",
    "printf",
];

/// Facts shared by every case of a run.
pub struct Ctx {
    /// Work directory of this run (bundles live under it).
    pub work: PathBuf,
    pub busybox: PathBuf,
    pub checker: PathBuf,
    /// `type=inode,...` of the driver's namespaces (passed to the checker as OCV_HOST_NS).
    pub host_ns: String,
}

impl Ctx {
    pub fn new(work: PathBuf, busybox: PathBuf, checker: PathBuf) -> Self {
        let host_ns = ns_inodes(std::process::id() as i32);
        Ctx {
            work,
            busybox,
            checker,
            host_ns,
        }
    }
}

/// `type=inode,...` for the namespaces of process `pid`.
pub fn ns_inodes(pid: i32) -> String {
    ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"]
        .iter()
        .filter_map(|t| {
            Some(format!(
                "{t}={}",
                fs::metadata(format!("/proc/{pid}/ns/{t}")).ok()?.ino()
            ))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One case's bundle: `<work>/<runtime>/<case>/{config.json,rootfs,...}`.
pub struct Bundle {
    pub dir: PathBuf,
    /// The container id: `ocv-<runtime>-<case>`.
    pub id: String,
    /// The cgroupsPath: `/oci-validation/<runtime>-<case>`.
    pub cgroup: String,
    pub config: Value,
}

impl Bundle {
    /// Creates the directory tree and the base config (not yet written).
    pub fn new(ctx: &Ctx, rt: &Runtime, case: &str) -> Result<Self> {
        let dir = ctx.work.join(&rt.name).join(case);
        let rootfs = dir.join("rootfs");
        for d in [
            "bin",
            "proc",
            "sys",
            "dev",
            "tmp",
            "etc",
            "mnt",
            "oci-validation",
            "ocv-shared",
        ] {
            fs::create_dir_all(rootfs.join(d))
                .with_context(|| format!("mkdir {}", rootfs.join(d).display()))?;
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
        link_or_copy(&ctx.busybox, &rootfs.join("bin/busybox"))?;
        link_or_copy(&ctx.checker, &rootfs.join("oci-checker"))?;
        for a in APPLETS {
            symlink("busybox", rootfs.join("bin").join(a))?;
        }
        fs::write(rootfs.join("etc/hostname"), "ocv\n")?;
        fs::write(rootfs.join("oci-validation/config.json"), "")?;
        let shared = dir.join("shared");
        fs::create_dir_all(&shared)?;
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777))?;
        let id = format!("ocv-{}-{case}", rt.name);
        let cgroup = format!("/oci-validation/{}-{case}", rt.name);
        let config = base_config(ctx, &dir, &cgroup);
        Ok(Bundle {
            dir,
            id,
            cgroup,
            config,
        })
    }

    /// Sets the JSON pointer `ptr` (parents must exist) to `v`.
    pub fn set(&mut self, ptr: &str, v: Value) -> &mut Self {
        let (parent, key) = ptr.rsplit_once('/').expect("pointer");
        let p = self
            .config
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent} in config"));
        p[key] = v;
        self
    }

    /// Appends `v` to the array at `ptr`.
    pub fn push(&mut self, ptr: &str, v: Value) -> &mut Self {
        let a = self.config.pointer_mut(ptr).and_then(|a| a.as_array_mut());
        a.unwrap_or_else(|| panic!("no array {ptr}")).push(v);
        self
    }

    /// Removes namespace `ty` from linux.namespaces.
    pub fn drop_ns(&mut self, ty: &str) -> &mut Self {
        if let Some(a) = self
            .config
            .pointer_mut("/linux/namespaces")
            .and_then(|a| a.as_array_mut())
        {
            a.retain(|n| n["type"] != ty);
        }
        self
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The host directory bind-mounted read-write at /ocv-shared.
    pub fn shared(&self) -> PathBuf {
        self.dir.join("shared")
    }

    /// Writes config.json.
    pub fn write(&self) -> Result<()> {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config)?,
        )?;
        Ok(())
    }

    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap_or("")
    }
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("copy {} -> {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// A config close to `runc spec`'s default, plus the checker's own mounts.
fn base_config(ctx: &Ctx, dir: &Path, cgroup: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/oci-checker"],
            "env": ["PATH=/bin", "TERM=xterm", format!("OCV_HOST_NS={}", ctx.host_ns)],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "ocv",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/oci-validation/config.json", "type": "bind", "source": dir.join("config.json"), "options": ["bind", "ro"]},
            {"destination": "/ocv-shared", "type": "bind", "source": dir.join("shared"), "options": ["rbind", "rw"]}
        ],
        "linux": {
            "cgroupsPath": cgroup,
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}
