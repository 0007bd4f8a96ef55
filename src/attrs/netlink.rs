//! A minimal rtnetlink client over a raw NETLINK_ROUTE socket: just what moving a network
//! device needs (look a link up, move/rename it, set it up, list and add addresses).
//!
//! Messages are built into a fixed-size buffer ([`MAX_MSG`]); anything larger is refused, and
//! replies are parsed with bounds checks on every header and attribute.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_EXCL: u16 = 0x200;

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_F_PERMANENT: u32 = 0x80;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const IFF_UP: u32 = 1;

const NLMSG_HDRLEN: usize = 16;
/// Requests never exceed this; a name or address cannot make them grow past it.
pub const MAX_MSG: usize = 512;

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// One request being built: header, fixed part, attributes.
pub struct Msg {
    buf: [u8; MAX_MSG],
    len: usize,
}

impl Msg {
    pub fn new(typ: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut m = Msg {
            buf: [0; MAX_MSG],
            len: NLMSG_HDRLEN,
        };
        m.buf[4..6].copy_from_slice(&typ.to_ne_bytes());
        m.buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        m.put(fixed).expect("fixed part fits");
        m
    }

    fn put(&mut self, data: &[u8]) -> Result<(), String> {
        let end = align(self.len + data.len());
        if end > MAX_MSG {
            return Err("netlink request too large".into());
        }
        self.buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    /// Append an attribute (`rtattr` header + payload, padded).
    pub fn attr(&mut self, typ: u16, payload: &[u8]) -> Result<&mut Msg, String> {
        let len = 4 + payload.len();
        if align(self.len + len) > MAX_MSG {
            return Err("netlink request too large".into());
        }
        let mut hdr = [0u8; 4];
        hdr[0..2].copy_from_slice(&(len as u16).to_ne_bytes());
        hdr[2..4].copy_from_slice(&typ.to_ne_bytes());
        self.put(&hdr)?;
        self.put(payload)?;
        Ok(self)
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, typ: u16, s: &str) -> Result<&mut Msg, String> {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(typ, &v)
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        self.buf[0..4].copy_from_slice(&(self.len as u32).to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf[..self.len]
    }
}

/// `struct ifinfomsg`.
pub fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = libc::AF_UNSPEC as u8;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

/// `struct ifaddrmsg`.
pub fn ifaddrmsg(family: u8, prefixlen: u8, flags: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = family;
    b[1] = prefixlen;
    b[2] = flags;
    b[3] = scope;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

/// One reply message: its type and its payload (fixed part + attributes).
pub struct Reply {
    pub typ: u16,
    pub payload: Vec<u8>,
}

impl Reply {
    /// The attributes after a fixed part of `fixed` bytes.
    pub fn attrs(&self, fixed: usize) -> Vec<(u16, &[u8])> {
        parse_attrs(self.payload.get(align(fixed)..).unwrap_or(&[]))
    }
}

/// Split a run of `rtattr`s; stops at the first malformed one.
pub fn parse_attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let typ = u16::from_ne_bytes([data[2], data[3]]);
        if len < 4 || len > data.len() {
            break;
        }
        out.push((typ & 0x3fff, &data[4..len]));
        data = &data[align(len).min(data.len())..];
    }
    out
}

/// A NETLINK_ROUTE socket bound in the network namespace it was created in.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    pub fn open() -> std::io::Result<Socket> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Socket { fd, seq: 0 })
    }

    /// Send a request and collect its replies: all parts of a dump (`dump`), or the single
    /// answer / ACK. A kernel error comes back as `Err` with its errno.
    pub fn request(&mut self, msg: &mut Msg, dump: bool) -> std::io::Result<Vec<Reply>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        if dump {
            let flags = u16::from_ne_bytes([msg.buf[6], msg.buf[7]]) | NLM_F_DUMP;
            msg.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        }
        send(self.fd.as_raw_fd(), msg.finish(seq), MsgFlags::empty())?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut data = &buf[..n];
            while data.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                let typ = u16::from_ne_bytes([data[4], data[5]]);
                let rseq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > data.len() {
                    return Err(std::io::Error::other("malformed netlink reply"));
                }
                let payload = &data[NLMSG_HDRLEN..len];
                data = &data[align(len).min(data.len())..];
                if rseq != seq {
                    continue;
                }
                match typ {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                            .ok_or_else(|| std::io::Error::other("short netlink error"))?;
                        if code != 0 {
                            return Err(std::io::Error::from_raw_os_error(-code));
                        }
                        return Ok(out);
                    }
                    _ => {
                        out.push(Reply {
                            typ,
                            payload: payload.to_vec(),
                        });
                        if !dump && msg_wants_no_ack(msg) {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

fn msg_wants_no_ack(msg: &Msg) -> bool {
    u16::from_ne_bytes([msg.buf[6], msg.buf[7]]) & NLM_F_ACK == 0
}

/// Flags for a request that changes something and wants the kernel's verdict.
pub fn ack(extra: u16) -> u16 {
    NLM_F_ACK | extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_aligned_messages() {
        let mut m = Msg::new(RTM_NEWLINK, ack(0), &ifinfomsg(7, 0, 0));
        m.attr(IFLA_NET_NS_FD, &5u32.to_ne_bytes()).unwrap();
        m.attr_str(IFLA_IFNAME, "eth0").unwrap();
        let bytes = m.finish(1).to_vec();
        // 16 header + 16 ifinfomsg + 8 fd attr + (4 + 5 -> 12) name attr
        assert_eq!(bytes.len(), 52);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 52);
        let attrs = parse_attrs(&bytes[32..]);
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0], (IFLA_NET_NS_FD, &5u32.to_ne_bytes()[..]));
        assert_eq!(attrs[1], (IFLA_IFNAME, &b"eth0\0"[..]));
    }

    #[test]
    fn refuses_oversized_and_parses_defensively() {
        let mut m = Msg::new(RTM_NEWLINK, 0, &ifinfomsg(0, 0, 0));
        assert!(m.attr(IFLA_IFNAME, &[0u8; 600]).is_err());
        // truncated / bogus attributes stop the parse without panicking
        assert!(parse_attrs(&[8, 0, 1, 0, 1]).is_empty());
        assert!(parse_attrs(&[2, 0, 1, 0]).is_empty());
        assert_eq!(parse_attrs(&[5, 0, 3, 0, b'x', 0, 0, 0]).len(), 1);
    }
}
