//! The command line, runc-compatible: global flags before the subcommand, `--f v` and
//! `--f=v`, single-dash long flags (go-runc sends `-no-subreaper`), `--bool=true|false`.
//! One file per subcommand; parsing and printing only, the work is in `container`.

pub mod args;
mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::logging;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The runtime-spec version we implement.
pub const SPEC_VERSION: &str = "1.2.0";

#[derive(Parser, Debug)]
#[command(
    name = "oxirun",
    about = "oxirun: a low-level OCI container runtime (runc-compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for container state
    #[arg(long)]
    root: Option<PathBuf>,
    /// Log file (default: stderr)
    #[arg(long)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", default_value = "text")]
    log_format: String,
    /// Enable debug logging
    #[arg(long)]
    debug: bool,
    /// Use the systemd cgroup driver (transient units; cgroupsPath is slice:prefix:name)
    #[arg(long = "systemd-cgroup")]
    systemd_cgroup: bool,
    /// cgroup manager (crun's flag): cgroupfs (default), systemd (= --systemd-cgroup) or
    /// disabled (no cgroup at all; podman passes it to runtimes that support it)
    #[arg(long = "cgroup-manager")]
    cgroup_manager: Option<String>,
    /// Rootless mode: true, false or auto (for `spec`: generate a rootless config)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    /// Path to the criu binary for checkpoint and restore (default: criu on PATH)
    #[arg(long, value_name = "PATH")]
    criu: Option<PathBuf>,
    /// Print the version
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

// Each subcommand's arguments are built only when that subcommand is used (`defer`): building
// all fifteen on every start cost ~14 pages of stack and a third of clap's time.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Create a container (its init waits for `start`)
    Create(create::Args),
    /// Start a created container
    Start(start::Args),
    /// Print a container's state as JSON
    State(state::Args),
    /// Send a signal to a container's init (or every process with --all)
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// Create, start and wait for a container
    Run(run::Args),
    /// List containers
    #[command(alias = "ps-all")]
    List(list::Args),
    /// Run a new process inside a container
    Exec(exec::Args),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(pause::Args),
    /// List the processes of a container
    Ps(ps::Args),
    /// Update a running container's resource limits
    Update(update::Args),
    /// Container stats and OOM notifications (JSON lines)
    Events(events::Args),
    /// Write a default config.json
    Spec(spec::Args),
    /// Print what this runtime implements (runtime-spec features.md)
    Features,
    /// Checkpoint a running container with CRIU
    Checkpoint(checkpoint::CheckpointArgs),
    /// Restore a container from a CRIU checkpoint
    Restore(checkpoint::RestoreArgs),
}

/// The whole command line definition, every subcommand built (for completions and the man
/// page: `src/bin/oxirun-docs.rs`).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// What every subcommand gets from the global flags.
pub struct Globals {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    /// `--cgroup-manager=disabled`: create containers without a cgroup.
    pub no_cgroups: bool,
    pub rootless: bool,
    /// `--criu`: the CRIU binary for checkpoint and restore.
    pub criu: PathBuf,
}

fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        // Real root uses /run/oxirun; root of a user namespace (podman rootless runs us in
        // its own) honours XDG_RUNTIME_DIR unless USER says root, as runc does.
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        match xdg {
            Some(d)
                if in_user_namespace() && std::env::var("USER").ok().as_deref() != Some("root") =>
            {
                return PathBuf::from(d).join("oxirun");
            }
            _ => return PathBuf::from("/run/oxirun"),
        }
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("oxirun"),
        _ => PathBuf::from(format!("/tmp/oxirun-{}", nix::unistd::geteuid())),
    }
}

