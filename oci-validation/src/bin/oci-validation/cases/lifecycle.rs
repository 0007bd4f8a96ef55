//! runtime.md: the state JSON at each step, the operations and their error rules ("MUST have no
//! effect on the container and MUST generate an error"), `--pid-file`, ID reuse, config.json
//! immutability after create. Error cases without a container are in [`super::errors`].

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};
use serde_json::{json, Value};

use super::Case;
use crate::bundle::{Bundle, Ctx};
use crate::cgroupfs;
use crate::runtime::Runtime;

pub fn cases() -> Vec<Case> {
    vec![
        Case { id: "lifecycle", section: "runtime.md#operations", spec: "state/create/start/kill/delete and \"MUST have no effect on the container and MUST generate an error\"", run: lifecycle },
        Case { id: "created-ops", section: "runtime.md#kill", spec: "kill: \"neither created nor running\" errors (so created may be killed); delete: \"not stopped ... MUST generate an error\"", run: created_ops },
        Case { id: "exit-stopped", section: "runtime.md#state", spec: "stopped: \"the container process has exited\"", run: exit_stopped },
        Case { id: "config-immutable", section: "runtime.md#lifecycle", spec: "\"Any updates to config.json after this step MUST NOT affect the container.\"", run: config_immutable },
    ]
}

/// Appends checks with a fixed section.
pub struct Log<'a>(pub &'a mut Vec<Check>, pub &'static str);

impl Log<'_> {
    pub fn add(&mut self, what: impl Into<String>, o: Outcome) {
        self.0.push(Check::new(self.1, what, o));
    }
    pub fn section(&mut self, s: &'static str) -> &mut Self {
        self.1 = s;
        self
    }
}

/// A bundle whose process writes `started` to /ocv-shared/marker, then sleeps.
pub fn sleeper(ctx: &Ctx, rt: &Runtime, case: &str) -> Result<Bundle> {
    let mut b = Bundle::new(ctx, rt, case)?;
    b.set(
        "/process/args",
        json!([
            "/bin/sh",
            "-c",
            "echo started >> /ocv-shared/marker; exec sleep 600"
        ]),
    );
    b.write()?;
    Ok(b)
}

