//! Every mount option runc accepts, each read back from /proc/self/mountinfo inside the
//! container (and, where it has a visible effect, exercised): per-mount flags, atime modes,
//! bind vs rbind, recursive flags (rro, rnosuid...), rbind+ro on submounts (CVE-2023-25809),
//! propagation fields, tmpcopyup, /proc restrictions and relative destinations.

use std::path::Path;

use oxirun_integration::confcheck::{at, create_fails, host_tmpfs, inside_mounts};
use oxirun_integration::{json, Container};

fn tmpfs(c: &mut Container, dest: &str, opts: &[&str]) {
    c.add_mount(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}));
}

fn bind(c: &mut Container, dest: &str, src: &Path, opts: &[&str]) {
    c.add_mount(json!({"destination": dest, "type": "bind", "source": src, "options": opts}));
}

#[test]
fn per_mount_flags_and_their_effect() {
    let mut c = Container::new("mflags");
    tmpfs(&mut c, "/m/ro", &["ro"]);
    tmpfs(&mut c, "/m/rw", &["rw"]);
    tmpfs(&mut c, "/m/nosuid", &["nosuid"]);
    tmpfs(&mut c, "/m/nodev", &["nodev"]);
    tmpfs(&mut c, "/m/noexec", &["noexec"]);
    tmpfs(&mut c, "/m/nosymfollow", &["nosymfollow"]);
    tmpfs(&mut c, "/m/exec", &["exec", "suid", "dev"]);
    let (out, m) = inside_mounts(
        &mut c,
        "touch /m/ro/x 2>&1 | grep -o 'Read-only file system'; \
         touch /m/rw/x && echo rw-ok; \
         printf '#!/bin/sh\\necho ran\\n' > /m/noexec/s; chmod +x /m/noexec/s; \
         /m/noexec/s 2>&1 | grep -o 'Permission denied'; \
         cp /m/noexec/s /m/exec/s; /m/exec/s; \
         ln -s /etc/passwd /m/nosymfollow/l; cat /m/nosymfollow/l 2>&1 | grep -o 'Too many';",
    );
    assert_eq!(
        out,
        "Read-only file system\nrw-ok\nPermission denied\nran\nToo many\n"
    );
    assert!(at(&m, "/m/ro").has("ro"));
    assert!(at(&m, "/m/rw").has("rw"));
    for f in ["nosuid", "nodev", "noexec", "nosymfollow"] {
        let x = at(&m, &format!("/m/{f}"));
        assert!(x.has(f), "{f} missing: {x:?}");
    }
    let e = at(&m, "/m/exec");
    for f in ["nosuid", "nodev", "noexec", "ro"] {
        assert!(!e.has(f), "{f} set on exec,suid,dev mount: {e:?}");
    }
}

#[test]
fn atime_modes() {
    let mut c = Container::new("matime");
    tmpfs(&mut c, "/m/relatime", &["relatime"]);
    tmpfs(&mut c, "/m/noatime", &["noatime"]);
    tmpfs(&mut c, "/m/strictatime", &["strictatime"]);
    tmpfs(&mut c, "/m/nodiratime", &["nodiratime"]);
    let (_, m) = inside_mounts(&mut c, "true");
    let r = at(&m, "/m/relatime");
    assert!(r.has("relatime") && !r.has("noatime"), "{r:?}");
    let n = at(&m, "/m/noatime");
    assert!(n.has("noatime") && !n.has("relatime"), "{n:?}");
    let s = at(&m, "/m/strictatime");
    assert!(!s.has("noatime") && !s.has("relatime"), "{s:?}");
    assert!(at(&m, "/m/nodiratime").has("nodiratime"));
}

/// A host dir `src` with a tmpfs submount `src/sub` holding `sub/file`.
fn host_tree(c: &Container) -> std::path::PathBuf {
    let src = c.dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("top"), "top").unwrap();
    host_tmpfs(&src.join("sub"), false);
    std::fs::write(src.join("sub/file"), "in-sub").unwrap();
    src
}

#[test]
fn bind_rbind_and_recursive_flags() {
    let mut c = Container::new("mrbind");
    let src = host_tree(&c);
    bind(&mut c, "/b/bind", &src, &["bind"]);
    bind(&mut c, "/b/rbind", &src, &["rbind"]);
    bind(&mut c, "/b/rro", &src, &["rbind", "rro"]);
    bind(
        &mut c,
        "/b/rflags",
        &src,
        &["rbind", "rnosuid", "rnodev", "rnoexec"],
    );
    let (out, m) = inside_mounts(
        &mut c,
        "cat /b/bind/top; echo; ls -A /b/bind/sub | wc -l; cat /b/rbind/sub/file; echo; \
         for f in /b/rro/x /b/rro/sub/x; do touch $f 2>&1 | grep -o 'Read-only file system'; done",
    );
    assert_eq!(
        out,
        "top\n0\nin-sub\nRead-only file system\nRead-only file system\n"
    );
    assert!(
        !m.iter().any(|x| x.mount_point == "/b/bind/sub"),
        "bind (not rbind) brought the submount along"
    );
    assert_eq!(at(&m, "/b/rbind/sub").fstype, "tmpfs");
    assert!(at(&m, "/b/rro").has("ro") && at(&m, "/b/rro/sub").has("ro"));
    for p in ["/b/rflags", "/b/rflags/sub"] {
        let x = at(&m, p);
        for f in ["nosuid", "nodev", "noexec"] {
            assert!(x.has(f), "{p}: {f} missing: {x:?}");
        }
    }
}

