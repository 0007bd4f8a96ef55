//! `linux.netDevices`: move host network interfaces into the container's network namespace,
//! renaming them on the way (one RTM_NEWLINK carrying IFLA_NET_NS_FD and IFLA_IFNAME), then
//! restore their permanent global addresses and set them up, as the runtime-spec asks.
//!
//! The kernel applies IFLA_IFNAME after the move, so a name already taken inside is checked
//! for before moving (runtime-spec: "MUST generate an error").
//!
//! Runs in the parent right after clone. The target is the namespace the container will
//! use: `/proc/<init>/ns/net` for a new one (created by the clone itself), or the configured
//! path for a joined one - never the runtime's own namespace. Devices are not moved back on
//! failure or deletion: when the namespace dies, the kernel returns physical devices to the
//! host and destroys virtual ones (runtime-spec, "Namespace Lifecycle").

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, LinuxNetDevice, Spec};

use super::netlink::{self as nl, Msg, Socket};

/// IFNAMSIZ, including the terminating NUL.
const IFNAMSIZ: usize = 16;

/// The kernel's `dev_valid_name`, plus "at most one %d" for templates.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() >= IFNAMSIZ {
        return Err(format!("{name:?} is longer than {} bytes", IFNAMSIZ - 1));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not a valid name"));
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        return Err(format!("{name:?} contains '/', ':', NUL or whitespace"));
    }
    if name.matches('%').count() > 1 || (name.contains('%') && !name.contains("%d")) {
        return Err(format!("{name:?}: only one \"%d\" template is allowed"));
    }
    Ok(())
}

/// The name a device gets in the container: `name`, or the host name when unset or empty.
pub fn target_name<'a>(host: &'a str, dev: &'a LinuxNetDevice) -> &'a str {
    dev.name()
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(host)
}

/// Names valid and distinct, a network namespace configured, every device present here.
pub fn validate(spec: &Spec, devices: &HashMap<String, LinuxNetDevice>) -> Result<()> {
    let has_netns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|list| list.iter().any(|n| n.typ() == LinuxNamespaceType::Network));
    if !has_netns {
        bail!("linux.netDevices: needs a network namespace in linux.namespaces");
    }
    let mut seen = HashSet::new();
    for (host, dev) in sorted(devices) {
        check_name(host).map_err(|e| anyhow!("linux.netDevices: {e}"))?;
        let new = target_name(host, dev);
        check_name(new).map_err(|e| anyhow!("linux.netDevices.{host}.name: {e}"))?;
        if !new.contains("%d") && !seen.insert(new) {
            bail!("linux.netDevices.{host}.name: {new:?} is used by two devices");
        }
    }
    let mut sock = Socket::open().context("linux.netDevices: netlink socket")?;
    for (host, _) in sorted(devices) {
        match link_index(&mut sock, host) {
            Ok(Some(_)) => {}
            Ok(None) => bail!("linux.netDevices: {host}: no such network interface on the host"),
            Err(e) => bail!("linux.netDevices: {host}: {e}"),
        }
    }
    Ok(())
}

