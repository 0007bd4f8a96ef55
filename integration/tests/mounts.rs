//! Filesystem setup seen from inside: tmpfs with options, read-only and read-write binds, proc
//! and sysfs, a read-only root, device nodes (major:minor), the /dev symlinks, configured
//! devices, masked and read-only paths.

use oxirun_integration::checks::{find_mount, parse_mountinfo, MountInfo};
use oxirun_integration::{json, Container};

/// Runs `script` then dumps mountinfo after a `---` separator; returns (script output, mounts).
fn inside_with_mounts(c: &mut Container, script: &str) -> (String, Vec<MountInfo>) {
    let out = c.inside(&format!("{script}; echo ---; cat /proc/self/mountinfo"));
    let (head, mi) = out.split_once("---\n").expect("separator");
    (head.to_string(), parse_mountinfo(mi))
}

#[track_caller]
fn mount<'a>(m: &'a [MountInfo], at: &str) -> &'a MountInfo {
    find_mount(m, at).unwrap_or_else(|| panic!("no mount at {at}: {m:#?}"))
}

#[test]
fn tmpfs_with_options() {
    let mut c = Container::new("tmpfs");
    c.add_mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=8m", "mode=1777"]}),
    )
    .add_mount(
        json!({"destination": "/mnt/deep/er", "type": "tmpfs", "source": "tmpfs",
                          "options": ["noexec", "size=1m"]}),
    );
    let (out, m) = inside_with_mounts(&mut c, "stat -c %a /tmp; touch /tmp/ok && echo writable");
    assert_eq!(out, "1777\nwritable\n");
    let t = mount(&m, "/tmp");
    assert_eq!(t.fstype, "tmpfs");
    assert!(
        t.has_opt("nosuid") && t.has_opt("nodev") && t.has_opt("rw"),
        "{t:?}"
    );
    assert!(t.has_super_opt("size=8192k"), "{t:?}");
    let d = mount(&m, "/mnt/deep/er");
    assert!(
        d.has_opt("noexec") && d.has_super_opt("size=1024k"),
        "{d:?}"
    );
    assert!(
        c.rootfs().join("mnt/deep/er").is_dir(),
        "mountpoint created in the rootfs"
    );
}

#[test]
fn readonly_bind_mount() {
    let mut c = Container::new("robind");
    let data = c.dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello"), "hi from host").unwrap();
    c.add_mount(
        json!({"destination": "/data", "type": "bind", "source": data,
                       "options": ["rbind", "ro"]}),
    );
    let (out, m) = inside_with_mounts(
        &mut c,
        "cat /data/hello; echo; touch /data/new 2>/dev/null && echo writable || echo readonly",
    );
    assert_eq!(out, "hi from host\nreadonly\n");
    assert!(mount(&m, "/data").has_opt("ro"), "{:?}", mount(&m, "/data"));
    assert!(!data.join("new").exists());
}

#[test]
fn readwrite_bind_mount_reaches_host() {
    let mut c = Container::new("rwbind");
    let data = c.dir.join("data");
    std::fs::create_dir(&data).unwrap();
    c.add_mount(
        json!({"destination": "/data", "type": "bind", "source": data,
                       "options": ["bind"]}),
    );
    c.inside("echo written > /data/out");
    assert_eq!(
        std::fs::read_to_string(data.join("out")).unwrap(),
        "written\n"
    );
}

#[test]
fn proc_and_readonly_sysfs() {
    let mut c = Container::new("procsys");
    let (out, m) = inside_with_mounts(
        &mut c,
        "touch /sys/x 2>/dev/null && echo sys-writable || echo sys-readonly",
    );
    assert_eq!(out, "sys-readonly\n");
    assert_eq!(mount(&m, "/proc").fstype, "proc");
    let sys = mount(&m, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.has_opt("ro"), "{sys:?}");
}

#[test]
fn readonly_root() {
    let mut c = Container::new("roroot");
    c.readonly_root(true);
    let (out, m) = inside_with_mounts(
        &mut c,
        "touch /x 2>/dev/null && echo root-writable || echo root-readonly; \
         touch /dev/shm/ok && echo shm-writable",
    );
    assert_eq!(out, "root-readonly\nshm-writable\n");
    assert!(mount(&m, "/").has_opt("ro"), "{:?}", mount(&m, "/"));
    assert!(!c.rootfs().join("x").exists());
}

#[test]
fn device_nodes_have_right_numbers() {
    let mut c = Container::new("devs");
    let out = c.inside(
        "for d in null zero full random urandom tty; do stat -c '%n %t:%T %F' /dev/$d; done",
    );
    let want = [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, (name, nums)) in lines.iter().zip(want) {
        assert_eq!(*line, format!("/dev/{name} {nums} character special file"));
    }
}

#[test]
fn dev_symlinks_and_submounts() {
    let mut c = Container::new("devlinks");
    let (out, m) = inside_with_mounts(
        &mut c,
        "for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done",
    );
    assert_eq!(
        out,
        "fd=/proc/self/fd\nstdin=/proc/self/fd/0\nstdout=/proc/self/fd/1\n\
         stderr=/proc/self/fd/2\nptmx=pts/ptmx\n"
    );
    assert_eq!(mount(&m, "/dev/pts").fstype, "devpts");
    assert_eq!(mount(&m, "/dev/shm").fstype, "tmpfs");
    assert_eq!(mount(&m, "/dev/mqueue").fstype, "mqueue");
}

#[test]
fn configured_device_is_created() {
    let mut c = Container::new("cfgdev");
    c.set(
        "/linux/devices",
        json!([{"path": "/dev/oxi-null", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o620, "uid": 0, "gid": 0}]),
    );
    let out = c.inside("stat -c '%t:%T %a %F' /dev/oxi-null; echo x > /dev/oxi-null && echo ok");
    assert_eq!(out, "1:3 620 character special file\nok\n");
}

#[test]
fn masked_and_readonly_paths() {
    let mut c = Container::new("masks");
    // /proc/kcore does not exist on this kernel: a missing masked path must be skipped.
    c.set(
        "/linux/maskedPaths",
        json!(["/proc/kcore", "/proc/timer_list", "/sys/firmware"]),
    )
    .set("/linux/readonlyPaths", json!(["/proc/sys"]));
    let (out, m) = inside_with_mounts(
        &mut c,
        "stat -c %t:%T /proc/timer_list; ls -d /sys/firmware && ls /sys/firmware | wc -l; \
         echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro",
    );
    assert_eq!(out, "1:3\n/sys/firmware\n0\nsys-ro\n");
    assert!(
        std::fs::read_dir("/sys/firmware").unwrap().count() > 0,
        "host dir is empty"
    );
    assert!(
        mount(&m, "/proc/sys").has_opt("ro"),
        "{:?}",
        mount(&m, "/proc/sys")
    );
}
