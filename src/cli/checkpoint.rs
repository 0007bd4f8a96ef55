//! `oxirun checkpoint` and `oxirun restore`: runc's flags, handed to `crate::checkpoint`.

use std::path::PathBuf;

use anyhow::Result;

use super::Globals;
use crate::checkpoint::{self as ckpt, CriuOpts, DumpOpts, RestoreOpts};

// Flags shared by `checkpoint` and `restore` (runc's names).
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Path for saving criu image files
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft, full, strict or ignore
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// Container id
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub common: Common,
    /// Path for previous criu image files in pre-dump
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump the container's memory information only, leave the container running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Criu writes \0 to this fd once lazy-pages is ready
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub common: Common,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Disable the use of the subreaper used to reap reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Do not use pivot root to jail the process inside the rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Close established tcp connections on restore
    #[arg(long = "tcp-close")]
    pub tcp_close: bool,
    /// LSM profile to apply on restore
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// LSM mount context to apply on restore
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
}

impl Common {
    fn opts(&self, g: &Globals) -> CriuOpts {
        CriuOpts {
            criu: g.criu.clone(),
            image_path: self.image_path.clone(),
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
        }
    }
}

pub fn checkpoint(g: &Globals, a: CheckpointArgs) -> Result<i32> {
    let opts = DumpOpts {
        common: a.common.opts(g),
        parent_path: a.parent_path,
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        page_server: a.page_server,
        status_fd: a.status_fd,
    };
    ckpt::checkpoint(&g.root, &a.common.id, &opts)?;
    Ok(0)
}

pub fn restore(g: &Globals, a: RestoreArgs) -> Result<i32> {
    let opts = RestoreOpts {
        common: a.common.opts(g),
        root: g.root.clone(),
        id: a.common.id.clone(),
        bundle: a.bundle.unwrap_or_else(|| PathBuf::from(".")),
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_subreaper: a.no_subreaper,
        no_pivot: a.no_pivot,
        tcp_close: a.tcp_close,
        lsm_profile: a.lsm_profile,
        lsm_mount_context: a.lsm_mount_context,
        systemd_cgroup: g.systemd_cgroup,
        no_cgroups: g.no_cgroups,
    };
    ckpt::restore(&opts)
}
