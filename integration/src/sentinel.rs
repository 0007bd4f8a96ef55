//! Sentinels (docs/security-cases.md): a host file or directory outside the bundle whose
//! listing, content hash, owner and mode are recorded before a test and compared after it,
//! together with the host's mount table.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::checks::parse_mountinfo;

/// Per entry: (file type + mode, uid, gid, content or link target).
pub type Snapshot = BTreeMap<PathBuf, (u32, u32, u32, Vec<u8>)>;

/// Everything under `path` (not following symlinks), `path` itself included.
pub fn snapshot(path: &Path) -> Snapshot {
    let mut m = Snapshot::new();
    walk(path, &mut m);
    m
}

fn walk(p: &Path, m: &mut Snapshot) {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return;
    };
    let ft = md.file_type();
    let content = if ft.is_symlink() {
        std::fs::read_link(p)
            .map(|t| t.into_os_string().into_encoded_bytes())
            .unwrap_or_default()
    } else if ft.is_file() {
        std::fs::read(p).unwrap_or_default()
    } else {
        Vec::new()
    };
    m.insert(p.to_path_buf(), (md.mode(), md.uid(), md.gid(), content));
    if ft.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), m);
            }
        }
    }
}

/// The host mount table as `(mount point, fstype, source)`, sorted.
pub fn host_mounts() -> Vec<(String, String, String)> {
    let mut v: Vec<_> =
        parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
            .into_iter()
            .map(|m| (m.mount_point, m.fstype, m.source))
            .collect();
    v.sort();
    v
}

/// A recorded sentinel; [`Sentinel::assert_unchanged`] compares.
pub struct Sentinel {
    pub path: PathBuf,
    before: Snapshot,
}

impl Sentinel {
    pub fn new(path: &Path) -> Sentinel {
        Sentinel {
            path: path.to_path_buf(),
            before: snapshot(path),
        }
    }

    #[track_caller]
    pub fn assert_unchanged(&self, what: &str) {
        let after = snapshot(&self.path);
        if after != self.before {
            let added: Vec<_> = after
                .keys()
                .filter(|k| !self.before.contains_key(*k))
                .collect();
            let removed: Vec<_> = self
                .before
                .keys()
                .filter(|k| !after.contains_key(*k))
                .collect();
            let changed: Vec<_> = after
                .iter()
                .filter(|(k, v)| self.before.get(*k).is_some_and(|b| b != *v))
                .map(|(k, _)| k)
                .collect();
            panic!(
                "{what}: sentinel {} changed: added {added:?}, removed {removed:?}, changed {changed:?}",
                self.path.display()
            );
        }
    }
}

/// Host mounts whose mount point is at or below `dir`, ignoring those below `except`.
pub fn mounts_below(dir: &Path, except: &[&Path]) -> Vec<String> {
    host_mounts()
        .into_iter()
        .map(|m| m.0)
        .filter(|m| {
            Path::new(m).starts_with(dir) && !except.iter().any(|e| Path::new(m).starts_with(e))
        })
        .collect()
}
