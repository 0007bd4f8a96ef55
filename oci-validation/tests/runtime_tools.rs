//! The OCI runtime-tools validation suite (github.com/opencontainers/runtime-tools, vendored as
//! a source archive in `../shared/vendor/`) as an outside judge: written by other hands, it
//! does not share our suite's blind spots.
//!
//! Builds `runtimetest` and the `validation/*/*.t` programs offline with Go (cached under
//! `target/runtime-tools/`), then runs every program one at a time, with a timeout, first
//! against runc and then against oxirun, and prints a per-program table (ok / not ok / exit for
//! both). Fails on any oxirun `not ok` or non-zero exit that `runtime-tools/expected.txt` does
//! not explain (each entry with its reason), and on anything oxirun left behind; a program
//! where oxirun did worse than runc on this run is noted.
//!
//! Hermetic: each runtime gets its own state root (a wrapper script adds `--root`), the suite's
//! bundles go to a private TMPDIR, and each program runs from a cgroup of ours
//! (`/oxirun-rtt` in every hierarchy), so relative cgroup paths (runc's default, the suite's
//! `testdir/...`) land beneath it and never in the caller's cgroup. After each program the
//! harness looks for what the runtime left: mounts below the TMPDIR, state directories, and
//! cgroups (below `/oxirun-rtt`, the suite's `/cgrouptest`, oxirun's `/oxirun/<id>` for the ids
//! the suite created). It judges nothing else on the host. runc's leftovers (it leaves the
//! mounts of a container without a mount namespace in the host's table) are reported and
//! cleaned, oxirun's fail the test.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oci_validation::rtools::{parse_expected, stale, table, unexplained, ProgramResult};
use oci_validation::sys;

const ARCHIVE: &str = "runtime-tools-260e151.tar.gz";
const TIMEOUT_SECS: u32 = 120;
const CG_PARENT: &str = "oxirun-rtt";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn run(cmd: &mut Command, what: &str) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(st.success(), "{what}: {st}");
}

/// Extract and build the suite once per archive; returns the source dir (programs run there:
/// they read `rootfs-amd64.tar.gz` and `runtimetest` from their cwd).
fn build_suite(ws: &Path) -> PathBuf {
    let archive = ws.join("../shared/vendor").join(ARCHIVE);
    assert!(
        archive.exists(),
        "{} is missing: the runtime-tools source archive (see ../shared/vendor/README.md)",
        archive.display()
    );
    let base = ws.join("target/runtime-tools");
    let key = ARCHIVE.trim_end_matches(".tar.gz");
    let src = base.join(key).join("runtime-tools");
    let stamp = base.join(key).join("built");
    if stamp.exists() {
        return src;
    }
    let _ = fs::remove_dir_all(base.join(key));
    fs::create_dir_all(base.join(key)).expect("mkdir target/runtime-tools");
    run(
        Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(base.join(key)),
        "extract the runtime-tools archive",
    );
    let started = Instant::now();
    run(
        Command::new("make")
            .current_dir(&src)
            .args(["runtimetest", "validation-executables"])
            .env("GOFLAGS", "-mod=vendor")
            .env("GOPROXY", "off")
            .env("GOCACHE", base.join("gocache"))
            .env("GOPATH", base.join("gopath"))
            .stdout(std::process::Stdio::null()),
        "build runtime-tools (needs Go: apt-get install golang-go)",
    );
    eprintln!("runtime-tools built in {:?}", started.elapsed());
    fs::write(&stamp, "").expect("stamp");
    src
}

/// The validation programs, sorted.
fn programs(src: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = fs::read_dir(src.join("validation"))
        .expect("validation/")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let prog = e.path().join(format!("{name}.t"));
            prog.exists().then_some((name, prog))
        })
        .collect();
    v.sort();
    v
}

/// Mount points of every cgroup hierarchy (v1 and v2).
fn cgroup_mounts() -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            let t = *f.get(sep + 1)?;
            (t == "cgroup" || t == "cgroup2").then(|| PathBuf::from(f[4]))
        })
        .collect()
}

/// Mount points at or below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    v
}

/// Every cgroup directory below `dir` (children first), `dir` itself excluded.
fn cgroup_dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(cgroup_dirs_below(&e.path()));
            out.push(e.path());
        }
    }
    out
}

/// Thaw, empty (SIGKILL to the pids inside: the runtime's containers) and remove a cgroup dir.
fn remove_cgroup(dir: &Path) {
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    let _ = fs::write(dir.join("cgroup.freeze"), "0");
    for _ in 0..50 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            break;
        }
        for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
            // A pid inside a cgroup of the suite's containers: the runtime's, so ours.
            sys::kill(pid, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_dir(dir);
}

/// One runtime's private world: its wrapper (with `--root`), its state root, its call log.
struct Runtime {
    name: &'static str,
    wrapper: PathBuf,
    root: PathBuf,
    calls: PathBuf,
}

