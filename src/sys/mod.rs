//! The thin layer of raw syscalls that nix does not wrap (or wraps in a way we cannot use).
//!
//! Every `unsafe` block of the runtime lives under `sys/`, each with a `// SAFETY:` comment.
//! `process` holds process-creation and pidfd calls; `fs` holds the mount and path-resolution
//! calls (openat2, open_tree, move_mount, mount_setattr, fsopen...).

/// Read a small file whose size the kernel does not report (procfs, sysfs say 0): with a
/// 4 KiB first read, where `fs::read_to_string` would read 32, 32, 64, ... bytes at a time.
pub fn read_small(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(4096);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

pub mod attrs;
pub mod bpf;
pub mod entry;
pub mod fs;
pub mod ns;
pub mod process;
pub mod selfexe;
pub mod tty;
