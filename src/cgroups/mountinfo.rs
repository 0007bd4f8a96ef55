//! Reading the host's cgroup layout: which hierarchies are mounted where
//! (`/proc/self/mountinfo`) and which cgroup this process is in on each (`/proc/self/cgroup`).
//!
//! Owns the text parsing only; `path` turns the result into container directories.

use std::path::PathBuf;

/// One mounted cgroup hierarchy, named as `/proc/self/cgroup` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// "memory", "cpu,cpuacct", "name=systemd", ... ; "" for the unified (v2) hierarchy.
    pub name: String,
    /// Where it is mounted (mountinfo field 5).
    pub mount_point: PathBuf,
    /// Which cgroup of the hierarchy the mount shows at its mount point (mountinfo field 4).
    pub root: String,
    /// This process's cgroup on the hierarchy (from `/proc/self/cgroup`).
    pub own: String,
}

/// The host's cgroup mode, from what is mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// Only cgroup2 (every modern distribution).
    Unified,
}

/// The mounted hierarchies: v1 ones in mountinfo order, the unified one (if any) last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Read the layout of the running host.
    pub fn current() -> Result<Layout, String> {
        let mountinfo = crate::sys::read_small("/proc/self/mountinfo")
            .map_err(|e| format!("reading /proc/self/mountinfo: {}", super::files::errstr(&e)))?;
        let own = crate::sys::read_small("/proc/self/cgroup")
            .map_err(|e| format!("reading /proc/self/cgroup: {}", super::files::errstr(&e)))?;
        Layout::parse(&mountinfo, &own)
    }

    /// Build the layout from the text of `/proc/self/mountinfo` and `/proc/self/cgroup`.
    ///
    /// A v1 mount belongs to the `/proc/self/cgroup` hierarchy whose every component
    /// (controller or `name=`) is among the mount's super options: a controller is bound to
    /// exactly one hierarchy, so this match is unique. A hierarchy mounted twice keeps its
    /// first mount.
    pub fn parse(mountinfo: &str, self_cgroup: &str) -> Result<Layout, String> {
        let own = parse_self_cgroup(self_cgroup);
        let mut v1 = Vec::new();
        let mut unified: Option<Hierarchy> = None;
        for m in mountinfo.lines().filter_map(parse_mount_line) {
            match m.fstype.as_str() {
                "cgroup2" if unified.is_none() => {
                    let own_path = own
                        .iter()
                        .find(|(id, names, _)| *id == 0 && names.is_empty())
                        .map(|(_, _, p)| p.clone())
                        .unwrap_or_else(|| "/".to_string());
                    unified = Some(Hierarchy {
                        name: String::new(),
                        mount_point: PathBuf::from(&m.mount_point),
                        root: m.root,
                        own: own_path,
                    });
                }
                "cgroup" => {
                    let opts: Vec<&str> = m.super_options.split(',').collect();
                    let found = own.iter().find(|(_, names, _)| {
                        !names.is_empty() && names.split(',').all(|c| opts.contains(&c))
                    });
                    let Some((_, name, own_path)) = found else {
                        continue;
                    };
                    if v1.iter().any(|h: &Hierarchy| &h.name == name) {
                        continue;
                    }
                    v1.push(Hierarchy {
                        name: name.clone(),
                        mount_point: PathBuf::from(&m.mount_point),
                        root: m.root,
                        own: own_path.clone(),
                    });
                }
                _ => {}
            }
        }
        v1.extend(unified);
        if v1.is_empty() {
            return Err("no cgroup hierarchy is mounted (see /proc/self/mountinfo)".to_string());
        }
        Ok(Layout { hierarchies: v1 })
    }

    /// Which mode the host runs in.
    pub fn mode(&self) -> Mode {
        let has_v2 = self.hierarchies.iter().any(|h| h.name.is_empty());
        let has_v1 = self.hierarchies.iter().any(|h| !h.name.is_empty());
        match (has_v1, has_v2) {
            (true, true) => Mode::Hybrid,
            (false, true) => Mode::Unified,
            _ => Mode::Legacy,
        }
    }
}

/// The fields of one mountinfo line that matter here.
#[derive(Debug, PartialEq, Eq)]
pub struct MountLine {
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    pub super_options: String,
}

