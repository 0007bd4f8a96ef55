//! QEMU guests booted from an initramfs this crate packs: Debian's `linux-image-amd64` kernel
//! under TCG (no KVM here), busybox as PID 1, a STATIC release oxirun, and a test script that
//! prints TAP-like `ok N - name` / `not ok N - name # why` lines on the serial console and
//! powers off. Used by the pure cgroup v2 guest and the LSM (AppArmor, SELinux) guests.
//!
//! The init copies the initramfs into a tmpfs and `switch_root`s into it (pivot_root cannot
//! leave the initramfs), then runs `/init2`, the test's script, which starts with
//! [`TAP_PRELUDE`].

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{workspace_dir, TestDir};

/// The newest `/boot/vmlinuz-*` (None: no kernel installed, the guest test is skipped).
pub fn kernel_image() -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir("/boot")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    v.sort();
    v.pop()
}

/// Run `cmd` to success or panic naming `what`.
pub fn run(cmd: &mut Command, what: &str) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(st.success(), "{what}: {st}");
}

/// The static release binary, built into its own target dir (the normal build stays fast).
pub fn static_oxirun() -> PathBuf {
    let started = Instant::now();
    let bin = release_build("target/qemu-static", "-C target-feature=+crt-static", &[]);
    eprintln!("static oxirun built in {:?}", started.elapsed());
    bin
}

/// `cargo build --release` of the oxirun binary for x86_64 into `<workspace>/<target>` with
/// `rustflags` and the extra environment `env`; returns the binary's path.
pub fn release_build(target: &str, rustflags: &str, env: &[(&str, &str)]) -> PathBuf {
    let ws = workspace_dir();
    let target = ws.join(target);
    run(
        Command::new(env!("CARGO"))
            .current_dir(&ws)
            .env("RUSTFLAGS", rustflags)
            .env("CARGO_TARGET_DIR", &target)
            .envs(env.iter().copied())
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--bin",
                "oxirun",
            ]),
        "release build of oxirun",
    );
    target.join("x86_64-unknown-linux-gnu/release/oxirun")
}

/// The config.json `oxirun spec` writes: the base of every guest's configs.
pub fn spec_config(dir: &TestDir) -> serde_json::Value {
    let spec_dir = dir.join("spec");
    fs::create_dir_all(&spec_dir).unwrap();
    run(
        Command::new(crate::oxirun_bin())
            .arg("spec")
            .current_dir(&spec_dir),
        "oxirun spec",
    );
    serde_json::from_slice(&fs::read(spec_dir.join("config.json")).unwrap()).unwrap()
}

