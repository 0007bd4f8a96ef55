//! End-to-end tests of `prepare` / `enter` / `finalize` as root. The host side builds a
//! busybox bundle in a temporary directory, then runs the same test again through
//! `unshare --mount --pid --fork` (no fork inside the threaded test harness), so the scenario
//! runs as pid 1 of new mount and pid namespaces, as a container init does. The child sets up
//! the rootfs, checks the result from inside and reports through its exit code and output;
//! the host side then checks that no mount leaked and nothing was written outside the rootfs.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::cgroups::Cgroup;

struct Bundle {
    dir: PathBuf,
    cgroups: Vec<PathBuf>,
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for c in &self.cgroups {
            let _ = std::fs::remove_dir(c);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bundle {
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

/// A busybox rootfs plus a host directory `src` (bind sources) and `outside` (a sentinel).
fn bundle(tag: &str) -> Bundle {
    assert!(
        nix::unistd::geteuid().is_root(),
        "rootfs end-to-end tests need root"
    );
    let dir = std::env::temp_dir().join(format!("oxirun-rootfs-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = dir.join("rootfs");
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "masked-dir",
        "ro-dir",
        "copyup",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).expect("busybox-static is installed");
    for app in ["sh", "ls", "cat", "mount", "touch", "test", "stat"] {
        symlink("busybox", r.join("bin").join(app)).unwrap();
    }
    std::fs::write(r.join("masked-dir/secret"), b"secret").unwrap();
    std::fs::write(r.join("copyup/hello"), b"hello").unwrap();
    std::fs::set_permissions(r.join("copyup"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::write(r.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n").unwrap();
    symlink("/../../../../etc", r.join("a")).unwrap();
    symlink("../../..", r.join("b")).unwrap();
    std::fs::create_dir_all(dir.join("src/sub")).unwrap();
    std::fs::write(dir.join("src/data"), b"data").unwrap();
    std::fs::create_dir_all(dir.join("outside")).unwrap();
    Bundle {
        dir,
        cgroups: Vec::new(),
    }
}

/// The test's spec; it runs in new mount and pid namespaces, which the spec says unless the
/// test lists its own (without a mount namespace the rootfs would only be chrooted into).
fn spec(mut json: serde_json::Value) -> Spec {
    if json["linux"]["namespaces"].is_null() {
        json["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "pid"}]);
    }
    serde_json::from_value(json).expect("valid test spec")
}

fn say(msg: &str) {
    eprintln!("{msg}");
}

const CHILD_ENV: &str = "OXIRUN_ROOTFS_E2E_CHILD";

/// In the re-executed child: the bundle directory when `test` is the scenario to run.
fn child_of(test: &str) -> Option<PathBuf> {
    let v = std::env::var(CHILD_ENV).ok()?;
    let (name, dir) = v.split_once('=')?;
    (name == test).then(|| PathBuf::from(dir))
}

/// Run test `test` of this test binary again as pid 1 of new mount and pid namespaces (via
/// `unshare`, so no fork happens in the threaded harness), pointing it at `dir`. Returns the
/// exit code and the combined output.
fn run_child(test: &str, dir: &Path) -> (i32, String) {
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, m)| m);
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--pid", "--fork"])
        .arg(exe)
        .args([
            "--exact",
            &format!("{module}::{test}"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{test}={}", dir.display()))
        .output()
        .expect("run unshare (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("--- child {test} ---\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// The child side: run `f` and exit with its code (never returns).
fn child_exit(f: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
    std::process::exit(code)
}

/// Failure counter for the checks made inside.
struct Checks(i32);
impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            say(&format!("FAILED: {what}"));
            self.0 += 1;
        }
    }
    fn errno_is<T>(&mut self, r: std::io::Result<T>, errno: i32, what: &str) {
        let got = r.err().and_then(|e| e.raw_os_error());
        self.check(
            got == Some(errno),
            &format!("{what}: expected errno {errno}, got {got:?}"),
        );
    }
}

fn mountinfo_line(mi: &str, mount_point: &str) -> Option<String> {
    mi.lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mount_point))
        .map(str::to_string)
}

/// Variants of the full scenario.
#[derive(Clone, Copy, Default)]
struct Variant {
    /// Resolve with the per-component walk only (as if openat2 were missing).
    fallback: bool,
    /// `--no-pivot` (MS_MOVE + chroot) and `rootfsPropagation: rshared`.
    no_pivot: bool,
    /// Without CAP_MKNOD: devices are bind mounts of the host's.
    no_mknod: bool,
}

fn full_spec(dir: &Path, no_pivot: bool) -> Spec {
    let src = dir.join("src");
    let mut s = spec(serde_json::json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "size=1m", "x-ignored"]},
            {"destination": "/mnt/ro", "type": "bind", "source": src,
             "options": ["rbind", "ro", "nosuid", "rprivate"]},
            {"destination": "/mnt/file", "type": "none", "source": src.join("data"),
             "options": ["bind", "ro"]},
            {"destination": "/mnt/rro", "type": "bind", "source": src,
             "options": ["rbind", "rro", "rnoexec"]},
            {"destination": "../../a/oxirun-e2e-x", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/b/etc/oxirun-e2e-y", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/copyup", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup"]}
        ],
        "linux": {
            "maskedPaths": ["/proc/kcore", "/proc/timer_list", "/masked-dir", "/does/not/exist"],
            "readonlyPaths": ["/proc/sys", "/ro-dir"],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                         "fileMode": 432, "uid": 0, "gid": 0}]
        }
    }));
    if no_pivot {
        // The --no-pivot variant also asks for a shared root.
        let mut linux = s.linux().clone().expect("linux section");
        linux.set_rootfs_propagation(Some("rshared".to_string()));
        s.set_linux(Some(linux));
    }
    s
}

