//! `oxirun features`: the features JSON (4-space indented like runc), nothing on stderr.

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

pub fn run() -> Result<i32> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    crate::features::document()
        .serialize(&mut ser)
        .context("encode features")?;
    buf.push(b'\n');
    std::io::stdout()
        .write_all(&buf)
        .context("write features")?;
    Ok(0)
}
