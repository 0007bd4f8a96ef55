//! `oxirun run`: create + start (+ wait, unless --detach).

use std::path::PathBuf;

use anyhow::Result;

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the bundle directory (default: the current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return after starting instead of waiting
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
    /// File to write the init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility (we always reap as a subreaper)
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Globals, a: Args) -> Result<i32> {
    let create = super::create::Args {
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        id: a.id,
    };
    let mut opts = create.opts(g);
    opts.foreground = !a.detach;
    opts.self_start = true;
    crate::container::run(&opts, a.detach, a.keep)
}
