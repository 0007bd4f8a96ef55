//! Docker (dockerd -> containerd -> containerd-shim-runc-v2 -> the runtime) driving oxirun:
//! a private dockerd (`clients::docker`: own data-root, exec-root, socket, cgroup-parent,
//! bridge none) with runtimes `runc` and `oxirun`.
//!
//! Every scenario runs with runc first, then with oxirun (`docker run --runtime NAME`), same
//! checks: all the `DockerCli` scenarios (`clients::cli::scenarios`: run/exit codes, a missing
//! command, `-d` + `exec` + `logs` + `top` + `pause`/`unpause` + a timed `stop` + `rm`, stop
//! escalating to SIGKILL, kill + wait, `-v`, `--tmpfs`, `-e`, `--memory`/`--pids-limit`/
//! `--cpus` in the host's cgroup files + `stats --no-stream`, `--read-only`,
//! `--cap-add/drop`, the default seccomp profile and `seccomp=unconfined`, `-it` and
//! `exec -it` through the console socket, `--user`, named volumes, `lo` in
//! `--network none`, restart, `--init`), then Docker's own: `docker update` (the captured
//! JSON's zeros), a restart policy, `default-runtime` (switched by a SIGHUP reload of
//! daemon.json), `--privileged` (fails for runc too on this host, see
//! `s_privileged_fails_as_runc_does`), and a two-service docker-compose project.

use std::process::Command;
use std::time::Duration;

use oxirun_integration::clients::docker::{self, Docker, IMG};
use oxirun_integration::clients::{self, check, defer, expect_code, wait_for, DockerCli, Res, Rt};

const T: Duration = Duration::from_secs(90);

/// (file, value) of the container's cgroup files read from the host through its pid.
fn limits(d: &Docker, rt: &Rt, name: &str) -> Vec<(&'static str, String)> {
    let pid = d.inspect(rt, name, "{{.State.Pid}}");
    [
        ("memory", "memory.limit_in_bytes"),
        ("memory", "memory.memsw.limit_in_bytes"),
        ("cpu", "cpu.shares"),
        ("cpu", "cpu.cfs_quota_us"),
        ("pids", "pids.max"),
    ]
    .into_iter()
    .map(|(c, f)| (f, clients::cgroup_file(&pid, c, f, f).unwrap_or_default()))
    .collect()
}

fn expect_limits(d: &Docker, rt: &Rt, name: &str, what: &str, want: &[(&str, &str)]) -> Res {
    let got = limits(d, rt, name);
    let want: Vec<(&str, String)> = want.iter().map(|(f, v)| (*f, v.to_string())).collect();
    check(got == want, || {
        format!("cgroup of {name} after {what}: got {got:?}, want {want:?}")
    })
}

/// `docker update` sends the runtime JSON with zeros for whatever it does not change
/// (`integration/fixtures/docker/`): the changed limits move, the others stay.
fn s_update(d: &Docker, rt: &Rt) -> Res {
    let n = d.name(rt, "update");
    let _rm = defer(|| d.rm(rt, &n));
    let out = d.run(
        rt,
        &[
            "-d",
            "--name",
            &n,
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "50",
        ],
        &["sleep", "1000"],
    );
    expect_code(
        &out,
        0,
        "docker run -d --memory/--memory-swap/--cpus/--cpu-shares/--pids-limit",
    )?;
    let mut want = [
        ("memory.limit_in_bytes", "67108864"),
        ("memory.memsw.limit_in_bytes", "134217728"),
        ("cpu.shares", "512"),
        ("cpu.cfs_quota_us", "50000"),
        ("pids.max", "50"),
    ];
    expect_limits(d, rt, &n, "run", &want)?;
    let out = d.cli(
        rt,
        &[
            "update",
            "--memory",
            "96m",
            "--memory-swap",
            "192m",
            "--cpus",
            "0.25",
            "--pids-limit",
            "40",
            &n,
        ],
    );
    expect_code(
        &out,
        0,
        "docker update --memory 96m --memory-swap 192m --cpus 0.25 --pids-limit 40",
    )?;
    want[0].1 = "100663296";
    want[1].1 = "201326592";
    want[3].1 = "25000";
    want[4].1 = "40";
    expect_limits(
        d,
        rt,
        &n,
        "docker update --memory/--cpus/--pids-limit",
        &want,
    )?;
    expect_code(
        &d.cli(rt, &["update", "--cpu-shares", "256", &n]),
        0,
        "docker update --cpu-shares 256",
    )?;
    want[2].1 = "256";
    expect_limits(d, rt, &n, "docker update --cpu-shares 256", &want)?;
    expect_code(
        &d.cli(rt, &["update", "--restart", "on-failure", &n]),
        0,
        "docker update --restart on-failure",
    )?;
    expect_limits(d, rt, &n, "docker update --restart on-failure", &want)?;
    let mem = d.inspect(
        rt,
        &n,
        "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
    );
    check(mem == "100663296 on-failure", || {
        format!("docker inspect after the updates: {mem:?}")
    })
}

