//! A small synchronous D-Bus client of our own, for the systemd cgroup driver.
//!
//! The runtime forks after talking to systemd and its children run Rust code before
//! `execve`, so no thread may exist: the usual crates start threads (or need libdbus). This
//! client does nothing in the background; every read happens inside a call.
//!
//! | file | owns |
//! |---|---|
//! | `wire` | marshalling values and method calls, parsing whole messages (bounds-checked) |
//! | `conn` | the unix socket, `AUTH EXTERNAL`, `Hello`, calls waiting for replies, signals |

pub mod conn;
pub mod wire;

pub use conn::Conn;
pub use wire::{Message, Value};
