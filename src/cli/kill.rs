//! `oxirun kill [--all] ID [SIGNAL]`: SIGNAL by number or name, with or without "SIG",
//! any case; SIGTERM by default. Signal 0 sends nothing and only asks whether the container's
//! init is alive (exit 0, or "container not running"), as with runc and kill(1).

use anyhow::{anyhow, Result};
use nix::sys::signal::Signal;

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to every process in the container's cgroup
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal (default SIGTERM)
    pub signal: Option<String>,
}

/// Parse a signal given as a number (0 included), "KILL", "SIGKILL" or "kill".
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(anyhow!("invalid signal {s:?}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| anyhow!("invalid signal {s:?}"))
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let sig = parse_signal(args.signal.as_deref().unwrap_or("SIGTERM"))?;
    crate::container::kill(&g.root, &args.id, sig, args.all)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_forms() {
        for s in ["9", "KILL", "SIGKILL", "kill", "sigkill"] {
            assert_eq!(parse_signal(s).unwrap(), 9, "{s}");
        }
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("0").unwrap(), 0);
        for bad in ["65", "NOPE", "", "-1", "SIG0"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
