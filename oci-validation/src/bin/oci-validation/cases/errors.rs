//! runtime.md error rules without a live container: operations on an id that does not exist or
//! is not given, and create errors that "MUST leave the state of the environment as if the
//! operation were never attempted" (no container, no cgroup, program not run).

use std::fs;

use anyhow::Result;
use oci_validation::tap::{Check, Outcome};
use serde_json::json;

use super::lifecycle::Log;
use super::Case;
use crate::bundle::{Bundle, Ctx};
use crate::cgroupfs;
use crate::runtime::Runtime;

pub fn cases() -> Vec<Case> {
    vec![
        Case { id: "missing-id", section: "runtime.md#operations", spec: "\"Attempting to query a container that does not exist MUST generate an error.\" (and start/kill/delete)", run: missing_id },
        Case { id: "create-errors", section: "runtime.md#create", spec: "lifecycle step 2: \"If the runtime is unable to create the environment ... it MUST generate an error\"; runtime.md#errors", run: create_errors },
    ]
}

fn missing_id(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let dir = ctx.work.join(&rt.name);
    fs::create_dir_all(&dir)?;
    let id = format!("ocv-{}-does-not-exist", rt.name);
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#query-state");
    for (sec, args) in [
        ("runtime.md#query-state", vec!["state", id.as_str()]),
        ("runtime.md#start", vec!["start", id.as_str()]),
        ("runtime.md#kill", vec!["kill", id.as_str(), "KILL"]),
        ("runtime.md#delete", vec!["delete", id.as_str()]),
    ] {
        let out = rt.cmd(&dir, &args);
        l.section(sec).add(
            format!("{} of a container that does not exist fails", args[0]),
            Outcome::check(!out.ok, || "succeeded".into()),
        );
    }
    // "This operation MUST generate an error if it is not provided the container ID."
    for (sec, op) in [
        ("runtime.md#query-state", "state"),
        ("runtime.md#start", "start"),
        ("runtime.md#kill", "kill"),
        ("runtime.md#delete", "delete"),
    ] {
        let out = rt.cmd(&dir, &[op]);
        l.section(sec).add(
            format!("{op} without a container id fails"),
            Outcome::check(!out.ok, || "succeeded".into()),
        );
    }
    Ok(v)
}

/// Creates `case` with the config edited by `edit`; expects an error and no trace left.
fn bad_create(
    ctx: &Ctx,
    rt: &Runtime,
    l: &mut Log,
    case: &str,
    what: &str,
    edit: impl FnOnce(&mut Bundle) -> Result<()>,
) -> Result<()> {
    let mut b = Bundle::new(ctx, rt, case)?;
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "echo ran > /ocv-shared/marker"]),
    );
    b.write()?;
    edit(&mut b)?;
    let out = rt.cmd(&b.dir, &["create", "--bundle", b.path(), &b.id]);
    l.add(
        format!("create with {what} fails"),
        Outcome::check(!out.ok, || "succeeded".into()),
    );
    // runtime.md#errors: "generating an error MUST leave the state of the environment as if the operation were never attempted"
    l.add(
        format!("{what}: no container left (state fails)"),
        Outcome::check(rt.state(&b.dir, &b.id).is_err(), || "state answers".into()),
    );
    l.add(
        format!("{what}: no cgroup left"),
        Outcome::check(cgroupfs::dirs(&b.cgroup).is_empty(), || {
            format!("{:?}", cgroupfs::dirs(&b.cgroup))
        }),
    );
    l.add(
        format!("{what}: program not run"),
        Outcome::check(!b.shared().join("marker").exists(), || {
            "marker written".into()
        }),
    );
    rt.force_delete(&b.dir, &b.id);
    Ok(())
}

fn create_errors(ctx: &Ctx, rt: &Runtime) -> Result<Vec<Check>> {
    let mut v = Vec::new();
    let mut l = Log(&mut v, "runtime.md#create");
    bad_create(ctx, rt, &mut l, "err-rootfs", "a missing root.path", |b| {
        b.set("/root/path", json!("no-such-rootfs"));
        b.write()
    })?;
    bad_create(ctx, rt, &mut l, "err-json", "an invalid config.json", |b| {
        Ok(fs::write(b.dir.join("config.json"), "{\"ociVersion\": ")?)
    })?;
    l.section("config-linux.md#namespaces");
    // "If a namespaces field contains duplicated namespaces with same type, the runtime MUST generate an error."
    bad_create(
        ctx,
        rt,
        &mut l,
        "err-dup-ns",
        "duplicated namespaces",
        |b| {
            b.push("/linux/namespaces", json!({"type": "ipc"}));
            b.write()
        },
    )?;
    l.section("config.md#posix-process");
    // "If rlimits contains duplicated entries with same type, the runtime MUST generate an error."
    bad_create(
        ctx,
        rt,
        &mut l,
        "err-dup-rlimit",
        "duplicated rlimits",
        |b| {
            b.push(
                "/process/rlimits",
                json!({"type": "RLIMIT_NOFILE", "hard": 512, "soft": 512}),
            );
            b.write()
        },
    )?;
    l.section("config-linux.md#devices");
    // "If a file already exists at path that does not match the requested device, the runtime MUST generate an error."
    bad_create(
        ctx,
        rt,
        &mut l,
        "err-dev-exists",
        "a device path held by a regular file",
        |b| {
            b.set(
                "/linux/devices",
                json!([{"path": "/etc/hostname", "type": "c", "major": 1, "minor": 3}]),
            );
            b.write()
        },
    )?;
    Ok(v)
}
