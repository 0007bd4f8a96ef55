//! Namespaces seen from inside: configured types are new (differ from the host's), unconfigured
//! types are shared with the host, a namespace given by path is joined (and is the same one the
//! host sees at that path), and the container init is pid 1 of its pid namespace.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use oxirun_integration::{Container, TestDir};

/// `/proc/self/ns/*` file name for a config namespace type.
fn ns_file(ty: &str) -> &str {
    match ty {
        "network" => "net",
        "mount" => "mnt",
        other => other,
    }
}

const ALL: [&str; 8] = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"];

fn host_ns() -> BTreeMap<String, String> {
    ALL.iter()
        .map(|n| {
            let l = std::fs::read_link(format!("/proc/self/ns/{n}")).expect("host ns link");
            (n.to_string(), l.to_string_lossy().into_owned())
        })
        .collect()
}

fn inside_ns(c: &mut Container) -> BTreeMap<String, String> {
    let script = ALL
        .map(|n| format!("echo {n}=$(readlink /proc/self/ns/{n})"))
        .join("; ");
    c.inside(&script)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn configured_namespaces_are_new_others_shared() {
    let mut c = Container::new("nsnew");
    c.namespaces(&["pid", "network", "ipc", "uts", "mount", "cgroup"]);
    let host = host_ns();
    let inside = inside_ns(&mut c);
    for ty in ["pid", "network", "ipc", "uts", "mount", "cgroup"] {
        let f = ns_file(ty);
        assert!(inside[f].starts_with(&format!("{f}:[")), "{f}: {inside:?}");
        assert_ne!(inside[f], host[f], "{ty} namespace is the host's");
    }
    for f in ["user", "time"] {
        assert_eq!(
            inside[f], host[f],
            "{f} namespace should be shared with the host"
        );
    }
}

#[test]
fn without_namespaces_everything_is_shared() {
    let mut c = Container::new("nsnone");
    c.namespaces(&["mount"]).unset("/hostname");
    let host = host_ns();
    let inside = inside_ns(&mut c);
    for f in ["pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(inside[f], host[f], "{f} should be the host's");
    }
    assert_ne!(inside["mnt"], host["mnt"]);
}

/// Lines of the host's mountinfo at or below `dir` (the test's own bundle: nothing else is
/// judged).
fn host_mounts_below(dir: &Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|mp| mp == dir || mp.starts_with(&format!("{dir}/")))
        })
        .map(str::to_owned)
        .collect()
}

/// No namespace listed at all, not even a mount namespace: runtime-spec says each is inherited
/// from the runtime. The container chroots into its rootfs and gets its mounts there (as with
/// runc), in the host's mount table, and `delete` takes them all away again.
#[test]
fn without_a_mount_namespace_mounts_live_in_the_host_table_until_delete() {
    let mut c = Container::new("nsnomnt");
    c.namespaces(&[]).unset("/hostname");
    let bundle = c.bundle.clone();
    assert!(host_mounts_below(&bundle).is_empty());
    let host = host_ns();
    c.sh(
        "readlink /proc/self/ns/mnt; grep -c '^proc /proc ' /proc/mounts; \
          test -c /dev/null && echo devnull; ls /bin/busybox; sleep 30",
    );
    c.run_detached().ok("run -d without a mount namespace");
    let seen = oxirun_integration::util::poll(std::time::Duration::from_secs(10), || {
        let (out, _) = c.container_output();
        (out.lines().count() >= 4).then_some(out)
    })
    .expect("container output");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], host["mnt"], "{seen}");
    assert_ne!(lines[1], "0", "no /proc inside: {seen}");
    assert_eq!(&lines[2..4], ["devnull", "/bin/busybox"], "{seen}");
    let while_running = host_mounts_below(&bundle);
    assert!(
        while_running.iter().any(|l| l.contains(" - proc ")),
        "the container's /proc is in the host's table: {while_running:#?}"
    );
    c.delete(true).ok("delete -f");
    assert_eq!(host_mounts_below(&bundle), Vec::<String>::new());
}

