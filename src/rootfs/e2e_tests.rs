//! End-to-end tests of `prepare` / `enter` / `finalize` as root: each scenario forks a child
//! into new mount and pid namespaces (it is pid 1 there, as a container init is), sets up a
//! busybox rootfs in a temporary directory and checks the result from inside, reporting
//! failures on stderr (raw writes: the child of a threaded harness avoids std's locks) and
//! through its exit code. The host is checked afterwards: no mount leaked, nothing written
//! outside the rootfs.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::cgroups::Cgroup;
use crate::sys::process::{clone_fork, Forked};

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
    assert!(nix::unistd::geteuid().is_root(), "rootfs end-to-end tests need root");
    let dir = std::env::temp_dir().join(format!("oxirun-rootfs-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "masked-dir", "ro-dir", "copyup"] {
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

fn spec(json: serde_json::Value) -> Spec {
    serde_json::from_value(json).expect("valid test spec")
}

fn say(msg: &str) {
    let _ = nix::unistd::write(std::io::stderr(), format!("{msg}\n").as_bytes());
}

/// Run `f` in a child in new mount+pid namespaces; its return value is the exit code.
fn in_container(f: impl FnOnce() -> i32) -> i32 {
    match clone_fork(libc::CLONE_NEWNS | libc::CLONE_NEWPID).expect("clone") {
        Forked::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            std::process::exit(code)
        }
        Forked::Parent(pid) => {
            let pid = nix::unistd::Pid::from_raw(pid);
            match nix::sys::wait::waitpid(pid, None).expect("waitpid") {
                nix::sys::wait::WaitStatus::Exited(_, c) => c,
                other => panic!("container child ended with {other:?}"),
            }
        }
    }
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
        self.check(got == Some(errno), &format!("{what}: expected errno {errno}, got {got:?}"));
    }
}

fn mountinfo_line(mi: &str, mount_point: &str) -> Option<String> {
    mi.lines()
        .filter(|l| l.split(' ').nth(4) == Some(mount_point))
        .last()
        .map(str::to_string)
}

fn full_spec(b: &Bundle) -> Spec {
    let src = b.dir.join("src");
    spec(serde_json::json!({
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
            "maskedPaths": ["/proc/kcore", "/masked-dir", "/does/not/exist"],
            "readonlyPaths": ["/proc/sys", "/ro-dir"],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                         "fileMode": 432, "uid": 0, "gid": 0}]
        }
    }))
}

fn run_full(fallback: bool) {
    let mut b = bundle(if fallback { "full-fb" } else { "full" });
    // Our own cgroups (created here, removed on drop) in one v1 and the v2 hierarchy.
    let name = format!("oxirun-rootfs-e2e-{}-{fallback}", std::process::id());
    let mut dirs = Vec::new();
    for (h, base) in [("pids", "/sys/fs/cgroup/pids"), ("", "/sys/fs/cgroup/unified")] {
        let d = Path::new(base).join(&name);
        if Path::new(base).is_dir() && std::fs::create_dir(&d).is_ok() {
            b.cgroups.push(d.clone());
            dirs.push((h.to_string(), d));
        }
    }
    let cgroup = Cgroup { dirs: dirs.clone() };
    let spec = full_spec(&b);
    let rootfs = b.rootfs();
    let host_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();

    let code = in_container(|| {
        if fallback {
            super::resolve::force_fallback(true);
        }
        let r = super::prepare(&spec, &rootfs, &cgroup)
            .and_then(|r| super::enter(r, false))
            .and_then(|()| super::finalize(&spec));
        if let Err(e) = r {
            say(&format!("setup failed: {e:#}"));
            return 100;
        }
        inside_checks(&dirs)
    });
    assert_eq!(code, 0, "checks inside the container failed (see stderr)");

    // Host side: nothing leaked.
    let host_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(host_before, host_after, "host mounts changed");
    let r = b.rootfs();
    assert!(r.join("etc/oxirun-e2e-x").is_dir(), "../../a/x must land at rootfs/etc/x");
    assert!(r.join("etc/oxirun-e2e-y").is_dir(), "/b/etc/y must land at rootfs/etc/y");
    assert!(!Path::new("/etc/oxirun-e2e-x").exists(), "created on the host");
    assert!(!Path::new("/etc/oxirun-e2e-y").exists(), "created on the host");
    assert_eq!(std::fs::read(r.join("copyup/hello")).unwrap(), b"hello");
}

