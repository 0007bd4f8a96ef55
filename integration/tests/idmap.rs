//! Idmapped bind mounts (`idmap`, `ridmap`, per-mount `uidMappings`/`gidMappings`), observed
//! from inside the container and on the host.
//!
//! The kernel's (and runc's) direction: a mapping `{containerID: C, hostID: H}` makes a file
//! whose owner on disk is C appear owned by H through the mount, and a file created through
//! the mount by H is stored as C. So host files owned by 1000 appear as root through
//! `{containerID: 1000, hostID: 0}`, and `{containerID: 0, hostID: 1000}` shows root's files
//! as 1000 (and host root, unmapped there, cannot create files through it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::{json, Container, Value};

fn map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A bind mount of `src` at `dest` with `options` and the same uid and gid mapping.
fn idmapped(src: &Path, dest: &str, options: &[&str], mapping: Option<Value>) -> Value {
    let mut m = json!({"destination": dest, "type": "bind", "source": src, "options": options});
    if let Some(mapping) = mapping {
        m["uidMappings"] = mapping.clone();
        m["gidMappings"] = mapping;
    }
    m
}

/// A fresh directory under the test dir holding `files` (name, uid, gid).
fn host_dir(c: &Container, name: &str, files: &[(&str, u32, u32)]) -> PathBuf {
    let dir = c.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, uid, gid) in files {
        let p = dir.join(f);
        std::fs::write(&p, b"x").unwrap();
        std::os::unix::fs::chown(&p, Some(*uid), Some(*gid)).unwrap();
    }
    dir
}

fn owner(p: &Path) -> (u32, u32) {
    let md = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (md.uid(), md.gid())
}

