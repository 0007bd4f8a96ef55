//! config.md#posix-platform-hooks and runtime.md#lifecycle steps 3-13: every hook writes its
//! stdin (the state), its namespaces, argv and env into the bundle's shared directory and appends
//! its name to an `order` file. Expected statuses on stdin follow the lifecycle step each hook
//! runs in (README: "hook state status").

use std::fs;
use std::path::Path;

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};
use serde_json::{json, Value};

use super::lifecycle::{wait_file, Log};
use super::Case;
use crate::bundle::{Bundle, Ctx};
use crate::cgroupfs;
use crate::runtime::Runtime;

pub fn cases() -> Vec<Case> {
    vec![
        Case { id: "hooks", section: "config.md#posix-platform-hooks", spec: "\"The state of the container MUST be passed to hooks over stdin\"; lifecycle steps 3-13 order; runtime vs container namespace", run: hooks },
        Case { id: "hook-fail-create", section: "runtime.md#lifecycle", spec: "\"If any createRuntime hook fails, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.\"", run: fail_create },
        Case { id: "hook-fail-poststart", section: "runtime.md#lifecycle", spec: "\"If any poststart hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had succeeded.\"", run: fail_poststart },
    ]
}

/// A hook that records itself under the shared dir (host path, else /ocv-shared inside).
fn recorder(b: &Bundle, name: &str) -> Value {
    let script = format!(
        "d={}; [ -d \"$d\" ] || d=/ocv-shared; cat > \"$d/{name}.json\"; echo {name} >> \"$d/order\"; \
         readlink /proc/self/ns/net > \"$d/{name}.net\"; readlink /proc/self/ns/mnt > \"$d/{name}.mnt\"; \
         echo \"$0 $1 $OCV_HOOK\" > \"$d/{name}.args\"",
        b.shared().display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script, "a0", "a1"], "env": ["PATH=/usr/bin:/bin", format!("OCV_HOOK=env-{name}")], "timeout": 10})
}

fn failing() -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]})
}

