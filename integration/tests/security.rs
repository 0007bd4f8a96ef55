//! Deterministic security cases from docs/security-cases.md, driven through the CLI: symlinks in
//! the rootfs never move a mount (or a created mountpoint) outside it, /proc cannot be replaced,
//! a leaked host fd cannot become the cwd, and hostile JSON fails cleanly. Test names carry the
//! row ID.

use std::os::unix::fs::symlink;
use std::path::Path;

use oxirun_integration::checks::{assert_nothing_left, mount_points};
use oxirun_integration::{json, Container};

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Asserts a failed create left nothing and that no host mount point is at/below `host_path`.
#[track_caller]
fn refused(c: &mut Container, host_path: &Path) {
    let out = c.create();
    assert_eq!(out.code, 1, "create should be refused: {out:#?}");
    assert!(!out.stderr.trim().is_empty(), "no error message");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    let bad: Vec<_> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(host_path))
        .collect();
    assert!(bad.is_empty(), "mounted on the host: {bad:?}");
}

#[test]
fn cve_2019_19921_proc_symlink_absolute() {
    let mut c = Container::new("procsym");
    let target = c.dir.join("host-proc");
    std::fs::create_dir(&target).unwrap();
    let proc_dir = c.rootfs().join("proc");
    std::fs::remove_dir(&proc_dir).unwrap();
    symlink(&target, &proc_dir).unwrap();
    c.sh("true");
    refused(&mut c, &target);
    assert!(listing(&target).is_empty(), "host dir touched");
}

#[test]
fn cve_2019_19921_sys_symlink_relative() {
    let mut c = Container::new("syssym");
    let sys = c.rootfs().join("sys");
    std::fs::remove_dir(&sys).unwrap();
    symlink("../../host-sys", &sys).unwrap();
    let escaped = c.dir.join("host-sys");
    std::fs::create_dir(&escaped).unwrap();
    c.sh("true");
    refused(&mut c, &escaped);
}

#[test]
fn cve_2019_16884_bind_over_proc_refused() {
    let mut c = Container::new("procbind");
    let fake = c.dir.join("fakeproc");
    std::fs::create_dir_all(fake.join("self/attr")).unwrap();
    std::fs::write(fake.join("self/attr/exec"), "orig").unwrap();
    c.sh("true").add_mount(
        json!({"destination": "/proc", "type": "bind", "source": fake, "options": ["rbind"]}),
    );
    refused(&mut c, &fake);
    assert_eq!(
        std::fs::read_to_string(fake.join("self/attr/exec")).unwrap(),
        "orig"
    );
}

#[test]
fn cve_2019_16884_tmpfs_on_proc_self_refused() {
    let mut c = Container::new("procself");
    c.sh("true")
        .add_mount(json!({"destination": "/proc/self", "type": "tmpfs", "source": "tmpfs"}));
    let rootfs = c.rootfs();
    refused(&mut c, &rootfs);
}

#[test]
fn h2_symlinked_destinations_stay_in_rootfs() {
    let mut c = Container::new("h2");
    let rootfs = c.rootfs();
    let (x, y) = (
        format!("oxi-h2-x-{}", std::process::id()),
        format!("oxi-h2-y-{}", std::process::id()),
    );
    symlink("/../../../../etc", rootfs.join("a")).unwrap();
    symlink("../../..", rootfs.join("b")).unwrap();
    c.add_mount(json!({"destination": format!("/a/{x}"), "type": "tmpfs", "source": "tmpfs"}))
        .add_mount(json!({"destination": format!("/b/{y}"), "type": "tmpfs", "source": "tmpfs"}));
    let out = c.inside(&format!(
        "grep -c -E ' /etc/{x} | /{y} ' /proc/self/mountinfo"
    ));
    assert_eq!(out.trim(), "2", "mounts not where expected");
    assert!(
        rootfs.join("etc").join(&x).is_dir(),
        "x not created in rootfs/etc"
    );
    assert!(rootfs.join(&y).is_dir(), "y not created in rootfs");
    assert!(!Path::new("/etc").join(&x).exists(), "escaped to host /etc");
    let up = c.bundle.parent().unwrap().parent().unwrap();
    assert!(!up.join(&y).exists(), "escaped above the bundle");
}

