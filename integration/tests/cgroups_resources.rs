//! `linux.resources` on this host (hybrid cgroups: v1 controllers, an empty v2 hierarchy):
//! each limit is configured, a container started, and the value read back from the host's
//! cgroup files; effects are shown where observable (OOM kill + `events` oom, fork bomb
//! stopped at pids.max, freezing, devices denied, live `update`), plus `events --stats` and
//! `ps`. Bad values fail `create` with a line naming the field and leave nothing behind.
//! Pure cgroup v2 is covered by `cgroup_v2_qemu.rs`.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxirun_integration::cgroupfs::{self, keyed, proc_state, read};
use oxirun_integration::checks::{assert_nothing_left, cgroup_dirs};
use oxirun_integration::util::{poll, wait_child};
use oxirun_integration::{json, Container, Value};

const MB: i64 = 1 << 20;

fn running(c: &mut Container, script: &str) {
    c.sh(script).create_ok();
    c.start().ok("start");
}

/// Stops and deletes the container, then checks its cgroups are gone.
fn finish(c: &mut Container) {
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    c.delete(false).ok("delete");
    let left = cgroup_dirs(&c.cgroup_rel());
    assert!(left.is_empty(), "cgroups left: {left:?}");
}

/// `create` must fail naming `field`, with nothing left behind.
#[track_caller]
fn create_fails(c: &mut Container, field: &str) {
    c.sh("exec sleep 100");
    let out = c.create();
    out.fails_with("create", field);
    let err_lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(err_lines.len(), 1, "one error line expected: {out:#?}");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    assert!(cgroup_dirs(&c.cgroup_rel()).is_empty());
}

fn spawn_events(c: &Container, args: &[&str], tag: &str) -> (Child, std::path::PathBuf) {
    let out = c.dir.join(&format!("{tag}.jsonl"));
    let f = fs::File::create(&out).unwrap();
    let mut all = vec!["events"];
    all.extend_from_slice(args);
    all.push(&c.id);
    let child = c
        .command(&all)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn events");
    (child, out)
}

