//! runc-compatible log lines: logrus' text format (`time="..." level=error msg="..."`) and its
//! JSON format (`{"level":"error","msg":"...","time":"..."}`, keys sorted), appended to `--log`.
//!
//! Clients read these: containerd's shim takes the last `error` object of the JSON log, podman
//! expects exactly one object on failure, so by default only errors are logged. `--debug` adds
//! `debug` lines for the steps of each command (as runc does), and `--log FILE` creates FILE
//! at once, also when nothing is logged.
//!
//! A process on its way into the container (the init, an exec'd process) logs only to the
//! file, and only through the fd opened before it left the host's filesystem (with `--debug`
//! the runtime keeps it open): its stderr is the container's, where a line of ours would be
//! the container's output, and the log's path, opened inside the rootfs, would name a
//! container's file. The init closes that fd before it reports ready.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Config {
    file: Option<PathBuf>,
    format: Format,
    debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Set in a process that is becoming the container's: no more lines on stderr, and the log
/// file only through [`HELD`].
static IN_CONTAINER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// With `--debug --log FILE`: FILE, open from the start (close-on-exec).
static HELD: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

fn held() -> std::sync::MutexGuard<'static, Option<std::fs::File>> {
    HELD.lock().unwrap_or_else(|p| p.into_inner())
}

/// Set once from the global flags; creates the log file (runc's clients expect it to exist).
pub fn init(file: Option<PathBuf>, format: Format, debug: bool) {
    if let Some(path) = &file {
        let f = open_log(path);
        if debug {
            *held() = f.ok();
        }
    }
    let _ = CONFIG.set(Config {
        file,
        format,
        debug,
    });
}

/// Called first thing in a forked child that becomes a container process (see module doc).
pub fn entering_container() {
    IN_CONTAINER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The held log fd, which a process entering the container keeps while it closes strays.
pub fn held_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    held().as_ref().map(|f| f.as_raw_fd())
}

/// Close the held log fd (the init, before it reports ready: no host file stays open in a
/// created container).
pub fn close_held() {
    *held() = None;
}

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(libc::O_SYNC | libc::O_CLOEXEC)
        .open(path)
}

fn config() -> &'static Config {
    CONFIG.get_or_init(|| Config {
        file: None,
        format: Format::Text,
        debug: false,
    })
}

/// Whether `--debug` was given (check before formatting a costly message).
pub fn enabled() -> bool {
    config().debug
}

/// `debug!("fmt", args..)`: a debug line, formatted only with `--debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::logging::enabled() {
            $crate::logging::debug(&format!($($arg)*));
        }
    };
}

/// Log a debug line (only with `--debug`).
pub fn debug(msg: &str) {
    if config().debug {
        write_line("debug", msg);
    }
}

/// Log a warning line.
pub fn warn(msg: &str) {
    write_line("warning", msg);
}

/// Report a fatal error the way runc does: to the log (file, or stderr when there is none)
/// and, when the log goes to a file, also as plain text on stderr.
pub fn fatal(msg: &str) {
    write_line("error", msg);
    if config().file.is_some() {
        let _ = writeln!(std::io::stderr(), "{msg}");
    }
}

fn write_line(level: &str, msg: &str) {
    let cfg = config();
    let line = format_line(cfg.format, level, msg, &now_rfc3339());
    let in_container = IN_CONTAINER.load(std::sync::atomic::Ordering::Relaxed);
    match &cfg.file {
        Some(path) => {
            if let Some(f) = held().as_mut() {
                let _ = f.write_all(line.as_bytes());
            } else if !in_container {
                if let Ok(mut f) = open_log(path) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
        None if in_container => {}
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// One log line, newline-terminated.
pub fn format_line(format: Format, level: &str, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            // Keys sorted like logrus' JSONFormatter.
            let obj = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{obj}\n")
        }
        Format::Text => {
            let quoted = serde_json::to_string(msg).unwrap_or_default();
            format!("time=\"{time}\" level={level} msg={quoted}\n")
        }
    }
}

/// Current UTC time as RFC 3339 with seconds (logrus' default).
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, None)
}

/// Current UTC time as RFC 3339 with nanoseconds (the state's `created`).
pub fn now_rfc3339_nanos() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, Some(d.subsec_nanos()))
}

/// Format a UNIX time as `YYYY-MM-DDTHH:MM:SS[.nnnnnnnnn]Z` (days-from-civil, no tz database).
pub fn rfc3339(secs: i64, nanos: Option<u32>) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    if mo <= 2 {
        y += 1;
    }
    match nanos {
        Some(n) => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{n:09}Z"),
        None => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, None), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, None), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(1_735_787_045, Some(123_456_789)),
            "2025-01-02T03:04:05.123456789Z"
        );
    }

    #[test]
    fn json_line_has_sorted_keys_and_escapes() {
        let l = format_line(Format::Json, "error", "exec: \"foo\"", "T");
        assert_eq!(
            l,
            "{\"level\":\"error\",\"msg\":\"exec: \\\"foo\\\"\",\"time\":\"T\"}\n"
        );
    }

    #[test]
    fn text_line_quotes_msg() {
        let l = format_line(Format::Text, "error", "a b", "T");
        assert_eq!(l, "time=\"T\" level=error msg=\"a b\"\n");
    }
}
