//! A QEMU guest with **systemd as PID 1** and pure cgroup v2, for the systemd cgroup driver.
//!
//! Debian's kernel (`/boot/vmlinuz-*`, TCG) boots a small initramfs (busybox, the 9p/virtio/
//! overlay modules of that kernel) that mounts this machine's `/` read-only over 9p, puts a
//! tmpfs overlay on it, mounts the API filesystems (cgroup2 only) and `switch_root`s into
//! `/lib/systemd/systemd --unit=oxirun-test.service`. That unit runs the test's script with
//! the console on ttyS0 and powers off. The test's files land in `/oxirun-test/` of the guest.
//!
//! * [`boot`]: build the initramfs, run the guest, return its console and wall time;
//!   [`boot_with`] boots systemd's hybrid cgroup layout instead (v1 controllers);
//! * [`run_suite`]: boot, then assert every expected scenario passed;
//! * [`results`]: the TAP-like `ok N - name` / `not ok N - name # why` lines of the console.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::qemu::run;

/// A console-socket client for the guest (`recvtty.py SOCKET OUT`): takes the pty master and
/// copies what the container writes to OUT. Other guest scripts import its `copy`.
pub const RECVTTY: &str = r#"#!/usr/bin/python3
import os, socket, sys

def copy(fd, path):
    """Append what arrives on fd to path until it closes."""
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                b = os.read(fd, 4096)
            except OSError:
                break
            if not b:
                break
            f.write(b)

if __name__ == "__main__":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sys.argv[1]); s.listen(1)
    c, _ = s.accept()
    _, fds, _, _ = socket.recv_fds(c, 1024, 1)
    copy(fds[0], sys.argv[2])
"#;

/// The newest installed kernel with its modules: (image, version).
pub fn kernel() -> Option<(PathBuf, String)> {
    let mut v: Vec<String> = fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .filter(|ver| Path::new("/lib/modules").join(ver).is_dir())
        .collect();
    v.sort();
    let ver = v.pop()?;
    Some((PathBuf::from(format!("/boot/vmlinuz-{ver}")), ver))
}

/// Why the guest cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if kernel().is_none() {
        return Some("no /boot/vmlinuz-* with its /lib/modules (install linux-image-amd64)".into());
    }
    for (p, pkg) in [
        ("/lib/systemd/systemd", "systemd"),
        ("/bin/busybox", "busybox-static"),
        ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
    ] {
        if !Path::new(p).exists() {
            return Some(format!("no {p} (install {pkg})"));
        }
    }
    None
}

/// The .ko files (in load order) for 9p over virtio and overlayfs; built-ins need none.
fn modules(ver: &str) -> Vec<PathBuf> {
    let mut text = String::new();
    // One module per call (further words would be module parameters).
    for m in ["virtio_pci", "9pnet_virtio", "9p", "overlay"] {
        let out = Command::new("modprobe")
            .args(["-S", ver, "--show-depends", m])
            .output()
            .expect("modprobe --show-depends (package kmod)");
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let mut seen = Vec::new();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("insmod ") {
            let p = PathBuf::from(p.trim());
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
    }
    seen
}

const INIT: &str = r#"#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do $B insmod /mods/$m || echo "INITRAMFS: insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower || echo "INITRAMFS: 9p mount failed"
$B mount -t tmpfs -o size=768m tmpfs /ovl
$B mkdir -p /ovl/upper /ovl/work
$B mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot || echo "INITRAMFS: overlay failed"
$B mkdir -p /newroot/oxirun-test
$B cp -a /test/. /newroot/oxirun-test/
$B cp /newroot/oxirun-test/oxirun-test.service /newroot/etc/systemd/system/
echo > /newroot/etc/fstab
# systemd would think it runs in a container and ignore the kernel command line.
$B rm -f /newroot/.dockerenv /newroot/run/.containerenv
$B mount --move /dev /newroot/dev
$B umount /proc
$B mount -t proc proc /newroot/proc
$B mount -t sysfs sysfs /newroot/sys
# Pure v2: mounted here. Hybrid: left to systemd (systemd.unified_cgroup_hierarchy=0).
[ -e /test/hybrid ] || $B mount -t cgroup2 -o nsdelegate cgroup2 /newroot/sys/fs/cgroup
$B mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /newroot/run
$B mount -t tmpfs tmpfs /newroot/tmp
exec $B switch_root /newroot /lib/systemd/systemd --unit=oxirun-test.service --show-status=0 --log-level=warning
"#;

const UNIT: &str = "[Unit]
Description=oxirun guest test
DefaultDependencies=no
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/oxirun-test/run.sh >/dev/ttyS0 2>&1; echo GUEST-EXIT >/dev/ttyS0; /bin/systemctl poweroff -ff'
";

/// What a guest run produced.
pub struct Run {
    pub console: String,
    pub wall: Duration,
    pub timed_out: bool,
}

/// The cgroup layout the guest's systemd sets up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cgroups {
    /// Pure cgroup v2 (one cgroup2 mount at `/sys/fs/cgroup`).
    V2,
    /// systemd's hybrid layout: every v1 controller, `name=systemd`, and cgroup2 at
    /// `/sys/fs/cgroup/unified` (what this machine has).
    Hybrid,
}

