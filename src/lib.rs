//! oxirun: a low-level OCI container runtime, command-line compatible with runc.
//!
//! Reading order for `create`: `cli::create` -> `bundle` (load + validate) -> `container::create`
//! -> `launch::parent` (clone, sync, cgroups) -> `launch::init` (namespaces, `rootfs`, `process`)
//! -> `execve` on `start`.

pub mod attrs;
pub mod bundle;
pub mod cgroups;
pub mod checkpoint;
pub mod cli;
pub mod container;
pub mod dbus;
pub mod features;
pub mod hooks;
pub mod launch;
pub mod logging;
pub mod namespaces;
pub mod process;
pub mod procfs;
pub mod rootfs;
pub mod spec_template;
pub mod state;
pub mod sys;
pub mod sysctl;
pub mod tty;
pub mod userns;
