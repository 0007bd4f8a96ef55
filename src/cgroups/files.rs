//! Reading and writing cgroup control files with one-line errors that name the directory, the
//! file and the reason ("cgroup /sys/fs/cgroup/pids/x: cgroup.procs: Permission denied").

use std::io;
use std::path::Path;

use anyhow::{anyhow, Error};

/// The reason of an I/O error without Rust's "(os error N)" suffix.
pub fn errstr(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// "cgroup <dir>: <file>: <reason>".
pub fn err(dir: &Path, file: &str, e: &io::Error) -> Error {
    if file.is_empty() {
        anyhow!("cgroup {}: {}", dir.display(), errstr(e))
    } else {
        anyhow!("cgroup {}: {}: {}", dir.display(), file, errstr(e))
    }
}

/// Read `dir/file`, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String, Error> {
    std::fs::read_to_string(dir.join(file))
        .map(|s| s.trim().to_string())
        .map_err(|e| err(dir, file, &e))
}

/// Write `data` to `dir/file` in one write (cgroup files take one value per write).
pub fn write(dir: &Path, file: &str, data: &str) -> Result<(), Error> {
    write_raw(dir, file, data).map_err(|e| err(dir, file, &e))
}

/// Like [`write`] but keeping the `io::Error` for callers that branch on it.
pub fn write_raw(dir: &Path, file: &str, data: &str) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(file))?;
    f.write_all(data.as_bytes())
}
