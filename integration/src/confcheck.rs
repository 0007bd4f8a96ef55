//! Helpers for the config.json / seccomp / features tests: mountinfo with its optional
//! (propagation) fields, "create fails cleanly" assertions, host-side tmpfs fixtures, a static
//! helper-binary compiler, and a seccomp-notify test agent (the `listenerPath` side).

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checks::assert_nothing_left;
use crate::Container;

/// One mountinfo line with the optional fields (`shared:N`, `master:N`, `unbindable`).
#[derive(Debug, Clone)]
pub struct Mnt {
    pub mount_point: String,
    pub opts: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub super_opts: Vec<String>,
    pub line: String,
}

impl Mnt {
    pub fn has(&self, o: &str) -> bool {
        self.opts.iter().any(|x| x == o)
    }
    pub fn has_super(&self, o: &str) -> bool {
        self.super_opts.iter().any(|x| x == o)
    }
    /// True if an optional field starts with `prefix` (e.g. `shared:`, `master:`).
    pub fn tagged(&self, prefix: &str) -> bool {
        self.optional.iter().any(|x| x.starts_with(prefix))
    }
}

pub fn parse(text: &str) -> Vec<Mnt> {
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
        v.push(Mnt {
            mount_point: l[4].replace("\\040", " "),
            opts: l[5].split(',').map(String::from).collect(),
            optional: l[6..].iter().map(|s| s.to_string()).collect(),
            fstype: r[0].to_string(),
            super_opts: r[2].split(',').map(String::from).collect(),
            line: line.to_string(),
        });
    }
    v
}

/// The top-most mount at `at`; panics with the whole table if missing.
#[track_caller]
pub fn at<'a>(m: &'a [Mnt], at: &str) -> &'a Mnt {
    m.iter()
        .rev()
        .find(|x| x.mount_point == at)
        .unwrap_or_else(|| {
            let all: Vec<&str> = m.iter().map(|x| x.line.as_str()).collect();
            panic!("no mount at {at}:\n{}", all.join("\n"))
        })
}

/// Runs `script` in the container (foreground, exit 0 required), then dumps mountinfo after a
/// `---` line; returns (script output, mounts as seen inside).
#[track_caller]
pub fn inside_mounts(c: &mut Container, script: &str) -> (String, Vec<Mnt>) {
    let out = c.inside(&format!("{script}\necho ---; cat /proc/self/mountinfo"));
    let (head, mi) = out
        .rsplit_once("---\n")
        .unwrap_or_else(|| panic!("no separator in {out:?}"));
    (head.to_string(), parse(mi))
}

/// `create` must fail: exit 1, stderr contains every phrase, nothing left behind.
#[track_caller]
pub fn create_fails(c: &mut Container, phrases: &[&str]) -> crate::Out {
    let out = c.create();
    assert_eq!(out.code, 1, "create should fail with exit 1: {out:#?}");
    for p in phrases {
        assert!(
            out.stderr_has(p),
            "create error should mention {p:?}: {out:#?}"
        );
    }
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    out
}

/// Mounts a fresh tmpfs at `path` on the host (created if needed), optionally `--make-shared`.
pub fn host_tmpfs(path: &Path, shared: bool) {
    fs::create_dir_all(path).unwrap();
    let st = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "oxit",
            path.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs at {}", path.display());
    if shared {
        let st = Command::new("mount")
            .args(["--make-shared", path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "make-shared {}", path.display());
    }
}

/// Bind-mounts `path` onto itself and makes it shared (a shared peer group on the host).
pub fn host_self_bind_shared(path: &Path) {
    let p = path.to_str().unwrap();
    for args in [vec!["--bind", p, p], vec!["--make-shared", p]] {
        let st = Command::new("mount").args(&args).status().unwrap();
        assert!(st.success(), "mount {args:?}");
    }
}

/// Compiles `c_source` into a static binary at `out` (`cc -static -O1 <extra>`); `Err` with the
/// reason when no compiler is available or it fails (tests then skip, printing why).
pub fn compile_static(c_source: &str, out: &Path, extra: &[&str]) -> Result<PathBuf, String> {
    let src = out.with_extension("c");
    fs::write(&src, c_source).map_err(|e| e.to_string())?;
    let r = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(out)
        .arg(&src)
        .args(extra)
        .output()
        .map_err(|e| format!("no C compiler (cc): {e}"))?;
    if !r.status.success() {
        return Err(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&r.stderr).trim()
        ));
    }
    Ok(out.to_path_buf())
}

