//! The differential harness (issue 19): one scenario (a config, some files, a list of command
//! lines) goes to runc and to oxirun in turn, each with its own `--root`, bundle and cgroup;
//! every observation (exit code, stdout, error class, the in-container probe, host leftovers)
//! is compared key by key, and each difference is `same`, `intended(reason)` or `DIFF`.
//!
//! Command lines are whitespace-split with placeholders: `{id}`, `{bundle}`, `{root}`,
//! `{dir}` (the scenario's temp dir), `{pidfile}`, and `{probe}` (three arguments:
//! `sh -c <PROBE>`). A line may start with:
//! * `probe:` its stdout is the probe's output, compared line by line (see [`observe`]);
//! * `keys:` its stdout is JSON whose key set only is compared (e.g. `events --stats`);
//! * `exit:` only its exit code is compared (e.g. `--help`, whose text is each tool's own);
//! * `tty:` `{console}` is a console socket; the pty output received there is the probe's;
//! * `@wait STATUS` polls `state` until STATUS (up to 10 s) instead of running a command;
//! * `@file PATH` reads `{dir}/PATH` as if it were stdout (e.g. a hook's output);
//! * `@cg FILE` reads the container's cgroup control file FILE from the host.

pub mod normalise;
pub mod observe;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::container::Container;
use crate::term::ConsoleSocket;
use crate::util::{exit_code, poll, Out, OutFiles};

/// One row of the scenario table.
pub struct Scenario {
    pub name: &'static str,
    /// Config edits on top of `oxirun spec` (+ the harness defaults): `(JSON pointer, JSON
    /// text)`; the text `-` removes the key, a pointer ending in `/-` appends to the array. Placeholders are expanded in the text.
    pub config: &'static [(&'static str, &'static str)],
    /// Files to create below the scenario's dir before the steps: `(path, content)`; a path
    /// ending in `/` is a directory. `bundle`, `bundle/rootfs` or `bundle/config.json` with
    /// content `-` removes it; `bundle/config.json` with other content replaces the config.
    pub files: &'static [(&'static str, &'static str)],
    pub steps: &'static [&'static str],
    /// Differences explained: `(substring of the observation key, reason)`; a pattern ending
    /// in `$` must end the key.
    pub intended: &'static [(&'static str, &'static str)],
}

/// The two runtimes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Runtime {
    Runc,
    Oxirun,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Oxirun => "oxirun",
        }
    }

    pub fn bin(self) -> &'static Path {
        match self {
            Runtime::Runc => Path::new("/usr/bin/runc"),
            Runtime::Oxirun => crate::binary::oxirun_bin(),
        }
    }
}

/// The observations of one runtime for one scenario, in step order, plus a one-line summary
/// (each step's exit code and error class) for the table.
pub struct Observed {
    pub obs: Vec<(String, String)>,
    /// The first line of each failed step's stderr, keyed like its `error` observation (shown
    /// next to a differing class, never compared).
    pub stderr: BTreeMap<String, String>,
    pub summary: String,
}

