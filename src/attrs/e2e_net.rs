//! Root end-to-end tests of `linux.netDevices`: veth interfaces (`oxt-` names only; this
//! kernel has no dummy driver) are moved into a network namespace held by a child of ours,
//! and checked from inside it with `nsenter ... ip`. Everything is deleted afterwards, even
//! when a test fails.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde_json::{json, Value};

use super::e2e::{is_root, spec};
use crate::sys::attrs as sys;

/// Deletes the test's interfaces and stops its namespace holder, even when the test fails.
pub(super) struct NetCleanup {
    pub(super) links: Vec<String>,
    pub(super) holder: Option<i32>,
}

impl Drop for NetCleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.holder {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        for l in &self.links {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_in(pid: i32, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "ip"])
        .args(args)
        .output()
        .expect("run nsenter");
    assert!(
        out.status.success(),
        "ip {args:?} in {pid}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child of ours in a new network namespace, waiting to be killed.
fn netns_holder() -> i32 {
    let (rd, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    let pid = sys::test_fork().unwrap();
    if pid == 0 {
        drop(rd);
        let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_ok();
        let _ = nix::unistd::write(&wr, if ok { b"y" } else { b"n" });
        drop(wr);
        loop {
            nix::unistd::pause();
        }
    }
    drop(wr);
    let mut b = [0u8; 1];
    std::fs::File::from(rd).read_exact(&mut b).unwrap();
    assert_eq!(&b, b"y", "unshare(CLONE_NEWNET) failed in the holder");
    pid
}

#[test]
fn net_devices_are_moved_renamed_and_readdressed() {
    if !is_root() || Command::new("ip").arg("-V").output().is_err() {
        return eprintln!("skipped: needs root and iproute2");
    }
    let me = std::process::id() % 100_000;
    let (d1, d2) = (format!("oxt-a{me}"), format!("oxt-b{me}"));
    let (p1, p2) = (format!("oxt-pa{me}"), format!("oxt-pb{me}"));
    // Deleting the host-side peer deletes the pair, wherever the other end is.
    let mut guard = NetCleanup {
        links: vec![p1.clone(), p2.clone()],
        holder: None,
    };
    // veth pairs: this kernel has no dummy driver.
    ip(&["link", "add", &d1, "type", "veth", "peer", "name", &p1]);
    ip(&["link", "add", &d2, "type", "veth", "peer", "name", &p2]);
    ip(&["addr", "add", "10.254.77.1/24", "dev", &d1]);
    ip(&["addr", "add", "fd00:77::1/64", "dev", &d1, "nodad"]);
    let holder = netns_holder();
    guard.holder = Some(holder);

    // d1 into a new namespace (the init's /proc/<pid>/ns/net), d2 into one joined by path.
    let s = spec(
        json!({}),
        json!({"namespaces": [{"type": "network"}, {"type": "mount"}],
               "netDevices": { d1.clone(): {"name": "oxt-c0"} }}),
    );
    super::validate(&s).unwrap();
    super::move_net_devices(&s, holder).unwrap();
    let by_path = spec(
        json!({}),
        json!({"namespaces": [{"type": "network", "path": format!("/proc/{holder}/ns/net")}],
               "netDevices": { d2.clone(): {"name": "oxt-t%d"} }}),
    );
    super::validate(&by_path).unwrap();
    super::move_net_devices(&by_path, std::process::id() as i32).unwrap();
    // A second device with a name already taken inside is refused, naming the device.
    let p3 = format!("oxt-pc{me}");
    let d3 = format!("oxt-c{me}");
    guard.links.push(p3.clone());
    ip(&["link", "add", &d3, "type", "veth", "peer", "name", &p3]);
    let clash = spec(
        json!({}),
        json!({"namespaces": [{"type": "network"}], "netDevices": { d3.clone(): {"name": "oxt-c0"} }}),
    );
    let e = super::move_net_devices(&clash, holder)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("linux.netDevices: {d3}:")) && e.contains("already exists"),
        "{e}"
    );
    assert!(
        ip(&["-o", "link", "show"]).contains(&d3),
        "{d3} left the host"
    );

    let host = ip(&["-o", "link", "show"]);
    assert!(
        !host.contains(&d1) && !host.contains(&d2),
        "still on the host: {host}"
    );
    let inside = ip_in(holder, &["-o", "link", "show"]);
    assert!(
        inside.contains("oxt-c0") && inside.contains("oxt-t0"),
        "{inside}"
    );
    let c0 = ip_in(holder, &["-o", "link", "show", "oxt-c0"]);
    assert!(c0.contains(",UP"), "oxt-c0 not up: {c0}");
    let addrs = ip_in(holder, &["-o", "addr", "show", "dev", "oxt-c0"]);
    assert!(
        addrs.contains("10.254.77.1/24"),
        "IPv4 address lost: {addrs}"
    );
    assert!(
        addrs.contains("fd00:77::1/64"),
        "IPv6 address lost: {addrs}"
    );
    // Killing the holder destroys the namespace; the guard deletes the pairs.
}

#[test]
fn net_devices_are_validated() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let e = |linux: Value| {
        super::validate(&spec(json!({}), linux))
            .unwrap_err()
            .to_string()
    };
    let ns = json!([{"type": "network"}]);
    assert!(
        e(json!({"namespaces": ns, "netDevices": {"oxt-missing0": {}}}))
            .contains("oxt-missing0: no such network interface")
    );
    assert!(
        e(json!({"namespaces": [{"type": "mount"}], "netDevices": {"lo": {}}}))
            .contains("needs a network namespace")
    );
    assert!(
        e(json!({"namespaces": ns, "netDevices": {"lo": {"name": "a/b"}}}))
            .starts_with("linux.netDevices.lo.name")
    );
    assert!(
        e(json!({"namespaces": ns, "netDevices": {"lo": {"name": "0123456789abcdefg"}}}))
            .contains("longer than 15")
    );
    // A "network namespace" that is our own is refused at move time, and nothing moves.
    let own = spec(
        json!({}),
        json!({"namespaces": [{"type": "network", "path": "/proc/self/ns/net"}], "netDevices": {"lo": {}}}),
    );
    let err = super::move_net_devices(&own, 1).unwrap_err().to_string();
    assert!(err.contains("runtime's own"), "{err}");
}
