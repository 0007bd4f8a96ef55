//! `oxirun delete [--force] ID`.

use anyhow::Result;

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it is running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    crate::container::delete(&g.root, &args.id, args.force)?;
    Ok(0)
}
