//! Shared pieces of the real-client tests (podman, docker, containerd's `ctr`, crictl over
//! containerd's CRI plugin).
//!
//! * [`matrix`]: the scenario table and its runner: every scenario with Debian's runc first,
//!   then with oxirun, same checks; [`defer`] for a scenario's cleanup.
//! * [`cli`]: [`DockerCli`], an engine with Docker's command line (podman, docker), and the
//!   scenarios every such engine runs ([`cli_lifecycle`], [`cli_config`]).
//! * [`daemon`]: a daemon the test starts privately and stops (containerd, dockerd).
//! * [`host`]: reading a container's cgroups/namespaces from the host, removing what an
//!   engine made for our containers, and [`Leftovers`] (host paths an engine creates).
//! * [`pty`]: an interactive `-it` session through a pty.
//! * [`images`]: the busybox rootfs as a tarball or a docker-archive.
//! * [`packages`]: installing a client's Debian packages when missing.
//! * [`crictl`]: crictl built offline from the vendored cri-tools source, cached under target/.
//! * [`docker`]: a private dockerd with runtimes `runc` and `oxirun` (a [`DockerCli`]).
//! * [`cri`]: a private containerd with the CRI plugin, handlers `runc` and `oxirun`, pods,
//!   containers and crictl (and `cni_oxit.sh`, its CNI plugin).
//!
//! Adding an engine: a struct holding its private daemon/store, an implementation of
//! [`DockerCli`] if its command line is Docker's (then `cli::scenarios()` is its table), and
//! its own scenarios as `fn(&Engine, &Rt) -> Res` in a table for [`matrix`].

pub mod cli;
pub mod cli_config;
pub mod cli_lifecycle;
pub mod cri;
pub mod crictl;
pub mod daemon;
pub mod docker;
pub mod host;
pub mod images;
pub mod matrix;
pub mod packages;
pub mod pty;

pub use cli::DockerCli;
pub use daemon::Daemon;
pub use host::{
    cgroup_dir_of, cgroup_file, cgroup_pids, ids_in, net_ifaces, ns_of, remove_tree_with_mounts,
    rmdir_cgroups, state_writer, Leftovers,
};
pub use images::{docker_archive, docker_archive_with, rootfs_tar};
pub use matrix::{
    check, defer, expect_code, matrix, run, runtimes, wait_for, Defer, Res, Rt, Scenario, RUNC,
};
pub use packages::{ensure, have};
pub use pty::pty_session;