/// Runs `sc` against `rt`. Everything the scenario made is removed when this returns (the
/// [`Container`] guard force-deletes, removes the cgroup and the temp dir).
pub fn run_scenario(sc: &Scenario, rt: Runtime) -> Observed {
    let short = format!("d-{}-{}", sc.name, &rt.name()[..1]);
    let mut c = Container::new(&short);
    c.runtime(rt.bin());
    c.sh(observe::PROBE);
    let dir = c.dir.path.clone();
    let subst: Vec<(String, &str)> = vec![
        (c.bundle.display().to_string(), "<bundle>"),
        (c.root.display().to_string(), "<root>"),
        (dir.display().to_string(), "<dir>"),
        (c.id.clone(), "<id>"),
    ];
    let pid_file = c.pid_file.display().to_string();
    let expand = |s: &str| {
        s.replace("{bundle}", &subst[0].0)
            .replace("{root}", &subst[1].0)
            .replace("{dir}", &subst[2].0)
            .replace("{id}", &subst[3].0)
            .replace("{pidfile}", &pid_file)
    };
    for (ptr, text) in sc.config {
        if *text == "-" {
            c.unset(ptr);
        } else if let Some(array) = ptr.strip_suffix("/-") {
            let v: Value = serde_json::from_str(&expand(text))
                .unwrap_or_else(|e| panic!("{}: config edit {ptr}: {e}", sc.name));
            match c.config.pointer_mut(array) {
                Some(Value::Array(a)) => a.push(v),
                _ => panic!("{}: {array} is not an array", sc.name),
            }
        } else {
            let v: Value = serde_json::from_str(&expand(text))
                .unwrap_or_else(|e| panic!("{}: config edit {ptr}: {e}", sc.name));
            c.set(ptr, v);
        }
    }
    c.write_config();
    for (path, content) in sc.files {
        let p = dir.join(path);
        if path.ends_with('/') {
            fs::create_dir_all(&p).expect("mkdir");
        } else if *content == "-" {
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
        } else {
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).expect("mkdir parent");
            }
            fs::write(&p, expand(content)).expect("write file");
        }
    }
    let host_ns = observe::host_namespaces();
    let mut obs = Vec::new();
    let mut summary = Vec::new();
    let mut stderr = BTreeMap::new();
    for (i, step) in sc.steps.iter().enumerate() {
        let (mode, line) = match step.split_once(':') {
            Some((m @ ("probe" | "keys" | "exit" | "tty"), rest)) => (m, rest.trim()),
            _ => ("", step.trim()),
        };
        // `tty:` a console socket for `{console}`; the pty's output is the probe's.
        let console = (mode == "tty").then(|| ConsoleSocket::bind(&dir));
        let mut words: Vec<String> = Vec::new();
        for w in line.split_whitespace() {
            if let (Some(cs), "{console}") = (&console, w) {
                words.push(cs.path_str().to_string());
            } else if w == "{probe}" {
                words.extend(["sh".into(), "-c".into(), observe::PROBE.into()]);
            } else {
                words.push(expand(w));
            }
        }
        let tag = format!(
            "{i}:{}",
            line.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = match words[0].as_str() {
            "@wait" => {
                let want = words[1].clone();
                let got = poll(Duration::from_secs(10), || {
                    let o = c.state_out();
                    let st = serde_json::from_str::<Value>(&o.stdout).ok()?;
                    (st["status"] == want.as_str()).then_some(())
                });
                obs.push((format!("{tag} reached"), got.is_some().to_string()));
                continue;
            }
            "@file" => fs::read_to_string(dir.join(&words[1])).unwrap_or_else(|e| format!("<{e}>")),
            "@cg" => crate::cgroupfs::dir_with(&c.cgroup_rel(), &words[1])
                .and_then(|d| fs::read_to_string(d.join(&words[1])).ok())
                .unwrap_or_else(|| "<absent>".into()),
            _ => {
                let args: Vec<&str> = words.iter().map(String::as_str).collect();
                let out = run_step(&c, &args);
                if c.pid.is_none() && c.pid_file.exists() {
                    c.pid = fs::read_to_string(&c.pid_file)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                }
                let class = if out.success() {
                    "-"
                } else {
                    normalise::error_class(&out.stderr)
                };
                summary.push(if out.success() {
                    "0".to_string()
                } else {
                    format!("{}/{class}", out.code)
                });
                obs.push((format!("{tag} exit"), out.code.to_string()));
                obs.push((format!("{tag} error"), class.to_string()));
                if !out.success() {
                    let first = out
                        .stderr
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    stderr.insert(
                        format!("{tag} error"),
                        normalise::placeholders(first, &subst),
                    );
                }
                if mode == "exit" {
                    continue;
                }
                match &console {
                    Some(cs) if out.success() => pty_output(cs),
                    _ => out.stdout,
                }
            }
        };
        let text = normalise::placeholders(&out, &subst);
        if mode == "probe" || mode == "tty" {
            let mut p = Vec::new();
            observe::parse_probe(&text, &host_ns, &mut p);
            obs.extend(p.into_iter().map(|(k, v)| (format!("{tag} {k}"), v)));
        } else if let Ok(v) = serde_json::from_str::<Value>(&text) {
            let flat = if mode == "keys" {
                normalise::json_keys(&v)
            } else {
                normalise::flatten_json(&v)
            };
            obs.extend(
                flat.into_iter()
                    .map(|(k, v)| (format!("{tag} stdout{k}"), v)),
            );
        } else {
            obs.push((format!("{tag} stdout"), normalise::text(&text)));
        }
    }
    let subst_fn = |s: &str| normalise::placeholders(s, &subst);
    observe::leftovers(
        &c.root,
        &dir,
        &c.bundle,
        &c.cgroup_rel(),
        &subst_fn,
        &mut obs,
    );
    Observed {
        obs,
        stderr,
        summary: summary.join(","),
    }
}