/// Whether we run in a user namespace other than the initial one (its uid_map is not the
/// identity over the whole id range).
fn in_user_namespace() -> bool {
    crate::sys::read_small("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// Entry point: returns the process exit code.
pub fn main() -> i32 {
    if let Some(code) = crate::checkpoint::as_criu_hook() {
        return code;
    }
    let argv = args::normalize(std::env::args_os().collect());
    if matches!(args::subcommand(&argv), Some("create" | "run" | "exec")) {
        // Usually already done at the ELF entry point (`sys::entry`), before libc started;
        // this covers the rest (memfd copy, unprivileged callers) before clap builds its
        // tables. A failure here is reported by the check below.
        let _ = crate::sys::selfexe::ensure_protected();
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return 0;
            }
            // One line, exit 1 (runc's usage errors exit 1, clap's would exit 2).
            eprintln!("oxirun: {}", usage_error_line(&e.to_string()));
            return 1;
        }
    };
    if cli.version {
        print_version();
        return 0;
    }
    let format = match cli.log_format.as_str() {
        "text" => logging::Format::Text,
        "json" => logging::Format::Json,
        other => {
            eprintln!("oxirun: --log-format: unknown format {other:?} (text or json)");
            return 1;
        }
    };
    logging::init(cli.log.clone(), format, cli.debug);
    let rootless = match cli.rootless.as_deref().unwrap_or("auto") {
        "true" => true,
        "false" => false,
        // runc: not root, or root of a user namespace (rootless podman runs us in its own).
        "auto" => !nix::unistd::geteuid().is_root() || in_user_namespace(),
        other => {
            logging::fatal(&format!(
                "--rootless: invalid value {other:?} (true, false or auto)"
            ));
            return 1;
        }
    };
    let (systemd_cgroup, no_cgroups) = match cli.cgroup_manager.as_deref() {
        None | Some("cgroupfs") => (cli.systemd_cgroup, false),
        Some("systemd") => (true, false),
        Some("disabled") => (cli.systemd_cgroup, true),
        Some(other) => {
            logging::fatal(&format!(
                "--cgroup-manager: unknown manager {other:?} (cgroupfs, systemd or disabled)"
            ));
            return 1;
        }
    };
    let globals = Globals {
        no_cgroups,
        // Absolute: create chdirs into the bundle.
        root: cli
            .root
            .clone()
            .map(|r| std::path::absolute(&r).unwrap_or(r))
            .unwrap_or_else(default_root),
        systemd_cgroup,
        rootless,
        criu: cli.criu.clone().unwrap_or_else(|| PathBuf::from("criu")),
    };
    let Some(command) = cli.command else {
        eprintln!("oxirun: no command given (try --help)");
        return 1;
    };
    if matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        // These put our binary inside a container: run from a sealed copy (CVE-2019-5736).
        if let Err(e) = crate::sys::selfexe::ensure_protected() {
            logging::fatal(&format!(
                "protecting the oxirun binary (CVE-2019-5736): {e}"
            ));
            return 1;
        }
    }
    let result = match command {
        Command::Create(a) => create::run(&globals, a),
        Command::Start(a) => start::run(&globals, a),
        Command::State(a) => state::run(&globals, a),
        Command::Kill(a) => kill::run(&globals, a),
        Command::Delete(a) => delete::run(&globals, a),
        Command::Run(a) => run::run(&globals, a),
        Command::List(a) => list::run(&globals, a),
        Command::Exec(a) => exec::run(&globals, a),
        Command::Pause(a) => pause::pause(&globals, a),
        Command::Resume(a) => pause::resume(&globals, a),
        Command::Ps(a) => ps::run(&globals, a),
        Command::Update(a) => update::run(&globals, a),
        Command::Events(a) => events::run(&globals, a),
        Command::Features => features::run(),
        Command::Spec(a) => spec::run(a, cli.rootless.as_deref() == Some("true")),
        Command::Checkpoint(a) => checkpoint::checkpoint(&globals, a),
        Command::Restore(a) => checkpoint::restore(&globals, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            logging::fatal(&strip_os_error(&format!("{e:#}")));
            1
        }
    }
}

/// clap's multi-line usage error as one line (the text before "Usage:").
fn usage_error_line(msg: &str) -> String {
    let words: Vec<&str> = msg
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    words.join(" ").trim_start_matches("error: ").to_string()
}

/// Rust's io::Error appends " (os error N)"; runc's messages do not, and clients match text.
pub(crate) fn strip_os_error(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.find(')') {
            Some(j) => rest = &rest[j + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

fn print_version() {
    println!("oxirun version {VERSION}");
    println!("commit: {}", env!("OXIRUN_COMMIT"));
    println!("spec: {SPEC_VERSION}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_error_suffix_is_removed() {
        assert_eq!(
            strip_os_error("a: No such file or directory (os error 2): b (os error 13)"),
            "a: No such file or directory: b"
        );
    }

    #[test]
    fn usage_error_is_one_line() {
        let e = "error: the following required arguments were not provided:\n  <ID>\n\nUsage: oxirun create <ID>\n";
        assert_eq!(
            usage_error_line(e),
            "the following required arguments were not provided: <ID>"
        );
    }
}
