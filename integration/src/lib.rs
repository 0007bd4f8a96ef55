//! End-to-end test harness for oxirun: drives the real binary as root against real containers.
//!
//! * [`binary`]: which `oxirun` to run (`OXIRUN_BIN`, else `<workspace>/target/debug/oxirun`,
//!   built once) and the one-time process setup (child subreaper).
//! * [`rootfs`]: the busybox rootfs, built once and copied per bundle.
//! * [`util`]: unique ids, per-test temp dirs, running commands with a timeout.
//! * [`container`]: a [`Container`] guard: bundle + config builder + lifecycle commands; its
//!   `Drop` force-deletes, reaps, removes cgroups and the temp dir, even after a panic.
//! * [`checks`]: parsers for what tests observe (mountinfo, /proc/self/status, caps) and the leak
//!   checks used after a failed command.
//! * [`guest`]: a QEMU guest with systemd as PID 1 (pure cgroup v2) running a test script.
//! * [`impostor`]: spawning a process with a chosen pid (clone3 `set_tid`) for the pid-reuse test.
//! * [`qemu`]: initramfs QEMU guests (pure cgroup v2, LSMs): pack, boot, read the TAP console.
//!
//! Tests run as root; containers get cgroups only under `/oxirun-it/<id>`.

pub mod binary;
pub mod cgroupfs;
pub mod checks;
pub mod clients;
pub mod confcheck;
pub mod container;
pub mod cprog;
pub mod differential;
pub mod guest;
pub mod impostor;
pub mod noopenat2;
pub mod qemu;
pub mod rootfs;
pub mod sentinel;
pub mod stress;
pub mod term;
pub mod util;

pub use binary::{init, oxirun_bin};
pub use container::Container;
pub use serde_json::{json, Value};
pub use util::{unique_id, Out, TestDir};