impl Runtime {
    fn new(dir: &Path, name: &'static str, binary: &Path) -> Runtime {
        let root = dir.join(format!("root-{name}"));
        let calls = dir.join(format!("calls-{name}.log"));
        let wrapper = dir.join(format!("{name}-wrapper"));
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' --root '{}' \"$@\"\n",
                calls.display(),
                binary.display(),
                root.display()
            ),
        )
        .expect("write wrapper");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod");
        Runtime {
            name,
            wrapper,
            root,
            calls,
        }
    }

    /// Container ids the suite created so far.
    fn ids(&self) -> BTreeSet<String> {
        fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("create "))
            .filter_map(|l| l.split(' ').next_back().map(str::to_owned))
            .collect()
    }
}

/// The harness' own places: the TMPDIR for the suite's bundles, and our cgroup parents.
struct Harness {
    dir: PathBuf,
    tmp: PathBuf,
    cg_mounts: Vec<PathBuf>,
}

impl Harness {
    fn new(ws: &Path) -> Harness {
        let dir = ws.join("target/runtime-tools/run");
        let h = Harness {
            tmp: dir.join("tmp"),
            dir,
            cg_mounts: cgroup_mounts(),
        };
        h.clean_all();
        fs::create_dir_all(&h.tmp).expect("mkdir tmp");
        for m in &h.cg_mounts {
            let p = m.join(CG_PARENT);
            fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
            // A new v1 cpuset takes no task until it has cpus and mems.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = fs::read_to_string(m.join(f)) {
                    let _ = fs::write(p.join(f), v.trim());
                }
            }
        }
        h
    }

    /// The containers' own cgroups that exist now: the suite's absolute `/cgrouptest` and
    /// relative `testdir/cgrouptest/container`, the runtimes' defaults for the ids the suite
    /// created (runc's relative `<id>`, oxirun's `/oxirun/<id>`), and any cgroup of ours that
    /// still holds a process. Parents that only a cgroupsPath named (`testdir/cgrouptest`) are
    /// not a container's: runtimes leave them for other containers, and `clean` removes them.
    fn containers_cgroups(&self, ids: &BTreeSet<String>) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for m in &self.cg_mounts {
            let ours = m.join(CG_PARENT);
            let mut cands = vec![
                m.join("cgrouptest"),
                ours.join("testdir/cgrouptest/container"),
            ];
            for id in ids {
                cands.extend([ours.join(id), m.join("oxirun").join(id)]);
            }
            let busy: Vec<PathBuf> = cgroup_dirs_below(&ours)
                .into_iter()
                .filter(|d| {
                    !cands.contains(d)
                        && !fs::read_to_string(d.join("cgroup.procs"))
                            .unwrap_or_default()
                            .trim()
                            .is_empty()
                })
                .collect();
            v.extend(cands.into_iter().filter(|d| d.exists()));
            v.extend(busy);
        }
        v
    }

    /// Every cgroup the suite's containers or their paths made (children first).
    fn all_cgroups(&self, ids: &BTreeSet<String>) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for m in &self.cg_mounts {
            v.extend(cgroup_dirs_below(&m.join(CG_PARENT)));
            let abs = m.join("cgrouptest");
            if abs.exists() {
                v.extend(cgroup_dirs_below(&abs));
                v.push(abs);
            }
            v.extend(
                ids.iter()
                    .map(|id| m.join("oxirun").join(id))
                    .filter(|d| d.exists()),
            );
        }
        v
    }

    /// What a program left behind for `rt`: mounts, state dirs, cgroups.
    fn leftovers(&self, rt: &Runtime) -> Vec<String> {
        let mut v: Vec<String> = mounts_below(&self.tmp)
            .into_iter()
            .map(|m| format!("mount {}", m.display()))
            .collect();
        v.extend(
            fs::read_dir(&rt.root)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| format!("state dir {}", e.path().display())),
        );
        v.extend(
            self.containers_cgroups(&rt.ids())
                .into_iter()
                .map(|d| format!("cgroup {}", d.display())),
        );
        v
    }

    /// Remove what a program left (after `leftovers` judged it), and the suite's temp dirs.
    fn clean(&self, rt: &Runtime) {
        if let Ok(entries) = fs::read_dir(&rt.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = Command::new(&rt.wrapper)
                    .args(["delete", "--force", &id])
                    .output();
            }
        }
        for d in self.all_cgroups(&rt.ids()) {
            remove_cgroup(&d);
        }
        for m in mounts_below(&self.tmp) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let _ = fs::remove_dir_all(&rt.root);
        for e in fs::read_dir(&self.tmp).into_iter().flatten().flatten() {
            let _ = fs::remove_dir_all(e.path());
        }
    }

    /// Everything of a previous (or this) run: mounts below our dir, our cgroup parents.
    fn clean_all(&self) {
        for m in mounts_below(&self.dir) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        for m in &self.cg_mounts {
            let p = m.join(CG_PARENT);
            if p.exists() {
                for d in cgroup_dirs_below(&p) {
                    remove_cgroup(&d);
                }
                remove_cgroup(&p);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }

    /// Run one program for `rt` from our cgroups, with the timeout.
    fn run(&self, src: &Path, prog: &Path, rt: &Runtime) -> (ProgramResult, String, String) {
        let procs: Vec<String> = self
            .cg_mounts
            .iter()
            .map(|m| m.join(CG_PARENT).join("cgroup.procs").display().to_string())
            .collect();
        let out = Command::new("sh")
            .current_dir(src)
            .arg("-c")
            .arg(
                "for f in $CGPROCS; do echo $$ > \"$f\" || exit 97; done; \
                 exec timeout -k 5 \"$TIMEOUT\" \"$@\"",
            )
            .arg("sh")
            .arg(prog)
            .env("CGPROCS", procs.join(" "))
            .env("TIMEOUT", TIMEOUT_SECS.to_string())
            .env("RUNTIME", &rt.wrapper)
            .env("TMPDIR", &self.tmp)
            .output()
            .expect("run a validation program");
        // timeout(1) exits 124 (137 after -k) when it had to stop the program.
        let exit = out.status.code().filter(|c| *c != 124 && *c != 137);
        assert_ne!(exit, Some(97), "cannot enter the harness' cgroups");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (ProgramResult::parse(&stdout, exit), stdout, stderr)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.clean_all();
    }
}

fn oxirun(ws: &Path) -> PathBuf {
    let bin = ws.join("target/debug/oxirun");
    if !bin.exists() {
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(ws)
                .env_remove("CARGO_TARGET_DIR")
                .args(["build", "--bin", "oxirun"]),
            "cargo build --bin oxirun",
        );
    }
    bin
}