/// One runtime command with a 10 s bound; a command still running then is killed (it is our
/// own child) and reported as exit `timeout`.
fn run_step(c: &Container, args: &[&str]) -> Out {
    reap_exited_members(c);
    let files = OutFiles::new(&c.dir.path, "step");
    let mut cmd = c.command(args);
    files.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn runtime");
    // Members that exit meanwhile (killed by this very `delete --force`) are reaped too.
    let mut n = 0u32;
    let done = poll(Duration::from_secs(10), || {
        n += 1;
        if n.is_multiple_of(10) {
            reap_exited_members(c);
        }
        child.try_wait().ok().flatten()
    });
    match done {
        Some(st) => files.read(exit_code(st)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let mut out = files.read(TIMEOUT);
            out.stderr.push_str("\n<timeout>");
            out
        }
    }
}

/// Reaps the container's processes that were reparented to this test (the child subreaper:
/// `exec -d` processes, the init after `create`) and have exited: a zombie still counts as a
/// cgroup member on v1, and `delete` would wait for it. Only zombies whose parent is this
/// process and whose cgroup is the container's: never another thread's runtime child.
fn reap_exited_members(c: &Container) {
    let me = std::process::id().to_string();
    let rel = format!("/{}\n", c.cgroup_rel());
    let Ok(rd) = fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let mut rest = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace();
        let (state, ppid) = (rest.next(), rest.next());
        let ours = fs::read_to_string(e.path().join("cgroup")).is_ok_and(|cg| cg.contains(&rel));
        if state == Some("Z") && ppid == Some(me.as_str()) && ours && Some(pid) != c.pid {
            let _ = crate::util::reap(pid, Duration::ZERO);
        }
    }
}

/// What the container wrote to the pty whose master came over `cs`, until its last writer
/// closed it (or 10 s).
fn pty_output(cs: &ConsoleSocket) -> String {
    use std::os::fd::AsRawFd;
    let Ok(got) = cs.recv(Duration::from_secs(5)) else {
        return "<no console received>".into();
    };
    let Some(master) = got.fds.first() else {
        return "<no fd received>".into();
    };
    let mut acc = Vec::new();
    crate::term::read_until(
        master.as_raw_fd(),
        &mut acc,
        Duration::from_secs(10),
        |_| false,
    );
    crate::term::clean(&acc)
}

/// The exit "code" of a step that did not finish in time.
pub const TIMEOUT: i32 = -1000;

/// The verdict on one scenario.
pub struct Verdict {
    pub row: String,
    /// Unexplained differences (`key: runc=... oxirun=...`).
    pub diffs: Vec<String>,
    /// Explained ones, with their reason.
    pub intended: Vec<String>,
}

