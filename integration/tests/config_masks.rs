//! `linux.maskedPaths` and `linux.readonlyPaths` from inside: masked files read empty and are
//! /dev/null (1:3), masked dirs are an empty read-only tmpfs, read-only paths give EROFS (also
//! for a mount nested below them), and a hostile /dev cannot turn the mask into a host file
//! (CVE-2025-31133).

use std::os::unix::fs::symlink;

use oxirun_integration::confcheck::{at, inside_mounts};
use oxirun_integration::{json, Container};

#[test]
fn masked_file_and_dir() {
    let mut c = Container::new("maskfd");
    let r = c.rootfs();
    std::fs::write(r.join("etc/oxi-secret"), "top secret\n").unwrap();
    std::fs::create_dir_all(r.join("etc/oxi-secrets")).unwrap();
    std::fs::write(r.join("etc/oxi-secrets/key"), "k").unwrap();
    c.set(
        "/linux/maskedPaths",
        json!([
            "/etc/oxi-secret",
            "/etc/oxi-secrets",
            "/proc/timer_list",
            "/oxi-missing"
        ]),
    );
    let (out, m) = inside_mounts(
        &mut c,
        "echo \"[$(cat /etc/oxi-secret)]\"; stat -c %t:%T /etc/oxi-secret; \
         stat -c %t:%T /proc/timer_list; echo \"[$(cat /proc/timer_list)]\"; \
         ls -A /etc/oxi-secrets | wc -l; \
         touch /etc/oxi-secrets/new 2>&1 | grep -o 'Read-only file system'",
    );
    assert_eq!(out, "[]\n1:3\n1:3\n[]\n0\nRead-only file system\n");
    let d = at(&m, "/etc/oxi-secrets");
    assert_eq!(d.fstype, "tmpfs", "{d:?}");
    assert!(d.has("ro"), "masked dir must be a read-only tmpfs: {d:?}");
    // The image's files are untouched.
    assert_eq!(
        std::fs::read_to_string(c.rootfs().join("etc/oxi-secret")).unwrap(),
        "top secret\n"
    );
    assert!(c.rootfs().join("etc/oxi-secrets/key").exists());
}

#[test]
fn readonly_paths_give_erofs_also_for_nested_mounts() {
    let mut c = Container::new("ropaths");
    std::fs::create_dir_all(c.rootfs().join("srv/ro/sub")).unwrap();
    c.add_mount(json!({"destination": "/srv/ro/sub", "type": "tmpfs", "source": "tmpfs"}))
        .set(
            "/linux/readonlyPaths",
            json!(["/srv/ro", "/proc/sys", "/oxi-missing"]),
        );
    let (out, m) = inside_mounts(
        &mut c,
        "for f in /srv/ro/x /srv/ro/sub/x /proc/sys/kernel/domainname; do \
           (echo x > $f) 2>&1 | grep -o 'Read-only file system' || echo \"$f writable\"; done; \
         touch /tmp/ok && echo tmp-writable",
    );
    assert_eq!(
        out,
        "Read-only file system\nRead-only file system\nRead-only file system\ntmp-writable\n"
    );
    assert!(at(&m, "/srv/ro").has("ro"));
    assert!(
        at(&m, "/srv/ro/sub").has("ro"),
        "nested mount stays writable"
    );
}

/// CVE-2025-31133: the container's /dev is a bind of a host dir whose `null` is hostile. The
/// runtime must either refuse, or mask with a real /dev/null (never the host file, never 1:5).
fn hostile_dev_null(short: &str, make_null: impl FnOnce(&std::path::Path, &std::path::Path)) {
    let mut c = Container::new(short);
    let hostdev = c.dir.join("hostdev");
    std::fs::create_dir(&hostdev).unwrap();
    let victim = c.dir.join("victim");
    std::fs::write(&victim, "host secret\n").unwrap();
    make_null(&hostdev, &victim);
    std::fs::write(c.rootfs().join("etc/oxi-secret"), "image secret\n").unwrap();
    let m = c.config["mounts"].as_array_mut().unwrap();
    m.retain(|x| !x["destination"].as_str().unwrap_or("").starts_with("/dev"));
    c.add_mount(
        json!({"destination": "/dev", "type": "bind", "source": hostdev,
                       "options": ["rbind", "rw"]}),
    )
    .set(
        "/linux/maskedPaths",
        json!(["/etc/oxi-secret", "/proc/timer_list"]),
    )
    .sh("for f in /etc/oxi-secret /proc/timer_list; do \
               echo \"$f $(stat -c %F:%t:%T $f) [$(head -c 20 $f | od -An -c | tr -d ' ')]\"; \
             done; echo pwned > /etc/oxi-secret 2>/dev/null; true");
    let out = c.run(&[]);
    eprintln!("{short}: {out:?}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "host secret\n",
        "host file written through the mask: {out:#?}"
    );
    if out.code == 1 {
        oxirun_integration::checks::assert_nothing_left(&c.root, &c.id, &c.bundle);
        return;
    }
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        out.stdout,
        "/etc/oxi-secret character special file:1:3 []\n\
         /proc/timer_list character special file:1:3 []\n",
        "mask is not /dev/null: {out:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(c.rootfs().join("etc/oxi-secret")).unwrap(),
        "image secret\n"
    );
}

#[test]
fn cve_2025_31133_dev_null_symlink_to_host_file() {
    hostile_dev_null("m31133a", |dev, victim| {
        symlink(victim, dev.join("null")).unwrap()
    });
}

#[test]
fn cve_2025_31133_dev_null_regular_file() {
    hostile_dev_null("m31133b", |dev, _| {
        std::fs::write(dev.join("null"), "not a device\n").unwrap()
    });
}

#[test]
fn cve_2025_31133_dev_null_is_dev_zero() {
    hostile_dev_null("m31133c", |dev, _| {
        let st = std::process::Command::new("mknod")
            .arg(dev.join("null"))
            .args(["c", "1", "5"])
            .status()
            .unwrap();
        assert!(st.success(), "mknod");
    });
}

/// A read-only path stays executable (runc keeps the mount's other flags: only "ro" is
/// added). Found by the differential harness: oxirun added nosuid,nodev,noexec, so a
/// read-only /bin could not run anything.
#[test]
fn readonly_paths_add_only_ro() {
    let mut c = Container::new("roexec");
    c.set("/linux/readonlyPaths", json!(["/bin"]));
    let out = c.inside("echo ran; grep ' /bin ' /proc/self/mountinfo");
    let line = out.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(out.lines().next(), Some("ran"), "{out}");
    let opts = line.split(' ').nth(5).unwrap_or_default();
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "/bin not read-only: {line}"
    );
    for bad in ["noexec", "nosuid", "nodev"] {
        assert!(
            !opts.split(',').any(|o| o == bad),
            "{bad} added to /bin: {line}"
        );
    }
}
