//! The busybox bundle and the config.json variants the scenarios give the runtimes.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use crate::runtime::Mode;

/// `runc spec` (1.1.5) output, used when runc is not installed so every runtime still gets it.
const FALLBACK_SPEC: &str = r#"{"ociVersion":"1.0.2-dev","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","readonly":true},"hostname":"runc","mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}"#;

/// Limits of the `run+seccomp+limits` scenario (modes with cgroups only).
pub const MEMORY_LIMIT: u64 = 256 << 20;
pub const PIDS_LIMIT: u64 = 128;
pub const CPU_SHARES: u64 = 512;
pub const CPU_QUOTA: u64 = 50_000;
pub const CPU_PERIOD: u64 = 100_000;

/// What the container's config.json holds besides the base spec.
#[derive(Clone, Copy, PartialEq)]
pub enum Variant {
    /// The base spec: `/bin/true`.
    True,
    /// `/bin/sleep 1000000`: the long-running container `exec` enters.
    Sleep,
    /// `/bin/true` under the Docker default seccomp profile, plus `linux.resources` limits
    /// when the mode has cgroups.
    SeccompLimits,
}

/// `target/bench/bundle`: a busybox rootfs and the config every runtime gets.
pub fn build_bundle(bundle: &Path) -> Result<Value> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox missing: apt-get install -y busybox-static");
    }
    let rootfs = bundle.join("rootfs");
    if bundle.exists() {
        fs::remove_dir_all(bundle).with_context(|| format!("rm -r {}", bundle.display()))?;
    }
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::copy(busybox, rootfs.join("bin/busybox")).context("copy /bin/busybox")?;
    for applet in ["true", "sh", "sleep"] {
        symlink("busybox", rootfs.join("bin").join(applet))?;
    }

    let generated = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(bundle)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut spec: Value = if generated {
        let text = fs::read_to_string(bundle.join("config.json"))?;
        serde_json::from_str(&text).context("parse runc spec output")?
    } else {
        serde_json::from_str(FALLBACK_SPEC)?
    };
    spec["process"]["args"] = json!(["/bin/true"]);
    spec["process"]["terminal"] = json!(false);
    Ok(spec)
}

/// The Docker default seccomp profile as an OCI `linux.seccomp` object (the file may hold a
/// whole config with `/linux/seccomp`, or the bare object, as `benches/seccomp_compile.rs` reads).
pub fn docker_seccomp(manifest: &Path) -> Result<Value> {
    let path = manifest.join("seccomp/tests/data/docker-default.json");
    let text = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let seccomp = value.pointer("/linux/seccomp").cloned().unwrap_or(value);
    if seccomp.get("defaultAction").is_none() {
        bail!(
            "{}: no defaultAction, not a seccomp profile",
            path.display()
        );
    }
    Ok(seccomp)
}

/// The config for one container: `base` with `variant` applied, in `mode` (`cgroupsPath`
/// from [`crate::cgroups::cgroups_path`]), and with `root.path` replaced when `rootfs` is given.
pub fn spec_for(
    base: &Value,
    seccomp: &Value,
    mode: Mode,
    leaf: &str,
    variant: Variant,
    rootfs: Option<&Path>,
) -> Result<Value> {
    let mut spec = base.clone();
    if let Some(r) = rootfs {
        spec["root"]["path"] = json!(r);
    }
    if variant == Variant::Sleep {
        spec["process"]["args"] = json!(["/bin/sleep", "1000000"]);
    }
    let linux = spec["linux"]
        .as_object_mut()
        .ok_or_else(|| anyhow!("spec without linux"))?;
    match crate::cgroups::cgroups_path(mode, leaf) {
        Some(path) => linux.insert("cgroupsPath".into(), json!(path)),
        None => linux.remove("cgroupsPath"),
    };
    if variant == Variant::SeccompLimits {
        linux.insert("seccomp".into(), seccomp.clone());
        if mode.has_cgroups() {
            let resources = linux
                .entry("resources")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| anyhow!("linux.resources is not an object"))?;
            resources.insert("memory".into(), json!({ "limit": MEMORY_LIMIT }));
            resources.insert("pids".into(), json!({ "limit": PIDS_LIMIT }));
            resources.insert(
                "cpu".into(),
                json!({ "shares": CPU_SHARES, "quota": CPU_QUOTA, "period": CPU_PERIOD }),
            );
        }
    }
    Ok(spec)
}

/// Writes `dir/config.json` (creating `dir`).
pub fn write_config(dir: &Path, spec: &Value) -> Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    let path = dir.join("config.json");
    fs::write(&path, serde_json::to_vec_pretty(spec)?)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}