/// Parse one line of `/proc/<pid>/mountinfo`:
/// `id parent maj:min root mount_point options [optional...] - fstype source super_options`.
pub fn parse_mount_line(line: &str) -> Option<MountLine> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() < 10 {
        return None;
    }
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    if fields.len() < sep + 4 {
        return None;
    }
    Some(MountLine {
        root: unescape(fields[3]),
        mount_point: unescape(fields[4]),
        fstype: fields[sep + 1].to_string(),
        super_options: fields[sep + 3].to_string(),
    })
}

/// Undo the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if v <= 255 {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse `/proc/self/cgroup`: `(hierarchy id, names, path)` per line.
pub fn parse_self_cgroup(text: &str) -> Vec<(u32, String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse().ok()?;
            let names = it.next()?.to_string();
            let path = it.next()?.to_string();
            Some((id, names, path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const HYBRID_MOUNTINFO: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:7 - cgroup2 cgroup2 rw,nsdelegate
90 35 0:32 /docker /mnt/mem\\040copy rw,relatime - cgroup cgroup rw,memory
";

    pub const HYBRID_SELF: &str = "\
9:name=systemd:/user.slice/session-1.scope
8:pids:/
6:freezer:/
4:memory:/process_api/abc
3:cpuset:/
2:cpu,cpuacct:/
1:net_cls,net_prio:/
0::/user.slice/session-1.scope
";

    pub const V2_MOUNTINFO: &str = "\
25 1 0:23 / / rw - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn parses_one_line_with_optional_fields() {
        let m = parse_mount_line(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 master:2 - cgroup cgroup rw,cpu,cpuacct",
        )
        .unwrap();
        assert_eq!(m.root, "/");
        assert_eq!(m.mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m.fstype, "cgroup");
        assert_eq!(m.super_options, "rw,cpu,cpuacct");
        assert_eq!(parse_mount_line("garbage line"), None);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/x\\134y"), "/x\\y");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
    }

    #[test]
    fn hybrid_layout() {
        let l = Layout::parse(HYBRID_MOUNTINFO, HYBRID_SELF).unwrap();
        assert_eq!(l.mode(), Mode::Hybrid);
        let names: Vec<&str> = l.hierarchies.iter().map(|h| h.name.as_str()).collect();
        // net_cls,net_prio is not mounted: skipped; memory's second mount: ignored.
        assert_eq!(
            names,
            [
                "cpu,cpuacct",
                "cpuset",
                "memory",
                "freezer",
                "pids",
                "name=systemd",
                ""
            ]
        );
        let mem = &l.hierarchies[2];
        assert_eq!(mem.mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(mem.own, "/process_api/abc");
        let v2 = l.hierarchies.last().unwrap();
        assert_eq!(v2.mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(v2.own, "/user.slice/session-1.scope");
        assert_eq!(l.hierarchies[5].own, "/user.slice/session-1.scope");
    }

    #[test]
    fn pure_v2_layout() {
        let l = Layout::parse(V2_MOUNTINFO, "0::/init.scope\n").unwrap();
        assert_eq!(l.mode(), Mode::Unified);
        assert_eq!(
            l.hierarchies,
            [Hierarchy {
                name: String::new(),
                mount_point: PathBuf::from("/sys/fs/cgroup"),
                root: "/".into(),
                own: "/init.scope".into(),
            }]
        );
    }

    #[test]
    fn legacy_and_empty_layouts() {
        let mi: String = HYBRID_MOUNTINFO
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            Layout::parse(&mi, HYBRID_SELF).unwrap().mode(),
            Mode::Legacy
        );
        let err = Layout::parse("22 1 0:21 / /proc rw - proc proc rw\n", "0::/\n").unwrap_err();
        assert!(err.contains("no cgroup hierarchy"), "{err}");
    }

    #[test]
    fn real_host_parses() {
        let l = Layout::current().unwrap();
        assert!(!l.hierarchies.is_empty());
        for h in &l.hierarchies {
            assert!(h.mount_point.is_dir(), "{h:?}");
            assert!(h.own.starts_with('/'), "{h:?}");
        }
    }
}
