//! User namespaces and rootless mode, observed from inside the container and from the host:
//! the id maps, the mapped root, a non-root process user seen from the host, devices bound in
//! from the host, joining another container's user namespace by path, bad mappings rejected
//! with nothing left behind, and a whole rootless lifecycle run by an unprivileged user.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use oxirun_integration::checks::{assert_nothing_left, status_field};
use oxirun_integration::{json, oxirun_bin, Container, Value};

const HOST_BASE: u32 = 200_000;

fn map(container: u32, host: u32, size: u32) -> Value {
    json!({"containerID": container, "hostID": host, "size": size})
}

fn with_userns(c: &mut Container) -> &mut Container {
    let mut ns = c.config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ns.push(json!({"type": "user"}));
    c.set("/linux/namespaces", Value::Array(ns))
        .set("/linux/uidMappings", json!([map(0, HOST_BASE, 65536)]))
        .set("/linux/gidMappings", json!([map(0, HOST_BASE, 65536)]));
    c
}

#[test]
fn maps_are_written_and_the_init_is_mapped_root() {
    let mut c = Container::new("userns-root");
    with_userns(&mut c);
    let out = c.inside(
        "cat /proc/self/uid_map /proc/self/gid_map; grep -E '^(Uid|Gid|CapEff):' /proc/self/status; \
         stat -c 'bin %u:%g' /bin; stat -c 'null %t:%T' /dev/null; echo x > /dev/null && echo null-writable",
    );
    let maps: Vec<Vec<&str>> = out
        .lines()
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        maps,
        [["0", "200000", "65536"], ["0", "200000", "65536"]],
        "{out}"
    );
    assert_eq!(status_field(&out, "Uid"), Some("0\t0\t0\t0"), "{out}");
    assert_eq!(status_field(&out, "Gid"), Some("0\t0\t0\t0"), "{out}");
    // Host root's files are unmapped inside: the overflow id.
    assert!(out.contains("bin 65534:65534"), "{out}");
    // Devices cannot be mknod'ed in a user namespace: bound from the host, still 1:3.
    assert!(
        out.contains("null 1:3") && out.contains("null-writable"),
        "{out}"
    );
}

#[test]
fn a_container_user_is_its_mapped_host_id_outside() {
    let mut c = Container::new("userns-uid");
    with_userns(&mut c);
    c.user(1000, 1000, &[]).args(&["sleep", "30"]);
    c.create_ok();
    let pid = c.pid.expect("init pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(
        status_field(&status, "Uid"),
        Some("201000\t201000\t201000\t201000"),
        "{status}"
    );
    assert_eq!(
        status_field(&status, "Gid"),
        Some("201000\t201000\t201000\t201000"),
        "{status}"
    );
    let host_user_ns = std::fs::read_link("/proc/self/ns/user").unwrap();
    let init_user_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_ne!(host_user_ns, init_user_ns);
    c.delete(true).ok("delete -f");
}

