//! `oxirun list`: a table (like runc's), JSON, or only the ids.

use std::io::Write;

use anyhow::{bail, Context, Result};

use super::Globals;
use crate::container;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn owner_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("#{uid}"),
    }
}

pub fn run(g: &Globals, args: Args) -> Result<i32> {
    let all = container::list(&g.root)?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for (st, _) in &all {
            writeln!(out, "{}", st.id)?;
        }
        return Ok(0);
    }
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&g.root).map(|m| m.uid()).unwrap_or(0)
    };
    match args.format.as_str() {
        "json" => {
            let items: Vec<serde_json::Value> = all
                .iter()
                .map(|(st, s)| {
                    let mut v =
                        serde_json::to_value(container::oci_state(st, *s)).unwrap_or_default();
                    v["owner"] = owner_name(uid).into();
                    v
                })
                .collect();
            let text = if items.is_empty() {
                "null".to_string()
            } else {
                serde_json::to_string(&items).context("encode list")?
            };
            writeln!(out, "{text}")?;
        }
        "table" => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|(st, s)| {
                    let pid = if *s == container::Status::Stopped {
                        0
                    } else {
                        st.pid
                    };
                    [
                        st.id.clone(),
                        pid.to_string(),
                        s.as_str().to_string(),
                        st.bundle.display().to_string(),
                        st.created.clone(),
                        owner_name(uid),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.len());
                }
            }
            for r in std::iter::once(&header).chain(rows.iter()) {
                let line: Vec<String> = r
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                writeln!(out, "{}", line.join("   ").trim_end())?;
            }
        }
        other => bail!("--format: unknown format {other:?} (table or json)"),
    }
    Ok(0)
}
