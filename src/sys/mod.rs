//! The thin layer of raw syscalls that nix does not wrap (or wraps in a way we cannot use).
//!
//! Every `unsafe` block of the runtime lives under `sys/`, each with a `// SAFETY:` comment.
//! `process` holds process-creation and pidfd calls; `fs` holds the mount and path-resolution
//! calls (openat2, open_tree, move_mount, mount_setattr, fsopen...).

pub mod attrs;
pub mod bpf;
pub mod fs;
pub mod ns;
pub mod process;
pub mod selfexe;
pub mod tty;