/// The cgroups the full scenario binds: our own, one per hierarchy, named after the bundle.
fn test_cgroups(dir: &Path) -> Vec<(String, PathBuf)> {
    let name = dir.file_name().expect("bundle name");
    [
        ("pids", "/sys/fs/cgroup/pids"),
        ("", "/sys/fs/cgroup/unified"),
    ]
    .into_iter()
    .map(|(h, base)| (h.to_string(), Path::new(base).join(name)))
    .collect()
}

fn run_full(test: &str, v: Variant) {
    if let Some(dir) = child_of(test) {
        child_exit(|| {
            if v.fallback {
                super::resolve::force_fallback(true);
            }
            if v.no_mknod {
                caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_MKNOD)
                    .expect("drop CAP_MKNOD");
            }
            let spec = full_spec(&dir, v.no_pivot);
            let dirs: Vec<_> = test_cgroups(&dir)
                .into_iter()
                .filter(|(_, d)| d.is_dir())
                .collect();
            let cgroup = Cgroup { dirs: dirs.clone() };
            let r = super::prepare(&spec, &dir.join("rootfs"), &cgroup)
                .and_then(|r| super::enter(r, v.no_pivot))
                .and_then(|e| super::finalize(&spec, e));
            if let Err(e) = r {
                say(&format!("setup failed: {e:#}"));
                return 100;
            }
            inside_checks(&dirs, v)
        });
    }
    let mut b = bundle(test);
    // Our own cgroups (created here, removed on drop) in one v1 and the v2 hierarchy.
    for (_, d) in test_cgroups(&b.dir) {
        if d.parent().is_some_and(|p| p.is_dir()) && std::fs::create_dir(&d).is_ok() {
            b.cgroups.push(d);
        }
    }
    let (code, out) = run_child(test, &b.dir);
    assert_eq!(code, 0, "checks inside the container failed:\n{out}");

    // Host side: nothing leaked (other tests may mount elsewhere meanwhile: look at ours only).
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<_> = super::mountinfo::parse(&host_after)
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(&b.dir)
                || m.mount_point
                    .to_string_lossy()
                    .starts_with("/etc/oxirun-e2e")
        })
        .collect();
    assert!(leaked.is_empty(), "mounts leaked to the host: {leaked:?}");
    let r = b.rootfs();
    assert!(
        r.join("etc/oxirun-e2e-x").is_dir(),
        "../../a/x must land at rootfs/etc/x"
    );
    assert!(
        r.join("etc/oxirun-e2e-y").is_dir(),
        "/b/etc/y must land at rootfs/etc/y"
    );
    assert!(
        !Path::new("/etc/oxirun-e2e-x").exists(),
        "created on the host"
    );
    assert!(
        !Path::new("/etc/oxirun-e2e-y").exists(),
        "created on the host"
    );
    assert_eq!(std::fs::read(r.join("copyup/hello")).unwrap(), b"hello");
}

