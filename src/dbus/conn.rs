//! A synchronous D-Bus connection over a unix socket: connect, `AUTH EXTERNAL`, `Hello` (on
//! a bus), method calls that wait for their reply, and signals read with a deadline. No
//! thread, no background reader: everything happens inside the caller's calls (the runtime
//! forks after talking to systemd).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::wire::{self, Message, Value};

/// How long one call may wait for its reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection; messages are addressed to `dest` when it goes through a bus daemon.
pub struct Conn {
    stream: UnixStream,
    serial: u32,
    /// Through a bus daemon (Hello done, destinations needed), not a peer-to-peer socket.
    pub bus: bool,
    /// Signals read while waiting for a reply, in order.
    queued: VecDeque<Message>,
}

/// The socket path of a D-Bus address such as `unix:path=/run/dbus/system_bus_socket`
/// (the first `unix:path=` entry of a `;`-separated list).
pub fn address_path(addr: &str) -> Option<PathBuf> {
    addr.split(';').find_map(|a| {
        let rest = a.strip_prefix("unix:")?;
        rest.split(',')
            .find_map(|kv| kv.strip_prefix("path="))
            .map(|p| PathBuf::from(unescape(p)))
    })
}

/// D-Bus address values escape bytes as `%xx`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn io_err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl Conn {
    /// Connect to the socket at `path` and authenticate as `uid`; `bus` says whether a bus
    /// daemon is on the other end (then `Hello` is called).
    pub fn open(path: &Path, uid: u32, bus: bool) -> io::Result<Conn> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        stream.set_write_timeout(Some(CALL_TIMEOUT))?;
        let mut c = Conn {
            stream,
            serial: 0,
            bus,
            queued: VecDeque::new(),
        };
        c.auth(uid)?;
        if bus {
            c.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
                &[],
            )?;
        } else {
            c.settle()?;
        }
        Ok(c)
    }

    fn auth(&mut self, uid: u32) -> io::Result<()> {
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.stream
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let line = self.read_line()?;
        if !line.starts_with("OK ") {
            return Err(io_err("D-Bus authentication refused", line.trim_end()));
        }
        self.stream.write_all(b"BEGIN\r\n")
    }

    /// Wait until a peer-to-peer server has left its auth phase. systemd 252's own server
    /// (`/run/systemd/private`) leaves a message that it reads together with `BEGIN`
    /// unprocessed until more bytes arrive: under load (systemd slow to read) the first call
    /// never got a reply. So the first messages are `Peer.Ping`s, one more (each new write
    /// makes systemd read again) until any is answered; stray replies are dropped later.
    fn settle(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + CALL_TIMEOUT;
        let mut wait = Duration::from_millis(10);
        loop {
            self.serial += 1;
            let ping = wire::method_call(
                self.serial,
                None,
                "/",
                "org.freedesktop.DBus.Peer",
                "Ping",
                &[],
            );
            self.stream.write_all(&ping)?;
            let until = (Instant::now() + wait).min(deadline);
            // Poll first: a read cut short by a timeout would lose a partial message.
            while self.readable_before(until)? {
                let m = self.read_before(deadline)?;
                match m.kind {
                    wire::SIGNAL => self.queued.push_back(m),
                    wire::METHOD_RETURN | wire::ERROR => return Ok(()),
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "D-Bus: the server never answered a Ping",
                ));
            }
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    fn readable_before(&self, until: Instant) -> io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let left = until.saturating_duration_since(Instant::now());
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One line of the auth protocol, read byte by byte (nothing may be read past it).
    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8];
        while !line.ends_with(b"\r\n") {
            if line.len() > 4096 {
                return Err(io_err("D-Bus authentication", "line too long"));
            }
            if self.stream.read(&mut b)? == 0 {
                return Err(io_err("D-Bus authentication", "connection closed"));
            }
            line.push(b[0]);
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn read_message(&mut self) -> io::Result<Message> {
        let mut head = [0u8; 16];
        self.stream.read_exact(&mut head)?;
        let total = wire::message_len(&head).map_err(|e| io_err("D-Bus message", e))?;
        let mut buf = vec![0u8; total];
        buf[..16].copy_from_slice(&head);
        self.stream.read_exact(&mut buf[16..])?;
        wire::parse(&buf).map_err(|e| io_err("D-Bus message", e))
    }

    /// Call `member` and wait for its reply; an error reply becomes an error naming it.
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        args: &[Value],
    ) -> io::Result<Message> {
        self.serial += 1;
        let serial = self.serial;
        let dest = self.bus.then_some(dest);
        let msg = wire::method_call(serial, dest, path, iface, member, args);
        crate::debug!(
            "D-Bus: call {member} (serial {serial}, {} bytes)",
            msg.len()
        );
        self.stream.write_all(&msg)?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let m = self.read_before(deadline)?;
            match m.kind {
                wire::SIGNAL => self.queued.push_back(m),
                wire::METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m),
                wire::ERROR if m.reply_serial == Some(serial) => {
                    return Err(io_err(
                        member,
                        format!(
                            "{} ({})",
                            m.first_str().unwrap_or("no message"),
                            m.error_name.as_deref().unwrap_or("error")
                        ),
                    ))
                }
                // Method calls to us (none expected) and stray replies are dropped.
                _ => {}
            }
        }
    }

    fn read_before(&mut self, deadline: Instant) -> io::Result<Message> {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "D-Bus: timed out"))?;
        self.stream.set_read_timeout(Some(left))?;
        self.read_message().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => {
                io::Error::new(io::ErrorKind::TimedOut, "D-Bus: timed out")
            }
            _ => e,
        })
    }

    /// The first signal (queued or new) for which `want` returns Some, within `timeout`.
    pub fn wait_signal<T>(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Message) -> Option<T>,
    ) -> io::Result<T> {
        while let Some(m) = self.queued.pop_front() {
            if let Some(t) = want(&m) {
                return Ok(t);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.read_before(deadline)?;
            if m.kind == wire::SIGNAL {
                if let Some(t) = want(&m) {
                    return Ok(t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            address_path("unix:path=/run/dbus/system_bus_socket"),
            Some(PathBuf::from("/run/dbus/system_bus_socket"))
        );
        assert_eq!(
            address_path("unix:abstract=/tmp/x;unix:guid=1,path=/run/user/1000/bus"),
            Some(PathBuf::from("/run/user/1000/bus"))
        );
        assert_eq!(
            address_path("unix:path=/tmp/a%20b"),
            Some(PathBuf::from("/tmp/a b"))
        );
        assert_eq!(address_path("tcp:host=x"), None);
    }

    /// Against a fake peer on a socketpair: auth, a call answered after a signal, the signal
    /// then found by `wait_signal`.
    #[test]
    fn auth_call_and_signal_over_a_socketpair() {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut b = [0u8];
            while !got.ends_with(b"\r\n") {
                peer.read_exact(&mut b).unwrap();
                got.push(b[0]);
            }
            assert_eq!(&got[..], b"\0AUTH EXTERNAL 30\r\n");
            peer.write_all(b"OK 0123\r\n").unwrap();
            let mut begin = [0u8; 7];
            peer.read_exact(&mut begin).unwrap();
            assert_eq!(&begin, b"BEGIN\r\n");
            let call = read_msg(&mut peer);
            assert_eq!(call.member.as_deref(), Some("Ping"));
            // A signal first, then the reply: built as method calls and patched (the kind
            // byte and a REPLY_SERIAL are all the client looks at).
            let mut sig =
                wire::method_call(1, None, "/j", "i.f", "JobRemoved", &[Value::str("done")]);
            sig[1] = wire::SIGNAL;
            peer.write_all(&sig).unwrap();
            peer.write_all(&reply_to(call.serial)).unwrap();
        });
        let mut c = Conn {
            stream: ours,
            serial: 0,
            bus: false,
            queued: VecDeque::new(),
        };
        c.auth(0).unwrap();
        let r = c.call("d", "/", "i.f", "Ping", &[]).unwrap();
        assert_eq!(r.kind, wire::METHOD_RETURN);
        let s = c
            .wait_signal(Duration::from_secs(1), |m| {
                (m.member.as_deref() == Some("JobRemoved"))
                    .then(|| m.first_str().map(str::to_string))
            })
            .unwrap();
        assert_eq!(s.as_deref(), Some("done"));
        srv.join().unwrap();
    }

    fn read_msg(peer: &mut UnixStream) -> Message {
        let mut head = [0u8; 16];
        peer.read_exact(&mut head).unwrap();
        let mut rest = vec![0; wire::message_len(&head).unwrap() - 16];
        peer.read_exact(&mut rest).unwrap();
        wire::parse(&[&head[..], &rest].concat()).unwrap()
    }

    /// A METHOD_RETURN to `serial` (a REPLY_SERIAL is all the client looks at).
    fn reply_to(serial: u32) -> Vec<u8> {
        let mut w = wire::Writer::default();
        let f = Value::Struct(vec![Value::Byte(5), Value::var(Value::U32(serial))]);
        w.buf
            .extend_from_slice(&[b'l', wire::METHOD_RETURN, 0, 1, 0, 0, 0, 0]);
        w.buf.extend_from_slice(&9u32.to_le_bytes());
        w.value(&Value::Array("(yv)".into(), vec![f]));
        while w.buf.len() % 8 != 0 {
            w.buf.push(0);
        }
        w.buf
    }

    /// A server that, like systemd 252's private socket, sits on the first message after
    /// BEGIN until more bytes come: settle() pings again, both get answered, and the next
    /// call gets its own reply (the stray one for the first ping is dropped).
    #[test]
    fn settle_survives_a_server_that_sits_on_the_first_message() {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            let first = read_msg(&mut peer);
            let second = read_msg(&mut peer);
            assert_eq!(first.member.as_deref(), Some("Ping"));
            assert_eq!(second.member.as_deref(), Some("Ping"));
            peer.write_all(&reply_to(first.serial)).unwrap();
            peer.write_all(&reply_to(second.serial)).unwrap();
            let call = read_msg(&mut peer);
            assert_eq!(call.member.as_deref(), Some("Subscribe"));
            peer.write_all(&reply_to(call.serial)).unwrap();
            call.serial
        });
        let mut c = Conn {
            stream: ours,
            serial: 0,
            bus: false,
            queued: VecDeque::new(),
        };
        c.settle().unwrap();
        let r = c.call("d", "/", "i.f", "Subscribe", &[]).unwrap();
        assert_eq!(r.reply_serial, Some(srv.join().unwrap()));
    }
}
