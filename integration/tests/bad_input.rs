//! The bad-input table: each malformed config or id makes `create` exit 1 with one line naming
//! the field, and leaves nothing behind (no state dir, cgroup, mount or process). Plus the one
//! "bad-looking" input that must succeed: a `../` mount destination lands inside the rootfs.

use std::time::{Duration, Instant};

use oxirun_integration::checks::{assert_nothing_left, cgroup_dirs};
use oxirun_integration::container::remove_cgroup_tree;
use oxirun_integration::{json, Container};

#[track_caller]
fn rejected(c: &mut Container, phrase: &str) {
    let out = c.create();
    out.fails_with("create", phrase);
    assert!(
        out.stderr.trim().lines().count() <= 2,
        "expected one error line: {out:#?}"
    );
    assert!(!c.pid_file.exists(), "pid-file written on failure");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

fn sleeper(short: &str) -> Container {
    let mut c = Container::new(short);
    c.sh("exec sleep 1000");
    c
}

#[test]
fn broken_json() {
    let mut c = sleeper("badjson");
    c.write_raw_config(b"{\"ociVersion\": \"1.0.2\", \"process\": {");
    rejected(&mut c, "config.json");
}

#[test]
fn missing_process() {
    let mut c = sleeper("noproc");
    c.unset("/process");
    rejected(&mut c, "process");
}

#[test]
fn relative_cwd() {
    let mut c = sleeper("relcwd");
    c.cwd("tmp");
    rejected(&mut c, "process.cwd");
}

#[test]
fn empty_args() {
    let mut c = sleeper("noargs");
    c.args(&[]);
    rejected(&mut c, "process.args");
}

#[test]
fn unknown_namespace_type() {
    let mut c = sleeper("nsbogus");
    c.namespace("bogus", None);
    rejected(&mut c, "linux.namespaces");
}

#[test]
fn duplicate_namespace() {
    let mut c = sleeper("nsdup");
    c.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "pid"}));
    rejected(&mut c, "linux.namespaces");
}

#[test]
fn namespace_path_not_a_namespace() {
    let mut c = sleeper("nsfile");
    let f = c.dir.join("not-a-ns");
    std::fs::write(&f, "").unwrap();
    c.namespace("network", Some(&f));
    rejected(&mut c, "linux.namespaces");
}

#[test]
fn namespace_path_of_wrong_type() {
    let mut c = sleeper("nswrong");
    c.namespace("network", Some(std::path::Path::new("/proc/self/ns/uts")));
    rejected(&mut c, "linux.namespaces");
}

#[test]
fn bad_ids() {
    for id in ["../x", "a/b", ".", "..", "", "a b", "x\ny"] {
        let mut c = sleeper("badid");
        let out = c.create_as(id);
        assert_eq!(out.code, 1, "id {id:?}: {out:#?}");
        assert!(
            out.stderr_has("invalid container ID format")
                || (id.is_empty() && out.stderr.contains("empty")),
            "id {id:?}: {out:#?}"
        );
        // Nothing created under (or next to) the state root.
        let entries: Vec<_> = std::fs::read_dir(&c.root)
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(entries.is_empty(), "id {id:?}: state root has {entries:?}");
        assert!(
            !c.dir.join("x").exists(),
            "id {id:?} escaped the state root"
        );
        assert!(!c.pid_file.exists(), "id {id:?}: pid-file written");
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}

#[test]
fn nul_in_args() {
    let mut c = sleeper("nularg");
    c.args(&["sh", "-c", "echo a\0b"]);
    rejected(&mut c, "process.args");
}

#[test]
fn nul_in_env() {
    let mut c = sleeper("nulenv");
    c.env(&["PATH=/bin", "A=b\0c"]);
    rejected(&mut c, "process.env");
}

#[test]
fn nul_in_cwd() {
    let mut c = sleeper("nulcwd");
    c.cwd("/tmp\0/x");
    rejected(&mut c, "process.cwd");
}

#[test]
fn nul_in_mount_destination() {
    let mut c = sleeper("nulmnt");
    c.add_mount(json!({"destination": "/mnt\u{0}x", "type": "tmpfs", "source": "tmpfs"}));
    rejected(&mut c, "destination");
}

#[test]
fn config_over_16_mib() {
    let mut c = sleeper("huge");
    c.annotation("org.oxirun.padding", &"a".repeat(17 << 20));
    let t = Instant::now();
    rejected(&mut c, "config.json");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn missing_rootfs() {
    let mut c = sleeper("noroot");
    c.set("/root/path", json!("no-such-rootfs"));
    rejected(&mut c, "root.path");
}

/// Removes any `<hierarchy>/<name>` cgroup on drop (in case the runtime created it).
struct CgroupGuard(String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for d in cgroup_dirs(&self.0) {
            remove_cgroup_tree(&d);
        }
    }
}

#[test]
fn cgroups_path_with_dotdot() {
    let mut c = sleeper("cgdotdot");
    let outside = format!("oxirun-it-outside-{}", std::process::id());
    let _guard = CgroupGuard(outside.clone());
    c.set(
        "/linux/cgroupsPath",
        json!(format!("/oxirun-it/../../{outside}")),
    );
    rejected(&mut c, "cgroupsPath");
    assert!(cgroup_dirs(&outside).is_empty(), "cgroup created outside");
}

#[test]
fn dotdot_mount_destination_lands_in_rootfs() {
    let mut c = Container::new("dotdotmnt");
    let name = format!("oxi-it-x-{}", std::process::id());
    let src = c.dir.join("src");
    std::fs::write(&src, "landed").unwrap();
    c.add_mount(
        json!({"destination": format!("../../../../etc/{name}"), "type": "bind",
                       "source": src, "options": ["bind"]}),
    );
    let out = c.inside(&format!("cat /etc/{name}"));
    assert_eq!(out, "landed");
    assert!(
        c.rootfs().join("etc").join(&name).exists(),
        "not in rootfs/etc"
    );
    assert!(
        !std::path::Path::new("/etc").join(&name).exists(),
        "escaped to host /etc"
    );
}
