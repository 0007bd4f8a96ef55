//! Check results and their TAP rendering (`ok N - <section>: <what>`, `not ok`, `# SKIP`, `# TODO`).

use std::fmt;

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Failed: the text says what was expected and what was observed.
    Fail(String),
    /// Not run, with the reason (host or runtime cannot support it).
    Skip(String),
    /// Failed, but a documented, deliberate runc-compatible deviation (see README.md).
    Todo(String),
}

impl Outcome {
    /// Pass when `ok`, else fail with the message built by `msg`.
    pub fn check(ok: bool, msg: impl FnOnce() -> String) -> Self {
        if ok {
            Outcome::Pass
        } else {
            Outcome::Fail(msg())
        }
    }

    /// Pass when `got == want`, else a fail message showing both.
    pub fn eq<T: PartialEq + fmt::Debug>(got: T, want: T) -> Self {
        Self::check(got == want, || format!("expected {want:?}, got {got:?}"))
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail(_))
    }

    /// Short column label for the comparison table.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "ok",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "skip",
            Outcome::Todo(_) => "todo",
        }
    }
}

/// One check: the spec section it belongs to (`config.md#process`), what it checks, its outcome.
#[derive(Clone, Debug)]
pub struct Check {
    pub section: String,
    pub what: String,
    pub outcome: Outcome,
}

impl Check {
    pub fn new(section: &str, what: impl Into<String>, outcome: Outcome) -> Self {
        Check {
            section: section.to_string(),
            what: what.into(),
            outcome,
        }
    }

    /// The TAP line for test number `n` (no trailing newline); failure details follow as comments.
    pub fn tap(&self, n: usize) -> String {
        let desc = format!("{}: {}", self.section, self.what.replace('#', "\\#"));
        match &self.outcome {
            Outcome::Pass => format!("ok {n} - {desc}"),
            Outcome::Fail(m) => format!("not ok {n} - {desc}\n#   {}", m.replace('\n', "\n#   ")),
            Outcome::Skip(r) => format!("ok {n} - {desc} # SKIP {r}"),
            Outcome::Todo(r) => format!("not ok {n} - {desc} # TODO {r}"),
        }
    }

    /// Parses the TAP output of the checker back into checks (inverse of [`Check::tap`]).
    pub fn parse_tap(text: &str) -> Vec<Check> {
        let mut out: Vec<Check> = Vec::new();
        for line in text.lines() {
            if let Some(detail) = line.strip_prefix("#   ") {
                if let Some(Check {
                    outcome: Outcome::Fail(m),
                    ..
                }) = out.last_mut()
                {
                    if !m.is_empty() {
                        m.push('\n');
                    }
                    m.push_str(detail);
                }
                continue;
            }
            let (ok, rest) = if let Some(r) = line.strip_prefix("ok ") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("not ok ") {
                (false, r)
            } else {
                continue;
            };
            let Some((_, desc)) = rest.split_once(" - ") else {
                continue;
            };
            let (desc, directive) = match desc.split_once(" # ") {
                Some((d, dir)) => (d, Some(dir)),
                None => (desc, None),
            };
            let (section, what) = desc.split_once(": ").unwrap_or(("unknown", desc));
            let outcome = match (ok, directive) {
                (true, Some(d)) if d.starts_with("SKIP") => Outcome::Skip(d[4..].trim().into()),
                (false, Some(d)) if d.starts_with("TODO") => Outcome::Todo(d[4..].trim().into()),
                (true, _) => Outcome::Pass,
                (false, _) => Outcome::Fail(String::new()),
            };
            out.push(Check::new(section, what.replace("\\#", "#"), outcome));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_round_trip() {
        let checks = [
            Check::new("config.md#process", "cwd is /tmp", Outcome::Pass),
            Check::new(
                "config.md#user",
                "uid",
                Outcome::Fail("expected 1, got 2\nmore".into()),
            ),
            Check::new(
                "config-linux.md#seccomp",
                "mode",
                Outcome::Skip("no seccomp".into()),
            ),
            Check::new(
                "runtime.md#delete",
                "a #x",
                Outcome::Todo("runc compat".into()),
            ),
        ];
        let text: Vec<String> = checks
            .iter()
            .enumerate()
            .map(|(i, c)| c.tap(i + 1))
            .collect();
        let back = Check::parse_tap(&text.join("\n"));
        assert_eq!(back.len(), 4);
        for (a, b) in checks.iter().zip(&back) {
            assert_eq!(a.section, b.section);
            assert_eq!(a.what, b.what);
            assert_eq!(a.outcome, b.outcome);
        }
    }
}
