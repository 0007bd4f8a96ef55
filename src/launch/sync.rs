//! The parent <-> init channel: one `SOCK_SEQPACKET` socketpair, one message per packet.
//!
//! | message  | sender | when                                             | receiver does                    |
//! |----------|--------|--------------------------------------------------|----------------------------------|
//! | `Go`     | parent | after placing the init in its cgroup             | init continues its setup         |
//! | `Pid(p)` | init   | after the extra fork (pid/time namespaces)       | parent tracks `p` as the init    |
//! | `Ready`  | init   | setup done, blocked on the exec gate next        | parent writes state, returns     |
//! | `Error`  | init   | any setup failure (the text is the user's error) | parent cleans up, reports it     |
//! | `Console`| init   | pty allocated, foreground tty (carries the master by SCM_RIGHTS) | parent proxies it |
//! | `Seccomp`| init   | filter loaded with a notify listener (carries its fd) | sends it to listenerPath's agent |
//! | `Hooks`  | init   | mounts done, before pivot_root (only with hooks) | runs prestart + createRuntime, replies `Go` |
//!
//! Encoding: one tag byte, then the payload (`Pid`: 4 bytes LE; `Error`: UTF-8, at most
//! `MAX_MSG` bytes). Lengths are bounded by the packet, never by a field we trust.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, bail, Result};
use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

/// Plenty for an error line; small enough for a stack buffer (a 64 KiB heap buffer, zeroed
/// on every receive, cost both processes page faults on each message).
pub const MAX_MSG: usize = 8 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    Go,
    Pid(i32),
    Ready,
    Error(String),
    Hooks,
    /// Carries the pty master as SCM_RIGHTS.
    Console,
    /// Carries the seccomp notify listener fd as SCM_RIGHTS.
    Seccomp,
}

impl Msg {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Go => vec![1],
            Msg::Pid(p) => {
                let mut v = vec![2];
                v.extend_from_slice(&p.to_le_bytes());
                v
            }
            Msg::Ready => vec![3],
            Msg::Hooks => vec![5],
            Msg::Console => vec![6],
            Msg::Seccomp => vec![7],
            Msg::Error(s) => {
                let mut v = vec![4];
                let mut end = s.len().min(MAX_MSG - 1);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                v.extend_from_slice(&s.as_bytes()[..end]);
                v
            }
        }
    }

    pub fn decode(buf: &[u8]) -> Result<Msg> {
        match buf.split_first() {
            Some((1, [])) => Ok(Msg::Go),
            Some((2, p)) if p.len() == 4 => {
                Ok(Msg::Pid(i32::from_le_bytes([p[0], p[1], p[2], p[3]])))
            }
            Some((3, [])) => Ok(Msg::Ready),
            Some((5, [])) => Ok(Msg::Hooks),
            Some((6, [])) => Ok(Msg::Console),
            Some((7, [])) => Ok(Msg::Seccomp),
            Some((4, s)) => Ok(Msg::Error(String::from_utf8_lossy(s).into_owned())),
            _ => bail!("sync: malformed message ({} bytes)", buf.len()),
        }
    }
}

/// A connected socketpair: (parent end, init end). Both close-on-exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| anyhow!("sync socketpair: {e}"))
}

pub fn send_msg(fd: &OwnedFd, msg: &Msg) -> Result<()> {
    send(fd.as_raw_fd(), &msg.encode(), MsgFlags::MSG_NOSIGNAL)
        .map_err(|e| anyhow!("sync send: {e}"))?;
    Ok(())
}

/// Receive one message; `None` when the other end is closed. An fd sent with it is closed.
pub fn recv_msg(fd: &OwnedFd) -> Result<Option<Msg>> {
    Ok(recv_msg_fd(fd)?.map(|(m, _)| m))
}

/// Receive one message and the fd it carries, if any.
pub fn recv_msg_fd(fd: &OwnedFd) -> Result<Option<(Msg, Option<OwnedFd>)>> {
    use std::os::fd::AsFd;
    let mut buf = [0u8; MAX_MSG + 1];
    let mut reset = false;
    loop {
        return match crate::sys::tty::recv_with_fd(fd.as_fd(), &mut buf) {
            Ok((0, _)) => Ok(None),
            Ok((n, _)) if n > MAX_MSG => bail!("sync: oversized message ({n} bytes)"),
            Ok((n, passed)) => Ok(Some((Msg::decode(&buf[..n])?, passed))),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The peer exited with a message of ours unread (it failed before reading `Go`).
            // The kernel reports that before the messages still queued for us - the peer's
            // error among them - and clears it on reading: read on, then it is an EOF.
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                if reset {
                    return Ok(None);
                }
                reset = true;
                continue;
            }
            Err(e) => bail!("sync recv: {e}"),
        };
    }
}

/// Send a message carrying one fd.
pub fn send_msg_fd(fd: &OwnedFd, msg: &Msg, passed: &OwnedFd) -> Result<()> {
    use std::os::fd::AsFd;
    crate::sys::tty::send_fd(fd.as_fd(), &msg.encode(), passed.as_fd())
        .map_err(|e| anyhow!("sync send: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for m in [
            Msg::Go,
            Msg::Pid(4422),
            Msg::Ready,
            Msg::Hooks,
            Msg::Error("exec: \"x\": not found".into()),
        ] {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
    }

    /// CI flake: the init failed and exited before reading our `Go`; its error must still be
    /// what the parent reads (not "Connection reset by peer"), then the end of the channel.
    #[test]
    fn peer_error_survives_our_unread_message() {
        let (parent, init) = pair().unwrap();
        let err = Msg::Error("rootfsPropagation: bad".into());
        send_msg(&init, &err).unwrap();
        send_msg(&parent, &Msg::Go).unwrap();
        drop(init);
        assert_eq!(recv_msg_fd(&parent).unwrap().map(|(m, _)| m), Some(err));
        assert!(recv_msg_fd(&parent).unwrap().is_none());
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [&[][..], &[9], &[2, 1, 2], &[1, 0]] {
            assert!(Msg::decode(bad).is_err());
        }
    }

    #[test]
    fn huge_error_is_truncated_on_a_char_boundary() {
        let s = "é".repeat(MAX_MSG);
        let enc = Msg::Error(s).encode();
        assert!(enc.len() <= MAX_MSG);
        assert!(matches!(Msg::decode(&enc).unwrap(), Msg::Error(_)));
    }

    #[test]
    fn over_socketpair() {
        let (a, b) = pair().unwrap();
        send_msg(&a, &Msg::Pid(7)).unwrap();
        assert_eq!(recv_msg(&b).unwrap(), Some(Msg::Pid(7)));
        drop(a);
        assert_eq!(recv_msg(&b).unwrap(), None);
    }
}
