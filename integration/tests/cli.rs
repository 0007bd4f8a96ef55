//! Command-line surface: `--version`, `spec` (plain, `--rootless`, `--bundle`), `list` in its
//! three formats, `--flag=value` spelling of global flags, and `--log --log-format json`.

use std::process::Command;

use oxirun_integration::util::run_cmd;
use oxirun_integration::{oxirun_bin, Container, TestDir, Value};

fn oxirun(dir: &TestDir, args: &[&str]) -> oxirun_integration::Out {
    let mut cmd = Command::new(oxirun_bin());
    cmd.args(args).current_dir(&dir.path);
    run_cmd(cmd, &dir.path, "cli")
}

#[test]
fn version_format() {
    let d = TestDir::new(&oxirun_integration::unique_id("version"));
    let out = oxirun(&d, &["--version"]);
    out.ok("--version");
    assert_eq!(out.stderr, "", "--version must keep stderr empty");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("oxirun version ") && l.len() > 15),
        "{out:#?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{out:#?}");
    let spec = lines
        .iter()
        .find_map(|l| l.strip_prefix("spec: "))
        .unwrap_or_else(|| panic!("no spec line: {out:#?}"));
    let parts: Vec<&str> = spec.split(['.', '-', '+']).collect();
    assert!(
        parts.len() >= 3 && parts[0] == "1" && parts[1..3].iter().all(|p| p.parse::<u32>().is_ok()),
        "spec version {spec:?}"
    );
}

fn read_spec(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("spec wrote config.json");
    serde_json::from_str(&text).expect("config.json parses")
}

