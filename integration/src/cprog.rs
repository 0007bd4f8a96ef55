//! Small static C programs the security tests run as attackers inside a container (the busybox
//! rootfs has no `renameat2`, `ptrace` or `O_PATH` tools). Each is compiled once per source text
//! with `cc -static` into `target/oxirun-it/cprog-<name>-<hash>` (built under a temp name and
//! renamed, so parallel test processes never see a half-written binary).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::it_dir;

/// Compiles `src` (C) statically; returns the binary's path.
pub fn build(name: &str, src: &str) -> PathBuf {
    let mut h = DefaultHasher::new();
    src.hash(&mut h);
    let bin = it_dir().join(format!("cprog-{name}-{:016x}", h.finish()));
    if bin.exists() {
        return bin;
    }
    std::fs::create_dir_all(it_dir()).expect("mkdir it dir");
    let tag = format!("{}-{:?}", std::process::id(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let c_file = it_dir().join(format!("cprog-{name}-{tag}.c"));
    let tmp = it_dir().join(format!("cprog-{name}-{tag}.tmp"));
    std::fs::write(&c_file, src).expect("write C source");
    let out = Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&c_file)
        .output()
        .expect("run cc");
    let _ = std::fs::remove_file(&c_file);
    assert!(
        out.status.success(),
        "cc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &bin).expect("rename compiled program");
    bin
}

/// Compiles `src` and copies it to `<rootfs>/<dest>` (mode 0755).
pub fn install(rootfs: &Path, dest: &str, name: &str, src: &str) -> PathBuf {
    let bin = build(name, src);
    let to = rootfs.join(dest.trim_start_matches('/'));
    std::fs::copy(&bin, &to).expect("copy program into rootfs");
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    to
}