// ---- seccomp notify agent ----------------------------------------------------------------

#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct SeccompNotif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xC050_2100;
const NOTIF_SEND: libc::c_ulong = 0xC018_2101;
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: let the kernel run the syscall.
pub const FLAG_CONTINUE: u32 = 1;

/// How the agent answers every notification.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Fail the syscall with this errno.
    Errno(i32),
    /// Let the syscall run (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
}

/// What the agent saw.
#[derive(Debug, Default)]
pub struct AgentReport {
    pub state: Option<serde_json::Value>,
    pub nfds: usize,
    pub syscalls: Vec<i32>,
    pub error: Option<String>,
}

pub struct Agent {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<AgentReport>>,
}

impl Agent {
    /// Listens at `<dir>/agent.sock`; answers notifications with `answer` until stopped.
    pub fn start(dir: &Path, answer: Answer) -> Agent {
        let path = dir.join("agent.sock");
        let _ = fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind agent socket");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || agent_loop(listener, answer, s2));
        Agent {
            path,
            stop,
            handle: Some(handle),
        }
    }

    pub fn path_str(&self) -> String {
        self.path.to_str().unwrap().to_string()
    }

    pub fn finish(mut self) -> AgentReport {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().expect("agent thread")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn agent_loop(listener: UnixListener, answer: Answer, stop: Arc<AtomicBool>) -> AgentReport {
    let mut rep = AgentReport::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(_) if !stop.load(Ordering::SeqCst) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => {
                rep.error = Some(format!("nobody connected: {e}"));
                return rep;
            }
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (data, fds) = match recv_with_fds(&mut stream) {
        Ok(x) => x,
        Err(e) => {
            rep.error = Some(format!("recv: {e}"));
            return rep;
        }
    };
    rep.nfds = fds.len();
    rep.state = serde_json::from_slice(&data).ok();
    let Some(fd) = fds.first() else {
        rep.error = Some("no fd received".into());
        return rep;
    };
    let fd = fd.as_raw_fd();
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, 50) };
        if rc <= 0 {
            continue;
        }
        if pfd.revents & libc::POLLIN == 0 {
            // POLLHUP: every process using the filter is gone.
            break;
        }
        let mut req = SeccompNotif::default();
        // SAFETY: NOTIF_RECV fills a struct seccomp_notif (80 bytes) we own.
        if unsafe { libc::ioctl(fd, NOTIF_RECV, &mut req) } != 0 {
            continue;
        }
        rep.syscalls.push(req.nr);
        let resp = match answer {
            Answer::Errno(e) => SeccompNotifResp {
                id: req.id,
                val: 0,
                error: -e,
                flags: 0,
            },
            Answer::Continue => SeccompNotifResp {
                id: req.id,
                val: 0,
                error: 0,
                flags: FLAG_CONTINUE,
            },
        };
        // SAFETY: NOTIF_SEND reads a struct seccomp_notif_resp (24 bytes) we own.
        unsafe { libc::ioctl(fd, NOTIF_SEND, &resp) };
    }
    rep
}

fn recv_with_fds(stream: &mut UnixStream) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut data = vec![0u8; 64 * 1024];
    let mut ctl = [0u64; 32];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: zeroed msghdr is a valid empty header; pointed at live buffers below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&ctl);
    // SAFETY: msg describes live buffers.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control buffer the kernel filled.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c) as *const RawFd;
                for i in 0..len / 4 {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    data.truncate(n as usize);
    let _ = stream.read_to_end(&mut data);
    Ok((data, fds))
}
