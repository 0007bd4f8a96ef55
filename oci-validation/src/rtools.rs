//! The pure half of the runtime-tools harness (`tests/runtime_tools.rs`): reading one
//! validation program's TAP output, the checked-in list of expected failures, and the verdict
//! and table that compare oxirun with runc program by program.

use std::collections::BTreeMap;
use std::fmt::Write;

/// What one validation program reported for one runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramResult {
    /// Top-level `ok` lines (skips included, as the suite counts them).
    pub ok: usize,
    /// Top-level `not ok` lines: (test number, description).
    pub not_ok: Vec<(usize, String)>,
    /// Exit code; `None` when killed by the harness' timeout or a signal.
    pub exit: Option<i32>,
}

impl ProgramResult {
    /// Count the TAP lines of `stdout` (lines of the YAML diagnostics are indented and skipped).
    pub fn parse(stdout: &str, exit: Option<i32>) -> ProgramResult {
        let mut r = ProgramResult {
            exit,
            ..Default::default()
        };
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("not ok ") {
                let (num, desc) = rest.split_once(' ').unwrap_or((rest, ""));
                let desc = desc.strip_prefix("- ").unwrap_or(desc);
                r.not_ok.push((num.parse().unwrap_or(0), desc.to_string()));
            } else if line.starts_with("ok ") || line == "ok" {
                r.ok += 1;
            }
        }
        r
    }

    fn exit_str(&self) -> String {
        self.exit.map_or("timeout".into(), |c| c.to_string())
    }
}

/// One failure that is not a bug of oxirun's, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// `not ok N` of a program.
    NotOk(usize),
    /// The program exits with this code.
    Exit(i32),
}

/// The expected failures, by program, with their reasons.
pub type ExpectedList = BTreeMap<String, Vec<(Expected, String)>>;

/// Parse the expected-failures file: `program  not-ok:N|exit:N  reason...` per line, `#`
/// comments and blank lines ignored. Every entry needs a reason.
pub fn parse_expected(text: &str) -> Result<ExpectedList, String> {
    let mut list = ExpectedList::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [prog, what, reason @ ..] = words.as_slice() else {
            return Err(format!(
                "line {}: want `program what reason`: {line}",
                i + 1
            ));
        };
        let reason = reason.join(" ");
        let what = match what.split_once(':') {
            Some(("not-ok", n)) => n.parse().map(Expected::NotOk),
            Some(("exit", n)) => n.parse().map(Expected::Exit),
            _ => {
                return Err(format!(
                    "line {}: `{what}` is not not-ok:N or exit:N",
                    i + 1
                ))
            }
        }
        .map_err(|e| format!("line {}: {e}", i + 1))?;
        if reason.is_empty() {
            return Err(format!("line {}: no reason given", i + 1));
        }
        list.entry((*prog).to_string())
            .or_default()
            .push((what, reason));
    }
    Ok(list)
}

/// oxirun's failures in one program that the list does not explain.
pub fn unexplained(prog: &str, r: &ProgramResult, expected: &ExpectedList) -> Vec<String> {
    let listed = expected.get(prog).map(Vec::as_slice).unwrap_or(&[]);
    let has = |e: &Expected| listed.iter().any(|(x, _)| x == e);
    let mut out: Vec<String> = r
        .not_ok
        .iter()
        .filter(|(n, _)| !has(&Expected::NotOk(*n)))
        .map(|(n, d)| format!("{prog}: not ok {n} - {d}"))
        .collect();
    match r.exit {
        Some(0) => {}
        Some(c) if has(&Expected::Exit(c)) => {}
        _ => out.push(format!("{prog}: exit {}", r.exit_str())),
    }
    out
}

/// Entries of the list that did not happen (fixed since, or a changed host): worth a note.
pub fn stale(prog: &str, r: &ProgramResult, expected: &ExpectedList) -> Vec<String> {
    let listed = expected.get(prog).map(Vec::as_slice).unwrap_or(&[]);
    listed
        .iter()
        .filter(|(e, _)| match e {
            Expected::NotOk(n) => !r.not_ok.iter().any(|(m, _)| m == n),
            Expected::Exit(c) => r.exit != Some(*c),
        })
        .map(|(e, why)| format!("{prog}: {e:?} listed but did not happen ({why})"))
        .collect()
}

/// The per-program table (runc | oxirun), with totals.
pub fn table(rows: &[(String, Option<ProgramResult>, ProgramResult)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| program | runc ok | runc not ok | runc exit | oxirun ok | oxirun not ok | oxirun exit |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    let (mut rok, mut rno, mut ook, mut ono, mut rexit, mut oexit) = (0, 0, 0, 0, 0, 0);
    for (prog, runc, ox) in rows {
        let rc = match runc {
            Some(r) => {
                rok += r.ok;
                rno += r.not_ok.len();
                rexit += usize::from(r.exit != Some(0));
                format!("{} | {} | {}", r.ok, r.not_ok.len(), r.exit_str())
            }
            None => "- | - | -".into(),
        };
        ook += ox.ok;
        ono += ox.not_ok.len();
        oexit += usize::from(ox.exit != Some(0));
        let _ = writeln!(
            s,
            "| {prog} | {rc} | {} | {} | {} |",
            ox.ok,
            ox.not_ok.len(),
            ox.exit_str()
        );
    }
    let _ = writeln!(
        s,
        "| **total** ({} programs) | {rok} | {rno} | {rexit} non-zero | {ook} | {ono} | {oexit} non-zero |",
        rows.len()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAP: &str = "TAP version 13\nok 1 - a\nnot ok 2 - b c\n  ---\n  {\"x\": \"not ok 9\"}\n  ...\nok 3 # SKIP d\n1..3\n";

    #[test]
    fn counts_top_level_lines_only() {
        let r = ProgramResult::parse(TAP, Some(0));
        assert_eq!(r.ok, 2);
        assert_eq!(r.not_ok, vec![(2, "b c".to_string())]);
    }

    #[test]
    fn expected_list_explains_failures_and_names_stale_ones() {
        let list = parse_expected(
            "# c\n\nprog  not-ok:2   host: b\nother exit:1 host: no x\nprog not-ok:7 fixed since\n",
        )
        .unwrap();
        let r = ProgramResult::parse(TAP, Some(0));
        assert!(unexplained("prog", &r, &list).is_empty());
        assert_eq!(stale("prog", &r, &list).len(), 1);
        let r = ProgramResult::parse(TAP, Some(1));
        assert_eq!(unexplained("prog", &r, &list), vec!["prog: exit 1"]);
        assert!(unexplained("other", &ProgramResult::parse("", Some(1)), &list).is_empty());
        let t = ProgramResult::parse("", None);
        assert_eq!(unexplained("other", &t, &list), vec!["other: exit timeout"]);
    }

    #[test]
    fn expected_list_needs_a_reason_and_a_known_kind() {
        assert!(parse_expected("prog not-ok:2").is_err());
        assert!(parse_expected("prog fail:2 why").is_err());
        assert!(parse_expected("prog exit:x why").is_err());
    }

    #[test]
    fn table_totals() {
        let ox = ProgramResult::parse(TAP, Some(0));
        let t = table(&[("p".into(), Some(ox.clone()), ox)]);
        assert!(t.contains("| p | 2 | 1 | 0 | 2 | 1 | 0 |"), "{t}");
        assert!(
            t.contains("| **total** (1 programs) | 2 | 1 | 0 non-zero | 2 | 1 | 0 non-zero |"),
            "{t}"
        );
    }
}
