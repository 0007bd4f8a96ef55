//! The config.json and `update` JSON that dockerd 20.10 hands the runtime, captured from a real
//! dockerd (`integration/fixtures/docker/`, README there), run directly by the runtime: runc
//! first, then oxirun, same checks. Only what points at dockerd's own host paths is replaced:
//! `root.path` (the bundle's rootfs), the sources of the /etc/{resolv.conf,hostname,hosts}
//! bind mounts (files in the test's dir) and `linux.cgroupsPath` (`/oxirun-it/<id>`); every
//! resource value, including dockerd's zeros (`blockIO.weight: 0`, `cpu.shares: 0`,
//! `memory.disableOOMKiller: false`, the update JSON's zeros for what did not change), is
//! passed as dockerd wrote it.
//!
//! Checks, from the host's cgroup files: the limits of `docker run --memory 64m --memory-swap
//! 128m --memory-reservation 32m --cpus 0.5 --cpu-shares 512 --pids-limit 50 --cpuset-cpus 0`,
//! then after each captured `docker update` (limits; `--cpu-shares` alone; `--restart` alone,
//! which sends only zeros) exactly the values the user changed moved and nothing else.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use oxirun_integration::cgroupfs::read;
use oxirun_integration::clients::RUNC;
use oxirun_integration::util::{wait_child, OutFiles};
use oxirun_integration::{oxirun_bin, Container, Out, Value};

const RUN_DEFAULT: &str = include_str!("../fixtures/docker/run-default.config.json");
const RUN_LIMITS: &str = include_str!("../fixtures/docker/run-limits.config.json");
const UPDATE_LIMITS: &str = include_str!("../fixtures/docker/update-limits.json");
const UPDATE_SHARES: &str = include_str!("../fixtures/docker/update-cpu-shares.json");
const UPDATE_RESTART: &str = include_str!("../fixtures/docker/update-restart-policy.json");

/// A container running `fixture` with `bin`, dockerd's host paths replaced by ours.
fn container(bin: &Path, short: &str, fixture: &str) -> Container {
    let mut c = Container::new(short);
    c.runtime(bin);
    let mut cfg: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    cfg["root"]["path"] = "rootfs".into();
    let etc = c.dir.join("etc");
    fs::create_dir_all(&etc).unwrap();
    for m in cfg["mounts"].as_array_mut().expect("mounts") {
        let dest = m["destination"].as_str().unwrap_or_default().to_string();
        if let Some(name) = dest.strip_prefix("/etc/") {
            let src = etc.join(name);
            fs::write(&src, format!("# {name} of {}\n", c.id)).unwrap();
            m["source"] = src.to_str().unwrap().into();
        }
    }
    cfg["linux"]["cgroupsPath"] = format!("/oxirun-it/{}", c.id).into();
    c.config = cfg;
    c
}

/// `<runtime> update --resources - ID` with `json` on stdin, as containerd's shim runs it.
fn update(c: &Container, json: &str) -> Out {
    let input = c.dir.join("update.json");
    fs::write(&input, json).unwrap();
    let files = OutFiles::new(&c.dir.path, "update");
    let mut cmd = c.command(&["update", "--resources", "-", &c.id]);
    files.attach(&mut cmd);
    cmd.stdin(Stdio::from(fs::File::open(&input).unwrap()));
    let mut child = cmd.spawn().expect("spawn update");
    let code = wait_child(&mut child, Duration::from_secs(30), "update");
    files.read(code)
}

/// (file, value) pairs of the container's cgroup, as the host sees them.
fn limits(c: &Container) -> Vec<(&'static str, String)> {
    let rel = c.cgroup_rel();
    [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "cpu.shares",
        "cpu.cfs_quota_us",
        "cpu.cfs_period_us",
        "cpuset.cpus",
        "pids.max",
    ]
    .into_iter()
    .map(|f| (f, read(&rel, f)))
    .collect()
}

#[track_caller]
fn expect(c: &Container, what: &str, want: &[(&str, &str)]) {
    let got = limits(c);
    let want: Vec<(&str, String)> = want.iter().map(|(f, v)| (*f, v.to_string())).collect();
    assert_eq!(got, want, "{}: cgroup of {} after {what}", c.id, c.id);
}

fn limits_and_updates(bin: &Path) {
    let mut c = container(bin, "dk-limits", RUN_LIMITS);
    c.create()
        .ok(&format!("{} create (dockerd's config.json)", bin.display()));
    c.start().ok("start");
    assert_eq!(c.status(), "running");
    let mut want = [
        ("memory.limit_in_bytes", "67108864"),
        ("memory.memsw.limit_in_bytes", "134217728"),
        ("memory.soft_limit_in_bytes", "33554432"),
        ("cpu.shares", "512"),
        ("cpu.cfs_quota_us", "50000"),
        ("cpu.cfs_period_us", "100000"),
        ("cpuset.cpus", "0"),
        ("pids.max", "50"),
    ];
    expect(&c, "create", &want);

    // docker update --memory 96m --memory-swap 192m --cpus 0.25 --pids-limit 40
    update(&c, UPDATE_LIMITS).ok("update (dockerd's limits JSON)");
    want[0].1 = "100663296";
    want[1].1 = "201326592";
    want[4].1 = "25000";
    want[7].1 = "40";
    expect(
        &c,
        "docker update --memory/--memory-swap/--cpus/--pids-limit",
        &want,
    );

    // docker update --cpu-shares 256: every other value is a 0 and stays as it is.
    update(&c, UPDATE_SHARES).ok("update (dockerd's --cpu-shares JSON)");
    want[3].1 = "256";
    expect(&c, "docker update --cpu-shares 256", &want);

    // docker update --restart on-failure: only zeros, nothing moves.
    update(&c, UPDATE_RESTART).ok("update (dockerd's --restart JSON)");
    expect(&c, "docker update --restart on-failure", &want);

    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    c.delete(false).ok("delete");
}

fn default_run(bin: &Path) {
    let mut c = container(bin, "dk-default", RUN_DEFAULT);
    assert_eq!(c.config["process"]["args"], serde_json::json!(["true"]));
    let out = c.run(&[]);
    out.ok(&format!(
        "{} run (dockerd's default config.json)",
        bin.display()
    ));
    assert!(out.stderr.trim().is_empty(), "stderr: {out:#?}");
}

#[test]
fn dockerd_default_config_runs() {
    default_run(Path::new(RUNC));
    default_run(oxirun_bin());
}

#[test]
fn dockerd_limits_config_and_update_json() {
    limits_and_updates(Path::new(RUNC));
    limits_and_updates(oxirun_bin());
}
