//! `linux.devices`, seen from inside: char, block, unbuffered-char and fifo nodes with their
//! numbers, mode and owner; nodes are never created outside the rootfs through a symlinked
//! /dev; a bad device type fails create naming the field.

use std::os::unix::fs::symlink;
use std::path::Path;

use oxirun_integration::confcheck::create_fails;
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

#[test]
fn devices_of_every_type_with_mode_and_owner() {
    let mut c = Container::new("devtypes");
    c.set(
        "/linux/devices",
        json!([
            {"path": "/dev/oxi-c", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o620, "uid": 1000, "gid": 10},
            {"path": "/dev/oxi-b", "type": "b", "major": 7, "minor": 200,
             "fileMode": 0o640, "uid": 0, "gid": 6},
            {"path": "/dev/oxi-u", "type": "u", "major": 1, "minor": 5,
             "fileMode": 0o604, "uid": 65534, "gid": 65534},
            {"path": "/dev/oxi-p", "type": "p", "fileMode": 0o600, "uid": 1000, "gid": 1000},
            {"path": "/dev/deep/er/oxi-z", "type": "c", "major": 1, "minor": 7}
        ]),
    );
    let out = c.inside(
        "for d in /dev/oxi-c /dev/oxi-b /dev/oxi-u /dev/oxi-p; do \
           stat -c '%n|%F|%t:%T|%a|%u|%g' $d; done; \
         stat -c '%n|%F|%t:%T' /dev/deep/er/oxi-z; \
         head -c 4 /dev/oxi-u | od -An -tx1 | tr -d ' \\n'; echo",
    );
    assert_eq!(
        out,
        "/dev/oxi-c|character special file|1:3|620|1000|10\n\
         /dev/oxi-b|block special file|7:c8|640|0|6\n\
         /dev/oxi-u|character special file|1:5|604|65534|65534\n\
         /dev/oxi-p|fifo|0:0|600|1000|1000\n\
         /dev/deep/er/oxi-z|character special file|1:7\n\
         00000000\n"
    );
}

#[test]
fn device_node_default_mode_is_usable() {
    // fileMode omitted: the node still exists and works (runc: 0666 & ~umask is not promised;
    // only that it is a device with the right numbers).
    let mut c = Container::new("devdef");
    c.set(
        "/linux/devices",
        json!([{"path": "/dev/oxi-zero", "type": "c", "major": 1, "minor": 5}]),
    );
    let out = c.inside("stat -c '%F %t:%T' /dev/oxi-zero; head -c 3 /dev/oxi-zero | od -An -tx1");
    assert_eq!(out, "character special file 1:5\n 00 00 00\n");
}

/// Drops every /dev* mount so the image's own /dev is used.
fn without_dev_mounts(c: &mut Container) {
    let m = c.config["mounts"].as_array_mut().unwrap();
    m.retain(|x| !x["destination"].as_str().unwrap_or("").starts_with("/dev"));
}

#[test]
fn devices_never_created_through_a_symlinked_dev() {
    let mut c = Container::new("devsym");
    let marker = c.dir.join("host-marker");
    std::fs::create_dir(&marker).unwrap();
    std::fs::write(marker.join("keep"), "k").unwrap();
    let dev = c.rootfs().join("dev");
    std::fs::remove_dir(&dev).unwrap();
    symlink(&marker, &dev).unwrap();
    without_dev_mounts(&mut c);
    c.set(
        "/linux/devices",
        json!([{"path": "/dev/oxi-esc", "type": "c", "major": 1, "minor": 3}]),
    )
    .sh("ls -la /dev/ 2>&1; true");
    let out = c.run(&[]);
    assert!(
        out.code == 0 || out.code == 1,
        "either works inside the rootfs or fails cleanly: {out:#?}"
    );
    assert_eq!(
        listing(&marker),
        ["keep"],
        "host marker dir changed: {out:#?}"
    );
}

#[test]
fn devices_never_created_through_a_symlink_inside_dev() {
    let mut c = Container::new("devsym2");
    let marker = c.dir.join("host-marker");
    std::fs::create_dir(&marker).unwrap();
    symlink(&marker, c.rootfs().join("dev/sub")).unwrap();
    symlink(marker.join("node"), c.rootfs().join("dev/oxi-link")).unwrap();
    without_dev_mounts(&mut c);
    c.set(
        "/linux/devices",
        json!([{"path": "/dev/sub/oxi-esc", "type": "c", "major": 1, "minor": 3},
               {"path": "/dev/oxi-link", "type": "c", "major": 1, "minor": 5}]),
    )
    .sh("true");
    let out = c.run(&[]);
    assert!(
        out.code == 0 || out.code == 1,
        "either works inside the rootfs or fails cleanly: {out:#?}"
    );
    if out.code == 1 {
        oxirun_integration::checks::assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
    assert!(
        listing(&marker).is_empty(),
        "device node created on the host: {:?} {out:#?}",
        listing(&marker)
    );
}

#[test]
fn bad_device_type_fails_naming_the_field() {
    let mut c = Container::new("devbad");
    c.set(
        "/linux/devices",
        json!([{"path": "/dev/oxi-x", "type": "x", "major": 1, "minor": 3}]),
    )
    .sh("true");
    create_fails(&mut c, &["linux.devices"]);
}