/// `--restart on-failure:2`: dockerd starts the exiting container again, twice.
fn s_restart_policy(d: &Docker, rt: &Rt) -> Res {
    let flags = ["--restart", "on-failure:2"];
    let n = d.detached(
        rt,
        "policy",
        &flags,
        &["sh", "-c", "echo run; exit 3"],
        None,
    )?;
    let n: &str = &n;
    let fmt = "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}";
    wait_for(
        Duration::from_secs(30),
        || d.inspect(rt, n, fmt) == "2 exited 3",
        || {
            format!(
                "restart count/status/exit code: {:?}",
                d.inspect(rt, n, fmt)
            )
        },
    )?;
    let logs = d.cli(rt, &["logs", n]);
    check(logs.stdout == "run\nrun\nrun\n", || {
        format!("three runs expected in the logs: {logs:#?}")
    })
}

/// `default-runtime`: with no `--runtime`, dockerd uses the one daemon.json names (switched
/// with a SIGHUP reload), and that runtime really made the container (its state file).
fn s_default_runtime(d: &Docker, rt: &Rt) -> Res {
    let n = d.name(rt, "default");
    let _back = defer(|| {
        d.rm(rt, &n);
        let _ = d.set_default_runtime("runc");
    });
    d.set_default_runtime(rt.name)?;
    let out = d.docker(&["run", "-d", "--name", &n, IMG, "sleep", "1000"]);
    expect_code(&out, 0, "docker run -d IMG (no --runtime)")?;
    let id = out.stdout.trim().to_string();
    let named = d.inspect(rt, &n, "{{.HostConfig.Runtime}}");
    check(named == rt.name, || {
        format!("HostConfig.Runtime: {named:?}, want {:?}", rt.name)
    })?;
    let writer = d.state_writer(&id);
    check(writer == Some(rt.name), || {
        format!("state of {id} written by {writer:?}, want {}", rt.name)
    })
}

/// The capabilities this process may hold (its bounding set), and all the kernel knows.
fn bounding_set() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = oxirun_integration::checks::status_field(&status, "CapBnd")
        .map(oxirun_integration::checks::parse_mask)
        .unwrap_or(0);
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    (bnd, (1u64 << (last + 1)) - 1)
}

/// `--privileged` asks for every capability the kernel knows. Root on this host lacks some
/// in its bounding set (CAP_SYS_RESOURCE, 24), so no runtime can grant them: runc fails with
/// "unable to apply caps: operation not permitted", and oxirun must fail the same way (docker
/// exit 125, "OCI runtime create failed", the capability set refused with EPERM). On a host
/// whose root has every capability, both must run it with all of them effective instead.
fn s_privileged_fails_as_runc_does(d: &Docker, rt: &Rt) -> Res {
    let (bnd, all) = bounding_set();
    let out = d.run(
        rt,
        &["--rm", "--privileged"],
        &["grep", "^CapEff:", "/proc/self/status"],
    );
    if bnd & all == all {
        expect_code(
            &out,
            0,
            "docker run --privileged (root has every capability here)",
        )?;
        let eff = oxirun_integration::checks::status_field(&out.stdout, "CapEff")
            .map(oxirun_integration::checks::parse_mask);
        return check(eff == Some(all), || {
            format!("--privileged: CapEff {eff:x?}, want {all:x}: {out:#?}")
        });
    }
    let err = out.stderr.to_lowercase();
    check(
        out.code == 125
            && err.contains("oci runtime create failed")
            && err.contains("operation not permitted")
            && err.contains("cap"),
        || {
            format!(
                "docker run --privileged where root lacks capabilities {:x} must fail in \
                 create with EPERM on the capability sets, as runc does: {out:#?}",
                all & !bnd
            )
        },
    )
}