fn json_lines(path: &std::path::Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

fn ps_json(c: &Container) -> Vec<i32> {
    let out = c.rt(&["ps", "--format", "json", &c.id]);
    out.ok("ps");
    serde_json::from_str(out.stdout.trim()).expect("ps json")
}

#[test]
fn memory_limits_are_applied() {
    let mut c = Container::new("res-mem");
    c.set(
        "/linux/resources/memory",
        json!({"limit": 64 * MB, "reservation": 32 * MB, "swap": 96 * MB,
               "swappiness": 10, "kernelTCP": 16 * MB, "disableOOMKiller": false}),
    );
    running(&mut c, "exec sleep 1000");
    let rel = c.cgroup_rel();
    assert_eq!(read(&rel, "memory.limit_in_bytes"), (64 * MB).to_string());
    assert_eq!(
        read(&rel, "memory.soft_limit_in_bytes"),
        (32 * MB).to_string()
    );
    if cgroupfs::dir_with(&rel, "memory.memsw.limit_in_bytes").is_some() {
        assert_eq!(
            read(&rel, "memory.memsw.limit_in_bytes"),
            (96 * MB).to_string()
        );
    }
    assert_eq!(read(&rel, "memory.swappiness"), "10");
    assert_eq!(
        read(&rel, "memory.kmem.tcp.limit_in_bytes"),
        (16 * MB).to_string()
    );
    assert_eq!(
        keyed(&rel, "memory.oom_control", "oom_kill_disable"),
        Some(0)
    );
    finish(&mut c);
}

#[test]
fn cpu_and_cpuset_limits_are_applied() {
    let mut c = Container::new("res-cpu");
    c.set(
        "/linux/resources/cpu",
        json!({"shares": 512, "quota": 50000, "period": 100000, "burst": 10000,
               "realtimePeriod": 1000000, "idle": 0, "cpus": "0", "mems": "0"}),
    );
    running(&mut c, "exec sleep 1000");
    let rel = c.cgroup_rel();
    assert_eq!(read(&rel, "cpu.shares"), "512");
    assert_eq!(read(&rel, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&rel, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&rel, "cpu.cfs_burst_us"), "10000");
    assert_eq!(read(&rel, "cpu.rt_period_us"), "1000000");
    assert_eq!(read(&rel, "cpu.idle"), "0");
    assert_eq!(read(&rel, "cpuset.cpus"), "0");
    assert_eq!(read(&rel, "cpuset.mems"), "0");
    // The init really runs only on cpu 0.
    let status = fs::read_to_string(format!("/proc/{}/status", c.pid.unwrap())).unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(allowed, "0");
    finish(&mut c);
}

#[test]
fn blkio_weight_and_throttles_are_applied() {
    let dev = fs::read_dir("/sys/dev/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| !n.starts_with("7:")) // not a loop device
        .expect("a block device");
    let (maj, min) = dev.split_once(':').unwrap();
    let (maj, min): (i64, i64) = (maj.parse().unwrap(), min.parse().unwrap());
    let mut c = Container::new("res-blkio");
    c.set(
        "/linux/resources/blockIO",
        json!({
            "throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": maj, "minor": min, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": maj, "minor": min, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 200}]
        }),
    );
    running(&mut c, "exec sleep 1000");
    let rel = c.cgroup_rel();
    assert_eq!(
        read(&rel, "blkio.throttle.read_bps_device"),
        format!("{dev} 1048576")
    );
    assert_eq!(
        read(&rel, "blkio.throttle.write_bps_device"),
        format!("{dev} 2097152")
    );
    assert_eq!(
        read(&rel, "blkio.throttle.read_iops_device"),
        format!("{dev} 100")
    );
    assert_eq!(
        read(&rel, "blkio.throttle.write_iops_device"),
        format!("{dev} 200")
    );
    finish(&mut c);

    // Weight: CFQ's blkio.weight, or BFQ's blkio.bfq.weight (this kernel), else refused.
    let parent = std::path::Path::new("/sys/fs/cgroup/blkio/oxirun-it");
    let mut c = Container::new("res-blkw");
    c.set("/linux/resources/blockIO", json!({"weight": 500}));
    if parent.join("blkio.weight").exists() || parent.join("blkio.bfq.weight").exists() {
        running(&mut c, "exec sleep 1000");
        let rel = c.cgroup_rel();
        let file = if parent.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        assert_eq!(read(&rel, file), "500");
        finish(&mut c);
    } else {
        create_fails(&mut c, "linux.resources.blockIO.weight");
    }
    let mut c = Container::new("res-blkdev");
    c.set(
        "/linux/resources/blockIO",
        json!({"throttleReadBpsDevice": [{"major": 4095, "minor": 4095, "rate": 1}]}),
    );
    create_fails(&mut c, "linux.resources.blockIO.throttleReadBpsDevice");
}

#[test]
fn devices_default_deny_keeps_the_defaults_and_blocks_the_rest() {
    let mut c = Container::new("res-dev");
    c.set(
        "/linux/resources/devices",
        json!([{"allow": false, "access": "rwm"}]),
    )
    .set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]),
    );
    running(
        &mut c,
        "head -c1 /dev/zero >/dev/null && echo zero-ok; echo x > /dev/null && echo null-ok; \
         head -c1 /dev/urandom >/dev/null && echo urandom-ok; \
         echo oxirun-test 2>/dev/null >/dev/kmsg || echo kmsg-denied; exec sleep 1000",
    );
    let rel = c.cgroup_rel();
    let list = read(&rel, "devices.list");
    for want in [
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:9 rwm",
        "c 136:* rwm",
        "c *:* m",
        "b *:* m",
    ] {
        assert!(
            list.lines().any(|l| l == want),
            "{want} not in devices.list:\n{list}"
        );
    }
    assert!(!list.contains("a *:* rwm"), "everything allowed:\n{list}");
    assert!(!list.lines().any(|l| l.starts_with("c 1:11")), "{list}");
    let out = poll(Duration::from_secs(10), || {
        let (o, _) = c.container_output();
        o.contains("kmsg-denied").then_some(o)
    })
    .unwrap_or_else(|| panic!("container output: {:?}", c.container_output()));
    for want in ["zero-ok", "null-ok", "urandom-ok"] {
        assert!(out.contains(want), "{want} missing: {out:?}");
    }
    finish(&mut c);

    // Allowing it explicitly makes it readable.
    let mut c = Container::new("res-dev2");
    c.set(
        "/linux/resources/devices",
        json!([{"allow": false, "access": "rwm"},
               {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw"}]),
    )
    .set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]),
    );
    running(
        &mut c,
        "echo oxirun-test >/dev/kmsg && echo kmsg-write-ok; exec sleep 1000",
    );
    let list = read(&c.cgroup_rel(), "devices.list");
    assert!(list.lines().any(|l| l == "c 1:11 rw"), "{list}");
    poll(Duration::from_secs(10), || {
        c.container_output()
            .0
            .contains("kmsg-write-ok")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("container output: {:?}", c.container_output()));
    finish(&mut c);
}

