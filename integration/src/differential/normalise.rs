//! Normalising what the two runtimes print so that only meaningful differences remain: the
//! *class* of an error (runc and oxirun word their messages differently), stdout with the
//! per-runtime paths, ids, pids and times replaced by placeholders, and JSON flattened into
//! one comparable leaf per path.

use serde_json::Value;

/// Error classes, first match wins: `(class, any of these lowercase phrases)`.
const CLASSES: &[(&str, &[&str])] = &[
    ("bad-signal", &["invalid signal", "unknown signal"]),
    (
        "bad-value",
        &[
            "invalid value",
            "invalid size",
            "invalid number",
            "parse error",
        ],
    ),
    (
        "usage",
        &[
            "flag provided but not defined",
            "required argument",
            "unexpected argument",
            "unrecognized subcommand",
            "no help topic",
            "requires exactly",
            "requires a minimum",
            "requires at least",
            "incorrect usage",
            "accepts",
            "usage:",
        ],
    ),
    ("lsm", &["apparmor", "selinux"]),
    (
        "exec-not-found",
        &["executable file not found", "not found in $path"],
    ),
    (
        "invalid-id",
        &["invalid container id", "invalid id", "container id"],
    ),
    (
        "exists",
        &["already exists", "file exists", "exists. remove it first"],
    ),
    (
        "missing-file",
        &[
            "no such file or directory",
            "config.json not found",
            "enoent",
        ],
    ),
    (
        "no-such-container",
        &["does not exist", "not found", "no such container"],
    ),
    (
        "paused",
        &[
            "is paused",
            "container paused",
            "already paused",
            "cannot exec in a paused",
        ],
    ),
    (
        "running",
        &[
            "is running",
            "still running",
            "running container",
            "cannot delete container",
            "not stopped",
        ],
    ),
    ("not-paused", &["not paused"]),
    (
        "not-running",
        &[
            "not running",
            "is stopped",
            "stopped container",
            "cannot exec in a stopped",
        ],
    ),
    (
        "bad-state",
        &["not in created state", "cannot start", "not created"],
    ),
    ("tty", &["tty", "console", "terminal"]),
    (
        "bad-config",
        &[
            "config.json",
            "json",
            "unmarshal",
            "parse",
            "invalid",
            "spec",
            "duplicate",
            "not a valid",
            "wrong rlimit",
            "unknown variant",
            "malformed",
        ],
    ),
    ("no-rootfs", &["rootfs", "pivot_root", "chroot"]),
    ("exec-failed", &["exec", "executable"]),
    ("cgroup", &["cgroup"]),
    (
        "permission",
        &[
            "permission denied",
            "operation not permitted",
            "eacces",
            "eperm",
        ],
    ),
];

/// The class of an error message (`none` for an empty stderr, `other` when nothing matches).
pub fn error_class(stderr: &str) -> &'static str {
    let s = stderr.to_lowercase();
    if s.trim().is_empty() {
        return "none";
    }
    CLASSES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| s.contains(p)))
        .map_or("other", |(c, _)| c)
}

/// Replaces each `(literal, placeholder)` in order (longest paths first is the caller's job).
pub fn placeholders(text: &str, subst: &[(String, &str)]) -> String {
    let mut t = text.to_string();
    for (lit, ph) in subst {
        if !lit.is_empty() {
            t = t.replace(lit.as_str(), ph);
        }
    }
    t
}

/// A token that is a number, a time or a date (`1234`, `07:31`, `00:00:01`,
/// `2026-12-02T06:59:01.12Z`): replaced by `<n>` in text output.
fn volatile_token(tok: &str) -> bool {
    tok.bytes().any(|b| b.is_ascii_digit())
        && tok
            .bytes()
            .all(|b| b.is_ascii_digit() || b":.-+TZ".contains(&b))
}

/// Text output: volatile tokens replaced, runs of blanks collapsed, `\r` dropped, trimmed lines.
pub fn text(t: &str) -> String {
    t.replace('\r', "")
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|w| if volatile_token(w) { "<n>" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// JSON flattened to `(path, leaf)`: `pid` and `created` leaves and timestamps become
/// placeholders; an array of numbers (e.g. `ps --format json`) becomes its length.
pub fn flatten_json(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

fn walk(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = path.rsplit('.').next().unwrap_or("");
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                walk(&format!("{path}.{k}"), x, out);
            }
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_number) => {
            out.push((path.to_string(), format!("<{} numbers>", a.len())));
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                walk(&format!("{path}[{i}]"), x, out);
            }
        }
        Value::Number(n) if key == "pid" => {
            let leaf = if n.as_i64() == Some(0) { "0" } else { "<pid>" };
            out.push((path.to_string(), leaf.to_string()));
        }
        Value::String(s) if key == "created" || volatile_token(s) && s.contains('T') => {
            out.push((path.to_string(), "<time>".to_string()));
        }
        other => out.push((path.to_string(), other.to_string())),
    }
}

/// JSON reduced to the set of its key paths (numbers that vary, like `events --stats`).
pub fn json_keys(v: &Value) -> Vec<(String, String)> {
    flatten_json(v)
        .into_iter()
        .map(|(k, _)| (k, "present".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(error_class(""), "none");
        assert_eq!(
            error_class("container \"x\" does not exist"),
            "no-such-container"
        );
        assert_eq!(
            error_class("container with given ID already exists"),
            "exists"
        );
        assert_eq!(error_class("flag provided but not defined: -zz"), "usage");
        assert_eq!(error_class("something odd"), "other");
    }

    #[test]
    fn text_and_json() {
        assert_eq!(text("a  12  07:31\r\n\n b"), "a <n> <n>\nb");
        let v: Value = serde_json::json!({"pid": 12, "created": "x", "st": "running",
                                          "pids": [1, 2], "l": [{"a": 1}]});
        let f = flatten_json(&v);
        assert!(f.contains(&(".pid".into(), "<pid>".into())));
        assert!(f.contains(&(".created".into(), "<time>".into())));
        assert!(f.contains(&(".pids".into(), "<2 numbers>".into())));
        assert!(f.contains(&(".l[0].a".into(), "1".into())));
        assert!(f.contains(&(".st".into(), "\"running\"".into())));
    }
}
