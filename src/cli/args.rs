//! Argument normalisation before clap sees them: Go-style single-dash long flags and
//! `--bool=true|false`. Stops at the first positional after the subcommand, so a container's
//! own arguments (e.g. `exec ID sh -c ...`) are never touched.

use std::ffi::OsString;

/// Long flags that take a value (a following argument is their value, not a positional).
const VALUE_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "rootless",
    "bundle",
    "pid-file",
    "console-socket",
    "preserve-fds",
    "format",
    "criu",
    "cgroup-manager",
    "process",
    "cwd",
    "env",
    "user",
    "additional-gids",
    "cap",
    "apparmor",
    "process-label",
    // checkpoint / restore
    "image-path",
    "work-path",
    "parent-path",
    "manage-cgroups-mode",
    "empty-ns",
    "page-server",
    "status-fd",
    "lsm-profile",
    "lsm-mount-context",
];
/// Short flags that take a value.
const VALUE_SHORTS: &[&str] = &["-b", "-f", "-p", "-e", "-u", "-g", "-c"];
/// Boolean long flags (Go's flag package accepts `--x=true` / `--x=false`).
const BOOL_FLAGS: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "no-pivot",
    "no-new-keyring",
    "force",
    "all",
    "detach",
    "keep",
    "quiet",
    "no-subreaper",
    "tty",
    "no-new-privs",
    "ignore-paused",
    // checkpoint / restore
    "leave-running",
    "tcp-established",
    "ext-unix-sk",
    "shell-job",
    "file-locks",
    "pre-dump",
    "auto-dedup",
    "lazy-pages",
    "tcp-close",
];

fn is_known(name: &str) -> bool {
    VALUE_FLAGS.contains(&name) || BOOL_FLAGS.contains(&name) || name == "help" || name == "version"
}

pub fn normalize(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut iter = argv.into_iter();
    if let Some(prog) = iter.next() {
        out.push(prog);
    }
    let mut seen_subcommand = false;
    let mut expect_value = false;
    while let Some(arg) = iter.next() {
        let Some(s) = arg.to_str().map(str::to_owned) else {
            out.push(arg);
            continue;
        };
        if expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        if s == "--" {
            out.push(arg);
            out.extend(iter);
            break;
        }
        // "-root" -> "--root" for known long names only.
        let s = match s.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') && rest.len() > 1 => {
                let name = rest.split('=').next().unwrap_or(rest);
                if is_known(name) {
                    format!("-{s}")
                } else {
                    s
                }
            }
            _ => s,
        };
        if let Some(rest) = s.strip_prefix("--") {
            let (name, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            if BOOL_FLAGS.contains(&name) {
                match value {
                    Some("true") | None => out.push(format!("--{name}").into()),
                    Some("false") => {}
                    Some(_) => out.push(s.clone().into()),
                }
                continue;
            }
            if VALUE_FLAGS.contains(&name) && value.is_none() {
                expect_value = true;
            }
            out.push(s.into());
            continue;
        }
        if VALUE_SHORTS.contains(&s.as_str()) {
            expect_value = true;
            out.push(s.into());
            continue;
        }
        if s.starts_with('-') && s.len() > 1 {
            out.push(s.into());
            continue;
        }
        // A positional: the subcommand first, then the container id; after the id, stop.
        out.push(s.into());
        if seen_subcommand {
            out.extend(iter);
            break;
        }
        seen_subcommand = true;
    }
    hoist_globals(out)
}

/// The subcommand of an already normalised command line: its first positional argument.
pub fn subcommand(argv: &[OsString]) -> Option<&str> {
    subcommand_index(argv).and_then(|i| argv[i].to_str())
}

fn subcommand_index(argv: &[OsString]) -> Option<usize> {
    let mut expect_value = false;
    for (i, arg) in argv.iter().enumerate().skip(1) {
        let s = arg.to_str()?;
        if std::mem::take(&mut expect_value) {
            continue;
        }
        if s == "--" {
            return None;
        }
        if let Some(rest) = s.strip_prefix("--") {
            expect_value = VALUE_FLAGS.contains(&rest) && !rest.contains('=');
            continue;
        }
        if VALUE_SHORTS.contains(&s) {
            expect_value = true;
            continue;
        }
        if s.starts_with('-') && s.len() > 1 {
            continue;
        }
        return Some(i);
    }
    None
}

/// The global flags (runc's go before the subcommand; we also take them after it).
const GLOBAL_FLAGS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "debug",
    "systemd-cgroup",
    "cgroup-manager",
    "rootless",
];