fn ns_types(cfg: &Value) -> Vec<String> {
    cfg["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces")
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn spec_writes_runc_default() {
    let d = TestDir::new(&oxirun_integration::unique_id("spec"));
    oxirun(&d, &["spec"]).ok("spec");
    let cfg = read_spec(&d.join("config.json"));
    assert!(
        cfg["ociVersion"].as_str().unwrap().starts_with("1."),
        "{cfg}"
    );
    assert_eq!(cfg["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(cfg["process"]["terminal"], true);
    assert_eq!(cfg["process"]["cwd"], "/");
    assert_eq!(cfg["root"]["path"], "rootfs");
    let ns = ns_types(&cfg);
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.iter().any(|n| n == t), "namespace {t} missing: {ns:?}");
    }
    assert!(!ns.iter().any(|n| n == "user"), "user ns in a root spec");
    let dests: Vec<&str> = cfg["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    for m in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ] {
        assert!(dests.contains(&m), "mount {m} missing: {dests:?}");
    }
    assert!(cfg["linux"]["maskedPaths"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(cfg["linux"]["readonlyPaths"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(cfg["process"]["capabilities"]["bounding"].is_array());
}

#[test]
fn spec_rootless_and_bundle_flag() {
    let d = TestDir::new(&oxirun_integration::unique_id("specrl"));
    let b = d.join("b");
    std::fs::create_dir(&b).unwrap();
    oxirun(&d, &["spec", "--rootless", "--bundle", b.to_str().unwrap()]).ok("spec --rootless");
    assert!(!d.join("config.json").exists(), "--bundle ignored");
    let cfg = read_spec(&b.join("config.json"));
    assert!(ns_types(&cfg).iter().any(|n| n == "user"), "{cfg}");
    assert!(cfg["linux"]["uidMappings"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(cfg["linux"]["gidMappings"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
}

#[test]
fn list_formats() {
    let shared = TestDir::new(&oxirun_integration::unique_id("listroot"));
    let root = shared.join("state");
    std::fs::create_dir(&root).unwrap();
    let mut a = Container::new_in("lista", &root);
    a.sh("exec sleep 1000").create_ok();
    let mut b = Container::new_in("listb", &root);
    b.sh("exec sleep 1000").create_ok();
    b.start().ok("start b");

    let json = a.rt(&["list", "--format", "json"]);
    json.ok("list --format json");
    assert_eq!(
        json.stdout.trim().lines().count(),
        1,
        "compact JSON: {json:#?}"
    );
    let v: Value = serde_json::from_str(&json.stdout).expect("list json parses");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 2, "{v}");
    for (c, status) in [(&a, "created"), (&b, "running")] {
        let e = arr
            .iter()
            .find(|e| e["id"] == c.id.as_str())
            .unwrap_or_else(|| panic!("{} missing: {v}", c.id));
        assert_eq!(e["status"], status, "{e}");
        assert_eq!(e["pid"].as_i64(), Some(c.pid.unwrap() as i64), "{e}");
        assert_eq!(e["bundle"], c.bundle_str().as_str(), "{e}");
        assert!(e["owner"].is_string(), "{e}");
    }

    let q = a.rt(&["list", "--quiet"]);
    q.ok("list -q");
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    let mut want = vec![a.id.as_str(), b.id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let q2 = a.rt(&["list", "-q"]);
    assert_eq!(q2.stdout, q.stdout, "-q differs from --quiet");

    let t = a.rt(&["list"]);
    t.ok("list");
    let mut lines = t.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{t:#?}");
    let row_b = rows.iter().find(|r| r[0] == b.id).expect("row for b");
    assert_eq!(row_b[1], b.pid.unwrap().to_string());
    assert_eq!(row_b[2], "running");
    assert_eq!(row_b[3], b.bundle_str());
}

#[test]
fn list_empty_json_is_null() {
    let d = TestDir::new(&oxirun_integration::unique_id("listnull"));
    let root = d.join("state");
    std::fs::create_dir(&root).unwrap();
    let out = oxirun(
        &d,
        &["--root", root.to_str().unwrap(), "list", "--format", "json"],
    );
    out.ok("list empty");
    assert_eq!(out.stdout.trim(), "null");
}

/// runc's global `--criu PATH` is accepted (engines pass it; it only matters to checkpoint
/// and restore): `--criu /x list` works, in both spellings. Found by the differential harness.
#[test]
fn criu_global_flag_is_accepted() {
    let dir = TestDir::new("criuflag");
    let root = dir.join("state");
    let root = root.to_str().unwrap();
    for args in [
        &["--criu", "/usr/sbin/criu", "--root", root, "list", "-q"][..],
        &["--criu=/x", "--root", root, "list", "-q"][..],
    ] {
        let out = oxirun(&dir, args);
        out.ok(&format!("{args:?}"));
        assert_eq!(out.stdout, "", "{args:?}");
    }
}

#[test]
fn global_flags_with_equals() {
    let mut c = Container::new("eqflags");
    c.sh("exec sleep 1000");
    c.write_config();
    let root = format!("--root={}", c.root.display());
    let bundle = format!("--bundle={}", c.bundle.display());
    let pidf = format!("--pid-file={}", c.pid_file.display());
    let mut cmd = Command::new(oxirun_bin());
    cmd.args([root.as_str(), "create", &bundle, &pidf, &c.id])
        .current_dir(&c.dir.path);
    // The container inherits these files (not pipes): run_cmd uses files.
    let out = run_cmd(cmd, &c.dir.path, "create-eq");
    out.ok("create with --flag=value");
    c.pid = Some(c.read_pid_file());
    assert_eq!(c.status(), "created");
    // The state lives under the --root= directory.
    assert!(c.root.join(&c.id).exists(), "--root= ignored");
}

#[test]
fn log_json_records_the_error() {
    let mut c = Container::new("logjson");
    c.args(&["nosuchbin"]);
    c.write_config();
    let log = c.dir.join("log.json");
    let b = c.bundle_str();
    let mut cmd = Command::new(oxirun_bin());
    cmd.arg("--root")
        .arg(&c.root)
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "create", "--bundle", &b, &c.id])
        .current_dir(&c.dir.path);
    let out = run_cmd(cmd, &c.dir.path, "create-log");
    assert_eq!(out.code, 1, "{out:#?}");
    let text = std::fs::read_to_string(&log).expect("log file written");
    let mut last_error = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        assert!(
            v["level"].is_string() && v["msg"].is_string() && v["time"].is_string(),
            "{v}"
        );
        if v["level"] == "error" {
            last_error = Some(v["msg"].as_str().unwrap().to_string());
        }
    }
    let msg = last_error.unwrap_or_else(|| panic!("no error line in {text:?}"));
    assert!(
        msg.contains("exec: \"nosuchbin\": executable file not found in $PATH"),
        "{msg}"
    );
}

/// `--log FILE` creates FILE even when the command succeeds and logs nothing (runc does);
/// `--debug` adds `level=debug` lines for the steps of create, start, exec, kill and delete,
/// in the log file or on the runtime's stderr, never in the container's own output.
#[test]
fn debug_logs_the_steps_and_log_file_always_exists() {
    let mut c = Container::new("debuglog");
    c.sh("echo container-output; sleep 30");
    c.write_config();
    let quiet = c.dir.join("quiet.log");
    c.rt(&[
        "--log",
        quiet.to_str().unwrap(),
        "state",
        "no-such-container-x",
    ]);
    let ok_quiet = c.dir.join("ok.log");
    c.rt(&["--log", ok_quiet.to_str().unwrap(), "list"])
        .ok("list");
    assert_eq!(
        std::fs::read_to_string(&ok_quiet).expect("--log file created"),
        ""
    );
    assert!(quiet.exists());

    let log = c.dir.join("debug.log");
    let l = log.to_str().unwrap().to_string();
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let created = c.rt(&[
        "--debug",
        "--log",
        &l,
        "create",
        "--bundle",
        &b,
        "--pid-file",
        &p,
        &id,
    ]);
    created.ok("create --debug");
    c.pid = Some(c.read_pid_file());
    c.rt(&["--debug", "--log", &l, "start", &id])
        .ok("start --debug");
    c.rt(&["--debug", "--log", &l, "exec", &id, "true"])
        .ok("exec --debug");
    c.rt(&["--debug", "--log", &l, "kill", &id, "KILL"])
        .ok("kill --debug");
    c.wait_exit(std::time::Duration::from_secs(5));
    c.rt(&["--debug", "--log", &l, "delete", &id])
        .ok("delete --debug");
    let text = std::fs::read_to_string(&log).unwrap();
    for step in [
        "create: container",
        "create: state directory",
        "cloned, in its cgroup",
        "init: namespaces entered",
        "init: rootfs ready",
        "create: pid file",
        "start: starting container",
        "start: container",
        "exec: joining the namespaces",
        "exec: process",
        "kill: signal 9",
        "delete: container",
    ] {
        assert!(
            text.lines()
                .any(|line| line.contains("level=debug") && line.contains(step)),
            "no debug line for {step:?} in:\n{text}"
        );
    }
    // Without --log: the runtime's stderr, and nothing of ours in the container's stdio.
    let mut c2 = Container::new("debugstderr");
    c2.sh("echo container-output");
    c2.write_config();
    let out = c2.rt(&["--debug", "run", "--bundle", &c2.bundle_str(), &c2.id]);
    out.ok("run --debug");
    assert!(out.stderr.contains("level=debug"), "{out:#?}");
    assert_eq!(out.stdout, "container-output\n", "{out:#?}");
    assert!(
        !out.stderr.contains("init: "),
        "the init wrote to the container's stderr: {out:#?}"
    );
}

/// `checkpoint`/`restore` take runc's flags (single-dash long ones too, as runc's parser
/// does): no clap "unrecognized" error, one line naming the real problem. Their behaviour
/// is in tests/checkpoint.rs.
#[test]
fn checkpoint_and_restore_take_runc_flags() {
    let d = TestDir::new(&oxirun_integration::unique_id("ckpt"));
    for (args, want) in [
        (
            &[
                "checkpoint",
                "--image-path",
                "/tmp/x",
                "--leave-running",
                "--tcp-established",
                "--file-locks",
                "c1",
            ][..],
            "does not exist",
        ),
        (
            &[
                "restore",
                "--detach",
                "--bundle",
                "/nonexistent-bundle",
                "--image-path",
                "/tmp/x",
                "-no-subreaper",
                "c1",
            ][..],
            "nonexistent-bundle",
        ),
    ] {
        let out = oxirun(&d, args);
        assert_eq!(out.code, 1, "{args:?}: {out:#?}");
        assert!(!out.stderr.contains("unrecognized"), "{args:?}: {out:#?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:#?}");
        assert!(out.stderr.contains(want), "{args:?}: {out:#?}");
    }
}

/// `make install-docs` (part of `make install`): a man page per subcommand and bash, zsh and
/// fish completions, generated from the clap definitions, under DESTDIR.
#[test]
fn install_docs_generates_man_pages_and_completions() {
    let d = TestDir::new(&oxirun_integration::unique_id("install"));
    let ws = oxirun_integration::util::workspace_dir();
    let out = Command::new("make")
        .arg("-C")
        .arg(&ws)
        .arg("install-docs")
        .arg(format!("DESTDIR={}", d.path.display()))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = d.path.join("usr/local/share");
    for sub in [
        "create",
        "start",
        "exec",
        "kill",
        "delete",
        "checkpoint",
        "update",
    ] {
        let page = std::fs::read_to_string(share.join(format!("man/man8/oxirun-{sub}.8")))
            .unwrap_or_else(|e| panic!("man page of {sub}: {e}"));
        assert!(page.contains(".TH"), "{sub}: not a man page");
    }
    let bash = std::fs::read_to_string(share.join("bash-completion/completions/oxirun")).unwrap();
    for word in ["--console-socket", "--preserve-fds", "checkpoint"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    assert!(share.join("zsh/site-functions/_oxirun").exists());
    assert!(share.join("fish/vendor_completions.d/oxirun.fish").exists());
}