fn order(b: &Bundle) -> Vec<String> {
    fs::read_to_string(b.shared().join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn read(b: &Bundle, f: &str) -> String {
    fs::read_to_string(b.shared().join(f))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn ns_link(pid: i64, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Checks one hook's recorded stdin, argv/env and namespaces.
fn hook_facts(
    l: &mut Log,
    b: &Bundle,
    name: &str,
    status: &str,
    host_pid: i64,
    in_container: bool,
    cns: &(String, String),
) {
    let st: Value = serde_json::from_str(&read(b, &format!("{name}.json"))).unwrap_or(Value::Null);
    l.add(
        format!("{name}: stdin is the state JSON with status {status}"),
        Outcome::eq(st["status"].as_str(), Some(status)),
    );
    l.add(
        format!("{name}: state id and bundle"),
        Outcome::eq(
            (st["id"].as_str(), st["bundle"].as_str()),
            (Some(b.id.as_str()), b.dir.to_str()),
        ),
    );
    if host_pid > 0 {
        // pid: "For hooks executed in the runtime namespace, it is the pid as seen by the runtime.
        // For hooks executed in the container namespace, it is the pid as seen by the container."
        let (want, seen) = if in_container {
            (1, "1, the container's view")
        } else {
            (host_pid, "the host pid")
        };
        l.add(
            format!("{name}: state pid as seen from the hook's namespace ({seen})"),
            Outcome::eq(st["pid"].as_i64(), Some(want)),
        );
    }
    // Hook args/env: "same semantics as ... execv's argv" / "environ".
    l.add(
        format!("{name}: args and env passed"),
        Outcome::eq(
            read(b, &format!("{name}.args")),
            format!("a0 a1 env-{name}"),
        ),
    );
    let host = (
        ns_link(std::process::id() as i64, "net"),
        ns_link(std::process::id() as i64, "mnt"),
    );
    let got = (
        read(b, &format!("{name}.net")),
        read(b, &format!("{name}.mnt")),
    );
    if in_container {
        l.add(
            format!("{name}: executed in the container namespace (net, mnt)"),
            Outcome::eq(&got, cns),
        );
    } else {
        l.add(
            format!("{name}: executed in the runtime namespace (net, mnt)"),
            Outcome::eq(&got, &host),
        );
    }
}

fn hooks(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "hooks")?;
    let prestart = rt.features["hooks"]
        .as_array()
        .is_some_and(|h| h.iter().any(|x| x == "prestart"));
    let mut hooks = json!({});
    for name in [
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        hooks[name] = json!([recorder(&b, name)]);
    }
    if prestart {
        hooks["prestart"] = json!([recorder(&b, "prestart")]);
    }
    b.set("/hooks", hooks).set(
        "/process/args",
        json!([
            "/bin/sh",
            "-c",
            "echo program >> /ocv-shared/order; exec sleep 600"
        ]),
    );
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "config.md#posix-platform-hooks");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add(
        "create with all hooks succeeds",
        Outcome::check(out.ok, || out.brief()),
    );
    if !out.ok {
        rt.force_delete(&b.dir, &b.id);
        return Ok(v);
    }
    let pid = rt
        .state(&b.dir, &b.id)
        .ok()
        .and_then(|s| s["pid"].as_i64())
        .unwrap_or(0);
    let cns = (ns_link(pid, "net"), ns_link(pid, "mnt"));
    let mut want: Vec<&str> = if prestart { vec!["prestart"] } else { vec![] };
    want.extend(["createRuntime", "createContainer"]);
    // Lifecycle steps 3-5: prestart, createRuntime, createContainer run during create.
    l.add(
        format!("create ran {} in order", want.join(", ")),
        Outcome::eq(order(&b), want.iter().map(|s| s.to_string()).collect()),
    );
    if prestart {
        hook_facts(&mut l, &b, "prestart", "creating", pid, false, &cns);
    }
    hook_facts(&mut l, &b, "createRuntime", "creating", pid, false, &cns);
    hook_facts(&mut l, &b, "createContainer", "creating", pid, true, &cns);
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add("start succeeds", Outcome::check(out.ok, || out.brief()));
    // poststart: "called after the user-specified process is executed but before the start operation returns"
    let after_start = order(&b);
    l.add(
        "poststart ran before start returned",
        Outcome::check(after_start.iter().any(|h| h == "poststart"), || {
            format!("order {after_start:?}")
        }),
    );
    // The program appends its line after start returned: poll for it (bounded) instead of a
    // fixed sleep, which a loaded machine outlasts.
    wait_file(&b.shared().join("order"));
    let mut o = order(&b);
    for _ in 0..250 {
        if o.iter().any(|h| h == "program") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        o = order(&b);
    }
    let pos = |n: &str| o.iter().position(|h| h == n);
    l.add(
        "startContainer ran before the user-specified program",
        Outcome::check(
            pos("startContainer").is_some() && pos("startContainer") < pos("program"),
            || format!("order {o:?}"),
        ),
    );
    hook_facts(&mut l, &b, "startContainer", "created", pid, true, &cns);
    hook_facts(&mut l, &b, "poststart", "running", pid, false, &cns);
    let _ = rt.cmd(&b.dir, &["kill", &b.id, "KILL"]);
    rt.wait_status(&b.dir, &b.id, "stopped", 5);
    let out = rt.cmd(&b.dir, &["delete", &b.id]);
    l.add("delete succeeds", Outcome::check(out.ok, || out.brief()));
    // poststop: "called after the container is deleted but before the delete operation returns"
    let o = order(&b);
    l.add(
        "poststop ran (last) before delete returned",
        Outcome::check(o.last().map(|s| s.as_str()) == Some("poststop"), || {
            format!("order {o:?}")
        }),
    );
    hook_facts(&mut l, &b, "poststop", "stopped", 0, false, &cns);
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}

fn fail_create(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "hook-fail-create")?;
    b.set(
        "/hooks",
        json!({"createRuntime": [failing()], "poststop": [recorder(&b, "poststop")]}),
    )
    .set(
        "/process/args",
        json!(["/bin/sh", "-c", "echo program >> /ocv-shared/order"]),
    );
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#lifecycle");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add(
        "create fails when a createRuntime hook fails",
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    l.add(
        "the container was stopped and destroyed (state fails)",
        Outcome::check(rt.state(&b.dir, &b.id).is_err(), || {
            format!("status {}", rt.status(&b.dir, &b.id))
        }),
    );
    l.add(
        "no cgroup left",
        Outcome::check(cgroupfs::dirs(&b.cgroup).is_empty(), || {
            format!("{:?}", cgroupfs::dirs(&b.cgroup))
        }),
    );
    // Step 12 then step 13: "The poststop hooks MUST be invoked by the runtime."
    l.add(
        "poststop hooks ran (lifecycle continues at step 12, then 13)",
        Outcome::check(order(&b).contains(&"poststop".to_string()), || {
            format!("order {:?}", order(&b))
        }),
    );
    l.add(
        "the program never ran",
        Outcome::check(!order(&b).contains(&"program".to_string()), || {
            "it ran".into()
        }),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}

fn fail_poststart(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut b = Bundle::new(ctx, rt, "hook-fail-poststart")?;
    b.set(
        "/hooks",
        json!({"poststart": [failing(), recorder(&b, "poststart")]}),
    )
    .set("/process/args", json!(["/bin/sh", "-c", "exec sleep 600"]));
    b.write()?;
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#lifecycle");
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add("create succeeds", Outcome::check(out.ok, || out.brief()));
    let out = rt.cmd(&b.dir, &["start", &b.id]);
    l.add(
        "start succeeds although a poststart hook failed",
        Outcome::check(out.ok, || out.brief()),
    );
    l.add(
        "the remaining poststart hook ran",
        Outcome::check(
            Path::new(&b.shared().join("poststart.json")).exists(),
            || "it did not".into(),
        ),
    );
    l.add(
        "the container is running",
        Outcome::eq(rt.status(&b.dir, &b.id), "running".into()),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(v)
}
