//! User namespaces: validating `linux.uidMappings`/`gidMappings`, writing them for the init
//! (the parent does it, between clone and `Go`), and becoming the mapped root inside.
//!
//! As real root the maps are written directly. Unprivileged, a single mapping of our own id
//! is written directly (after `setgroups` is denied, as the kernel requires); anything else
//! goes through newuidmap/newgidmap (shadow's setuid helpers, which check /etc/subuid).

use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

/// The kernel accepts at most this many lines in a map.
const MAX_MAP_LINES: usize = 340;

fn mappings(spec: &Spec) -> (&[LinuxIdMapping], &[LinuxIdMapping]) {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or(&[]);
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or(&[]);
    (uid, gid)
}

/// Whether the config asks for a new user namespace (not joined by path).
pub fn new_userns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
        })
}

fn check_ranges(field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.len() > MAX_MAP_LINES {
        bail!("{field}: more than {MAX_MAP_LINES} mappings");
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            bail!("{field}[{i}]: size must not be 0");
        }
        for (what, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if start as u64 + m.size() as u64 > u32::MAX as u64 {
                bail!("{field}[{i}]: {what} + size overflows");
            }
        }
    }
    for (i, a) in maps.iter().enumerate() {
        for (j, b) in maps.iter().enumerate().skip(i + 1) {
            let overlap = |s1: u32, s2: u32| {
                (s1 as u64) < s2 as u64 + b.size() as u64
                    && (s2 as u64) < s1 as u64 + a.size() as u64
            };
            if overlap(a.container_id(), b.container_id()) || overlap(a.host_id(), b.host_id()) {
                bail!("{field}[{i}] and [{j}] overlap");
            }
        }
    }
    Ok(())
}

fn is_mapped(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter()
        .any(|m| id >= m.container_id() && (id as u64) < m.container_id() as u64 + m.size() as u64)
}

/// Reject bad mappings before anything is created.
pub fn validate(spec: &Spec) -> Result<()> {
    let (uid, gid) = mappings(spec);
    let has_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !has_userns {
        if !uid.is_empty() || !gid.is_empty() {
            bail!("linux.uidMappings: mappings need a user namespace in linux.namespaces");
        }
        return Ok(());
    }
    if !new_userns(spec) {
        // Joined by path: that namespace's maps are already written.
        return Ok(());
    }
    let joined_other = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.path().is_some()));
    if joined_other {
        bail!("linux.namespaces: joining namespaces by path together with a new user namespace is not supported yet");
    }
    if uid.is_empty() || gid.is_empty() {
        bail!("linux.uidMappings/gidMappings: a new user namespace needs both mappings");
    }
    check_ranges("linux.uidMappings", uid)?;
    check_ranges("linux.gidMappings", gid)?;
    if let Some(p) = spec.process() {
        let user = p.user();
        if !is_mapped(uid, user.uid()) {
            bail!(
                "process.user.uid: {} is not mapped in linux.uidMappings",
                user.uid()
            );
        }
        if !is_mapped(gid, user.gid()) {
            bail!(
                "process.user.gid: {} is not mapped in linux.gidMappings",
                user.gid()
            );
        }
        for g in user.additional_gids().iter().flatten() {
            if !is_mapped(gid, *g) {
                bail!("process.user.additionalGids: {g} is not mapped in linux.gidMappings");
            }
        }
    }
    Ok(())
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write the init's uid/gid maps (parent side, before `Go`).
pub fn write_maps(pid: i32, spec: &Spec) -> Result<()> {
    let (uid, gid) = mappings(spec);
    let proc = format!("/proc/{pid}");
    let euid = Uid::effective();
    let egid = Gid::effective();
    if euid.is_root() {
        write_file(&proc, "uid_map", &map_text(uid))?;
        return write_file(&proc, "gid_map", &map_text(gid));
    }
    let self_only = |maps: &[LinuxIdMapping], id: u32| {
        maps.len() == 1 && maps[0].host_id() == id && maps[0].size() == 1
    };
    if self_only(uid, euid.as_raw()) {
        write_file(&proc, "uid_map", &map_text(uid))?;
    } else {
        helper("newuidmap", pid, uid)?;
    }
    if self_only(gid, egid.as_raw()) {
        // The kernel requires setgroups to be denied before an unprivileged gid_map write.
        write_file(&proc, "setgroups", "deny")?;
        write_file(&proc, "gid_map", &map_text(gid))?;
    } else {
        helper("newgidmap", pid, gid)?;
    }
    Ok(())
}

