//! `linux.cgroupsPath` rules: from the spec's string (or its absence) and the host [`Layout`]
//! to one absolute directory per hierarchy. Pure: reads nothing, creates nothing.
//!
//! * absolute `/a/b`: the cgroup `/a/b` of each hierarchy, seen through its mount (a mount whose
//!   root is `/x` shows `/x/a/b` at `<mount>/a/b`; a path outside the mount's root is taken under
//!   the mount point, as runc does);
//! * relative `a/b`: below this process's own cgroup on each hierarchy (`/proc/self/cgroup`);
//! * absent or empty: `/oxirun/<id>` (absolute). runc uses a relative `<id>`, which would nest
//!   containers inside whatever cgroup the caller happens to run in.
//!
//! Rejected: `..` components, systemd `slice:prefix:name` paths (those are for the systemd
//! driver, `systemd::slice`), and paths naming the hierarchy
//! root or the caller's own cgroup (a container needs a cgroup of its own: kill-all and remove
//! work on the whole directory).

use std::path::{Component, Path, PathBuf};

use super::mountinfo::Layout;

/// The directories of a container's cgroup, `(hierarchy name, absolute dir)` per hierarchy.
pub fn resolve(
    layout: &Layout,
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<Vec<(String, PathBuf)>, String> {
    let spec = cgroups_path.filter(|p| !p.is_empty());
    let (absolute, comps) = match spec {
        None => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(format!("container id {id:?}: not usable as a cgroup name"));
            }
            (true, vec!["oxirun".to_string(), id.to_string()])
        }
        Some(p) => {
            if !p.starts_with('/') && p.matches(':').count() == 2 {
                return Err(format!(
                    "linux.cgroupsPath {p:?}: systemd cgroup paths need --systemd-cgroup"
                ));
            }
            (p.starts_with('/'), components(p)?)
        }
    };
    if comps.is_empty() {
        return Err(format!(
            "linux.cgroupsPath {:?}: names the hierarchy root or the runtime's own cgroup; \
             a container needs a cgroup of its own",
            spec.unwrap_or_default()
        ));
    }
    let mut dirs = Vec::with_capacity(layout.hierarchies.len());
    for h in &layout.hierarchies {
        let label = if h.name.is_empty() {
            "unified"
        } else {
            &h.name
        };
        let root = Path::new(&h.root);
        let mut dir = h.mount_point.clone();
        if absolute {
            let full: PathBuf = std::iter::once("/".to_string())
                .chain(comps.iter().cloned())
                .collect();
            match full.strip_prefix(root) {
                Ok(rest) if rest.as_os_str().is_empty() => {
                    return Err(format!(
                        "linux.cgroupsPath: {} is the root of the {label} mount at {}; \
                         a container needs a cgroup of its own",
                        full.display(),
                        h.mount_point.display()
                    ))
                }
                Ok(rest) => dir.push(rest),
                Err(_) => dir.extend(&comps),
            }
        } else {
            let own = Path::new(&h.own);
            let rest = own
                .strip_prefix(root)
                .ok()
                .filter(|r| r.components().all(|c| matches!(c, Component::Normal(_))));
            let Some(rest) = rest else {
                return Err(format!(
                    "cgroup {label}: this process's cgroup {} is not visible under the mount at {} \
                     (mount root {})",
                    h.own,
                    h.mount_point.display(),
                    h.root
                ));
            };
            dir.push(rest);
            dir.extend(&comps);
        }
        dirs.push((h.name.clone(), dir));
    }
    Ok(dirs)
}