fn inside_checks(dirs: &[(String, PathBuf)], v: Variant) -> i32 {
    let mut c = Checks(0);
    c.check(
        std::env::current_dir().ok() == Some(PathBuf::from("/")),
        "cwd is /",
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    c.check(!mi.is_empty(), "read /proc/self/mountinfo");
    c.check(
        std::fs::read_link("/proc/self").ok() == Some(PathBuf::from("1")),
        "proc shows the new pid namespace (self is 1)",
    );
    let roots = mi
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .count();
    if v.no_pivot {
        c.check(
            mountinfo_line(&mi, "/").is_some_and(|l| l.contains(" shared:")),
            "rootfsPropagation rshared makes / shared",
        );
    } else {
        // The old root is gone: exactly one "/" mount.
        c.check(
            roots == 1,
            &format!("one / mount after pivot_root, not {roots}"),
        );
    }
    // proc, sysfs ro, tmpfs /tmp nosuid size=1m.
    c.check(
        mountinfo_line(&mi, "/proc").is_some_and(|l| l.contains(" - proc ")),
        "/proc is procfs",
    );
    c.check(
        mountinfo_line(&mi, "/sys").is_some_and(|l| l.contains(" - sysfs ") && l.contains(" ro,")),
        "/sys is a read-only sysfs",
    );
    c.errno_is(
        std::fs::create_dir("/sys/oxirun"),
        libc::EROFS,
        "mkdir in ro /sys",
    );
    let tmp = mountinfo_line(&mi, "/tmp").unwrap_or_default();
    c.check(
        tmp.contains(" - tmpfs ") && tmp.contains("nosuid") && tmp.contains("size=1024k"),
        &format!("/tmp is tmpfs nosuid size=1m: {tmp}"),
    );
    c.check(std::fs::write("/tmp/w", b"w").is_ok(), "write to /tmp");
    // Devices.
    for (dev, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
        ("/dev/fuse", 10, 229),
    ] {
        let ok = std::fs::symlink_metadata(dev).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_char_device()
                && nix::sys::stat::major(m.rdev()) == maj
                && nix::sys::stat::minor(m.rdev()) == min
                && m.uid() == 0
        });
        c.check(ok, &format!("{dev} is char {maj}:{min}"));
    }
    c.check(
        std::fs::metadata("/dev/null").is_ok_and(|m| m.mode() & 0o777 == 0o666),
        "/dev/null mode 0666",
    );
    if v.no_mknod {
        // mknod was refused: each device is a bind mount of the host's node.
        for dev in ["/dev/null", "/dev/tty", "/dev/fuse"] {
            c.check(
                mountinfo_line(&mi, dev).is_some(),
                &format!("{dev} is a bind mount"),
            );
        }
    } else {
        c.check(
            std::fs::metadata("/dev/fuse").is_ok_and(|m| m.mode() & 0o777 == 0o660),
            "/dev/fuse mode 0660 from fileMode",
        );
        c.check(
            mountinfo_line(&mi, "/dev/null").is_none(),
            "/dev/null is a node, not a mount",
        );
    }
    c.check(std::fs::write("/dev/null", b"x").is_ok(), "write /dev/null");
    for (l, t) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        c.check(
            std::fs::read_link(l).ok() == Some(PathBuf::from(t)),
            &format!("{l} -> {t}"),
        );
    }
    c.check(
        mountinfo_line(&mi, "/dev/pts").is_some_and(|l| l.contains(" - devpts ")),
        "/dev/pts is devpts",
    );
    c.check(
        mountinfo_line(&mi, "/dev/mqueue").is_some_and(|l| l.contains(" - mqueue ")),
        "/dev/mqueue is mqueue",
    );
    // Binds: ro bind dir, ro bind file, recursive ro.
    c.check(
        std::fs::read("/mnt/ro/data").ok().as_deref() == Some(&b"data"[..]),
        "read ro bind",
    );
    c.errno_is(
        std::fs::write("/mnt/ro/new", b"x"),
        libc::EROFS,
        "write in ro bind",
    );
    c.check(
        mountinfo_line(&mi, "/mnt/ro").is_some_and(|l| l.contains("ro,nosuid")),
        "ro bind has ro,nosuid",
    );
    c.check(
        std::fs::read("/mnt/file").ok().as_deref() == Some(&b"data"[..]),
        "read file bind",
    );
    c.errno_is(
        std::fs::OpenOptions::new().write(true).open("/mnt/file"),
        libc::EROFS,
        "open ro file bind for writing",
    );
    c.errno_is(
        std::fs::write("/mnt/rro/new", b"x"),
        libc::EROFS,
        "write in rro bind",
    );
    c.check(
        mountinfo_line(&mi, "/mnt/rro").is_some_and(|l| l.contains("ro,") && l.contains("noexec")),
        "rro,rnoexec bind",
    );
    // Destinations through symlinks landed inside the rootfs.
    c.check(
        mountinfo_line(&mi, "/etc/oxirun-e2e-x").is_some_and(|l| l.contains(" - tmpfs ")),
        "../../a/x (a -> /../../../../etc) mounted in /etc",
    );
    c.check(
        mountinfo_line(&mi, "/etc/oxirun-e2e-y").is_some_and(|l| l.contains(" - tmpfs ")),
        "/b/etc/y (b -> ../../..) mounted in /etc",
    );
    // tmpcopyup.
    c.check(
        std::fs::read("/copyup/hello").ok().as_deref() == Some(&b"hello"[..]),
        "tmpcopyup copied the file",
    );
    c.check(
        std::fs::metadata("/copyup").is_ok_and(|m| m.mode() & 0o7777 == 0o1777),
        "tmpcopyup kept the directory mode",
    );
    c.check(
        mountinfo_line(&mi, "/copyup").is_some_and(|l| l.contains(" - tmpfs ")),
        "/copyup is tmpfs",
    );
    // cgroup hierarchies.
    for (h, _) in dirs {
        let name = if h.is_empty() { "unified" } else { h.as_str() };
        let p = format!("/sys/fs/cgroup/{name}");
        c.check(
            Path::new(&p).join("cgroup.procs").exists(),
            &format!("{p}/cgroup.procs"),
        );
        c.errno_is(
            std::fs::create_dir(format!("{p}/x")),
            libc::EROFS,
            &format!("mkdir in ro {p}"),
        );
    }
    // maskedPaths / readonlyPaths / root.readonly.
    let m = std::fs::metadata("/proc/timer_list").map(|m| m.rdev());
    c.check(
        m.as_ref()
            .is_ok_and(|r| nix::sys::stat::major(*r) == 1 && nix::sys::stat::minor(*r) == 3),
        &format!("/proc/timer_list masked with /dev/null: rdev {m:?}"),
    );
    c.check(
        std::fs::read("/proc/timer_list").is_ok_and(|d| d.is_empty()),
        "masked /proc/timer_list reads empty",
    );
    c.check(
        std::fs::read_dir("/masked-dir").is_ok_and(|d| d.count() == 0),
        "/masked-dir masked by an empty tmpfs",
    );
    c.errno_is(
        std::fs::write("/masked-dir/x", b"x"),
        libc::EROFS,
        "write in masked dir",
    );
    c.errno_is(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/sys/kernel/hostname"),
        libc::EROFS,
        "open /proc/sys file for writing",
    );
    c.errno_is(
        std::fs::write("/ro-dir/x", b"x"),
        libc::EROFS,
        "write in readonly path",
    );
    c.errno_is(
        std::fs::write("/newfile", b"x"),
        libc::EROFS,
        "write in read-only root",
    );
    // busybox runs and sees the same.
    let out = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            "test -c /dev/null && cat /mnt/ro/data && ! touch /x 2>/dev/null",
        ])
        .output();
    c.check(
        out.as_ref()
            .is_ok_and(|o| o.status.success() && o.stdout == b"data"),
        &format!("busybox sh inside: {out:?}"),
    );
    c.0
}

