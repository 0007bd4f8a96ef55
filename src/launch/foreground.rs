//! Foreground `run` and `exec`: wait for the process while forwarding every signal we receive
//! to it; with a terminal, proxy our stdio to the pty master (raw mode on our own terminal,
//! window size kept in sync on SIGWINCH). The exit code is the process' (128+N if killed by
//! signal N).

use std::io::{Read, Write};

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::container::{self, CreateOpts};
use crate::sys;

/// Signals that report our own faults; never blocked.
const SYNCHRONOUS: [Signal; 5] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGTRAP,
];

pub fn run(opts: &CreateOpts, keep: bool) -> Result<i32> {
    // Orphans of the container (and the init after an extra fork) come to us to be reaped.
    sys::process::set_child_subreaper().context("PR_SET_CHILD_SUBREAPER")?;
    let set = block_signals()?;
    let (st, created) = container::create_and_start(opts)?;
    let code = wait_forwarding(&set, created.pid, created.console)?;
    if !keep {
        container::cleanup_after_run(&opts.root, &opts.id, &st)?;
    }
    Ok(code)
}

/// Block every forwardable signal (before the clone, so none is lost; the child unblocks
/// them before exec). They are then read from a signalfd by `wait_forwarding`.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::all();
    for s in SYNCHRONOUS {
        set.remove(s);
    }
    set.thread_block().context("block signals")?;
    Ok(set)
}

/// Our terminal in raw mode while we proxy, restored on drop.
struct RawMode {
    saved: termios::Termios,
}

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(
            std::io::stdin().as_fd(),
            termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}

fn copy_winsize(master: BorrowedFd<'_>) {
    if let Ok((rows, cols)) = sys::tty::get_winsize(std::io::stdin().as_fd()) {
        let _ = sys::tty::set_winsize(master, rows, cols);
    }
}

/// Wait for `pid` (our child) to exit, forwarding signals and proxying `console`.
pub fn wait_forwarding(set: &SigSet, pid: i32, console: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    let _raw = console.as_ref().and_then(|_| RawMode::enter());
    if let Some(m) = &console {
        copy_winsize(m.as_fd());
    }
    let mut stdin_open = console.is_some();
    let mut master_open = console.is_some();
    // Only a terminal is proxied through it.
    let mut buf = if console.is_some() {
        vec![0u8; 16 * 1024]
    } else {
        Vec::new()
    };
    // The process may already have exited before we wait.
    if let Some(code) = reap(pid)? {
        if let Some(m) = &console {
            drain(m, &mut buf);
        }
        return Ok(code);
    }
    loop {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let master_idx = master_open.then(|| {
            fds.push(PollFd::new(
                console.as_ref().unwrap().as_fd(),
                PollFlags::POLLIN,
            ));
            fds.len() - 1
        });
        let stdin_idx = stdin_open.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
            Ok(_) => {}
        }
        let ready = |i: Option<usize>| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready, stdin_ready) =
            (ready(Some(0)), ready(master_idx), ready(stdin_idx));
        drop(fds);
        if master_ready {
            let m = console.as_ref().unwrap();
            match nix::unistd::read(m, &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => master_open = false,
                Ok(n) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                }
                Err(_) => {}
            }
        }
        if stdin_ready {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    write_all(console.as_ref().unwrap(), &buf[..n]);
                }
            }
        }
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGCHLD => {
                        if let Some(code) = reap(pid)? {
                            if let Some(m) = &console {
                                drain(m, &mut buf);
                            }
                            return Ok(code);
                        }
                    }
                    // The pty tells the process group about the new size itself.
                    Signal::SIGWINCH if console.is_some() => {
                        copy_winsize(console.as_ref().unwrap().as_fd())
                    }
                    // Our unreaped child: its pid cannot have been reused.
                    _ => {
                        let _ = kill(Pid::from_raw(pid), sig);
                    }
                }
            }
        }
    }
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Copy what the pty still holds after the process exited.
fn drain(master: &OwnedFd, buf: &mut [u8]) {
    let _ = nix::fcntl::fcntl(
        master.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut out = std::io::stdout().lock();
    while let Ok(n) = nix::unistd::read(master, buf) {
        if n == 0 {
            break;
        }
        let _ = out.write_all(&buf[..n]);
    }
    let _ = out.flush();
}

/// Reap every exited child; the status of `pid` when it is among them.
fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
