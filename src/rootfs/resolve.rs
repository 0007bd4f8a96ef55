//! Safe path resolution inside a root directory fd, and safe creation of missing components.
//!
//! Everything is relative to an `O_PATH` fd of the root and never leaves it: the fast path is
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`; the fallback (kernels without
//! openat2, `ENOSYS`) and the creation of missing components is a per-component walk that
//! opens each component with `O_NOFOLLOW`, expands symlinks itself, clamps `..` at the root
//! and refuses procfs magic links. Creation is `mkdirat` / `openat(O_CREAT|O_EXCL|O_NOFOLLOW)`
//! on the parent's fd, one component at a time (CVE-2021-30465, CVE-2024-45310).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};

use crate::sys::fs as sysfs;

/// What to create when a component is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every missing component becomes a directory.
    Dir,
    /// Missing parents become directories, the last component an empty regular file.
    File,
}

/// Set once openat2 returned ENOSYS (or by tests/`force_fallback`), so we stop trying it.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Use only the fallback walk from now on (tests; a seccomp-less way to prove the fallback).
pub fn force_fallback(on: bool) {
    NO_OPENAT2.store(on, Ordering::Relaxed);
}

const MAX_SYMLINKS: usize = 40;

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Path components as the walk sees them: names and "..", never "/" or ".".
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// A destination from config.json as a path relative to the root, lexically cleaned with `..`
/// clamped at the root: `../../etc/x` and `/etc/x` both give `etc/x`. Used for messages and
/// policy checks (the real resolution is always fd-based).
pub fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.iter().collect()
}

/// Open `path` inside `root` as an `O_PATH` fd. `follow_last = false` returns a final symlink
/// itself instead of following it. Magic links are refused (`ELOOP`).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, follow_last: bool) -> io::Result<OwnedFd> {
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let rel = clean_for_openat2(path);
        let mut flags = libc::O_PATH;
        if !follow_last {
            flags |= libc::O_NOFOLLOW;
        }
        match sysfs::openat2(
            root,
            &rel,
            flags,
            0,
            libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                NO_OPENAT2.store(true, Ordering::Relaxed);
            }
            r => return r,
        }
    }
    walk(root, path, follow_last, None)
}

/// `open_in_root`, creating missing components (as `kind` says) one at a time.
pub fn ensure_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    kind: Kind,
    follow_last: bool,
) -> io::Result<OwnedFd> {
    match open_in_root(root, path, follow_last) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            walk(root, path, follow_last, Some(kind))
        }
        r => r,
    }
}

/// The path handed to openat2: relative (RESOLVE_IN_ROOT treats "/" as the root anyway),
/// "." for the root itself.
fn clean_for_openat2(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

fn is_magic_link(link: &OwnedFd, target: &OsStr) -> bool {
    let on_proc = nix::sys::statfs::fstatfs(link)
        .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .unwrap_or(true);
    // procfs' ordinary symlinks ("self", "thread-self", "mounts", "net") are relative names;
    // magic links (fd/N, root, cwd, exe, ns/*) read as absolute paths or "type:[inode]".
    on_proc && (target.as_bytes().first() == Some(&b'/') || target.as_bytes().contains(&b':'))
}

/// The per-component walk: the openat2 fallback, and the creator of missing components.
pub fn walk(
    root: BorrowedFd<'_>,
    path: &Path,
    follow_last: bool,
    create: Option<Kind>,
) -> io::Result<OwnedFd> {
    let mut todo = components(path);
    // Directories entered below the root; the current directory is the last one (or root).
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0usize;
    let mut creations = 0usize;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            stack.pop();
            continue;
        }
        let cur = stack.last().map(|f| f.as_fd()).unwrap_or(root);
        let is_last = todo.is_empty();
        let opened = openat(
            cur,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        match opened {
            Ok(fd) => {
                let st = fstat(&fd).map_err(errno)?;
                let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
                if fmt == SFlag::S_IFLNK {
                    if is_last && !follow_last {
                        return Ok(fd);
                    }
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = readlinkat(&fd, "").map_err(errno)?;
                    if is_magic_link(&fd, &target) {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    if target.as_bytes().first() == Some(&b'/') {
                        stack.clear();
                    }
                    for c in components(Path::new(&target)).into_iter().rev() {
                        todo.push_front(c);
                    }
                } else {
                    if !is_last && fmt != SFlag::S_IFDIR {
                        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                    }
                    stack.push(fd);
                    if is_last {
                        return Ok(stack.pop().expect("just pushed"));
                    }
                }
            }
            Err(nix::Error::ENOENT) if create.is_some() => {
                creations += 1;
                if creations > 4096 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let made = if is_last && create == Some(Kind::File) {
                    openat(
                        cur,
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_WRONLY
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(cur, name.as_os_str(), Mode::from_bits_truncate(0o755))
                };
                match made {
                    Ok(()) | Err(nix::Error::EEXIST) => todo.push_front(name),
                    Err(e) => return Err(errno(e)),
                }
            }
            Err(e) => return Err(errno(e)),
        }
    }
    // Empty path, or one ending in "..": the current directory.
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => openat(
            root,
            ".",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "oxirun-resolve-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ino_of(fd: &OwnedFd) -> (u64, u64) {
        let st = fstat(fd).unwrap();
        (st.st_dev, st.st_ino)
    }
    fn ino_path(p: &Path) -> (u64, u64) {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.dev(), m.ino())
    }

    /// A tree with escaping symlinks: a -> /../../../../etc, b -> ../../.., c -> b/etc,
    /// loop -> loop, file (regular), d -> /missing/dir (dangling, absolute).
    fn plant(t: &TempDir) -> std::fs::File {
        std::fs::create_dir_all(t.0.join("etc/sub")).unwrap();
        std::fs::create_dir_all(t.0.join("x/y")).unwrap();
        symlink("/../../../../etc", t.0.join("a")).unwrap();
        symlink("../../..", t.0.join("x/y/b")).unwrap();
        symlink("y/b/etc", t.0.join("x/c")).unwrap();
        symlink("loop", t.0.join("loop")).unwrap();
        symlink("/missing/dir", t.0.join("d")).unwrap();
        std::fs::write(t.0.join("file"), b"").unwrap();
        std::fs::File::open(&t.0).unwrap()
    }

    fn check_resolution(fallback: bool) {
        let t = TempDir::new(if fallback { "fb" } else { "o2" });
        let root = plant(&t);
        let open = |p: &str, follow: bool| {
            if fallback {
                walk(root.as_fd(), Path::new(p), follow, None)
            } else {
                open_in_root(root.as_fd(), Path::new(p), follow)
            }
        };
        let etc = ino_path(&t.0.join("etc"));
        assert_eq!(ino_of(&open("a", true).unwrap()), etc);
        assert_eq!(ino_of(&open("/a/sub/..", true).unwrap()), etc);
        assert_eq!(ino_of(&open("x/y/b/etc", true).unwrap()), etc);
        assert_eq!(ino_of(&open("x/c", true).unwrap()), etc);
        assert_eq!(ino_of(&open("../../../etc", true).unwrap()), etc);
        assert_eq!(ino_of(&open("x/y/b", true).unwrap()), ino_path(&t.0));
        assert_eq!(ino_of(&open("/", true).unwrap()), ino_path(&t.0));
        // Not following the last component gives the symlink itself.
        assert_eq!(ino_of(&open("a", false).unwrap()), ino_path(&t.0.join("a")));
        let e = open("loop", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        let e = open("file/x", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        let e = open("d", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn resolution_stays_in_root_openat2() {
        check_resolution(false);
    }

    #[test]
    fn resolution_stays_in_root_fallback_walk() {
        check_resolution(true);
    }

    #[test]
    fn creation_follows_symlinks_inside_root() {
        let t = TempDir::new("create");
        let root = plant(&t);
        // Through the dangling absolute symlink d -> /missing/dir: created inside the root.
        let fd = ensure_in_root(root.as_fd(), Path::new("/d/x"), Kind::Dir, true).unwrap();
        assert_eq!(ino_of(&fd), ino_path(&t.0.join("missing/dir/x")));
        // Through a -> /../../../../etc, a file.
        let fd = ensure_in_root(root.as_fd(), Path::new("a/new/f"), Kind::File, true).unwrap();
        assert_eq!(ino_of(&fd), ino_path(&t.0.join("etc/new/f")));
        assert!(std::fs::metadata(t.0.join("etc/new/f")).unwrap().is_file());
        // Relative escape attempts land inside.
        let fd = ensure_in_root(
            root.as_fd(),
            Path::new("../../../../etc/z"),
            Kind::Dir,
            true,
        )
        .unwrap();
        assert_eq!(ino_of(&fd), ino_path(&t.0.join("etc/z")));
        // Existing file is never truncated.
        std::fs::write(t.0.join("etc/keep"), b"data").unwrap();
        ensure_in_root(root.as_fd(), Path::new("etc/keep"), Kind::File, true).unwrap();
        assert_eq!(std::fs::read(t.0.join("etc/keep")).unwrap(), b"data");
        // Creating below a file fails.
        let e = walk(root.as_fd(), Path::new("file/q"), true, Some(Kind::Dir)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn clean_clamps_dotdot() {
        assert_eq!(clean(Path::new("../../etc/x")), PathBuf::from("etc/x"));
        assert_eq!(
            clean(Path::new("/proc/../proc/./sys")),
            PathBuf::from("proc/sys")
        );
        assert_eq!(clean(Path::new("/")), PathBuf::from(""));
    }

    #[test]
    fn magic_links_are_refused() {
        // /proc/self/root seen through a root that contains procfs: the host's / as a root
        // here, which is fine because only resolution (no creation) happens.
        let root = std::fs::File::open("/").unwrap();
        let e = walk(root.as_fd(), Path::new("/proc/self/root/etc"), true, None).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        if let Err(e) = open_in_root(root.as_fd(), Path::new("/proc/self/root/etc"), true) {
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        } else if !NO_OPENAT2.load(Ordering::Relaxed) {
            panic!("openat2 followed a magic link");
        }
        // The ordinary "self" symlink still works.
        assert!(walk(root.as_fd(), Path::new("/proc/self/status"), true, None).is_ok());
    }
}