#[test]
fn e2e_full_container_openat2() {
    run_full("e2e_full_container_openat2", Variant::default());
}

#[test]
fn e2e_full_container_fallback_walk() {
    run_full(
        "e2e_full_container_fallback_walk",
        Variant {
            fallback: true,
            ..Variant::default()
        },
    );
}

#[test]
fn e2e_full_container_no_pivot_shared() {
    run_full(
        "e2e_full_container_no_pivot_shared",
        Variant {
            no_pivot: true,
            ..Variant::default()
        },
    );
}

#[test]
fn e2e_full_container_without_mknod() {
    run_full(
        "e2e_full_container_without_mknod",
        Variant {
            no_mknod: true,
            ..Variant::default()
        },
    );
}

/// The child side of the "setup must fail" scenarios: run the three steps with the spec in
/// `<bundle>/config.json` and print the error (exit 1) or exit 0.
fn child_setup(dir: &Path) -> ! {
    child_exit(|| {
        let spec: Spec =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let cg = Cgroup { dirs: Vec::new() };
        match super::prepare(&spec, &dir.join("rootfs"), &cg)
            .and_then(|r| super::enter(r, false))
            .and_then(|e| super::finalize(&spec, e))
        {
            Ok(()) => 0,
            Err(e) => {
                println!("SETUP ERROR: {e:#}");
                1
            }
        }
    })
}