/// A docker-compose 1.29 project of two services on one named volume, `network_mode: none`:
/// a producer writes five items and waits for the consumer's acknowledgement; the consumer
/// waits for the producer's `done`, sums the items and acknowledges. `up -d`, `docker wait`
/// for both, `logs`, `down -v`, and nothing of the project is left.
fn s_compose_pipeline(d: &Docker, rt: &Rt) -> Res {
    let project = format!("oxit{}{}", rt.name, std::process::id());
    let pdir = d.dir.join(&format!("compose-{}", rt.name));
    std::fs::create_dir_all(&pdir).unwrap();
    let file = pdir.join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"version: "2.4"
services:
  producer:
    image: {IMG}
    runtime: {rt}
    network_mode: none
    volumes: ["queue:/queue"]
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo $$i > /queue/.item-$$i; mv /queue/.item-$$i /queue/item-$$i; done; touch /queue/done; echo produced 5; until [ -e /queue/ack ]; do sleep 0.1; done; echo acknowledged"]
  consumer:
    image: {IMG}
    runtime: {rt}
    network_mode: none
    depends_on: [producer]
    volumes: ["queue:/queue"]
    command: ["sh", "-c", "until [ -e /queue/done ]; do sleep 0.1; done; s=0; for f in /queue/item-*; do s=$$((s + $$(cat $$f))); done; echo consumed sum=$$s ifaces=$$(ls /sys/class/net); touch /queue/ack; [ $$s -eq 15 ]"]
volumes:
  queue: {{}}
"#,
            rt = rt.name
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut c = Command::new("docker-compose");
        c.arg("-p")
            .arg(&project)
            .arg("-f")
            .arg(&file)
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
            .env("DOCKER_CONFIG", d.dir.join("client-config"))
            .current_dir(&pdir);
        clients::run(&mut c, &d.dir.path, T)
    };
    let _down = defer(|| {
        let _ = compose(&["down", "-v", "-t", "1"]);
    });
    expect_code(&compose(&["up", "-d"]), 0, "docker-compose up -d")?;
    for (svc, want) in [
        ("consumer", "consumed sum=15 ifaces=lo"),
        ("producer", "acknowledged"),
    ] {
        let c = format!("{project}_{svc}_1");
        let out = d.docker(&["wait", &c]);
        check(out.stdout.trim() == "0", || {
            format!(
                "docker wait {c}: {out:#?}; logs: {:#?}",
                compose(&["logs", svc])
            )
        })?;
        let logs = d.docker(&["logs", &c]);
        check(logs.stdout.contains(want), || {
            format!("logs of {c} lack {want:?}: {logs:#?}")
        })?;
        let hc = d.inspect(
            rt,
            &c,
            "{{.HostConfig.Runtime}} {{.HostConfig.NetworkMode}}",
        );
        check(hc == format!("{} none", rt.name), || {
            format!("{c}: runtime/network mode {hc:?}")
        })?;
    }
    expect_code(
        &compose(&["down", "-v", "-t", "1"]),
        0,
        "docker-compose down -v",
    )?;
    let label = format!("label=com.docker.compose.project={project}");
    let left = d.docker(&["ps", "-aq", "--filter", &label]);
    let vols = d.docker(&["volume", "ls", "-q", "--filter", &label]);
    check(
        left.success() && left.stdout.trim().is_empty() && vols.stdout.trim().is_empty(),
        || format!("left after docker-compose down -v: {left:#?} {vols:#?}"),
    )
}

#[test]
fn docker_with_oxirun() {
    let d = docker::start().unwrap_or_else(|e| panic!("docker unusable here: {e}"));
    let mut scenarios = clients::cli::scenarios::<Docker>();
    scenarios.extend_from_slice(&[
        (
            "docker update (zeros = unset)",
            s_update as fn(&Docker, &Rt) -> Res,
        ),
        ("--restart on-failure:2", s_restart_policy),
        ("default-runtime (SIGHUP reload)", s_default_runtime),
        (
            "--privileged fails as with runc",
            s_privileged_fails_as_runc_does,
        ),
        ("compose: producer/consumer", s_compose_pipeline),
    ]);
    clients::matrix("docker", &d, &scenarios, Duration::from_secs(900));
}
