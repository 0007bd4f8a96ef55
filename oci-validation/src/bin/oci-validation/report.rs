//! Printing results: TAP per runtime (`ok N - <section>: [<case>] <what>`), the summary table
//! by spec section, and the side-by-side comparison of two runtimes.

use std::collections::BTreeMap;

use oci_validation::tap::{Check, Outcome};

use crate::cases::Case;

/// The results of one runtime: per case, its checks.
pub struct Results {
    pub runtime: String,
    pub cases: Vec<(&'static Case, Vec<Check>)>,
}

impl Results {
    fn flat(&self) -> impl Iterator<Item = (&'static Case, &Check)> {
        self.cases
            .iter()
            .flat_map(|(c, v)| v.iter().map(move |ch| (*c, ch)))
    }

    pub fn failures(&self) -> usize {
        self.flat().filter(|(_, c)| c.outcome.is_fail()).count()
    }

    /// The TAP stream.
    pub fn tap(&self) -> String {
        let mut s = format!("TAP version 13\n# runtime: {}\n", self.runtime);
        let mut n = 0;
        for (case, checks) in &self.cases {
            s += &format!("# case {} ({}): {}\n", case.id, case.section, case.spec);
            for c in checks {
                n += 1;
                let tagged = Check::new(
                    &c.section,
                    format!("[{}] {}", case.id, c.what),
                    c.outcome.clone(),
                );
                s += &tagged.tap(n);
                s.push('\n');
            }
        }
        s += &format!("1..{n}\n");
        s
    }

    /// Checks per spec section: pass/fail/skip/todo, and per case.
    pub fn summary(&self) -> String {
        let mut by: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        let mut cases: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for (case, c) in self.flat() {
            let i = match c.outcome {
                Outcome::Pass => 0,
                Outcome::Fail(_) => 1,
                Outcome::Skip(_) => 2,
                Outcome::Todo(_) => 3,
            };
            by.entry(c.section.clone()).or_default()[i] += 1;
            cases.entry(case.id).or_default()[i] += 1;
        }
        let mut s = format!(
            "\n# Summary for {} (checks by spec section)\n",
            self.runtime
        );
        s += &format!(
            "# {:<46} {:>5} {:>5} {:>5} {:>5}\n",
            "section", "pass", "fail", "skip", "todo"
        );
        let mut tot = [0usize; 4];
        for (sec, n) in &by {
            s += &format!(
                "# {:<46} {:>5} {:>5} {:>5} {:>5}\n",
                sec, n[0], n[1], n[2], n[3]
            );
            (0..4).for_each(|i| tot[i] += n[i]);
        }
        s += &format!(
            "# {:<46} {:>5} {:>5} {:>5} {:>5}\n",
            "TOTAL", tot[0], tot[1], tot[2], tot[3]
        );
        s += &format!(
            "# cases: {} ({} with a failing check)\n",
            cases.len(),
            cases.values().filter(|n| n[1] > 0).count()
        );
        s
    }
}

/// Short `3 ok, 1 FAIL` tally of outcomes.
fn tally<'a>(it: impl Iterator<Item = &'a Outcome>) -> String {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    it.for_each(|o| *m.entry(o.label()).or_default() += 1);
    m.iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `case | check | A | B` for every check run on both sides; checks only one runtime ran (its
/// case was skipped or stopped early on the other) are folded into one row per case. Then the
/// disagreements with their details.
pub fn compare(a: &Results, b: &Results) -> String {
    type Key = (String, String);
    let index = |r: &Results| -> BTreeMap<Key, Outcome> {
        let norm = |s: String| {
            s.replace(&format!("ocv-{}-", r.runtime), "ocv-<rt>-")
                .replace(&format!("/{}-", r.runtime), "/<rt>-")
                .replace(&format!("/{}/", r.runtime), "/<rt>/")
        };
        r.flat()
            .map(|(case, c)| {
                (
                    (
                        case.id.to_string(),
                        norm(format!("{}: {}", c.section, c.what)),
                    ),
                    c.outcome.clone(),
                )
            })
            .collect()
    };
    let (ia, ib) = (index(a), index(b));
    let mut s = format!(
        "\n# Comparison: case | check | {} | {}\n",
        a.runtime, b.runtime
    );
    let mut diff: Vec<(String, String, String, String)> = Vec::new();
    let detail = |o: &Outcome| match o {
        Outcome::Fail(m) | Outcome::Skip(m) | Outcome::Todo(m) => {
            format!("{}: {}", o.label(), m.replace('\n', " / "))
        }
        Outcome::Pass => "ok".into(),
    };
    for (case, _) in &a.cases {
        let id = case.id.to_string();
        let keys_a: Vec<&Key> = ia.keys().filter(|k| k.0 == id).collect();
        let keys_b: Vec<&Key> = ib.keys().filter(|k| k.0 == id).collect();
        for k in keys_a.iter().filter(|k| ib.contains_key(**k)) {
            let (oa, ob) = (&ia[*k], &ib[*k]);
            let mark = if oa.label() != ob.label() { "  <<" } else { "" };
            s += &format!(
                "# {:<20} | {:<92} | {:<5} | {:<5}{mark}\n",
                k.0,
                k.1,
                oa.label(),
                ob.label()
            );
            if !mark.is_empty() {
                diff.push((k.0.clone(), k.1.clone(), detail(oa), detail(ob)));
            }
        }
        let only_a: Vec<&Outcome> = keys_a
            .iter()
            .filter(|k| !ib.contains_key(**k))
            .map(|k| &ia[*k])
            .collect();
        let only_b: Vec<&Outcome> = keys_b
            .iter()
            .filter(|k| !ia.contains_key(**k))
            .map(|k| &ib[*k])
            .collect();
        if !only_a.is_empty() || !only_b.is_empty() {
            let (ta, tb) = (tally(only_a.iter().copied()), tally(only_b.iter().copied()));
            let what = format!(
                "({} + {} checks run by one runtime only)",
                only_a.len(),
                only_b.len()
            );
            s += &format!(
                "# {:<20} | {:<92} | {:<5} | {:<5}  <<\n",
                id,
                what,
                if ta.is_empty() { "-" } else { "some" },
                if tb.is_empty() { "-" } else { "some" }
            );
            diff.push((
                id,
                what,
                if ta.is_empty() { "-".into() } else { ta },
                if tb.is_empty() { "-".into() } else { tb },
            ));
        }
    }
    s += &format!(
        "\n# {} disagreement(s) between {} and {}\n",
        diff.len(),
        a.runtime,
        b.runtime
    );
    for (case, what, da, db) in diff {
        s += &format!(
            "#   [{case}] {what}\n#     {}: {da}\n#     {}: {db}\n",
            a.runtime, b.runtime
        );
    }
    s
}
