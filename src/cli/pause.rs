//! `oxirun pause` and `oxirun resume`: freeze and thaw every process of the container.

use anyhow::Result;

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn pause(g: &Globals, args: Args) -> Result<i32> {
    crate::container::pause(&g.root, &args.id)?;
    Ok(0)
}

pub fn resume(g: &Globals, args: Args) -> Result<i32> {
    crate::container::resume(&g.root, &args.id)?;
    Ok(0)
}