#[test]
fn joining_another_containers_user_namespace_by_path() {
    let mut a = Container::new("userns-a");
    with_userns(&mut a);
    a.args(&["sleep", "30"]);
    a.create_ok();
    let pid = a.pid.expect("pid of a");
    let a_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();

    let mut b = Container::new("userns-b");
    let path = format!("/proc/{pid}/ns/user");
    b.namespace("user", Some(Path::new(&path)));
    let out = b.inside("readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], a_ns.to_str().unwrap(), "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    assert_eq!(lines[2], "0", "{out}");
    a.delete(true).ok("delete -f a");
}

#[test]
fn bad_mappings_fail_cleanly() {
    let cases: [(&str, Value, Value, &str); 4] = [
        (
            "zero",
            json!([map(0, HOST_BASE, 0)]),
            json!([map(0, HOST_BASE, 10)]),
            "size must not be 0",
        ),
        (
            "overlap",
            json!([map(0, HOST_BASE, 10), map(5, HOST_BASE + 100, 10)]),
            json!([map(0, HOST_BASE, 10)]),
            "overlap",
        ),
        (
            "unmapped",
            json!([map(100, HOST_BASE, 10)]),
            json!([map(0, HOST_BASE, 10)]),
            "process.user.uid: 0 is not mapped",
        ),
        (
            "nogid",
            json!([map(0, HOST_BASE, 10)]),
            json!([]),
            "needs both",
        ),
    ];
    for (name, uid, gid, phrase) in cases {
        let mut c = Container::new(&format!("userns-bad-{name}"));
        with_userns(&mut c);
        c.set("/linux/uidMappings", uid)
            .set("/linux/gidMappings", gid);
        c.create().fails_with(name, phrase);
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}

/// The unprivileged user the rootless test runs as (created once).
fn rootless_user() -> (u32, u32) {
    let name = "oxirun-rl";
    if Command::new("id")
        .arg(name)
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        let _ = Command::new("useradd")
            .args(["-M", "-u", "1501", name])
            .status();
    }
    let uid = String::from_utf8(
        Command::new("id")
            .args(["-u", name])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .expect("rootless user exists");
    let gid = String::from_utf8(
        Command::new("id")
            .args(["-g", name])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    (uid, gid)
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Run oxirun as the unprivileged user, with its own XDG_RUNTIME_DIR. Output goes through
/// files: a detached container keeps the command's stdio open, so pipes would never hit EOF.
fn as_user(uid: u32, gid: u32, xdg: &Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let out_path = xdg.join(format!(".out-{}", args[0]));
    let err_path = xdg.join(format!(".err-{}", args[0]));
    let status = Command::new(oxirun_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("XDG_RUNTIME_DIR", xdg)
        // As root, std drops the supplementary groups when it sets the uid.
        .uid(uid)
        .gid(gid)
        .status()
        .expect("run oxirun as the rootless user");
    std::process::Output {
        status: std::process::ExitStatus::from_raw(status.into_raw()),
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

#[test]
fn rootless_lifecycle_by_an_unprivileged_user() {
    let (uid, gid) = rootless_user();
    let c = Container::new("rootless");
    // The rootless config as `spec --rootless` writes it, run as is (but our command).
    std::fs::remove_file(c.bundle.join("config.json")).unwrap();
    chown_tree(&c.dir.path, uid, gid);
    let spec = Command::new(oxirun_bin())
        .args(["spec", "--rootless"])
        .current_dir(&c.bundle)
        .uid_gid(uid, gid)
        .output()
        .unwrap();
    assert!(spec.status.success(), "{spec:?}");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(c.bundle.join("config.json")).unwrap())
            .unwrap();
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(["sleep", "30"]);
    std::fs::write(c.bundle.join("config.json"), cfg.to_string()).unwrap();
    let xdg = c.dir.join("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    chown_tree(&c.dir.path, uid, gid);
    // Every parent of the bundle must be searchable by the user.
    let b = c.bundle.to_str().unwrap().to_string();

    let out = as_user(uid, gid, &xdg, &["create", "--bundle", &b, &c.id]);
    assert!(out.status.success(), "rootless create: {out:?}");
    let state_dir = xdg.join("oxirun").join(&c.id);
    assert!(state_dir.is_dir(), "state under $XDG_RUNTIME_DIR/oxirun");
    assert_eq!(std::fs::metadata(&state_dir).unwrap().uid(), uid);
    assert!(as_user(uid, gid, &xdg, &["start", &c.id]).status.success());

    let exec = |script: &str| {
        let o = as_user(uid, gid, &xdg, &["exec", &c.id, "sh", "-c", script]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o,
        )
    };
    let (code, out, o) = exec("id -u; cat /proc/self/uid_map; grep /sys/fs/cgroup /proc/mounts; mkdir /sys/fs/cgroup/x 2>&1; true");
    assert_eq!(code, Some(0), "{o:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", &uid.to_string(), "1"]
    );
    // CVE-2023-25809: every cgroup mount is read-only and writes fail with EROFS.
    let cg: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("/sys/fs/cgroup"))
        .collect();
    assert!(!cg.is_empty(), "{out}");
    for l in cg.iter().filter(|l| {
        l.split(' ')
            .nth(1)
            .is_some_and(|p| p.starts_with("/sys/fs/cgroup"))
    }) {
        let opts = l.split(' ').nth(3).unwrap();
        assert!(
            opts.split(',').any(|o| o == "ro"),
            "writable cgroup mount: {l}"
        );
    }
    assert!(out.contains("Read-only file system"), "{out}");

    let kill = as_user(uid, gid, &xdg, &["kill", &c.id, "KILL"]);
    assert!(kill.status.success(), "{kill:?}");
    // Wait until the init is gone, then delete as the user.
    for _ in 0..100 {
        let st = as_user(uid, gid, &xdg, &["state", &c.id]);
        let v: Value = serde_json::from_slice(&st.stdout).unwrap();
        if v["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let del = as_user(uid, gid, &xdg, &["delete", &c.id]);
    assert!(del.status.success(), "{del:?}");
    assert!(!state_dir.exists());
}

trait UidGid {
    fn uid_gid(&mut self, uid: u32, gid: u32) -> &mut Self;
}

impl UidGid for Command {
    fn uid_gid(&mut self, uid: u32, gid: u32) -> &mut Self {
        use std::os::unix::process::CommandExt;
        self.uid(uid).gid(gid)
    }
}

/// A user-namespaced container whose bind source only the host's root can reach (its parent
/// directory is mode 700, as podman's storage is): the runtime opens the source before the
/// init enters the user namespace, as runc does, so the mount works. Read-only flags hold.
#[test]
fn bind_source_only_host_root_can_reach() {
    use std::os::unix::fs::PermissionsExt;
    let mut c = Container::new("userns-bindsrc");
    with_userns(&mut c);
    let private = c.dir.join("private");
    let data = private.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("hello"), "from the host\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = private.join("one-file");
    std::fs::write(&file, "a file source\n").unwrap();
    // The mount points exist in the image (the mapped root cannot create them in a rootfs
    // owned by the host's root).
    std::fs::create_dir_all(c.rootfs().join("data")).unwrap();
    std::fs::write(c.rootfs().join("etc/one-file"), "").unwrap();
    c.add_mount(
        json!({"destination": "/data", "type": "bind", "source": data,
                       "options": ["rbind", "ro"]}),
    );
    c.add_mount(
        json!({"destination": "/etc/one-file", "type": "bind", "source": file,
                       "options": ["bind"]}),
    );
    let out = c.inside(
        "cat /data/hello /etc/one-file; touch /data/x 2>&1 | grep -c 'Read-only'; \
         grep ' /data ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
    );
    assert_eq!(out, "from the host\na file source\n1\nro\n");
}