/// A create that fails part-way, after the rootfs bind and some mounts, leaves no mount
/// behind in the host's table either.
#[test]
fn without_a_mount_namespace_a_failed_create_leaves_no_mount() {
    let mut c = Container::new("nsnomntfail");
    c.namespaces(&[]).unset("/hostname");
    // The kernel refuses this tmpfs option, so the init fails after /proc, /dev, ... are up.
    c.add_mount(oxirun_integration::json!({
        "destination": "/mnt/bad", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=not-a-size"]
    }));
    let bundle = c.bundle.clone();
    let out = c.create();
    assert!(!out.success(), "{out:#?}");
    assert!(out.stderr_has("/mnt/bad"), "{out:#?}");
    assert_eq!(host_mounts_below(&bundle), Vec::<String>::new());
    assert!(!c.root.join(&c.id).exists(), "state dir left behind");
}

#[test]
fn init_is_pid_1_and_sees_only_its_processes() {
    let mut c = Container::new("pid1");
    let out = c.inside("echo $$; ls -d /proc/[0-9]* | wc -l");
    let mut l = out.lines();
    assert_eq!(l.next(), Some("1"), "{out}");
    // sh (pid 1) plus at most the ls/wc pipeline.
    let n: u32 = l.next().unwrap().trim().parse().unwrap();
    assert!(n <= 3, "container sees {n} processes: {out}");
}

#[test]
fn new_network_namespace_has_only_loopback() {
    let mut c = Container::new("netns");
    let out = c.inside("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
    assert_eq!(out.trim(), "lo", "{out}");
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    // podman pods with --network none talk over 127.0.0.1 (runc brings lo up too).
    let mut c = Container::new("netns-lo");
    let out = c.inside(
        "ip -o link show lo; (httpd -f -p 127.0.0.1:8099 -h /etc &); \
         for i in $(seq 50); do wget -q -O- http://127.0.0.1:8099/passwd 2>/dev/null | head -1 \
         | grep . && break; sleep 0.1; done",
    );
    assert!(out.contains("<LOOPBACK,UP,LOWER_UP>"), "{out}");
    assert!(out.contains("root:x:0:0"), "no traffic over lo: {out}");
}

/// Creates a persistent network namespace bound at `file` (host side, via unshare(1)).
fn make_netns(file: &Path) {
    std::fs::write(file, "").unwrap();
    let st = Command::new("unshare")
        .arg(format!("--net={}", file.display()))
        .arg("true")
        .status()
        .expect("spawn unshare");
    assert!(st.success(), "unshare --net=FILE failed");
}

#[test]
fn joins_network_namespace_by_path() {
    let tmp = TestDir::new(&oxirun_integration::unique_id("netnsfile"));
    let nsfile = tmp.join("netns");
    make_netns(&nsfile);
    let ino = std::fs::metadata(&nsfile).unwrap().ino();
    let mut c = Container::new("joinnet");
    c.namespace("network", Some(&nsfile));
    let got = c.inside("readlink /proc/self/ns/net");
    assert_eq!(got.trim(), format!("net:[{ino}]"));
    assert_ne!(
        got.trim(),
        std::fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_string_lossy(),
        "joined the host's namespace instead"
    );
    drop(c);
    drop(tmp); // detaches the nsfs bind mount
}

#[test]
fn joins_uts_namespace_of_another_container() {
    let mut a = Container::new("utsa");
    a.hostname("shared-uts").sh("exec sleep 1000").create_ok();
    let path = format!("/proc/{}/ns/uts", a.pid.unwrap());
    let mut b = Container::new("utsb");
    b.namespace("uts", Some(Path::new(&path)))
        .unset("/hostname");
    let out = b.inside("hostname; readlink /proc/self/ns/uts");
    let want = std::fs::read_link(&path).unwrap();
    assert_eq!(
        out,
        format!("shared-uts\n{}\n", want.to_string_lossy()),
        "joined uts namespace"
    );
}