/// Move global flags written between the subcommand and its first positional in front of the
/// subcommand, so clap knows them at the top level only: declaring them `global` made clap
/// copy all seven into each of the fifteen subcommands on every start (~180 KiB of heap).
fn hoist_globals(mut argv: Vec<OsString>) -> Vec<OsString> {
    let Some(sub) = subcommand_index(&argv) else {
        return argv;
    };
    let mut moved: Vec<OsString> = Vec::new();
    let mut i = sub + 1;
    while i < argv.len() {
        let Some(s) = argv[i].to_str() else { break };
        if s == "--" {
            break;
        }
        if let Some(rest) = s.strip_prefix("--") {
            let (name, inline_value) = match rest.split_once('=') {
                Some((n, _)) => (n, true),
                None => (rest, false),
            };
            let takes_value = VALUE_FLAGS.contains(&name) && !inline_value;
            if GLOBAL_FLAGS.contains(&name) {
                let rootless = name == "rootless";
                let flag = argv.remove(i);
                if takes_value && rootless {
                    // Its value is optional: a bare `--rootless` means true, and must not eat
                    // the next flag or (once moved) the subcommand.
                    let next = argv.get(i).and_then(|a| a.to_str());
                    if matches!(next, Some("true" | "false" | "auto")) {
                        moved.push(flag);
                        moved.push(argv.remove(i));
                    } else {
                        moved.push("--rootless=true".into());
                    }
                } else if takes_value && i < argv.len() {
                    moved.push(flag);
                    moved.push(argv.remove(i));
                } else {
                    moved.push(flag);
                }
                continue;
            }
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        if VALUE_SHORTS.contains(&s) {
            i += 2;
            continue;
        }
        if s.starts_with('-') && s.len() > 1 {
            i += 1;
            continue;
        }
        // The first positional (the container id): what follows belongs to the container.
        break;
    }
    argv.splice(sub..sub, moved);
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    fn sub(args: &[&str]) -> Option<String> {
        let argv = normalize(args.iter().map(OsString::from).collect());
        subcommand(&argv).map(str::to_owned)
    }

    #[test]
    fn subcommand_skips_global_flags_and_their_values() {
        assert_eq!(
            sub(&["oxirun", "--root", "run", "state", "x"]).as_deref(),
            Some("state")
        );
        assert_eq!(
            sub(&["oxirun", "-log", "/l", "--debug", "run", "x"]).as_deref(),
            Some("run")
        );
        assert_eq!(
            sub(&["oxirun", "--root=/r", "exec", "x"]).as_deref(),
            Some("exec")
        );
        assert_eq!(
            sub(&["oxirun", "--rootless", "false", "create", "x"]).as_deref(),
            Some("create")
        );
        assert_eq!(sub(&["oxirun", "--debug"]), None);
        assert_eq!(sub(&["oxirun", "--", "run"]), None);
    }

    #[test]
    fn global_flags_after_the_subcommand_move_before_it() {
        assert_eq!(
            n(&["oxirun", "run", "--root", "/r", "-d", "--debug", "x", "--root", "y"]),
            ["oxirun", "--root", "/r", "--debug", "run", "-d", "x", "--root", "y"]
        );
        assert_eq!(
            n(&["oxirun", "state", "--log-format=json", "x"]),
            ["oxirun", "--log-format=json", "state", "x"]
        );
        assert_eq!(
            n(&["oxirun", "spec", "--rootless"]),
            ["oxirun", "--rootless=true", "spec"]
        );
        assert_eq!(
            n(&["oxirun", "spec", "--rootless", "--bundle", "b"]),
            ["oxirun", "--rootless=true", "spec", "--bundle", "b"]
        );
        assert_eq!(
            n(&["oxirun", "create", "--rootless", "false", "x"]),
            ["oxirun", "--rootless", "false", "create", "x"]
        );
        assert_eq!(
            n(&["oxirun", "exec", "-e", "--root=x", "c", "sh"]),
            ["oxirun", "exec", "-e", "--root=x", "c", "sh"]
        );
    }

    #[test]
    fn single_dash_long_flags() {
        assert_eq!(
            n(&["oxirun", "-root", "/r", "create", "-bundle=/b", "c1"]),
            ["oxirun", "--root", "/r", "create", "--bundle=/b", "c1"]
        );
    }

    #[test]
    fn bool_values() {
        assert_eq!(
            n(&["oxirun", "--debug=false", "run", "--detach=true", "c"]),
            ["oxirun", "run", "--detach", "c"]
        );
    }

    #[test]
    fn stops_after_the_container_id() {
        assert_eq!(
            n(&["oxirun", "--root", "-x", "kill", "c1", "-9", "--all=true"]),
            ["oxirun", "--root", "-x", "kill", "c1", "-9", "--all=true"]
        );
    }
}