fn sorted(devices: &HashMap<String, LinuxNetDevice>) -> Vec<(&str, &LinuxNetDevice)> {
    let mut v: Vec<_> = devices.iter().map(|(k, d)| (k.as_str(), d)).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

/// The ifindex of `name` in the socket's namespace, `None` if there is no such link.
pub fn link_index(sock: &mut Socket, name: &str) -> std::io::Result<Option<i32>> {
    let mut m = Msg::new(nl::RTM_GETLINK, 0, &nl::ifinfomsg(0, 0, 0));
    m.attr_str(nl::IFLA_IFNAME, name)
        .map_err(std::io::Error::other)?;
    match sock.request(&mut m, false) {
        Ok(replies) => Ok(replies
            .iter()
            .find(|r| r.typ == nl::RTM_NEWLINK)
            .and_then(|r| r.payload.get(4..8))
            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The name of link `index`, `None` if there is no such link.
pub fn link_name(sock: &mut Socket, index: i32) -> std::io::Result<Option<String>> {
    let mut m = Msg::new(nl::RTM_GETLINK, 0, &nl::ifinfomsg(index, 0, 0));
    match sock.request(&mut m, false) {
        Ok(replies) => Ok(replies
            .iter()
            .find(|r| r.typ == nl::RTM_NEWLINK)
            .and_then(|r| {
                r.attrs(16)
                    .into_iter()
                    .find(|(t, _)| *t == nl::IFLA_IFNAME)
                    .map(|(_, v)| {
                        String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v))
                            .into_owned()
                    })
            })),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A permanent, global address to carry over.
struct Addr {
    family: u8,
    prefixlen: u8,
    attrs: Vec<(u16, Vec<u8>)>,
}

/// The permanent addresses of global scope on link `index` (RFC 3549 2.3.3.2).
fn permanent_addrs(sock: &mut Socket, index: i32) -> std::io::Result<Vec<Addr>> {
    let mut m = Msg::new(
        nl::RTM_GETADDR,
        0,
        &nl::ifaddrmsg(libc::AF_UNSPEC as u8, 0, 0, 0, 0),
    );
    let mut out = Vec::new();
    for r in sock.request(&mut m, true)? {
        let p = &r.payload;
        if r.typ != nl::RTM_NEWADDR || p.len() < 8 {
            continue;
        }
        if i32::from_ne_bytes(p[4..8].try_into().unwrap()) != index || p[3] != nl::RT_SCOPE_UNIVERSE
        {
            continue;
        }
        let attrs = r.attrs(8);
        let flags = attrs
            .iter()
            .find(|(t, v)| *t == nl::IFA_FLAGS && v.len() == 4)
            .map(|(_, v)| u32::from_ne_bytes((*v).try_into().unwrap()))
            .unwrap_or(p[2] as u32);
        if flags & nl::IFA_F_PERMANENT == 0 {
            continue;
        }
        out.push(Addr {
            family: p[0],
            prefixlen: p[1],
            attrs: attrs
                .into_iter()
                .filter(|(t, _)| matches!(*t, nl::IFA_ADDRESS | nl::IFA_LOCAL | nl::IFA_BROADCAST))
                .map(|(t, v)| (t, v.to_vec()))
                .collect(),
        });
    }
    Ok(out)
}

/// Open a NETLINK_ROUTE socket inside `netns`: enter it, create the socket, come back. The
/// runtime is single-threaded and setns(CLONE_NEWNET) affects only the calling thread.
fn socket_in(netns: &File) -> Result<Socket> {
    let own = File::open("/proc/thread-self/ns/net").context("open our network namespace")?;
    setns(netns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| anyhow!("enter the container's network namespace: {e}"))?;
    let sock = Socket::open();
    setns(&own, CloneFlags::CLONE_NEWNET)
        .map_err(|e| anyhow!("return to the runtime's network namespace: {e}"))?;
    sock.context("netlink socket in the container's network namespace")
}

/// Open the namespace the container's network will live in, refusing our own.
fn target_netns(spec: &Spec, init_pid: i32) -> Result<File> {
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|list| list.iter().find(|n| n.typ() == LinuxNamespaceType::Network))
        .map(|n| match n.path() {
            Some(p) => p.clone(),
            None => format!("/proc/{init_pid}/ns/net").into(),
        })
        .ok_or_else(|| {
            anyhow!("linux.netDevices: needs a network namespace in linux.namespaces")
        })?;
    let file =
        File::open(&path).with_context(|| format!("linux.netDevices: open {}", path.display()))?;
    let own =
        std::fs::metadata("/proc/thread-self/ns/net").context("stat our network namespace")?;
    let target = file
        .metadata()
        .context("stat the container's network namespace")?;
    if (own.dev(), own.ino()) == (target.dev(), target.ino()) {
        bail!("linux.netDevices: the container's network namespace is the runtime's own");
    }
    Ok(file)
}

/// Move, rename, readdress and bring up every device (see the module doc).
pub fn move_all(
    spec: &Spec,
    devices: &HashMap<String, LinuxNetDevice>,
    init_pid: i32,
) -> Result<()> {
    let netns = target_netns(spec, init_pid)?;
    let mut host = Socket::open().context("linux.netDevices: netlink socket")?;
    let mut inside = socket_in(&netns).map_err(|e| anyhow!("linux.netDevices: {e:#}"))?;
    for (name, dev) in sorted(devices) {
        let new = target_name(name, dev);
        move_one(&mut host, &mut inside, &netns, name, new)
            .map_err(|e| anyhow!("linux.netDevices: {name}: {e:#}"))?;
    }
    Ok(())
}

fn move_one(
    host: &mut Socket,
    inside: &mut Socket,
    netns: &File,
    name: &str,
    new: &str,
) -> Result<()> {
    let index =
        link_index(host, name)?.ok_or_else(|| anyhow!("no such network interface on the host"))?;
    let addrs = permanent_addrs(host, index).context("list addresses")?;
    // The kernel moves first and renames after: a taken name would fail only once the
    // device is already inside. Check before moving.
    if !new.contains("%d") && link_index(inside, new)?.is_some() {
        bail!("{new:?} already exists in the container's network namespace");
    }

    let mut m = Msg::new(nl::RTM_NEWLINK, nl::ack(0), &nl::ifinfomsg(index, 0, 0));
    m.attr(
        nl::IFLA_NET_NS_FD,
        &(netns.as_raw_fd() as u32).to_ne_bytes(),
    )
    .and_then(|m| m.attr_str(nl::IFLA_IFNAME, new))
    .map_err(|e| anyhow!(e))?;
    host.request(&mut m, false)
        .with_context(|| format!("move into the container's network namespace as {new:?}"))?;

    let new_index = if new.contains("%d") {
        // The kernel keeps the ifindex unless it is taken in the target namespace.
        let (prefix, suffix) = new.split_once("%d").unwrap_or((new, ""));
        match link_name(inside, index)? {
            Some(n) if n.starts_with(prefix) && n.ends_with(suffix) => index,
            _ => bail!("moved, but cannot find the device named from template {new:?}"),
        }
    } else {
        link_index(inside, new)?
            .ok_or_else(|| anyhow!("moved, but {new:?} is not in the container's namespace"))?
    };

    let mut m = Msg::new(
        nl::RTM_NEWLINK,
        nl::ack(0),
        &nl::ifinfomsg(new_index, nl::IFF_UP, nl::IFF_UP),
    );
    inside
        .request(&mut m, false)
        .with_context(|| format!("set {new:?} up"))?;

    for a in &addrs {
        let fixed = nl::ifaddrmsg(
            a.family,
            a.prefixlen,
            nl::IFA_F_PERMANENT as u8,
            nl::RT_SCOPE_UNIVERSE,
            new_index as u32,
        );
        let mut m = Msg::new(
            nl::RTM_NEWADDR,
            nl::ack(nl::NLM_F_CREATE | nl::NLM_F_EXCL),
            &fixed,
        );
        for (t, v) in &a.attrs {
            m.attr(*t, v).map_err(|e| anyhow!(e))?;
        }
        inside
            .request(&mut m, false)
            .context("restore an address")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["eth0", "container_eth0", "a", "net%d", "123456789012345"] {
            check_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "1234567890123456",
            "x%d%d",
            "x%s",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        let d = LinuxNetDevice::default();
        assert_eq!(target_name("eth9", &d), "eth9");
        let d: LinuxNetDevice = serde_json::from_str(r#"{"name":"c0"}"#).unwrap();
        assert_eq!(target_name("eth9", &d), "c0");
    }
}
