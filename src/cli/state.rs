//! `oxirun state`: the state JSON on stdout (indented like runc, no trailing newline).

use std::io::Write;

use anyhow::{Context, Result};

use super::Globals;
use crate::container;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    crate::bundle::validate_id(&args.id)?;
    let st = crate::state::load(&g.root, &args.id)?;
    let status = container::status(&g.root, &st);
    let json =
        serde_json::to_string_pretty(&container::oci_state(&st, status)).context("encode state")?;
    std::io::stdout()
        .write_all(json.as_bytes())
        .context("write state")?;
    Ok(0)
}