/// Waits up to 3 s for `path` to exist.
pub fn wait_file(path: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn pid_of(state: &Value) -> i64 {
    state["pid"].as_i64().unwrap_or(0)
}

/// Checks that a failed operation left the container as it was (status and pid).
fn unchanged(l: &mut Log, rt: &Runtime, b: &Bundle, op: &str, before: &Value) {
    let after = rt.state(&b.dir, &b.id);
    let o = match after {
        Err(e) => Outcome::Fail(format!("state now fails: {e}")),
        Ok(a) => Outcome::check(
            a["status"] == before["status"] && pid_of(&a) == pid_of(before),
            || {
                format!(
                    "before {} pid {}, after {} pid {}",
                    before["status"],
                    pid_of(before),
                    a["status"],
                    pid_of(&a)
                )
            },
        ),
    };
    l.add(
        format!(
            "failed {op} had no effect (status {}, same pid)",
            before["status"].as_str().unwrap_or("?")
        ),
        o,
    );
}

fn lifecycle(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let b = sleeper(ctx, rt, "lifecycle")?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#create");
    let pidfile = b.dir.join("pidfile");
    let out = rt.cmd(
        &b.dir,
        &[
            "create",
            "--bundle",
            b.path(),
            "--pid-file",
            pidfile.to_str().unwrap_or(""),
            &b.id,
        ],
    );
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    if !out.ok {
        return Ok(v);
    }
    let st = rt.state(&b.dir, &b.id).unwrap_or(Value::Null);
    // "Upon successful completion of this operation the status property of this container MUST be created."
    l.add(
        "status after create is created",
        Outcome::eq(st["status"].as_str(), Some("created")),
    );
    l.add(
        "user-specified program not run at create",
        Outcome::check(!b.shared().join("marker").exists(), || {
            "marker written before start".into()
        }),
    );
    l.section("runtime.md#state");
    l.add(
        "ociVersion is a non-empty string",
        Outcome::check(
            st["ociVersion"].as_str().is_some_and(|s| !s.is_empty()),
            || format!("{:?}", st["ociVersion"]),
        ),
    );
    l.add(
        "id is the container's id",
        Outcome::eq(st["id"].as_str(), Some(b.id.as_str())),
    );
    let pid = pid_of(&st);
    l.add(
        "pid (REQUIRED when created) is a live process",
        Outcome::check(
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
            || format!("pid {:?}", st["pid"]),
        ),
    );
    // "bundle (string, REQUIRED) is the absolute path to the container's bundle directory"
    l.add(
        "bundle is the absolute bundle path",
        Outcome::eq(st["bundle"].as_str(), b.dir.to_str()),
    );
    l.add(
        "annotations absent or empty when none were provided",
        Outcome::check(
            st["annotations"].is_null()
                || st["annotations"].as_object().is_some_and(|m| m.is_empty()),
            || format!("{}", st["annotations"]),
        ),
    );
    l.section("runc-cli#create");
    let pf = fs::read_to_string(&pidfile).unwrap_or_default();
    l.add(
        "--pid-file holds the state pid",
        Outcome::eq(pf.trim().parse::<i64>().ok(), Some(pid)),
    );
    // "If the ID provided is not unique ... MUST generate an error and a new container MUST NOT be created."
    l.section("runtime.md#create");
    let b2 = Bundle::new(ctx, rt, "lifecycle-dup")?;
    b2.write()?;
    let out = rt.cmd(&b2.dir, &["create", "--bundle", b2.path(), &b.id]);
    l.add(
        "create with a duplicate id fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    unchanged(&mut l, rt, &b, "duplicate create", &st);
    l.add(
        "duplicate create left no cgroup for the second bundle",
        Outcome::check(cgroupfs::dirs(&b2.cgroup).is_empty(), || {
            format!("{:?}", cgroupfs::dirs(&b2.cgroup))
        }),
    );
    // start
    l.section("runtime.md#start");
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add(
        "start of a created container succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    let st = rt.state(&b.dir, &b.id).unwrap_or(Value::Null);
    l.add(
        "status after start is running",
        Outcome::eq(st["status"].as_str(), Some("running")),
    );
    l.add(
        "start ran the user-specified program",
        Outcome::check(wait_file(&b.shared().join("marker")), || "no marker".into()),
    );
    l.add("pid unchanged by start", Outcome::eq(pid_of(&st), pid));
    // "Attempting to start a container that is not created MUST have no effect on the container and MUST generate an error."
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add(
        "start of a running container fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    unchanged(&mut l, rt, &b, "start", &st);
    let runs = fs::read_to_string(b.shared().join("marker"))
        .unwrap_or_default()
        .lines()
        .count();
    l.add(
        "second start did not run the program again",
        Outcome::eq(runs, 1),
    );
    // delete: "Attempting to delete a container that is not stopped MUST have no effect on the container and MUST generate an error."
    l.section("runtime.md#delete");
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    l.add(
        "delete of a running container fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    unchanged(&mut l, rt, &b, "delete", &st);
    // kill: "This operation MUST send the specified signal to the container process."
    l.section("runtime.md#kill");
    let out = rt.cmd(&b.dir, &["kill", &b.id, "KILL"]);
    l.add(
        "kill KILL of a running container succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    // "When the process in the container is stopped ... the status property MUST be stopped."
    let s = rt.wait_status(&b.dir, &b.id, "stopped", 5);
    l.add(
        "status after the process is killed is stopped",
        Outcome::eq(s.as_str(), "stopped"),
    );
    let st = rt.state(&b.dir, &b.id).unwrap_or(Value::Null);
    let out = rt.cmd(&b.dir, &["kill", &b.id, "TERM"]);
    // "Attempting to send a signal to a container that is neither created nor running MUST have no effect ... MUST generate an error."
    l.add(
        "kill of a stopped container fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    l.add(
        "failed kill left status stopped",
        Outcome::eq(rt.status(&b.dir, &b.id), "stopped".into()),
    );
    l.section("runtime.md#start");
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add(
        "start of a stopped container fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    l.add(
        "failed start left status stopped",
        Outcome::eq(rt.status(&b.dir, &b.id), "stopped".into()),
    );
    let _ = st;
    // delete: "Deleting a container MUST delete the resources that were created during the create step."
    l.section("runtime.md#delete");
    let had_cgroup = !cgroupfs::dirs(&b.cgroup).is_empty();
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    l.add(
        "delete of a stopped container succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    l.add(
        "state of a deleted container fails",
        Outcome::check(rt.state(&b.dir, &b.id).is_err(), || {
            "state still answers".into()
        }),
    );
    l.add(
        "delete removed the container's cgroups",
        Outcome::check(had_cgroup && cgroupfs::dirs(&b.cgroup).is_empty(), || {
            format!(
                "existed before: {had_cgroup}, left: {:?}",
                cgroupfs::dirs(&b.cgroup)
            )
        }),
    );
    // "resources associated with the container, but not created by this container, MUST NOT be deleted."
    l.add(
        "delete kept the bundle (not created by the runtime)",
        Outcome::check(
            b.dir.join("config.json").exists() && b.rootfs().join("bin/busybox").exists(),
            || "bundle files removed".into(),
        ),
    );
    // "Once a container is deleted its ID MAY be used by a subsequent container."
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add(
        "id reusable after delete (create again)",
        Outcome::check(out.ok, || out.brief()),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}

fn created_ops(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let b = sleeper(ctx, rt, "created-ops")?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#delete");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    let st = rt.state(&b.dir, &b.id).unwrap_or(Value::Null);
    // runtime.md#delete: "Attempting to delete a container that is not stopped MUST have no effect
    // on the container and MUST generate an error." runc deletes (kills) created containers.
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    let still = rt.status(&b.dir, &b.id);
    let o = if !out.ok && still == "created" {
        Outcome::Pass
    } else if out.ok && still.starts_with("(state error") {
        Outcome::Todo("runc-compatible: delete of a created container kills and deletes it (README: delete-created)".into())
    } else {
        Outcome::Fail(format!("delete {}, status now {still}", out.brief()))
    };
    l.add(
        "delete of a created container fails and leaves it created",
        o,
    );
    if still != "created" {
        let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
        l.add(
            "re-create for the kill check",
            Outcome::check(out.ok, || out.brief()),
        );
    }
    l.section("runtime.md#kill");
    let out = rt.cmd(&b.dir, &["kill", &b.id, "KILL"]);
    l.add(
        "kill of a created container succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    let s = rt.wait_status(&b.dir, &b.id, "stopped", 5);
    l.add(
        "killed created container becomes stopped",
        Outcome::eq(s.as_str(), "stopped"),
    );
    l.add(
        "the program never ran",
        Outcome::check(!b.shared().join("marker").exists(), || {
            "marker written".into()
        }),
    );
    let _ = st;
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    l.section("runtime.md#delete");
    l.add(
        "delete after kill succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}

fn exit_stopped(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "exit-stopped")?;
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "echo ran > /ocv-shared/marker"]),
    );
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#state");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add("start succeeds", Outcome::check(out.ok, || out.brief()));
    let s = rt.wait_status(&b.dir, &b.id, "stopped", 5);
    l.add(
        "status is stopped once the process exited by itself",
        Outcome::eq(s.as_str(), "stopped"),
    );
    l.add(
        "the program ran",
        Outcome::check(b.shared().join("marker").exists(), || "no marker".into()),
    );
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    l.section("runtime.md#delete");
    l.add(
        "delete of the exited container succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    l.add(
        "delete removed the container's cgroups",
        Outcome::check(cgroupfs::dirs(&b.cgroup).is_empty(), || {
            format!("{:?}", cgroupfs::dirs(&b.cgroup))
        }),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}

fn config_immutable(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "config-immutable")?;
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "echo original > /ocv-shared/marker"]),
    );
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#lifecycle");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "echo changed > /ocv-shared/marker"]),
    );
    b.write()?;
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add("start succeeds", Outcome::check(out.ok, || out.brief()));
    // The file exists as soon as the shell opened it: read it once the container is done.
    wait_file(&b.shared().join("marker"));
    rt.wait_status(&b.dir, &b.id, "stopped", 5);
    let got = fs::read_to_string(b.shared().join("marker")).unwrap_or_default();
    l.add(
        "process.args edited after create did not change the program",
        Outcome::eq(got.trim(), "original"),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}
