//! `oxirun start`.

use anyhow::Result;

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    crate::container::start(&g.root, &args.id)?;
    Ok(0)
}
