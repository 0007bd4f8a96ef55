//! systemd `linux.cgroupsPath` rules (`slice:prefix:name`, runc's): which unit a container
//! gets, in which slice, and where its cgroup is below the cgroup2 mount. Pure.

use std::path::PathBuf;

/// Where a container lives under systemd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitPath {
    /// The unit: `<prefix>-<name>.scope` (or `<name>` itself when it ends in `.slice`).
    pub unit: String,
    /// The slice the unit goes into (the default slice when the path's slice is empty).
    pub slice: String,
    /// The unit's cgroup relative to the cgroup2 root, e.g. `system.slice/oxirun-c1.scope`
    /// (for a user's manager, below the manager's own cgroup: see `Systemd::control_group`).
    pub cgroup: PathBuf,
}

impl UnitPath {
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }
}

/// `a-b-c.slice` -> `a.slice/a-b.slice/a-b-c.slice`; `-.slice` -> the root (empty).
pub fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let bad = || format!("invalid slice name {slice:?}");
    let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if slice.contains('/') {
        return Err(bad());
    }
    if stem == "-" {
        return Ok(PathBuf::new());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return Err(bad());
    }
    let mut out = PathBuf::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
    }
    Ok(out)
}

/// Parse `cgroupsPath` (None or empty: `<default slice>:oxirun:<id>`). The default slice is
/// `system.slice`, or `user.slice` for `rootless` (runc's, in the user's manager).
pub fn parse(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<UnitPath, String> {
    let default_slice = if rootless {
        "user.slice"
    } else {
        "system.slice"
    };
    let default = format!("{default_slice}:oxirun:{id}");
    let p = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let bad =
        |why: &str| format!("linux.cgroupsPath {p:?}: {why} (systemd paths are slice:prefix:name)");
    let parts: Vec<&str> = p.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad("expected three fields separated by ':'"));
    };
    if name.is_empty() {
        return Err(bad("empty unit name"));
    }
    for (what, v) in [("slice", slice), ("prefix", prefix), ("name", name)] {
        if v.contains('/') || v == "." || v == ".." {
            return Err(bad(&format!(
                "{what} {v:?} must not contain '/' or be a dot path"
            )));
        }
        if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(&format!(
                "{what} {v:?} contains whitespace or control characters"
            )));
        }
    }
    let slice = if slice.is_empty() {
        default_slice
    } else {
        slice
    };
    let slice_dir = expand_slice(slice).map_err(|e| bad(&e))?;
    if name.ends_with(".slice") {
        // A slice unit: systemd places it by its own name.
        let cgroup = expand_slice(name).map_err(|e| bad(&e))?;
        if cgroup.as_os_str().is_empty() {
            return Err(bad("the root slice cannot be a container's unit"));
        }
        return Ok(UnitPath {
            unit: name.to_string(),
            slice: slice.to_string(),
            cgroup,
        });
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(UnitPath {
        cgroup: slice_dir.join(&unit),
        unit,
        slice: slice.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_to_nested_directories() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("system.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::new());
        for bad in [
            "a",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            ".slice",
            "a/b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runc_rules() {
        let u = parse(None, "c1", false).unwrap();
        assert_eq!(u.unit, "oxirun-c1.scope");
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.cgroup, PathBuf::from("system.slice/oxirun-c1.scope"));
        let u = parse(Some(":docker:abc"), "x", false).unwrap();
        assert_eq!(u.cgroup, PathBuf::from("system.slice/docker-abc.scope"));
        // Rootless: runc's user.slice, for no path and for an empty slice.
        let u = parse(None, "c1", true).unwrap();
        assert_eq!(u.cgroup, PathBuf::from("user.slice/oxirun-c1.scope"));
        let u = parse(Some(":docker:abc"), "x", true).unwrap();
        assert_eq!(u.slice, "user.slice");
        let u = parse(
            Some("kubepods-besteffort.slice:cri-containerd:abc"),
            "x",
            false,
        )
        .unwrap();
        assert_eq!(
            u.cgroup,
            PathBuf::from("kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope")
        );
        let u = parse(Some("user.slice::abc"), "x", false).unwrap();
        assert_eq!(u.unit, "abc.scope");
        let u = parse(Some("system.slice:x:machine-pod1.slice"), "x", false).unwrap();
        assert!(u.is_slice());
        assert_eq!(u.cgroup, PathBuf::from("machine.slice/machine-pod1.slice"));
    }

    #[test]
    fn bad_paths_name_themselves() {
        for p in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "bad:p:n",
            "a--b.slice:p:n",
            "system.slice:p:",
            "s.slice:p:a/b",
            "s.slice:p:..",
        ] {
            let e = parse(Some(p), "x", false).unwrap_err();
            assert!(e.contains(&format!("{p:?}")), "{p}: {e}");
        }
    }
}
