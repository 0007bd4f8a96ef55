//! `oxirun spec`: write a runc-like default config.json into the bundle directory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Bundle directory to write config.json into (default: the current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

/// `rootless` comes from the global `--rootless` flag (`oxirun spec --rootless`).
pub fn run(args: Args, rootless: bool) -> Result<i32> {
    let path = args.bundle.join("config.json");
    let json = crate::spec_template::default_config(rootless);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow!("File {} exists. Remove it first", path.display())
            }
            _ => anyhow!("{}: {e}", path.display()),
        })?;
    f.write_all(json.as_bytes())
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(0)
}
