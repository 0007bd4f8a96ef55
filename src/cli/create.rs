//! `oxirun create`.

use std::path::PathBuf;

use anyhow::Result;

use super::Globals;
use crate::container::{self, CreateOpts};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the bundle directory (default: the current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for ramdisk roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

impl Args {
    pub fn opts(self, g: &Globals) -> CreateOpts {
        CreateOpts {
            root: g.root.clone(),
            id: self.id,
            bundle: self.bundle,
            pid_file: self.pid_file,
            console_socket: self.console_socket,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            systemd_cgroup: g.systemd_cgroup,
            rootless: g.rootless,
            foreground: false,
            self_start: false,
            no_cgroups: g.no_cgroups,
        }
    }
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    // As a subreaper we can reap a failed init ourselves; on success the init is handed on
    // to our caller's subreaper when we exit.
    let _ = crate::sys::process::set_child_subreaper();
    container::create(&args.opts(g))?;
    Ok(0)
}