/// Compares the two runtimes' observations key by key. `global` are differences explained
/// for every scenario.
pub fn compare(sc: &Scenario, runc: &Observed, oxi: &Observed, global: &[(&str, &str)]) -> Verdict {
    let a: BTreeMap<&str, &str> = runc
        .obs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let b: BTreeMap<&str, &str> = oxi
        .obs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut keys: Vec<&str> = a.keys().chain(b.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let (mut diffs, mut intended, mut reasons) = (Vec::new(), Vec::new(), Vec::<&str>::new());
    for k in keys {
        let (x, y) = (a.get(k).copied(), b.get(k).copied());
        if x == y {
            continue;
        }
        let mut line = format!(
            "{k}: runc={} oxirun={}",
            x.unwrap_or("<missing>"),
            y.unwrap_or("<missing>")
        );
        if let (Some(e1), Some(e2)) = (runc.stderr.get(k), oxi.stderr.get(k)) {
            let _ = write!(line, " (runc: {e1:?}; oxirun: {e2:?})");
        }
        match sc
            .intended
            .iter()
            .chain(global)
            .find(|(pat, _)| match pat.strip_suffix('$') {
                Some(end) => k.ends_with(end),
                None => k.contains(pat),
            }) {
            Some((_, why)) => {
                if !reasons.contains(why) {
                    reasons.push(why);
                }
                intended.push(format!("{line}  [{why}]"));
            }
            None => diffs.push(line),
        }
    }
    let verdict = if !diffs.is_empty() {
        format!("DIFF ({} keys)", diffs.len())
    } else if !intended.is_empty() {
        format!("intended({})", reasons.join("; "))
    } else {
        "same".to_string()
    };
    Verdict {
        row: format!(
            "{} | {} | {} | {verdict}",
            sc.name, runc.summary, oxi.summary
        ),
        diffs,
        intended,
    }
}

/// Runs every scenario on both runtimes (the two at once: separate roots, bundles, ids and
/// cgroups), prints the table to stderr and `target/oxirun-it/differential.txt`, and returns
/// the number of unexplained differences.
pub fn run_table(table: &[Scenario], global: &[(&str, &str)]) -> usize {
    crate::binary::init();
    let mut report = String::from("scenario | runc | oxirun | verdict\n");
    let mut details = String::new();
    let (mut same, mut intended, mut diff) = (0, 0, 0);
    // OXIRUN_DIFF_ONLY=<substring>: only the scenarios whose name contains it (while working
    // on one; `make test` runs them all).
    let only = std::env::var("OXIRUN_DIFF_ONLY").unwrap_or_default();
    for sc in table.iter().filter(|sc| sc.name.contains(only.as_str())) {
        let (r, o) = std::thread::scope(|s| {
            let r = s.spawn(|| run_scenario(sc, Runtime::Runc));
            let o = s.spawn(|| run_scenario(sc, Runtime::Oxirun));
            (r.join().expect("runc side"), o.join().expect("oxirun side"))
        });
        let v = compare(sc, &r, &o, global);
        // OXIRUN_DIFF_DUMP=1: every observation of both sides, for writing a new row.
        if std::env::var_os("OXIRUN_DIFF_DUMP").is_some() {
            for (side, obs) in [("runc", &r.obs), ("oxirun", &o.obs)] {
                for (k, val) in obs {
                    let _ = writeln!(details, "obs {} {side}: {k} = {val}", sc.name);
                }
            }
        }
        let _ = writeln!(report, "{}", v.row);
        if !v.diffs.is_empty() {
            diff += 1;
        } else if !v.intended.is_empty() {
            intended += 1;
        } else {
            same += 1;
        }
        for d in &v.diffs {
            let _ = writeln!(details, "DIFF {}: {d}", sc.name);
        }
        for d in &v.intended {
            let _ = writeln!(details, "intended {}: {d}", sc.name);
        }
    }
    let _ = writeln!(
        report,
        "\n{} scenarios: {same} same, {intended} intended, {diff} DIFF\n\n{details}",
        same + intended + diff
    );
    eprintln!("{report}");
    let path = crate::util::it_dir().join("differential.txt");
    let _ = fs::create_dir_all(crate::util::it_dir());
    let _ = fs::write(&path, &report);
    diff
}
