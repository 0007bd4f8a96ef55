//! `oxirun events [--stats] [--interval 5s] ID`: container stats and OOM notifications as
//! one JSON object per line (runc's shapes, see docs/client-contract.md).

use std::io::Write;

use anyhow::{bail, Context, Result};

use super::Globals;
use crate::cgroups::events;
use crate::container::{self, Status};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the container's stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Stats interval (Go duration, e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let interval = events::parse_duration(&args.interval).context("--interval")?;
    let st = crate::state::load(&g.root, &args.id)?;
    if container::status(&g.root, &st) == Status::Stopped {
        bail!("container with id {} is not running", args.id);
    }
    let mut out = std::io::stdout().lock();
    if args.stats {
        let v = events::stats_event(&args.id, &st.cgroup);
        writeln!(out, "{v}").context("write")?;
        return Ok(0);
    }
    let root = g.root.clone();
    let mut running = || container::status(&root, &st) != Status::Stopped;
    events::watch(&args.id, &st.cgroup, interval, &mut out, &mut running)?;
    Ok(0)
}