/// Boot the guest with `files` (name, contents, executable) in `/oxirun-test/` and `script`
/// as `/oxirun-test/run.sh`; returns once it powered off or `timeout` passed.
pub fn boot(work: &Path, files: &[(&str, Vec<u8>, bool)], script: &str, timeout: Duration) -> Run {
    boot_with(Cgroups::V2, work, files, script, timeout)
}

/// [`boot`] with the given cgroup layout.
pub fn boot_with(
    cgroups: Cgroups,
    work: &Path,
    files: &[(&str, Vec<u8>, bool)],
    script: &str,
    timeout: Duration,
) -> Run {
    let (kernel, ver) = kernel().expect("a kernel (see unavailable())");
    let root = work.join("initramfs");
    for d in [
        "bin", "mods", "lower", "ovl", "newroot", "proc", "dev", "test",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy /bin/busybox");
    let mut order = String::new();
    for m in modules(&ver) {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(plain) = name.strip_suffix(".xz") {
            run(
                Command::new("sh").arg("-c").arg(format!(
                    "xz -dc '{}' > '{}'",
                    m.display(),
                    root.join("mods").join(plain).display()
                )),
                "decompress a module",
            );
            order.push_str(plain);
        } else {
            fs::copy(&m, root.join("mods").join(&name)).expect("copy a module");
            order.push_str(&name);
        }
        order.push('\n');
    }
    fs::write(root.join("mods/order"), order).unwrap();
    let write = |rel: &str, data: &[u8], exec: bool| {
        let p = root.join(rel);
        fs::write(&p, data).unwrap();
        let mode = if exec { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    write("init", INIT.as_bytes(), true);
    write("test/oxirun-test.service", UNIT.as_bytes(), false);
    write("test/run.sh", script.as_bytes(), true);
    let mut cmdline = "console=ttyS0 quiet panic=-1 loglevel=3".to_string();
    if cgroups == Cgroups::Hybrid {
        write("test/hybrid", b"", false);
        cmdline.push_str(" systemd.unified_cgroup_hierarchy=0");
    }
    for (name, data, exec) in files {
        write(&format!("test/{name}"), data, *exec);
    }
    let initrd = crate::qemu::pack_tree(&root);
    let console = work.join("console.log");
    let started = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "1024",
            "-smp",
            "2",
            "-nographic",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-append")
        .arg(&cmdline)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&console).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn qemu-system-x86_64 (package qemu-system-x86)");
    let deadline = started + timeout;
    let timed_out = loop {
        if child.try_wait().expect("wait qemu").is_some() {
            break false;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = String::from_utf8_lossy(&fs::read(&console).unwrap()).replace('\r', "");
    Run {
        console: text,
        wall: started.elapsed(),
        timed_out,
    }
}

/// Boot a guest with `files` running `script` (a TAP script ending in `GUEST-DONE
/// fails=$fails`), print its console, and assert: no timeout, every name in `want` reported
/// ok, nothing failed, the script finished.
pub fn run_suite(
    name: &str,
    cgroups: Cgroups,
    dir: &crate::util::TestDir,
    files: &[(&str, Vec<u8>, bool)],
    script: &str,
    timeout: Duration,
    want: &[String],
) {
    let run = boot_with(cgroups, &dir.path, files, script, timeout);
    eprintln!(
        "{name} guest ran {:?}{}; console:\n{}",
        run.wall,
        if run.timed_out { " (TIMED OUT)" } else { "" },
        run.console
    );
    assert!(!run.timed_out, "guest timed out after {timeout:?}");
    assert!(
        run.console.contains("GUEST-START"),
        "the guest script never started"
    );
    let results = results(&run.console);
    let failed: Vec<String> = results
        .iter()
        .filter(|(ok, _, _)| !ok)
        .map(|(_, n, why)| format!("{n}: {why}"))
        .collect();
    assert!(
        failed.is_empty(),
        "failed scenarios:\n{}",
        failed.join("\n")
    );
    for w in want {
        assert!(
            results.iter().any(|(ok, n, _)| *ok && n == w),
            "scenario {w:?} did not report ok"
        );
    }
    assert!(
        run.console.contains("GUEST-DONE fails=0"),
        "guest did not finish cleanly"
    );
}

/// The checkpoint guests' runner. Where the guest or `/usr/sbin/criu` is missing it says
/// SKIP and why; else it makes the test's directory, boots the pure v2 guest with the files
/// `files` makes there plus this build of oxirun and the console-socket receiver
/// (`recvtty.py`), runs `script` after the TAP helpers within 15 minutes, and asserts `want`
/// as [`run_suite`] does.
pub fn run_criu_suite(
    name: &str,
    files: impl FnOnce(&crate::util::TestDir) -> Vec<(&'static str, Vec<u8>, bool)>,
    script: &str,
    want: &[String],
) {
    let why = unavailable().or_else(|| {
        (!Path::new("/usr/sbin/criu").exists()).then(|| "no /usr/sbin/criu (install criu)".into())
    });
    if let Some(why) = why {
        eprintln!("SKIP {name}: {why}");
        return;
    }
    let dir = crate::util::TestDir::new(name);
    let mut files = files(&dir);
    files.push(("recvtty.py", RECVTTY.as_bytes().to_vec(), true));
    // The guest's root is this machine's: the dynamically linked debug build runs there.
    files.push(("oxirun", fs::read(crate::oxirun_bin()).unwrap(), true));
    let script = format!("{}{script}", crate::qemu::TAP_HELPERS);
    let timeout = Duration::from_secs(900);
    run_suite(name, Cgroups::V2, &dir, &files, &script, timeout, want);
}

/// One result line: (passed, name, note).
pub fn results(console: &str) -> Vec<(bool, String, String)> {
    console
        .lines()
        .filter_map(|l| {
            let (ok, rest) = if let Some(r) = l.strip_prefix("ok ") {
                (true, r)
            } else {
                (false, l.strip_prefix("not ok ")?)
            };
            let (_, body) = rest.split_once(" - ")?;
            let (name, note) = body.split_once(" # ").unwrap_or((body, ""));
            Some((ok, name.to_string(), note.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn result_lines() {
        let r = super::results("junk\nok 1 - a b\nnot ok 2 - c # want [1] got [2]\nok x\n");
        assert_eq!(
            r,
            [
                (true, "a b".to_string(), String::new()),
                (false, "c".to_string(), "want [1] got [2]".to_string())
            ]
        );
    }
}