#[test]
fn runtime_tools_validation_suite() {
    if sys::ids().1 != 0 {
        eprintln!("SKIP: the runtime-tools suite needs root");
        return;
    }
    let ws = workspace();
    let expected_path = ws.join("oci-validation/runtime-tools/expected.txt");
    let expected = parse_expected(&fs::read_to_string(&expected_path).expect("expected.txt"))
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let src = build_suite(&ws);
    let h = Harness::new(&ws);
    let ox = Runtime::new(&h.dir, "oxirun", &oxirun(&ws));
    let runc_bin = Path::new("/usr/sbin/runc");
    let runc = runc_bin
        .exists()
        .then(|| Runtime::new(&h.dir, "runc", runc_bin));
    if runc.is_none() {
        eprintln!("note: /usr/sbin/runc is missing: oxirun runs alone (apt-get install runc)");
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    let (mut failures, mut notes) = (Vec::new(), Vec::new());
    for (name, prog) in programs(&src) {
        let runc_result = runc.as_ref().map(|rt| {
            let (r, _, _) = h.run(&src, &prog, rt);
            for l in h.leftovers(rt) {
                notes.push(format!("{} left after {name}: {l}", rt.name));
            }
            h.clean(rt);
            r
        });
        let (r, stdout, stderr) = h.run(&src, &prog, &ox);
        let left = h.leftovers(&ox);
        h.clean(&ox);
        let mut bad = unexplained(&name, &r, &expected);
        bad.extend(left.iter().map(|l| format!("{name}: left behind: {l}")));
        // Behind runc on this run: every failure is explained (or `bad` fails the test), but
        // a race of the suite that only we lost this time is worth seeing in the table.
        if let Some(rr) = &runc_result {
            let runc_passed = rr.exit == Some(0) && rr.not_ok.is_empty();
            let ox_passed = r.exit == Some(0) && r.not_ok.is_empty();
            if r.not_ok.len() > rr.not_ok.len() || (runc_passed && !ox_passed) {
                notes.push(format!(
                    "{name}: behind runc on this run ({} not ok, exit {:?}; runc {} not ok, exit {:?})",
                    r.not_ok.len(),
                    r.exit,
                    rr.not_ok.len(),
                    rr.exit
                ));
            }
        }
        if !bad.is_empty() {
            eprintln!("--- {name} (oxirun) stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }
        failures.extend(bad);
        notes.extend(stale(&name, &r, &expected));
        rows.push((name, runc_result, r));
    }
    println!(
        "\n# OCI runtime-tools validation ({ARCHIVE}), {:?}\n",
        started.elapsed()
    );
    println!("{}", table(&rows));
    for n in &notes {
        println!("note: {n}");
    }
    assert!(
        failures.is_empty(),
        "{} unexplained result(s) for oxirun (explain real host limits or spec disagreements in {}):\n{}",
        failures.len(),
        expected_path.display(),
        failures.join("\n")
    );
}