#[test]
fn idmap_translates_owners_both_ways() {
    let mut c = Container::new("idmap-basic");
    let vol = host_dir(&c, "vol", &[("f1000", 1000, 1000), ("f0", 0, 0)]);
    std::os::unix::fs::chown(&vol, Some(1000), Some(1000)).unwrap();
    let rev = host_dir(&c, "rev", &[("f0", 0, 0), ("f1000", 1000, 1000)]);
    let ro = host_dir(&c, "ro", &[("f1000", 1000, 1000)]);
    c.add_mount(idmapped(
        &vol,
        "/vol",
        &["bind", "idmap"],
        Some(map(1000, 0, 1)),
    ))
    .add_mount(idmapped(
        &rev,
        "/rev",
        &["bind", "idmap"],
        Some(map(0, 1000, 1)),
    ))
    .add_mount(idmapped(
        &ro,
        "/ro",
        &["bind", "idmap", "ro"],
        Some(map(1000, 0, 1)),
    ));
    let out = c.inside(
        "stat -c '%n %u:%g' /vol/f1000 /vol/f0 /vol /rev/f0 /rev/f1000 /ro/f1000; \
         touch /vol/new && stat -c '%n %u:%g' /vol/new; \
         touch /rev/new 2>&1 || echo rev-write-refused; \
         touch /ro/new 2>&1 || echo ro-write-refused; \
         grep -E ' /(vol|rev|ro) ' /proc/self/mountinfo",
    );
    for want in [
        "/vol/f1000 0:0",
        "/vol/f0 65534:65534",
        "/vol 0:0",
        "/vol/new 0:0",
        "/rev/f0 1000:1000",
        "/rev/f1000 65534:65534",
        "/ro/f1000 0:0",
        "rev-write-refused",
        "ro-write-refused",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // Host root is unmapped in the second mount: EOVERFLOW, as runc shows it.
    assert!(out.contains("Value too large"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let idmapped_lines = out
        .lines()
        .filter(|l| l.contains(" - ") && l.contains("idmapped"))
        .count();
    assert_eq!(idmapped_lines, 3, "every idmap mount is idmapped:\n{out}");
    // Created inside as root, stored as 1000 on the host; the sources are untouched.
    assert_eq!(owner(&vol.join("new")), (1000, 1000));
    assert_eq!(owner(&vol.join("f1000")), (1000, 1000));
    assert!(!rev.join("new").exists() && !ro.join("new").exists());
}

#[test]
fn ridmap_reaches_submounts_and_idmap_does_not() {
    let mut c = Container::new("idmap-rec");
    let top = host_dir(&c, "top", &[("t", 1000, 1000)]);
    std::fs::create_dir(top.join("sub")).unwrap();
    let sub = host_dir(&c, "subsrc", &[("s", 1000, 1000)]);
    // A submount on the host (the test dir's Drop detaches it, even after a panic).
    nix::mount::mount(
        Some(&sub),
        &top.join("sub"),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind the submount on the host");
    let m = map(1000, 0, 1);
    c.add_mount(idmapped(&top, "/r", &["rbind", "ridmap"], Some(m.clone())))
        .add_mount(idmapped(&top, "/i", &["rbind", "idmap"], Some(m)));
    let out = c.inside("stat -c '%n %u:%g' /r/t /r/sub/s /i/t /i/sub/s");
    for want in [
        "/r/t 0:0",
        "/r/sub/s 0:0",
        "/i/t 0:0",
        // `idmap` maps the top mount only: the submount shows the real owner.
        "/i/sub/s 1000:1000",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let _ = nix::mount::umount2(&top.join("sub"), nix::mount::MntFlags::MNT_DETACH);
}

#[test]
fn with_a_user_namespace_the_container_mappings_are_used() {
    let mut c = Container::new("idmap-userns");
    let vol = host_dir(&c, "vol", &[("f0", 0, 0), ("f1000", 1000, 1000)]);
    let mut ns = c.config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ns.push(json!({"type": "user"}));
    c.set("/linux/namespaces", Value::Array(ns))
        .set("/linux/uidMappings", map(0, 200_000, 65536))
        .set("/linux/gidMappings", map(0, 200_000, 65536));
    // Root of the user namespace cannot create directories in a rootfs owned by host root.
    for d in ["vol", "plain"] {
        std::fs::create_dir_all(c.rootfs().join(d)).unwrap();
    }
    c.add_mount(idmapped(&vol, "/vol", &["bind", "idmap"], None))
        .add_mount(idmapped(&vol, "/plain", &["bind"], None));
    let out = c.inside(
        "stat -c '%n %u:%g' /vol/f0 /vol/f1000 /plain/f0; \
         touch /vol/new && stat -c '%n %u:%g' /vol/new",
    );
    for want in [
        "/vol/f0 0:0",
        "/vol/f1000 1000:1000",
        "/plain/f0 65534:65534",
        "/vol/new 0:0",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // The container's root (host 200000) wrote through the idmapped mount: stored as 0.
    assert_eq!(owner(&vol.join("new")), (0, 0));
}

/// (name, mount builder for a host dir, expected error phrase).
type BadCase = (&'static str, fn(&Path) -> Value, &'static str);

#[test]
fn bad_idmap_configs_fail_before_anything_exists() {
    let cases: [BadCase; 4] = [
        (
            "noopt",
            |src| idmapped(src, "/vol", &["bind"], Some(map(0, 1000, 1))),
            "mount mappings require idmap",
        ),
        (
            "tmpfs",
            |_| {
                json!({"destination": "/vol", "type": "tmpfs", "source": "tmpfs",
                       "options": ["idmap"], "uidMappings": map(0, 1000, 1),
                       "gidMappings": map(0, 1000, 1)})
            },
            "idmapped mounts are only supported for bind mounts",
        ),
        (
            "nomaps",
            |src| idmapped(src, "/vol", &["bind", "idmap"], None),
            "needs a new user namespace",
        ),
        (
            "zero",
            |src| idmapped(src, "/vol", &["bind", "ridmap"], Some(map(0, 1000, 0))),
            "uidMappings[0]: size must not be 0",
        ),
    ];
    for (name, mount, phrase) in cases {
        let mut c = Container::new(&format!("idmap-bad-{name}"));
        let src = host_dir(&c, "vol", &[]);
        c.add_mount(mount(&src));
        c.create().fails_with(name, phrase);
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}