/// The normal components of a cgroupsPath (`.` and empty ones dropped); `..` is an error.
fn components(p: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("linux.cgroupsPath: must not contain \"..\"".to_string()),
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::mountinfo::{Hierarchy, Layout};
    use super::*;

    fn hybrid() -> Layout {
        let h = |name: &str, mp: &str, root: &str, own: &str| Hierarchy {
            name: name.into(),
            mount_point: mp.into(),
            root: root.into(),
            own: own.into(),
        };
        Layout {
            hierarchies: vec![
                h("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/", "/"),
                h("memory", "/sys/fs/cgroup/memory", "/", "/process_api/abc"),
                h("name=systemd", "/sys/fs/cgroup/systemd", "/", "/user.slice"),
                h("", "/sys/fs/cgroup/unified", "/", "/"),
            ],
        }
    }

    fn v2() -> Layout {
        Layout {
            hierarchies: vec![Hierarchy {
                name: String::new(),
                mount_point: "/sys/fs/cgroup".into(),
                root: "/".into(),
                own: "/system.slice/foo.service".into(),
            }],
        }
    }

    fn dirs(l: &Layout, p: Option<&str>, id: &str) -> Vec<String> {
        resolve(l, p, id)
            .unwrap()
            .into_iter()
            .map(|(n, d)| format!("{n}={}", d.display()))
            .collect()
    }

    #[test]
    fn default_is_oxirun_id_on_every_hierarchy() {
        assert_eq!(
            dirs(&hybrid(), None, "c1"),
            [
                "cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/oxirun/c1",
                "memory=/sys/fs/cgroup/memory/oxirun/c1",
                "name=systemd=/sys/fs/cgroup/systemd/oxirun/c1",
                "=/sys/fs/cgroup/unified/oxirun/c1",
            ]
        );
        assert_eq!(dirs(&v2(), Some(""), "c1"), ["=/sys/fs/cgroup/oxirun/c1"]);
        assert!(resolve(&v2(), None, "a/b").is_err());
        assert!(resolve(&v2(), None, "..").is_err());
    }

    #[test]
    fn absolute_paths() {
        // containerd style.
        assert_eq!(
            dirs(&hybrid(), Some("/default/abc"), "abc"),
            [
                "cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/default/abc",
                "memory=/sys/fs/cgroup/memory/default/abc",
                "name=systemd=/sys/fs/cgroup/systemd/default/abc",
                "=/sys/fs/cgroup/unified/default/abc",
            ]
        );
        assert_eq!(dirs(&v2(), Some("//a/./b/"), "x"), ["=/sys/fs/cgroup/a/b"]);
    }

    #[test]
    fn absolute_paths_through_a_mount_with_a_root() {
        let mut l = v2();
        l.hierarchies[0].root = "/docker/ctr".into();
        // Inside the mount's root: the root prefix is what the mount point shows.
        assert_eq!(
            dirs(&l, Some("/docker/ctr/sub"), "x"),
            ["=/sys/fs/cgroup/sub"]
        );
        // Outside it: under the mount point, like runc.
        assert_eq!(dirs(&l, Some("/k8s/pod"), "x"), ["=/sys/fs/cgroup/k8s/pod"]);
        let e = resolve(&l, Some("/docker/ctr"), "x").unwrap_err();
        assert!(e.contains("is the root of the unified mount"), "{e}");
    }

    #[test]
    fn relative_paths_follow_own_cgroup() {
        // podman style.
        assert_eq!(
            dirs(&hybrid(), Some("libpod_parent/libpod-abc"), "abc"),
            [
                "cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/libpod_parent/libpod-abc",
                "memory=/sys/fs/cgroup/memory/process_api/abc/libpod_parent/libpod-abc",
                "name=systemd=/sys/fs/cgroup/systemd/user.slice/libpod_parent/libpod-abc",
                "=/sys/fs/cgroup/unified/libpod_parent/libpod-abc",
            ]
        );
        assert_eq!(
            dirs(&v2(), Some("x"), "x"),
            ["=/sys/fs/cgroup/system.slice/foo.service/x"]
        );
        // The mount root is stripped from the own cgroup.
        let mut l = v2();
        l.hierarchies[0].root = "/system.slice".into();
        assert_eq!(dirs(&l, Some("x"), "x"), ["=/sys/fs/cgroup/foo.service/x"]);
        // Own cgroup outside the mount (cgroup namespace shows "/.." paths): error.
        l.hierarchies[0].own = "/../other".into();
        let e = resolve(&l, Some("x"), "x").unwrap_err();
        assert!(e.contains("not visible under the mount"), "{e}");
    }

    #[test]
    fn rejects_dotdot_systemd_and_roots() {
        for p in ["../x", "/a/../b", "a/..", ".."] {
            assert_eq!(
                resolve(&hybrid(), Some(p), "x").unwrap_err(),
                "linux.cgroupsPath: must not contain \"..\"",
                "{p}"
            );
        }
        let e = resolve(&hybrid(), Some("system.slice:docker:abc"), "abc").unwrap_err();
        assert!(
            e.contains("systemd cgroup paths need --systemd-cgroup"),
            "{e}"
        );
        for p in ["/", ".", "//", "./"] {
            let e = resolve(&hybrid(), Some(p), "x").unwrap_err();
            assert!(
                e.contains("a container needs a cgroup of its own"),
                "{p}: {e}"
            );
        }
    }
}
