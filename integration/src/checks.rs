//! What tests observe: parsers for `/proc/*/mountinfo` and `/proc/*/status` text, capability
//! masks, the container's cgroup dirs, and the "nothing left behind" leak checks.

use std::fs;
use std::path::{Path, PathBuf};

/// One `/proc/<pid>/mountinfo` line.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub mount_point: String,
    /// Per-mount options (`rw,nosuid,...`).
    pub opts: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Superblock options (`rw,size=8192k,...`).
    pub super_opts: Vec<String>,
}

impl MountInfo {
    pub fn has_opt(&self, o: &str) -> bool {
        self.opts.iter().any(|x| x == o)
    }
    pub fn has_super_opt(&self, o: &str) -> bool {
        self.super_opts.iter().any(|x| x == o)
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text; lines that do not parse are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        v.push(MountInfo {
            mount_point: unescape(l[4]),
            opts: l[5].split(',').map(String::from).collect(),
            fstype: r[0].to_string(),
            source: unescape(r[1]),
            super_opts: r[2].split(',').map(String::from).collect(),
        });
    }
    v
}

/// The last (top-most) mount at `mount_point`.
pub fn find_mount<'a>(mounts: &'a [MountInfo], mount_point: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// Mount points of this (host) process.
pub fn mount_points() -> Vec<PathBuf> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
        .into_iter()
        .map(|m| PathBuf::from(m.mount_point))
        .collect()
}

/// Value of `Key:` in /proc/<pid>/status-formatted text, trimmed.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Capability number for a `CAP_*` name (the subset the tests use).
pub fn cap_bit(name: &str) -> u32 {
    match name {
        "CAP_CHOWN" => 0,
        "CAP_DAC_OVERRIDE" => 1,
        "CAP_FOWNER" => 3,
        "CAP_KILL" => 5,
        "CAP_SETGID" => 6,
        "CAP_SETUID" => 7,
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_RAW" => 13,
        "CAP_SYS_CHROOT" => 18,
        "CAP_SYS_ADMIN" => 21,
        "CAP_AUDIT_WRITE" => 29,
        other => panic!("cap_bit: add {other}"),
    }
}

/// The /proc/self/status hex mask for a set of capability names.
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| m | (1u64 << cap_bit(n)))
}

/// Parses a `CapXxx:` hex field.
pub fn parse_mask(hex: &str) -> u64 {
    u64::from_str_radix(hex.trim(), 16).unwrap_or_else(|e| panic!("bad cap mask {hex:?}: {e}"))
}

/// Existing cgroup dirs for `rel` (e.g. `oxirun-it/<id>`) on every hierarchy: both
/// `/sys/fs/cgroup/<hierarchy>/<rel>` (v1 / hybrid) and `/sys/fs/cgroup/<rel>` (pure v2).
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut v = Vec::new();
    if root.join(rel).is_dir() {
        v.push(root.join(rel));
    }
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            let p = e.path().join(rel);
            if p.is_dir() {
                v.push(p);
            }
        }
    }
    v
}

/// Host processes whose root or cwd lies inside `dir` (e.g. a bundle's rootfs).
pub fn processes_inside(dir: &Path) -> Vec<(i32, String)> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        for link in ["root", "cwd"] {
            if let Ok(t) = fs::read_link(e.path().join(link)) {
                if t.starts_with(dir) {
                    let cmd = fs::read_to_string(e.path().join("cmdline"))
                        .unwrap_or_default()
                        .replace('\0', " ");
                    v.push((pid, format!("{link}={} cmdline={cmd}", t.display())));
                }
            }
        }
    }
    v
}

/// Asserts that nothing of a failed (or deleted) container is left: no state dir
/// `<state_root>/<id>`, no cgroup `oxirun-it/<id>`, no host mount inside the bundle, no process
/// rooted in the bundle.
#[track_caller]
pub fn assert_nothing_left(state_root: &Path, id: &str, bundle: &Path) {
    let sd = state_root.join(id);
    assert!(
        !sd.exists(),
        "state dir {} left behind: {:?}",
        sd.display(),
        fs::read_dir(&sd).map(|r| r.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    let cg = cgroup_dirs(&format!("oxirun-it/{id}"));
    assert!(cg.is_empty(), "cgroups left behind: {cg:?}");
    let mounts: Vec<_> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(bundle))
        .collect();
    assert!(
        mounts.is_empty(),
        "mounts left inside the bundle: {mounts:?}"
    );
    let procs = processes_inside(bundle);
    assert!(
        procs.is_empty(),
        "processes left inside the bundle: {procs:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_line() {
        let t =
            "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                 40 1 0:33 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=8192k,mode=1777\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/mnt x");
        assert_eq!(m[0].fstype, "ext3");
        let tmp = find_mount(&m, "/tmp").unwrap();
        assert!(tmp.has_opt("nosuid") && tmp.has_super_opt("size=8192k"));
    }

    #[test]
    fn cap_masks() {
        assert_eq!(cap_mask(&["CAP_KILL", "CAP_CHOWN"]), 0x21);
        assert_eq!(parse_mask("00000000a80425fb"), 0xa80425fb);
        let s = "Name:\tsh\nCapEff:\t0000000000000020\n";
        assert_eq!(status_field(s, "CapEff"), Some("0000000000000020"));
    }
}