fn inside_checks(dirs: &[(String, PathBuf)]) -> i32 {
    let mut c = Checks(0);
    c.check(std::env::current_dir().ok() == Some(PathBuf::from("/")), "cwd is /");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    c.check(!mi.is_empty(), "read /proc/self/mountinfo");
    c.check(
        std::fs::read_link("/proc/self").ok() == Some(PathBuf::from("1")),
        "proc shows the new pid namespace (self is 1)",
    );
    // The old root is gone: exactly one "/" mount and nothing outside the rootfs.
    c.check(
        mi.lines().filter(|l| l.split(' ').nth(4) == Some("/")).count() == 1,
        "one / mount after pivot_root",
    );
    // proc, sysfs ro, tmpfs /tmp nosuid size=1m.
    c.check(
        mountinfo_line(&mi, "/proc").is_some_and(|l| l.contains(" - proc ")),
        "/proc is procfs",
    );
    c.check(
        mountinfo_line(&mi, "/sys").is_some_and(|l| l.contains(" - sysfs ") && l.contains(" ro,")),
        "/sys is a read-only sysfs",
    );
    c.errno_is(std::fs::create_dir("/sys/oxirun"), libc::EROFS, "mkdir in ro /sys");
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
    c.check(
        std::fs::metadata("/dev/fuse").is_ok_and(|m| m.mode() & 0o777 == 0o660),
        "/dev/fuse mode 0660 from fileMode",
    );
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
    c.check(std::fs::read("/mnt/ro/data").ok().as_deref() == Some(&b"data"[..]), "read ro bind");
    c.errno_is(std::fs::write("/mnt/ro/new", b"x"), libc::EROFS, "write in ro bind");
    c.check(
        mountinfo_line(&mi, "/mnt/ro").is_some_and(|l| l.contains("ro,nosuid")),
        "ro bind has ro,nosuid",
    );
    c.check(std::fs::read("/mnt/file").ok().as_deref() == Some(&b"data"[..]), "read file bind");
    c.errno_is(
        std::fs::OpenOptions::new().write(true).open("/mnt/file"),
        libc::EROFS,
        "open ro file bind for writing",
    );
    c.errno_is(std::fs::write("/mnt/rro/new", b"x"), libc::EROFS, "write in rro bind");
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
        c.check(Path::new(&p).join("cgroup.procs").exists(), &format!("{p}/cgroup.procs"));
        c.errno_is(std::fs::create_dir(format!("{p}/x")), libc::EROFS, &format!("mkdir in ro {p}"));
    }
    // maskedPaths / readonlyPaths / root.readonly.
    c.check(
        std::fs::metadata("/proc/kcore").is_ok_and(|m| nix::sys::stat::major(m.rdev()) == 1
            && nix::sys::stat::minor(m.rdev()) == 3),
        "/proc/kcore masked with /dev/null",
    );
    c.check(
        std::fs::read_dir("/masked-dir").is_ok_and(|d| d.count() == 0),
        "/masked-dir masked by an empty tmpfs",
    );
    c.errno_is(std::fs::write("/masked-dir/x", b"x"), libc::EROFS, "write in masked dir");
    c.errno_is(
        std::fs::OpenOptions::new().write(true).open("/proc/sys/kernel/hostname"),
        libc::EROFS,
        "open /proc/sys file for writing",
    );
    c.errno_is(std::fs::write("/ro-dir/x", b"x"), libc::EROFS, "write in readonly path");
    c.errno_is(std::fs::write("/newfile", b"x"), libc::EROFS, "write in read-only root");
    // busybox runs and sees the same.
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "test -c /dev/null && cat /mnt/ro/data && ! touch /x 2>/dev/null"])
        .output();
    c.check(
        out.as_ref().is_ok_and(|o| o.status.success() && o.stdout == b"data"),
        &format!("busybox sh inside: {out:?}"),
    );
    c.0
}

#[test]
fn e2e_full_container_openat2() {
    run_full(false);
}

#[test]
fn e2e_full_container_fallback_walk() {
    run_full(true);
}