/// Write an executable file.
pub fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /sys /dev /newroot
mount -t tmpfs -o size=@SIZE@m tmpfs /newroot
for e in /*; do case "$e" in /proc|/newroot|/sys|/dev|/init) ;; *) cp -a "$e" /newroot/ ;; esac; done
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run /newroot/b
umount /proc
# pivot_root cannot leave the initramfs: continue from a tmpfs root.
exec switch_root /newroot /init2
"#;

/// The TAP helpers of every guest script: `ok NAME`, `notok NAME WHY`, `check NAME WANT GOT`,
/// `yes_if NAME 'shell condition' WHY`, `wait_for 'condition'` (30 s). Scripts end with
/// [`TAP_END`].
macro_rules! tap_helpers {
    () => {
        r#"echo "GUEST-START $(uname -r)"
n=0; fails=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
notok() { n=$((n+1)); fails=$((fails+1)); echo "not ok $n - $1 # $2"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "want [$2] got [$3]"; fi; }
yes_if() { if eval "$2"; then ok "$1"; else notok "$1" "$3"; fi; }
wait_for() { i=0; while [ $i -lt 150 ]; do eval "$1" && return 0; sleep 0.2; i=$((i+1)); done; return 1; }
"#
    };
}

/// The start of a script that is PID 1 of an initramfs guest: its mounts, then the helpers.
pub const TAP_PRELUDE: &str = concat!(
    "#!/bin/sh\nexport PATH=/bin:/sbin:/usr/bin:/usr/sbin\n",
    "mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev\n",
    tap_helpers!()
);

/// The start of a script that systemd runs in a [`crate::guest`] (the mounts are done).
pub const TAP_HELPERS: &str = concat!("#!/bin/sh\n", tap_helpers!());

/// The end of every guest script.
pub const TAP_END: &str = r#"
echo "1..$n"
echo "GUEST-DONE fails=$fails"
sync
poweroff -f
"#;

/// An initramfs tree under a test dir: busybox, `/init`, the script as `/init2`.
pub struct Initramfs {
    pub root: PathBuf,
    size_mib: u32,
}

impl Initramfs {
    /// A tree with busybox, the static oxirun at `/bin/oxirun`, a busybox container rootfs at
    /// `/rootfs` (with `applets`) and `script` as `/init2`. `size_mib`: the guest's tmpfs root.
    pub fn new(
        dir: &TestDir,
        oxirun: &Path,
        applets: &[&str],
        script: &str,
        size_mib: u32,
    ) -> Self {
        let root = dir.join("initrd");
        for d in [
            "bin",
            "cfg",
            "rootfs/bin",
            "rootfs/proc",
            "rootfs/dev",
            "rootfs/sys",
            "rootfs/tmp",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", root.join("bin/busybox")).expect("/bin/busybox (busybox-static)");
        fs::copy("/bin/busybox", root.join("rootfs/bin/busybox")).unwrap();
        for applet in applets {
            std::os::unix::fs::symlink("busybox", root.join("rootfs/bin").join(applet)).unwrap();
        }
        fs::copy(oxirun, root.join("bin/oxirun")).unwrap();
        write_exec(&root.join("init2"), script);
        Initramfs { root, size_mib }
    }

    /// Copy a host file to the same path in the guest.
    pub fn add_host_file(&self, path: &str) {
        let dest = self.root.join(path.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(path, &dest).unwrap_or_else(|e| panic!("copy {path} into the guest: {e}"));
    }

    /// Copy a dynamically linked host program and the libraries `ldd` names (with the
    /// loader) to the same paths in the guest.
    pub fn add_host_program(&self, path: &str) {
        self.add_host_file(path);
        let out = Command::new("ldd").arg(path).output().expect("ldd");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let lib = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(lib) = lib.filter(|l| l.starts_with('/')) {
                let real = fs::canonicalize(lib).unwrap();
                let dest = self.root.join(lib.trim_start_matches('/'));
                if !dest.exists() {
                    fs::create_dir_all(dest.parent().unwrap()).unwrap();
                    fs::copy(&real, &dest).unwrap();
                }
            }
        }
    }

    /// Write a file into the guest tree (relative to its root).
    pub fn write(&self, rel: &str, data: &[u8]) {
        let dest = self.root.join(rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(dest, data).unwrap();
    }

    /// Pack the tree (`cpio -H newc | gzip`) next to it.
    pub fn pack(&self) -> PathBuf {
        write_exec(
            &self.root.join("init"),
            &INIT.replace("@SIZE@", &self.size_mib.to_string()),
        );
        pack_tree(&self.root)
    }
}

/// Pack an initramfs tree (`cpio -H newc | gzip`) next to it.
pub fn pack_tree(root: &Path) -> PathBuf {
    let out = root.with_extension("cpio.gz");
    run(
        Command::new("sh").arg("-c").arg(format!(
            "cd '{}' && find . | cpio -o -H newc --quiet | gzip -1 > '{}'",
            root.display(),
            out.display()
        )),
        "pack the initramfs",
    );
    out
}

/// What a guest printed on its console.
pub struct Console {
    pub text: String,
}

/// Boot `kernel` with `initrd`, the extra kernel command line `append` and the extra QEMU
/// arguments `extra` (devices), wait for it to power off (at most `timeout`), and return its
/// console (also written to `log`).
pub fn boot(
    kernel: &Path,
    initrd: &Path,
    append: &str,
    mem_mib: u32,
    log: &Path,
    timeout: Duration,
    extra: &[&str],
) -> Console {
    let started = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(extra)
        .args(["-accel", "tcg", "-smp", "1", "-nographic", "-no-reboot"])
        .args(["-m", &mem_mib.to_string()])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args([
            "-append",
            &format!("console=ttyS0 quiet panic=-1 loglevel=3 {append}"),
        ])
        .stdin(Stdio::null())
        .stdout(fs::File::create(log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn qemu-system-x86_64 (package qemu-system-x86)");
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(st) = child.try_wait().expect("wait qemu") {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1000;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = String::from_utf8_lossy(&fs::read(log).unwrap()).replace('\r', "");
    assert_ne!(
        code, -1000,
        "guest timed out after {timeout:?}; console:\n{text}"
    );
    eprintln!(
        "guest ran {:?} (exit {code}); console:\n{text}",
        started.elapsed()
    );
    Console { text }
}

impl Console {
    /// Every scenario of `expected` reported `ok` (or `ok ... # SKIP why`), none `not ok`,
    /// and the script reached its end.
    pub fn assert_all_ok(&self, expected: &[&str]) {
        let text = &self.text;
        assert!(
            text.contains("GUEST-START"),
            "the guest script never started"
        );
        let not_ok: Vec<&str> = text.lines().filter(|l| l.starts_with("not ok ")).collect();
        assert!(
            not_ok.is_empty(),
            "failed scenarios:\n{}",
            not_ok.join("\n")
        );
        for want in expected {
            let found = text.lines().any(|l| {
                l.starts_with("ok ")
                    && l.split_once(" - ").is_some_and(|(_, name)| {
                        name == *want || name.starts_with(&format!("{want} # SKIP"))
                    })
            });
            assert!(found, "scenario {want:?} did not report ok");
        }
        assert!(
            text.contains("GUEST-DONE fails=0"),
            "guest did not finish cleanly"
        );
    }
}
