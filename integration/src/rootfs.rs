//! The busybox test rootfs: built once from Debian's busybox-static into
//! `target/oxirun-it/rootfs-base-v1` (built in a temp dir and renamed, so parallel test processes
//! never see a half-built tree), then copied (`cp -a`) into each bundle.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::it_dir;

const BUSYBOX: &str = "/bin/busybox";
const MARKER: &str = ".oxirun-it-complete";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
tester:x:1000:1000:tester:/home/tester:/bin/sh\n";

const GROUP: &str = "root:x:0:\nwheel:x:10:tester\ntester:x:1000:\nnogroup:x:65534:\n";

static BASE: OnceLock<PathBuf> = OnceLock::new();

/// The cached base rootfs (built on first use).
pub fn base() -> &'static Path {
    BASE.get_or_init(|| {
        let base = it_dir().join("rootfs-base-v1");
        if !base.join(MARKER).exists() {
            build_base(&base);
        }
        base
    })
}

fn build_base(base: &Path) {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} not found: install busybox-static (apt-get install -y busybox-static)"
    );
    fs::create_dir_all(it_dir()).expect("mkdir target/oxirun-it");
    let tmp = it_dir().join(format!(
        "rootfs-base.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&tmp);
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "root",
        "home/tester",
        "var",
        "run",
    ] {
        fs::create_dir_all(tmp.join(d)).expect("mkdir in rootfs");
    }
    fs::set_permissions(tmp.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(BUSYBOX, tmp.join("bin/busybox")).expect("copy busybox");
    fs::set_permissions(tmp.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(list.status.success(), "busybox --list failed");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", tmp.join("bin").join(applet)).expect("applet symlink");
    }
    fs::write(tmp.join("etc/passwd"), PASSWD).unwrap();
    fs::write(tmp.join("etc/group"), GROUP).unwrap();
    fs::write(tmp.join("etc/hostname"), "oxirun-it\n").unwrap();
    fs::write(tmp.join(MARKER), "").unwrap();
    if fs::rename(&tmp, base).is_err() {
        // Another process won the race (or a stale incomplete dir is in the way).
        if !base.join(MARKER).exists() {
            let _ = fs::remove_dir_all(base);
            fs::rename(&tmp, base).expect("rename rootfs into place");
        } else {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
}

/// Copies the base rootfs to `dst` (which must not exist).
pub fn copy_to(dst: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(base())
        .arg(dst)
        .status()
        .expect("spawn cp");
    assert!(st.success(), "cp -a rootfs to {} failed", dst.display());
    let _ = fs::remove_file(dst.join(MARKER));
}