#[test]
fn cve_2023_25809_rbind_ro_makes_submounts_readonly() {
    let mut c = Container::new("mrbindro");
    let src = host_tree(&c);
    bind(&mut c, "/b/ro", &src, &["rbind", "ro"]);
    let (out, m) = inside_mounts(
        &mut c,
        "for f in /b/ro/x /b/ro/sub/x; do \
           (echo x > $f) 2>&1 | grep -o 'Read-only file system' || echo \"$f writable\"; done",
    );
    assert_eq!(out, "Read-only file system\nRead-only file system\n");
    assert!(at(&m, "/b/ro/sub").has("ro"), "{:?}", at(&m, "/b/ro/sub"));
    assert!(!src.join("sub/x").exists());
}

#[test]
fn propagation_fields() {
    let mut c = Container::new("mprop");
    let src = c.dir.join("psrc");
    host_tmpfs(&src, true);
    for (dest, opts) in [
        ("/p/shared", vec!["bind", "shared"]),
        ("/p/rshared", vec!["rbind", "rshared"]),
        ("/p/slave", vec!["bind", "slave"]),
        ("/p/rslave", vec!["rbind", "rslave"]),
        ("/p/private", vec!["bind", "private"]),
        ("/p/rprivate", vec!["rbind", "rprivate"]),
        ("/p/unbindable", vec!["bind", "unbindable"]),
        ("/p/runbindable", vec!["rbind", "runbindable"]),
    ] {
        bind(&mut c, dest, &src, &opts);
    }
    let (_, m) = inside_mounts(&mut c, "true");
    for p in ["/p/shared", "/p/rshared"] {
        let x = at(&m, p);
        // The source is a slave copy of a shared host mount (the rootfs is rslave), so a
        // shared bind may also keep its `master:` tag; `shared:N` is what the option adds.
        assert!(x.tagged("shared:"), "{p}: {x:?}");
    }
    for p in ["/p/slave", "/p/rslave"] {
        let x = at(&m, p);
        assert!(x.tagged("master:") && !x.tagged("shared:"), "{p}: {x:?}");
    }
    for p in ["/p/private", "/p/rprivate"] {
        let x = at(&m, p);
        assert!(x.optional.is_empty(), "{p} not private: {x:?}");
    }
    for p in ["/p/unbindable", "/p/runbindable"] {
        let x = at(&m, p);
        assert!(x.tagged("unbindable"), "{p}: {x:?}");
    }
}

#[test]
fn tmpcopyup_starts_with_the_old_contents() {
    let mut c = Container::new("mcopyup");
    let d = c.rootfs().join("opt/copy");
    std::fs::create_dir_all(d.join("b")).unwrap();
    std::fs::write(d.join("a"), "aaa").unwrap();
    std::fs::write(d.join("b/c"), "ccc").unwrap();
    tmpfs(&mut c, "/opt/copy", &["tmpcopyup", "mode=755"]);
    let (out, m) = inside_mounts(
        &mut c,
        "cat /opt/copy/a /opt/copy/b/c; echo; echo new > /opt/copy/a && echo written",
    );
    assert_eq!(out, "aaaccc\nwritten\n");
    assert_eq!(at(&m, "/opt/copy").fstype, "tmpfs");
    assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "aaa");
}

#[test]
fn bind_of_a_host_dir_on_proc_refused() {
    let mut c = Container::new("mprocbind");
    let fake = c.dir.join("fakeproc");
    std::fs::create_dir_all(&fake).unwrap();
    bind(&mut c, "/proc", &fake, &["bind", "ro"]);
    c.sh("true");
    create_fails(&mut c, &["/proc"]);
    assert_eq!(std::fs::read_dir(&fake).unwrap().count(), 0);
}

#[test]
fn bind_over_proc_cpuinfo_allowed_lxcfs_style() {
    let mut c = Container::new("mcpuinfo");
    let f = c.dir.join("cpuinfo");
    std::fs::write(&f, "processor\t: oxi-fake\n").unwrap();
    bind(&mut c, "/proc/cpuinfo", &f, &["bind", "ro"]);
    assert_eq!(c.inside("cat /proc/cpuinfo"), "processor\t: oxi-fake\n");
}

#[test]
fn relative_destination_lands_in_the_rootfs() {
    let mut c = Container::new("mrel");
    let name = format!("oxi-rel-{}", std::process::id());
    tmpfs(&mut c, &format!("../../../../etc/{name}"), &[]);
    let (_, m) = inside_mounts(&mut c, "true");
    assert_eq!(at(&m, &format!("/etc/{name}")).fstype, "tmpfs");
    assert!(c.rootfs().join("etc").join(&name).is_dir());
    assert!(
        !Path::new("/etc").join(&name).exists(),
        "escaped to the host"
    );
}

/// A read-only /dev ("ro" on its tmpfs): mounted writable until the devices, /dev/pts,
/// /dev/shm and the symlinks are in, then made read-only, as runc does (it failed with
/// `mount /dev/pts (devpts): destination /dev/pts: Read-only file system`).
#[test]
fn readonly_dev_is_made_readonly_after_its_contents() {
    let mut c = Container::new("devro");
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    let dev = mounts
        .iter_mut()
        .find(|m| m["destination"] == "/dev")
        .expect("the spec has a /dev mount");
    dev["options"].as_array_mut().unwrap().push(json!("ro"));
    let out = c.inside(
        "grep -E ' /dev (tmpfs|devpts) ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
         grep ' /dev/pts ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
         test -c /dev/null && test -L /dev/ptmx && echo devices; \
         touch /dev/x 2>&1 | grep -c 'Read-only'; echo hi > /dev/null && echo null-writable",
    );
    assert_eq!(out, "ro\nrw\ndevices\n1\nnull-writable\n");
}