/// Write `spec` as the bundle's config.json, run the three steps in a child and return the
/// setup error line ("" when setup succeeded).
fn setup_error(test: &str, b: &Bundle, spec: serde_json::Value) -> String {
    std::fs::write(b.dir.join("config.json"), spec.to_string()).unwrap();
    let (code, out) = run_child(test, &b.dir);
    let line = out
        .lines()
        .find_map(|l| l.split_once("SETUP ERROR: ").map(|(_, e)| e))
        .unwrap_or_default()
        .to_string();
    assert!(
        code == 0 || !line.is_empty(),
        "child failed without a setup error:\n{out}"
    );
    line
}

#[test]
fn e2e_proc_symlink_is_refused() {
    // CVE-2019-19921: /proc in the rootfs is a symlink to a host path.
    const T: &str = "e2e_proc_symlink_is_refused";
    if let Some(dir) = child_of(T) {
        child_setup(&dir);
    }
    let b = bundle(T);
    let r = b.rootfs();
    std::fs::remove_dir(r.join("proc")).unwrap();
    symlink(b.dir.join("outside"), r.join("proc")).unwrap();
    let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]});
    let e = setup_error(T, &b, s);
    assert!(
        e.contains("mount /proc (proc)") && e.contains("ordinary directory"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(b.dir.join("outside")).unwrap().count(), 0);
}