#[test]
fn cve_2024_45310_mountpoint_through_symlink_created_inside() {
    let mut c = Container::new("jump");
    let sentinel = c.dir.join("sentinel");
    std::fs::create_dir(&sentinel).unwrap();
    std::fs::write(sentinel.join("keep"), "k").unwrap();
    symlink(&sentinel, c.rootfs().join("jump")).unwrap();
    c.add_mount(json!({"destination": "/jump/x/y", "type": "tmpfs", "source": "tmpfs"}));
    c.sh("true");
    let out = c.run(&[]);
    assert_eq!(
        listing(&sentinel),
        ["keep"],
        "host sentinel modified: {out:#?}"
    );
    if out.success() {
        let inside = c
            .rootfs()
            .join(sentinel.strip_prefix("/").unwrap())
            .join("x/y");
        assert!(inside.is_dir(), "mountpoint not created inside the rootfs");
    }
}

#[test]
fn cve_2026_41579_dev_symlink_does_not_touch_host() {
    let mut c = Container::new("devsym");
    let outside = c.dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("ptmx"), "marker").unwrap();
    let dev = c.rootfs().join("dev");
    std::fs::remove_dir(&dev).unwrap();
    symlink(&outside, &dev).unwrap();
    c.sh("true");
    let out = c.run(&[]);
    assert_eq!(listing(&outside), ["ptmx"], "host dir modified: {out:#?}");
    let meta = std::fs::symlink_metadata(outside.join("ptmx")).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        std::fs::read_to_string(outside.join("ptmx")).unwrap(),
        "marker"
    );
}

#[test]
fn cve_2024_21626_cwd_through_leaked_fd_refused() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let mut c = Container::new("leakcwd");
    c.sh("pwd; ls").cwd("/proc/self/fd/7");
    c.write_config();
    let host_root = std::fs::File::open("/").unwrap();
    let src = host_root.as_raw_fd();
    let b = c.bundle_str();
    let mut cmd = c.command(&["run", "--bundle", &b, &c.id]);
    let files = oxirun_integration::util::OutFiles::new(&c.dir.path, "leak");
    files.attach(&mut cmd);
    // SAFETY: async-signal-safe calls only, in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            let rc = if src == 7 {
                libc::fcntl(src, libc::F_SETFD, 0)
            } else {
                libc::dup2(src, 7)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let code =
        oxirun_integration::util::wait_child(&mut child, std::time::Duration::from_secs(30), "run");
    let out = files.read(code);
    assert_ne!(code, 0, "container ran with a host cwd: {out:#?}");
    assert!(!out.stdout.contains("usr"), "host / listed: {out:#?}");
}

#[test]
fn h3_deeply_nested_json_fails_cleanly() {
    let mut c = Container::new("nested");
    let depth = 100_000;
    let mut text = String::from("{\"ociVersion\":\"1.0.2\",\"annotations\":{\"x\":");
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push_str("}}");
    c.write_raw_config(text.as_bytes());
    let out = c.create();
    assert_eq!(out.code, 1, "{:?}", out.stderr);
    assert!(out.stderr.contains("config.json"), "{:?}", out.stderr);
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn h3_uid_out_of_range_fails_cleanly() {
    let mut c = Container::new("biguid");
    c.sh("true").set("/process/user/uid", json!(1u64 << 32));
    let out = c.create();
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("uid"), "{out:#?}");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

/// `--no-pivot` (MS_MOVE + chroot) leaves the old root in the container's mount namespace.
/// The kernel lets a user namespace mount a fresh procfs when a fully visible one exists there,
/// which undoes maskedPaths: every proc and sysfs mount outside the rootfs is detached first,
/// so the mount is refused, as with pivot_root (and runc 1.1.5).
#[test]
fn no_pivot_container_cannot_mount_a_bare_proc() {
    for no_pivot in [true, false] {
        let mut c = Container::new(&format!("nopivotproc{no_pivot}"));
        // Mapping root in a new user namespace needs CAP_SETFCAP at its creation (Linux 5.12+);
        // Docker's default capabilities have it.
        for set in ["bounding", "effective", "permitted"] {
            c.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SETFCAP"));
        }
        c.sh(
            "unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED || echo refused' 2>/dev/null; \
             test -r /proc/self/status && echo proc-ok; cat /proc/kcore 2>/dev/null | wc -c",
        );
        let flags: &[&str] = if no_pivot { &["--no-pivot"] } else { &[] };
        let out = c.run(flags);
        assert_eq!(out.code, 0, "--no-pivot {no_pivot}: {out:#?}");
        assert_eq!(
            out.stdout, "refused\nproc-ok\n0\n",
            "--no-pivot {no_pivot}: a user namespace inside mounted a bare procfs: {out:#?}"
        );
    }
}