fn write_file(proc: &str, name: &str, data: &str) -> Result<()> {
    std::fs::write(Path::new(proc).join(name), data)
        .map_err(|e| anyhow!("write {name} of the container init: {e}"))
}

fn helper(prog: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = Command::new(prog);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd
        .output()
        .map_err(|e| anyhow!("{prog}: {e} (install the uidmap package)"))?;
    if !out.status.success() {
        bail!("{prog}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Whether id 0 is mapped in our current user namespace (from /proc/self/{uid,gid}_map).
fn zero_mapped(file: &str) -> bool {
    crate::sys::read_small(format!("/proc/self/{file}"))
        .map(|s| {
            s.lines().any(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                f.len() == 3 && f[0] == 0 && f[2] > 0
            })
        })
        .unwrap_or(false)
}

/// In the init, once it is in its user namespace (created, with maps written, or joined by
/// path): become the namespace's root if it is mapped - files it creates must have an owner
/// the namespace can represent - dropping the host's supplementary groups where allowed.
pub fn become_root() -> Result<()> {
    if zero_mapped("gid_map") {
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context("setresgid(0) in the user namespace")?;
    }
    if setgroups_allowed() {
        nix::unistd::setgroups(&[]).context("setgroups in the user namespace")?;
    }
    if zero_mapped("uid_map") {
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context("setresuid(0) in the user namespace")?;
    }
    Ok(())
}

/// Whether setgroups(2) is permitted in our user namespace ("deny" written by a rootless parent).
pub fn setgroups_allowed() -> bool {
    crate::sys::read_small("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        crate::bundle::parse_config(json.as_bytes()).unwrap()
    }

    fn with_maps(uid: &str, gid: &str, user: &str) -> Spec {
        spec(&format!(
            r#"{{"ociVersion":"1.0.0","process":{{"cwd":"/","user":{user}}},
                "linux":{{"namespaces":[{{"type":"user"}}],"uidMappings":{uid},"gidMappings":{gid}}}}}"#
        ))
    }

    const ONE: &str = r#"[{"containerID":0,"hostID":100000,"size":65536}]"#;

    #[test]
    fn good_mappings_pass() {
        validate(&with_maps(ONE, ONE, r#"{"uid":0,"gid":0}"#)).unwrap();
    }

    #[test]
    fn bad_mappings_are_named() {
        let zero = r#"[{"containerID":0,"hostID":1000,"size":0}]"#;
        let e = validate(&with_maps(zero, ONE, r#"{"uid":0,"gid":0}"#)).unwrap_err();
        assert!(e.to_string().contains("size must not be 0"), "{e}");
        let overlap = r#"[{"containerID":0,"hostID":1000,"size":10},{"containerID":5,"hostID":5000,"size":10}]"#;
        let e = validate(&with_maps(overlap, ONE, r#"{"uid":0,"gid":0}"#)).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let e = validate(&with_maps(ONE, ONE, r#"{"uid":70000,"gid":0}"#)).unwrap_err();
        assert!(
            e.to_string()
                .contains("process.user.uid: 70000 is not mapped"),
            "{e}"
        );
        let e = validate(&with_maps("[]", ONE, r#"{"uid":0,"gid":0}"#)).unwrap_err();
        assert!(e.to_string().contains("needs both"), "{e}");
        let many: Vec<String> = (0..341)
            .map(|i| format!(r#"{{"containerID":{i},"hostID":{},"size":1}}"#, 1000 + i))
            .collect();
        let e = validate(&with_maps(
            &format!("[{}]", many.join(",")),
            ONE,
            r#"{"uid":0,"gid":0}"#,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("more than 340"), "{e}");
    }

    #[test]
    fn mappings_without_userns_are_rejected() {
        let s = spec(&format!(
            r#"{{"ociVersion":"1.0.0","linux":{{"uidMappings":{ONE},"gidMappings":{ONE}}}}}"#
        ));
        assert!(validate(&s).is_err());
    }
}
