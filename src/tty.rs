//! Terminals: a pty allocated inside the container's own devpts, its master handed to the
//! client (console socket, or the runtime itself for a foreground `run -t`/`exec -t`), its
//! peer made the process' stdio and controlling terminal, and bound over /dev/console.
//!
//! Hardening (CVE-2025-52565): /dev/pts/ptmx is verified to be a devpts ptmx, the peer is
//! opened with TIOCGPTPEER (no path lookup) and verified, and /dev/console is mounted from
//! the peer fd onto an O_NOFOLLOW target - before masked paths are applied.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::sys;

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// A pty of the container.
pub struct Pty {
    pub master: OwnedFd,
    pub peer: OwnedFd,
}

fn check_devpts(fd: &OwnedFd, what: &str) -> Result<std::fs::Metadata> {
    let st = nix::sys::statfs::fstatfs(fd).with_context(|| format!("statfs {what}"))?;
    if st.filesystem_type().0 as i64 != DEVPTS_SUPER_MAGIC {
        bail!("{what} is not on a devpts filesystem");
    }
    let file = std::fs::File::from(fd.try_clone().context("dup")?);
    file.metadata().with_context(|| format!("stat {what}"))
}

/// `process.consoleSize` as (rows, cols), for [`open_pty`].
pub fn console_size(p: &oci_spec::runtime::Process) -> Option<(u16, u16)> {
    p.console_size()
        .map(|b| (b.height() as u16, b.width() as u16))
}

/// Open a new pty from `/dev/pts/ptmx` of the current root (call after pivot_root).
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    let master = open(
        "/dev/pts/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /dev/pts/ptmx: {e}"))?;
    let meta = check_devpts(&master, "/dev/pts/ptmx")?;
    if meta.rdev() != nix::sys::stat::makedev(5, 2) {
        bail!("/dev/pts/ptmx is not the ptmx device");
    }
    sys::tty::unlock(master.as_fd()).context("unlock pty")?;
    let peer = sys::tty::open_peer(master.as_fd()).context("open pty peer")?;
    let meta = check_devpts(&peer, "the pty peer")?;
    // Unix98 pty slaves: majors 136..=143.
    let major = nix::sys::stat::major(meta.rdev());
    if !(136..=143).contains(&major) {
        bail!("the pty peer has an unexpected device number");
    }
    if let Some((rows, cols)) = size.filter(|(r, c)| *r > 0 && *c > 0) {
        sys::tty::set_winsize(master.as_fd(), rows, cols).context("process.consoleSize")?;
    }
    Ok(Pty { master, peer })
}

/// Bind the peer over /dev/console (the init only), creating the target without following
/// symlinks.
pub fn mount_console(peer: &OwnedFd) -> Result<()> {
    let dev = open(
        "/dev",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /dev: {e}"))?;
    match nix::fcntl::openat(
        &dev,
        "console",
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_WRONLY,
        Mode::from_bits_truncate(0o600),
    ) {
        Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => bail!("create /dev/console: {e}"),
    }
    let target = nix::fcntl::openat(
        &dev,
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("open /dev/console: {e}"))?;
    let st = nix::sys::stat::fstat(&target).context("stat /dev/console")?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        bail!("/dev/console is neither a file nor a device");
    }
    let tree = sys::fs::clone_tree_fd(peer.as_fd(), false).context("clone the pty peer mount")?;
    sys::fs::move_mount_fd(tree.as_fd(), target.as_fd()).context("mount /dev/console")?;
    Ok(())
}

/// Make the peer our stdin/stdout/stderr and controlling terminal, in a new session.
pub fn become_stdio(peer: OwnedFd) -> Result<()> {
    nix::unistd::setsid().context("setsid")?;
    for fd in 0..3 {
        sys::process::dup_onto(peer.as_raw_fd(), fd).context("dup2 the pty peer")?;
    }
    drop(peer);
    sys::tty::set_controlling(0).context("TIOCSCTTY")?;
    Ok(())
}

/// Send the master to the client's console socket (one message, one fd, a non-empty name).
pub fn send_master(socket: &OwnedFd, master: &OwnedFd) -> Result<()> {
    sys::tty::send_fd(socket.as_fd(), b"/dev/pts/ptmx", master.as_fd())
        .map_err(|e| anyhow!("send the pty master to the console socket: {e}"))
}

/// Connect to the client's console socket (from the host side, before any namespace change).
pub fn connect_console_socket(path: &Path) -> Result<OwnedFd> {
    let stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| anyhow!("--console-socket {}: {e}", path.display()))?;
    Ok(OwnedFd::from(stream))
}
