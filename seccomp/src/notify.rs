//! The seccomp notify listener hand-off (runtime-spec config-linux.md "Seccomp", `listenerPath`
//! and `listenerMetadata`; runtime.md: the container process state).
//!
//! Protocol, as the spec lays it down: when a filter with an `SCMP_ACT_NOTIFY` rule is loaded,
//! the kernel returns a listener fd. The container's init passes it to the runtime (over the
//! sync socket, SCM_RIGHTS). The runtime connects a `SOCK_STREAM` unix socket to
//! `listenerPath` and sends, in one `sendmsg`, the container process state JSON as the payload
//! and the fds it names (`fds: ["seccompFd"]`) as SCM_RIGHTS; then it closes the connection
//! and its copy of the listener fd. The agent reads the JSON to EOF.
//!
//! This module owns the sending side ([`send_to_agent`], [`process_state_json`]) and a
//! minimal receiving side ([`recv_from_runtime`]) for tests and example agents.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::Error;

/// At most this many fds travel in one message (the spec names one: `seccompFd`).
pub const MAX_FDS: usize = 16;

fn sys(op: impl Into<String>, err: io::Error) -> Error {
    Error::Sys { op: op.into(), err }
}

/// Build the container process state the spec sends to the agent: `ociVersion`, `fds`
/// (`["seccompFd"]`, matching the single fd sent), `pid`, `metadata` (listenerMetadata, omitted
/// when absent) and `state` (the container's state, as `oxirun state` prints it).
pub fn process_state_json(
    oci_version: &str,
    pid: i32,
    metadata: Option<&str>,
    state: &serde_json::Value,
) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    obj.insert("ociVersion".into(), oci_version.into());
    obj.insert("fds".into(), serde_json::json!(["seccompFd"]));
    obj.insert("pid".into(), pid.into());
    if let Some(m) = metadata {
        obj.insert("metadata".into(), m.into());
    }
    obj.insert("state".into(), state.clone());
    serde_json::to_vec(&serde_json::Value::Object(obj)).expect("a JSON value always serializes")
}

/// Connect to the agent at `listener_path` and send `state_json` with `fds` attached
/// (SCM_RIGHTS, in order). Does not close `fds`; the caller closes its copies afterwards.
pub fn send_to_agent(listener_path: &Path, state_json: &[u8], fds: &[RawFd]) -> Result<(), Error> {
    if fds.len() > MAX_FDS {
        return Err(Error::Invalid {
            field: "fds".into(),
            reason: format!("{} fds, at most {MAX_FDS}", fds.len()),
        });
    }
    if state_json.is_empty() {
        return Err(Error::Invalid {
            field: "state_json".into(),
            reason: "empty".into(),
        });
    }
    let stream = UnixStream::connect(listener_path).map_err(|e| {
        sys(
            format!(
                "connecting to the seccomp agent at {}",
                listener_path.display()
            ),
            e,
        )
    })?;
    let sent = sendmsg_fds(stream.as_raw_fd(), state_json, fds).map_err(|e| {
        sys(
            format!("sending the listener fd to {}", listener_path.display()),
            e,
        )
    })?;
    // A stream may take the payload in parts; the fds went with the first part.
    let mut rest = &state_json[sent..];
    while !rest.is_empty() {
        let n = std::io::Write::write(&mut &stream, rest).map_err(|e| {
            sys(
                format!("sending the container state to {}", listener_path.display()),
                e,
            )
        })?;
        rest = &rest[n..];
    }
    Ok(())
}

/// One `sendmsg` with `data` as payload and `fds` as SCM_RIGHTS; returns the bytes sent.
fn sendmsg_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is a pure computation on its argument.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)]; // u64 for cmsghdr alignment
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: msg_control points at `space` zeroed, aligned bytes, enough for one cmsghdr
        // carrying `fds.len()` ints (CMSG_SPACE); CMSG_FIRSTHDR is therefore non-null, and
        // CMSG_DATA points inside that buffer with room for `fd_bytes`.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: `msg` points at `iov` (valid for `data.len()` bytes) and `cbuf`, both alive
        // for the call; the kernel only reads them.
        let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The agent's side, for tests and examples: read one connection to EOF, returning the
/// payload (the container process state JSON) and the fds that came with it.
pub fn recv_from_runtime(stream: &mut UnixStream) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let mut data = vec![0u8; 64 * 1024];
    // SAFETY: CMSG_SPACE is a pure computation on its argument.
    let space =
        unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: `msg` describes `data` and `cbuf`, both alive and writable for the call.
        let r = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(sys("receiving from the runtime", e));
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; CMSG_FIRSTHDR/NXTHDR walk only
    // within them, and each SCM_RIGHTS payload holds (cmsg_len - CMSG_LEN(0)) / 4 fds that
    // were installed in this process for us to own.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(sys(
            "receiving from the runtime",
            io::Error::other("control data truncated (too many fds)"),
        ));
    }
    data.truncate(n);
    stream
        .read_to_end(&mut data)
        .map_err(|e| sys("reading the container state", e))?;
    Ok((data, fds))
}