#[test]
fn e2e_mount_under_proc_is_refused() {
    // CVE-2019-16884: a tmpfs over /proc/self, a bind over /proc/sys/kernel, a tmpfs as /proc.
    const T: &str = "e2e_mount_under_proc_is_refused";
    if let Some(dir) = child_of(T) {
        child_setup(&dir);
    }
    let b = bundle(T);
    for (dest, typ) in [
        ("/proc/self", "tmpfs"),
        ("/proc/sys/kernel", "bind"),
        ("/proc", "tmpfs"),
    ] {
        let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": dest, "type": typ, "source": b.dir.join("src"),
                        "options": ["rbind"]}]});
        let e = setup_error(T, &b, s);
        assert!(
            e.contains(&format!("mount {dest} ({typ})")) && e.contains("/proc"),
            "{e}"
        );
    }
    // Positive control: a bind over /proc/cpuinfo (lxcfs) is allowed.
    let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/proc/cpuinfo", "type": "bind",
                    "source": b.dir.join("src/data"), "options": ["bind"]}]});
    assert_eq!(setup_error(T, &b, s), "");
}

#[test]
fn e2e_dev_symlink_is_refused() {
    // CVE-2026-41579: rootfs /dev -> host dir holding a marker "ptmx".
    const T: &str = "e2e_dev_symlink_is_refused";
    if let Some(dir) = child_of(T) {
        child_setup(&dir);
    }
    let b = bundle(T);
    let r = b.rootfs();
    let outside = b.dir.join("outside");
    std::fs::write(outside.join("ptmx"), b"marker").unwrap();
    std::fs::remove_dir(r.join("dev")).unwrap();
    symlink(&outside, r.join("dev")).unwrap();
    let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]});
    let e = setup_error(T, &b, s);
    assert!(e.contains("/dev"), "a symlinked /dev must be refused: {e}");
    let names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("ptmx")]);
    assert_eq!(std::fs::read(outside.join("ptmx")).unwrap(), b"marker");
}

#[test]
fn e2e_fake_dev_null_is_not_used_as_mask() {
    // CVE-2025-31133: /dev is a bind of a host dir whose "null" is a symlink to core_pattern,
    // a regular file, or the zero device.
    const T: &str = "e2e_fake_dev_null_is_not_used_as_mask";
    if let Some(dir) = child_of(T) {
        child_setup(&dir);
    }
    for variant in ["symlink", "file", "zero"] {
        let b = bundle(&format!("{T}-{variant}"));
        let d = b.dir.join("fakedev");
        std::fs::create_dir_all(&d).unwrap();
        match variant {
            "symlink" => symlink("/proc/sys/kernel/core_pattern", d.join("null")).unwrap(),
            "file" => std::fs::write(d.join("null"), b"").unwrap(),
            _ => nix::sys::stat::mknod(
                &d.join("null"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o666),
                nix::sys::stat::makedev(1, 5),
            )
            .unwrap(),
        }
        let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/dev", "type": "bind", "source": d, "options": ["rbind"]}],
            "linux": {"maskedPaths": ["/proc/sys/kernel/core_pattern"]}});
        let e = setup_error(T, &b, s);
        assert!(e.contains("not the null device"), "variant {variant}: {e}");
    }
}

#[test]
fn e2e_magic_link_destination_is_refused() {
    // H2: m -> /proc/self/root; a mount at /m/z must not follow the magic link.
    const T: &str = "e2e_magic_link_destination_is_refused";
    if let Some(dir) = child_of(T) {
        child_setup(&dir);
    }
    let b = bundle(T);
    symlink("/proc/self/root", b.rootfs().join("m")).unwrap();
    let s = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/m/z", "type": "tmpfs", "source": "tmpfs"}]});
    let e = setup_error(T, &b, s);
    assert!(e.contains("mount /m/z (tmpfs)"), "{e}");
}
