//! A minimal `/proc/self/mountinfo` parser: which mount holds a path, whether it is shared,
//! and where the cgroup hierarchies are mounted.

use std::path::{Path, PathBuf};

/// One line of mountinfo (only the fields we use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount id (field 1).
    pub id: u64,
    pub mount_point: PathBuf,
    /// Optional fields, e.g. `shared:1`, `master:2`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl MountEntry {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    let mut v = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 4 {
            continue;
        }
        v.push(MountEntry {
            id: fields[0].parse().unwrap_or(0),
            mount_point: PathBuf::from(unescape(fields[4])),
            optional: fields[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            super_options: fields[sep + 3].to_string(),
        });
    }
    v
}

/// Read and parse `/proc/self/mountinfo`.
pub fn read_self() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse(&crate::sys::read_small("/proc/self/mountinfo")?))
}

/// The mount that holds `path` (longest mount-point prefix; the last one wins when stacked).
pub fn containing<'a>(mounts: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    let mut best: Option<&MountEntry> = None;
    for m in mounts {
        if path.starts_with(&m.mount_point)
            && best.is_none_or(|b| {
                m.mount_point.components().count() >= b.mount_point.components().count()
            })
        {
            best = Some(m);
        }
    }
    best
}

/// The mount that holds `dir` among cgroup (v1 or v2) mounts only.
pub fn cgroup_mount_of<'a>(mounts: &'a [MountEntry], dir: &Path) -> Option<&'a MountEntry> {
    let cg: Vec<MountEntry> = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .cloned()
        .collect();
    let mp = containing(&cg, dir)?.mount_point.clone();
    mounts
        .iter()
        .rev()
        .find(|m| (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.mount_point == mp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime master:5 - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 27 0:40 / /mnt/with\\040space rw - tmpfs none rw
bogus line
";

    #[test]
    fn parses_and_finds() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 7);
        assert!(m[1].is_shared());
        assert_eq!((m[0].id, m[6].id), (22, 50));
        assert!(!m[0].is_shared());
        assert_eq!(m[3].optional, vec!["master:5".to_string()]);
        assert_eq!(m[6].mount_point, PathBuf::from("/mnt/with space"));
        let c = containing(&m, Path::new("/sys/fs/cgroup/cpu,cpuacct/x/y")).unwrap();
        assert_eq!(c.super_options, "rw,cpu,cpuacct");
        assert_eq!(containing(&m, Path::new("/srv")).unwrap().fstype, "ext4");
        let c = cgroup_mount_of(&m, Path::new("/sys/fs/cgroup/unified/a")).unwrap();
        assert_eq!(c.fstype, "cgroup2");
        assert!(cgroup_mount_of(&m, Path::new("/srv")).is_none());
    }
}