#[test]
fn memory_hog_is_oom_killed_and_events_reports_it() {
    let mut c = Container::new("res-oom");
    c.set("/linux/resources/memory", json!({"limit": 16 * MB}));
    c.sh("sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd-exit=$?; exec sleep 1000")
        .create_ok();
    let (mut ev, ev_out) = spawn_events(&c, &["--interval", "1s"], "events");
    c.start().ok("start");
    let rel = c.cgroup_rel();
    let got = poll(Duration::from_secs(20), || {
        json_lines(&ev_out).into_iter().find(|v| v["type"] == "oom")
    });
    let lines = json_lines(&ev_out);
    let oom = got.unwrap_or_else(|| {
        panic!(
            "no oom event; events: {lines:?}; output {:?}",
            c.container_output()
        )
    });
    assert_eq!(oom, json!({"type": "oom", "id": c.id}));
    assert!(keyed(&rel, "memory.oom_control", "oom_kill").unwrap_or(0) >= 1);
    let out = poll(Duration::from_secs(5), || {
        let (o, _) = c.container_output();
        o.contains("dd-exit=").then_some(o)
    })
    .expect("dd finished");
    assert!(out.contains("dd-exit=137"), "dd was not SIGKILLed: {out:?}");
    // Stats lines carry the limit.
    let stats = poll(Duration::from_secs(5), || {
        json_lines(&ev_out).into_iter().find(|v| {
            v["type"] == "stats" && v["data"]["memory"]["usage"]["failcnt"].as_u64() > Some(0)
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "no stats event showing the limit hit: {:?}",
            json_lines(&ev_out)
        )
    });
    assert_eq!(stats["data"]["memory"]["usage"]["limit"], json!(16 * MB));
    // events exits on its own once the container stops.
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    let code = wait_child(&mut ev, Duration::from_secs(10), "events after stop");
    assert_eq!(code, 0);
    c.delete(false).ok("delete");
}

#[test]
fn fork_bomb_stops_at_pids_max() {
    let mut c = Container::new("res-fork");
    c.set("/linux/resources/pids", json!({"limit": 10}));
    running(
        &mut c,
        // ash gives up (exits) on the first failed fork: run the bomb in a subshell.
        "(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; echo spawned; exec sleep 1000",
    );
    let rel = c.cgroup_rel();
    poll(Duration::from_secs(10), || {
        c.container_output().0.contains("spawned").then_some(())
    })
    .unwrap_or_else(|| panic!("output: {:?}", c.container_output()));
    assert_eq!(read(&rel, "pids.max"), "10");
    let current: usize = read(&rel, "pids.current").parse().unwrap();
    // init + the sleeps that fit (the subshell that hit the limit has exited).
    assert!((8..=10).contains(&current), "pids.current {current}");
    assert!(
        keyed(&rel, "pids.events", "max").unwrap_or(0) >= 1,
        "no fork was refused"
    );
    assert_eq!(ps_json(&c).len(), current);
    finish(&mut c);
}

#[test]
fn pause_freezes_every_process_and_resume_thaws() {
    let mut c = Container::new("res-freeze");
    running(&mut c, "sleep 1000 & sleep 1000 & exec sleep 1000");
    poll(Duration::from_secs(5), || {
        (ps_json(&c).len() == 3).then_some(())
    })
    .expect("three processes");
    c.rt(&["pause", &c.id]).ok("pause");
    assert_eq!(c.status(), "paused");
    let pids = ps_json(&c);
    assert_eq!(pids.len(), 3);
    for p in &pids {
        // A v1-frozen task sleeps uninterruptibly in the freezer ("D").
        let st = poll(Duration::from_secs(2), || {
            proc_state(*p).filter(|s| *s == 'D')
        });
        assert_eq!(st, Some('D'), "pid {p} state {:?}", proc_state(*p));
    }
    c.rt(&["resume", &c.id]).ok("resume");
    assert_eq!(c.status(), "running");
    for p in &pids {
        let st = poll(Duration::from_secs(2), || {
            proc_state(*p).filter(|s| *s != 'D')
        });
        assert!(matches!(st, Some('S') | Some('R')), "pid {p} state {st:?}");
    }
    finish(&mut c);
}

#[test]
fn ps_lists_exactly_the_container_pids() {
    let mut c = Container::new("res-ps");
    running(&mut c, "sleep 1000 & sleep 1000 & exec sleep 1000");
    let pids = poll(Duration::from_secs(5), || {
        let p = ps_json(&c);
        (p.len() == 3).then_some(p)
    })
    .expect("three processes");
    assert!(pids.contains(&c.pid.unwrap()));
    let mut procs: Vec<i32> = read(&c.cgroup_rel(), "cgroup.procs")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    procs.sort();
    assert_eq!(pids, procs);
    for p in &pids {
        let cg = fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
        assert!(cg.contains(&c.cgroup_rel()), "{p}: {cg}");
    }
    finish(&mut c);
}

#[test]
fn update_changes_live_limits_and_saves_them() {
    let mut c = Container::new("res-upd");
    c.set(
        "/linux/resources",
        json!({"memory": {"limit": 64 * MB}, "pids": {"limit": 50},
               "cpu": {"quota": 50000, "period": 100000}}),
    );
    running(&mut c, "exec sleep 1000");
    let rel = c.cgroup_rel();
    c.rt(&[
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "48m",
        "--pids-limit",
        "20",
        "--cpu-period",
        "200000",
        "--cpu-share",
        "256",
        "--cpuset-cpus",
        "0",
        &c.id,
    ])
    .ok("update flags");
    assert_eq!(read(&rel, "memory.limit_in_bytes"), (32 * MB).to_string());
    assert_eq!(read(&rel, "pids.max"), "20");
    assert_eq!(read(&rel, "cpu.cfs_period_us"), "200000");
    assert_eq!(read(&rel, "cpu.cfs_quota_us"), "50000", "quota kept");
    assert_eq!(read(&rel, "cpu.shares"), "256");
    if cgroupfs::dir_with(&rel, "memory.memsw.limit_in_bytes").is_some() {
        assert_eq!(
            read(&rel, "memory.memsw.limit_in_bytes"),
            (48 * MB).to_string()
        );
    }

    // --resources - (stdin), as containerd and CRI-O send it.
    let mut cmd: Command = c.command(&["update", "--resources", "-", &c.id]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(br#"{"memory":{"limit":100663296,"swap":100663296},"pids":{"limit":30}}"#)
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&rel, "memory.limit_in_bytes"), (96 * MB).to_string());
    assert_eq!(read(&rel, "pids.max"), "30");

    // Saved in the state: a later reader sees the new values.
    let st: Value =
        serde_json::from_str(&fs::read_to_string(c.root.join(&c.id).join("state.json")).unwrap())
            .unwrap();
    let res = &st["config"]["linux"]["resources"];
    assert_eq!(res["memory"]["limit"], json!(96 * MB));
    assert_eq!(res["pids"]["limit"], json!(30));
    assert_eq!(res["cpu"]["period"], json!(200000));

    // Invalid values are refused with the field named, nothing changed.
    c.rt(&["update", "--cpuset-cpus", "999", &c.id])
        .fails_with("update cpus", "linux.resources.cpu.cpus");
    c.rt(&["update", "--blkio-weight", "5", &c.id])
        .fails_with("update blkio", "linux.resources.blockIO.weight");
    assert_eq!(read(&rel, "pids.max"), "30");
    finish(&mut c);
}

#[test]
fn update_below_current_usage_and_on_a_stopped_container_fail() {
    let mut c = Container::new("res-upd2");
    c.set("/linux/resources/memory", json!({"limit": 128 * MB}));
    // Hold ~40 MB of anonymous memory in a shell variable (no swap on this host).
    running(
        &mut c,
        "x=$(head -c 41943040 /dev/zero | tr '\\0' a); echo held; sleep 1000; echo ${#x}",
    );
    let rel = c.cgroup_rel();
    let start = Instant::now();
    poll(Duration::from_secs(20), || {
        c.container_output().0.contains("held").then_some(())
    })
    .unwrap_or_else(|| panic!("output {:?}", c.container_output()));
    let usage: i64 = read(&rel, "memory.usage_in_bytes").parse().unwrap();
    assert!(usage > 30 * MB, "usage {usage}");
    let out = c.rt(&["update", "--memory", "8m", &c.id]);
    out.fails_with("update below usage", "linux.resources.memory.limit");
    assert!(out.stderr_has("current memory usage"), "{out:#?}");
    assert_eq!(read(&rel, "memory.limit_in_bytes"), (128 * MB).to_string());
    eprintln!("below-usage check took {:?}", start.elapsed());
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
    c.rt(&["update", "--memory", "64m", &c.id])
        .fails_with("update stopped", "not running");
    c.rt(&["events", "--stats", &c.id])
        .fails_with("events stopped", "is not running");
    c.delete(false).ok("delete");
}

#[test]
fn events_stats_prints_one_object() {
    let mut c = Container::new("res-stats");
    c.set(
        "/linux/resources",
        json!({"memory": {"limit": 64 * MB}, "pids": {"limit": 77}}),
    );
    running(&mut c, "sleep 1000 & exec sleep 1000");
    poll(Duration::from_secs(5), || {
        (ps_json(&c).len() == 2).then_some(())
    })
    .expect("two processes");
    let out = c.rt(&["events", "--stats", &c.id]);
    out.ok("events --stats");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:#?}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], json!(c.id));
    let d = &v["data"];
    assert_eq!(d["pids"]["current"], json!(2));
    assert_eq!(d["pids"]["limit"], json!(77));
    assert_eq!(d["memory"]["usage"]["limit"], json!(64 * MB));
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    assert!(d["cpu"]["usage"]["user"].is_u64() && d["cpu"]["usage"]["kernel"].is_u64());
    assert!(d["memory"]["raw"]["rss"].is_u64() || d["memory"]["raw"]["anon"].is_u64());
    assert!(d.get("network_interfaces").is_some());
    finish(&mut c);
}

#[test]
fn bad_values_fail_create_naming_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/linux/resources/memory",
            json!({"limit": -5}),
            "linux.resources.memory.limit",
        ),
        (
            "/linux/resources/memory",
            json!({"limit": 64 * MB, "swap": 32 * MB}),
            "linux.resources.memory.swap",
        ),
        (
            "/linux/resources/memory",
            json!({"swappiness": 200}),
            "linux.resources.memory.swappiness",
        ),
        (
            "/linux/resources/cpu",
            json!({"cpus": "0-999"}),
            "linux.resources.cpu.cpus",
        ),
        (
            "/linux/resources/cpu",
            json!({"cpus": "zero"}),
            "linux.resources.cpu.cpus",
        ),
        (
            "/linux/resources/cpu",
            json!({"shares": 1}),
            "linux.resources.cpu.shares",
        ),
        (
            "/linux/resources/cpu",
            json!({"quota": 10}),
            "linux.resources.cpu.quota",
        ),
        (
            "/linux/resources/pids",
            json!({"limit": -7}),
            "linux.resources.pids.limit",
        ),
        (
            "/linux/resources/devices",
            json!([{"allow": true, "type": "c", "major": -3, "access": "r"}]),
            "linux.resources.devices[0]",
        ),
        (
            "/linux/resources/devices",
            json!([{"allow": true, "type": "c", "access": "rwx"}]),
            "linux.resources.devices[0]",
        ),
        (
            "/linux/resources/unified",
            json!({"memory.high": "10M"}),
            "cannot use unified on cgroup v1",
        ),
        (
            "/linux/resources/hugepageLimits",
            json!([{"pageSize": "3MB", "limit": 1}]),
            "linux.resources.hugepageLimits",
        ),
    ];
    for (ptr, v, phrase) in cases {
        let mut c = Container::new("res-bad");
        c.set(ptr, v.clone());
        c.sh("exec sleep 100");
        let out = c.create();
        assert_eq!(out.code, 1, "{ptr}={v}: {out:#?}");
        assert!(
            out.stderr_has(phrase),
            "{ptr}={v}: stderr lacks {phrase:?}: {out:#?}"
        );
        assert_nothing_left(&c.root, &c.id, &c.bundle);
        assert!(
            cgroup_dirs(&c.cgroup_rel()).is_empty(),
            "{ptr}: cgroup left"
        );
    }
    // Controllers this host lacks (no v1 net_cls / hugetlb / rdma hierarchy).
    if !cgroupfs::has_v1("net_cls") && !cgroupfs::has_v1("net_cls,net_prio") {
        let mut c = Container::new("res-net");
        c.set("/linux/resources/network", json!({"classID": 1048577}));
        create_fails(&mut c, "linux.resources.network.classID");
    }
    if !cgroupfs::has_v1("rdma") {
        let mut c = Container::new("res-rdma");
        c.set(
            "/linux/resources/rdma",
            json!({"mlx5_1": {"hcaHandles": 3}}),
        );
        create_fails(&mut c, "linux.resources.rdma");
    }
}
