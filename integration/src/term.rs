//! Terminals for the tests: a console-socket receiver (the client side of `--console-socket`,
//! as containerd and conmon implement it: a `SOCK_STREAM` listener, one connection, one
//! `SCM_RIGHTS` message) and a pty pair the test holds the master of.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the runtime sent over the console socket.
#[derive(Debug)]
pub struct Received {
    /// Every fd of every `SCM_RIGHTS` control message (should be exactly one: the master).
    pub fds: Vec<OwnedFd>,
    /// The data bytes (runc: the master's name, e.g. `/dev/pts/ptmx`).
    pub payload: Vec<u8>,
    /// Number of control messages.
    pub cmsgs: usize,
    /// True if the kernel truncated the control data (more fds than we had room for).
    pub ctrunc: bool,
}

/// A listening console socket at `<dir>/console.sock`.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn bind(dir: &Path) -> ConsoleSocket {
        let path = dir.join(format!("console-{}.sock", crate::util::unique_id("s")));
        let listener = UnixListener::bind(&path).expect("bind console socket");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        ConsoleSocket { path, listener }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 socket path")
    }

    /// Accepts one connection (waiting up to `timeout`) and reads one message with its fds.
    pub fn recv(&self, timeout: Duration) -> io::Result<Received> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "nobody connected to the console socket",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100)),
        ))?;
        recv_fds(stream.as_raw_fd())
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One `recvmsg` with room for 16 fds, so that extra fds are seen (and counted), not dropped.
fn recv_fds(sock: RawFd) -> io::Result<Received> {
    let mut data = vec![0u8; 8192];
    // Room for 16 ints of control data (CMSG_SPACE(64) = 80 on x86_64), u64-aligned.
    let mut ctl = [0u64; 32];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: zeroed msghdr is a valid "empty" header; we then point it at live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&ctl);
    // SAFETY: msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    let mut cmsgs = 0;
    // SAFETY: CMSG_* walk the control buffer the kernel filled, bounded by msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            cmsgs += 1;
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c) as *const RawFd;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    data.truncate(n as usize);
    Ok(Received {
        fds,
        payload: data,
        cmsgs,
        ctrunc: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// A pty pair: the test keeps `master`, the process under test gets `slave`.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// `openpty(3)` with an initial window size.
pub fn openpty(rows: u16, cols: u16) -> Pty {
    let (mut m, mut s) = (-1, -1);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: out-pointers to locals; name and termios may be null.
    let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(rc, 0, "openpty: {}", io::Error::last_os_error());
    // SAFETY: openpty returned two fresh fds we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Pty { master, slave }
}

/// `TIOCSWINSZ` (on a master: resizes the pty and signals its foreground process group).
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: ioctl with a pointer to a live winsize.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
    assert_eq!(rc, 0, "TIOCSWINSZ: {}", io::Error::last_os_error());
}

pub fn termios(fd: RawFd) -> libc::termios {
    // SAFETY: zeroed termios is plain data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: pointer to a live termios.
    let rc = unsafe { libc::tcgetattr(fd, &mut t) };
    assert_eq!(rc, 0, "tcgetattr: {}", io::Error::last_os_error());
    t
}

/// True if `fd` is a pty master (`TIOCGPTN` works only on masters).
pub fn is_pty_master(fd: RawFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: ioctl with a pointer to a live uint.
    unsafe { libc::ioctl(fd, libc::TIOCGPTN, &mut n) == 0 }
}

/// Writes all of `data` to `fd`.
pub fn write_all(fd: RawFd, data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        // SAFETY: pointer/len into a live slice.
        let n = unsafe { libc::write(fd, data[off..].as_ptr().cast(), data.len() - off) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            panic!("write to pty: {e}");
        }
        off += n as usize;
    }
}

/// Reads from `fd` into `acc` until `done(acc)` or `timeout`; returns whether `done` held.
/// EOF and `EIO` (pty master after the last slave closed) end the wait early.
pub fn read_until(
    fd: RawFd,
    acc: &mut Vec<u8>,
    timeout: Duration,
    mut done: impl FnMut(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&clean(acc)) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
        if rc < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if rc == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: pointer/len of a live buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return done(&clean(acc));
        }
        acc.extend_from_slice(&buf[..n as usize]);
    }
}

/// Terminal output as text with `\r` removed.
pub fn clean(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\r', "")
}

/// True if some line of `text` equals `line` (after trimming).
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

/// Spawns `cmd` with the pty slave as stdin/stdout/stderr and controlling terminal (in a new
/// session), as a shell in a terminal emulator would run it.
pub fn spawn_on_pty(cmd: &mut std::process::Command, pty: &Pty) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let s = || pty.slave.try_clone().map(Stdio::from);
    cmd.stdin(s()?).stdout(s()?).stderr(s()?);
    // SAFETY: setsid/ioctl are async-signal-safe; run in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}
