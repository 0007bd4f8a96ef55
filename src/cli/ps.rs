//! `oxirun ps [--format table|json] ID [ps args...]`: the container's processes. JSON is the
//! host pids (what containerd's `ctr task ps` reads); the table runs the host's `ps` on them.

use std::io::Write;

use anyhow::{bail, Context, Result};

use super::Globals;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Container id
    pub id: String,
    /// Arguments for ps(1) in table mode (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let pids = crate::container::pids(&g.root, &args.id)?;
    match args.format.as_str() {
        "json" => {
            let json = serde_json::to_string(&pids).context("encode pids")?;
            writeln!(std::io::stdout(), "{json}").context("write")?;
        }
        "table" => {
            let ps_args = if args.ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                args.ps_args
            };
            let out = std::process::Command::new("ps")
                .args(&ps_args)
                .output()
                .context("run ps")?;
            if !out.status.success() {
                bail!(
                    "ps {}: {}",
                    ps_args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let pid_col = header
                .split_whitespace()
                .position(|c| c == "PID")
                .context("ps output has no PID column")?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{header}")?;
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(pid_col)
                    .and_then(|p| p.parse().ok());
                if pid.is_some_and(|p: i32| pids.contains(&p)) {
                    writeln!(stdout, "{line}")?;
                }
            }
        }
        other => bail!("--format: unknown format {other:?} (table or json)"),
    }
    Ok(0)
}