/// Run `prepare` on a bundle with `spec`, return the error text ("" if it succeeded).
fn prepare_error(b: &Bundle, spec: &Spec) -> String {
    let rootfs = b.rootfs();
    let errfile = b.dir.join("err");
    let code = in_container(|| {
        let cg = Cgroup { dirs: Vec::new() };
        let msg = match super::prepare(spec, &rootfs, &cg)
            .and_then(|r| super::enter(r, false))
            .and_then(|()| super::finalize(spec))
        {
            Ok(()) => String::new(),
            Err(e) => format!("{e:#}"),
        };
        // The bundle dir is outside the rootfs: pivot_root has hidden it if we got that far,
        // so report through the exit code and only write the text when setup failed early.
        if msg.is_empty() {
            return 0;
        }
        let _ = std::fs::write(&errfile, msg);
        1
    });
    if code == 0 {
        String::new()
    } else {
        std::fs::read_to_string(errfile).unwrap_or_else(|_| format!("exit {code}"))
    }
}

#[test]
fn e2e_proc_symlink_is_refused() {
    // CVE-2019-19921: /proc in the rootfs is a symlink to a host path.
    let b = bundle("procsym");
    let r = b.rootfs();
    std::fs::remove_dir(r.join("proc")).unwrap();
    symlink(b.dir.join("outside"), r.join("proc")).unwrap();
    let s = spec(serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}));
    let e = prepare_error(&b, &s);
    assert!(e.contains("mount /proc (proc)") && e.contains("ordinary directory"), "{e}");
    assert_eq!(std::fs::read_dir(b.dir.join("outside")).unwrap().count(), 0);
}

#[test]
fn e2e_mount_under_proc_is_refused() {
    // CVE-2019-16884: a tmpfs over /proc/self, a bind over /proc/sys/kernel.
    let b = bundle("procdest");
    for (dest, typ) in [("/proc/self", "tmpfs"), ("/proc/sys/kernel", "bind"), ("/proc", "tmpfs")] {
        let s = spec(serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": dest, "type": typ, "source": b.dir.join("src"),
                        "options": ["rbind"]}]}));
        let e = prepare_error(&b, &s);
        assert!(e.contains(&format!("mount {dest} ({typ})")) && e.contains("/proc"), "{e}");
    }
}

#[test]
fn e2e_dev_symlink_is_refused() {
    // CVE-2026-41579: rootfs /dev -> host dir holding a marker "ptmx".
    let b = bundle("devsym");
    let r = b.rootfs();
    let outside = b.dir.join("outside");
    std::fs::write(outside.join("ptmx"), b"marker").unwrap();
    std::fs::remove_dir(r.join("dev")).unwrap();
    symlink(&outside, r.join("dev")).unwrap();
    let s = spec(serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/dev/pts", "type": "devpts", "source": "devpts"}]}));
    let e = prepare_error(&b, &s);
    assert!(!e.is_empty(), "a symlinked /dev must be refused");
    let names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("ptmx")]);
    assert_eq!(std::fs::read(outside.join("ptmx")).unwrap(), b"marker");
}

#[test]
fn e2e_fake_dev_null_is_not_used_as_mask() {
    // CVE-2025-31133: /dev is a bind of a host dir whose "null" is a symlink / a regular file.
    for variant in ["symlink", "file", "zero"] {
        let b = bundle(&format!("devnull-{variant}"));
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
        let s = spec(serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/dev", "type": "bind", "source": d, "options": ["rbind"]}],
            "linux": {"maskedPaths": ["/proc/sys/kernel/core_pattern"]}}));
        let code = {
            let rootfs = b.rootfs();
            in_container(|| {
                let cg = Cgroup { dirs: Vec::new() };
                let r = super::prepare(&s, &rootfs, &cg).and_then(|r| super::enter(r, false));
                if let Err(e) = r {
                    say(&format!("setup failed: {e:#}"));
                    return 100;
                }
                match super::finalize(&s) {
                    Ok(()) => 1,
                    Err(e) if format!("{e:#}").contains("not the null device") => 0,
                    Err(e) => {
                        say(&format!("unexpected error: {e:#}"));
                        2
                    }
                }
            })
        };
        assert_eq!(code, 0, "variant {variant}: finalize must refuse a fake /dev/null");
    }
}

#[test]
fn e2e_magic_link_destination_is_refused() {
    // H2: m -> /proc/self/root; a mount at /m/z must not follow the magic link.
    let b = bundle("magic");
    symlink("/proc/self/root", b.rootfs().join("m")).unwrap();
    let s = spec(serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/m/z", "type": "tmpfs", "source": "tmpfs"}]}));
    let e = prepare_error(&b, &s);
    assert!(e.contains("mount /m/z (tmpfs)"), "{e}");
}
