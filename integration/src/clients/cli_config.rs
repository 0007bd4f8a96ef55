//! What a container is made of, for any [`DockerCli`] engine, each checked from inside the
//! container or from the host: `-v` bind mounts (rw and ro); `--tmpfs`; `-e`;
//! `--memory`/`--pids-limit` and `--cpus`/`--cpu-shares` in the container's cgroup files
//! (read from the host through its pid) + `stats --no-stream`; `--read-only`;
//! `--cap-drop`/`--cap-add`; the default seccomp profile and `seccomp=unconfined`;
//! `--user`/`--hostname`/`--workdir`; named volumes (shared between containers, `:ro`, on the
//! host); `lo` up in a new network namespace (`--network none`), a server and a client talking
//! over 127.0.0.1.

use std::path::PathBuf;

use super::cli::DockerCli;
use super::host::{cgroup_dir_of, cgroup_file};
use super::matrix::{check, defer, expect_code, Res, Rt};
use crate::checks::status_field;
use crate::term::has_line;

pub fn bind_mounts<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let host = e.dir().join(format!("vol-{}", rt.name));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("host-file"), "from-host\n").unwrap();
    let h = host.to_str().unwrap();
    let rw = format!("{h}:/data");
    let out = e.run_c(
        rt,
        &["--rm", "-v", &rw],
        &[
            "sh",
            "-c",
            "cat /data/host-file; echo from-container > /data/out",
        ],
    );
    expect_code(&out, 0, "run -v H:/data")?;
    check(out.stdout == "from-host\n", || {
        format!("bind mount read: {out:#?}")
    })?;
    let back = std::fs::read_to_string(host.join("out")).unwrap_or_default();
    check(back == "from-container\n", || {
        format!("bind mount write: {back:?}")
    })?;
    let ro = format!("{h}:/data:ro");
    let out = e.run_c(
        rt,
        &["--rm", "-v", &ro],
        &["sh", "-c", "echo x > /data/denied && echo wrote"],
    );
    check(out.code != 0 && !out.stdout.contains("wrote"), || {
        format!("write to a :ro bind mount succeeded: {out:#?}")
    })?;
    check(!host.join("denied").exists(), || {
        "file written through :ro".into()
    })
}

pub fn tmpfs<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "--tmpfs", "/scratch:rw,size=1m,mode=1777"],
        &[
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; echo x > /scratch/f && cat /scratch/f",
        ],
    );
    expect_code(&out, 0, "run --tmpfs /scratch:size=1m")?;
    check(
        out.stdout.contains("tmpfs /scratch tmpfs") && out.stdout.contains("size=1024k"),
        || format!("tmpfs mount: {out:#?}"),
    )?;
    check(has_line(&out.stdout, "x"), || {
        format!("tmpfs write: {out:#?}")
    })
}

pub fn env<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "-e", "FOO=bar baz", "-e", "EMPTY="],
        &["sh", "-c", "echo \"$FOO|$EMPTY|$HOME|$PATH\""],
    );
    expect_code(&out, 0, "run -e")?;
    check(out.stdout.starts_with("bar baz||/root|"), || {
        format!("env: {out:#?}")
    })
}

/// The container's cgroup line(s) must carry the engine's cgroup path.
fn in_engine_cgroup<E: DockerCli>(e: &E, pid: &str) -> Res {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let marker = e.cgroup_marker();
    check(cg.contains(&marker), || {
        format!(
            "init (pid {pid:?}) not in {}'s cgroup {marker:?}: {cg}",
            e.engine()
        )
    })
}

pub fn memory_pids_limits<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let flags = ["--memory", "64m", "--pids-limit", "50"];
    let n = e.detached(rt, "limits", &flags, &["sleep", "1000"], None)?;
    let n: &str = &n;
    let pid = e.inspect(rt, n, "{{.State.Pid}}");
    let mem = cgroup_file(&pid, "memory", "memory.limit_in_bytes", "memory.max");
    check(mem.as_deref() == Some("67108864"), || {
        format!("memory limit of pid {pid}: {mem:?}")
    })?;
    let pids = cgroup_file(&pid, "pids", "pids.max", "pids.max");
    check(pids.as_deref() == Some("50"), || {
        format!("pids.max of pid {pid}: {pids:?}")
    })?;
    in_engine_cgroup(e, &pid)?;
    // stats reads the cgroup itself.
    let out = e.cli(
        rt,
        &["stats", "--no-stream", "--format", "{{.MemUsage}}", n],
    );
    expect_code(&out, 0, "stats --no-stream --format {{.MemUsage}}")?;
    check(
        out.stdout.contains("/ 67.11MB") || out.stdout.contains("/ 64MiB"),
        || format!("stats: memory limit 64 MiB not shown: {out:#?}"),
    )
}

pub fn cpu_limits_and_stats<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let flags = ["--cpus", "0.5", "--cpu-shares", "512"];
    let n = e.detached(rt, "cpu", &flags, &["sleep", "1000"], None)?;
    let n: &str = &n;
    let pid = e.inspect(rt, n, "{{.State.Pid}}");
    in_engine_cgroup(e, &pid)?;
    let quota = cgroup_file(&pid, "cpu", "cpu.cfs_quota_us", "cpu.max");
    if cgroup_dir_of(&pid, "cpu").is_some_and(|(_, v1)| v1) {
        check(quota.as_deref() == Some("50000"), || {
            format!("cpu.cfs_quota_us of pid {pid}: {quota:?}")
        })?;
        let period = cgroup_file(&pid, "cpu", "cpu.cfs_period_us", "cpu.max");
        check(period.as_deref() == Some("100000"), || {
            format!("cpu.cfs_period_us of pid {pid}: {period:?}")
        })?;
        let shares = cgroup_file(&pid, "cpu", "cpu.shares", "cpu.weight");
        check(shares.as_deref() == Some("512"), || {
            format!("cpu.shares of pid {pid}: {shares:?}")
        })?;
    } else {
        check(quota.as_deref() == Some("50000 100000"), || {
            format!("cpu.max of pid {pid}: {quota:?}")
        })?;
    }
    let out = e.cli(
        rt,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.CPUPerc}}",
            n,
        ],
    );
    expect_code(&out, 0, "stats --no-stream N")?;
    check(
        out.stdout.starts_with(&format!("{n} ")) && out.stdout.contains('%'),
        || format!("stats --no-stream: {out:#?}"),
    )?;
    let out = e.cli(rt, &["stats", "--no-stream", "-a"]);
    expect_code(&out, 0, "stats --no-stream -a")?;
    check(out.stdout.contains(n), || {
        format!("container missing from stats: {out:#?}")
    })
}

pub fn read_only<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "--read-only", "--tmpfs", "/tmp"],
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo wrote-root; touch /tmp/y && echo wrote-tmp",
        ],
    );
    expect_code(&out, 0, "run --read-only --tmpfs /tmp")?;
    check(out.stdout == "wrote-tmp\n", || {
        format!("--read-only: {out:#?}")
    })
}

pub fn caps<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "--cap-drop", "all", "--cap-add", "CAP_KILL"],
        &["grep", "-E", "^Cap(Eff|Prm|Bnd)", "/proc/self/status"],
    );
    expect_code(&out, 0, "run --cap-drop all --cap-add CAP_KILL")?;
    for k in ["CapEff", "CapPrm", "CapBnd"] {
        let v = status_field(&out.stdout, k);
        check(v == Some("0000000000000020"), || format!("{k}: {out:#?}"))?;
    }
    let script = "touch /tmp/f; chown 1 /tmp/f && echo chowned";
    let out = e.run_c(rt, &["--rm"], &["sh", "-c", script]);
    check(out.stdout.contains("chowned"), || {
        format!("default caps cannot chown: {out:#?}")
    })?;
    let out = e.run_c(rt, &["--rm", "--cap-drop", "CHOWN"], &["sh", "-c", script]);
    check(!out.stdout.contains("chowned"), || {
        format!("chown despite --cap-drop CHOWN: {out:#?}")
    })
}

/// The engine's default profile is loaded (`Seccomp: 2`: a filter); `seccomp=unconfined` is
/// no filter at all (`Seccomp: 0`).
pub fn seccomp_default_and_unconfined<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run(rt, &["--rm"], &["grep", "^Seccomp:", "/proc/self/status"]);
    expect_code(&out, 0, "run (default seccomp profile)")?;
    check(status_field(&out.stdout, "Seccomp") == Some("2"), || {
        format!("no seccomp filter: {out:#?}")
    })?;
    let out = e.run(
        rt,
        &["--rm", "--security-opt", "seccomp=unconfined"],
        &["grep", "^Seccomp:", "/proc/self/status"],
    );
    expect_code(&out, 0, "run --security-opt seccomp=unconfined")?;
    check(status_field(&out.stdout, "Seccomp") == Some("0"), || {
        format!("seccomp=unconfined still filtered: {out:#?}")
    })
}

pub fn user_hostname_workdir<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &[
            "--rm",
            "--user",
            "1000:1000",
            "--hostname",
            "pm-host",
            "--workdir",
            "/tmp",
        ],
        &["sh", "-c", "echo $(id -u):$(id -g) $(hostname) $(pwd)"],
    );
    expect_code(&out, 0, "run --user --hostname --workdir")?;
    check(out.stdout.trim() == "1000:1000 pm-host /tmp", || {
        format!("{out:#?}")
    })
}

pub fn named_volume<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let v = e.name(rt, "vol");
    let _rm = defer(|| {
        let _ = e.cli(rt, &["volume", "rm", "-f", &v]);
    });
    expect_code(&e.cli(rt, &["volume", "create", &v]), 0, "volume create V")?;
    let mnt = format!("{v}:/data");
    let out = e.run_c(
        rt,
        &["--rm", "-v", &mnt],
        &["sh", "-c", "echo payload > /data/f && echo wrote"],
    );
    expect_code(&out, 0, "run -v V:/data (writer)")?;
    check(out.stdout == "wrote\n", || format!("writer: {out:#?}"))?;
    let out = e.run_c(rt, &["--rm", "-v", &mnt], &["cat", "/data/f"]);
    expect_code(&out, 0, "run -v V:/data cat /data/f (reader)")?;
    check(out.stdout == "payload\n", || {
        format!("second container does not see the file: {out:#?}")
    })?;
    // The data really is in the volume on the host.
    let out = e.cli(rt, &["volume", "inspect", "-f", "{{.Mountpoint}}", &v]);
    expect_code(&out, 0, "volume inspect")?;
    let host = std::fs::read_to_string(PathBuf::from(out.stdout.trim()).join("f"));
    check(host.as_deref().ok() == Some("payload\n"), || {
        format!("volume mountpoint {:?} on the host: {host:?}", out.stdout)
    })?;
    let ro = format!("{v}:/data:ro");
    let out = e.run_c(
        rt,
        &["--rm", "-v", &ro],
        &["sh", "-c", "cat /data/f; echo x > /data/g && echo wrote"],
    );
    check(
        out.stdout.contains("payload") && !out.stdout.contains("wrote"),
        || format!("-v V:/data:ro: {out:#?}"),
    )?;
    expect_code(&e.cli(rt, &["volume", "rm", &v]), 0, "volume rm V")?;
    let out = e.cli(rt, &["volume", "inspect", &v]);
    check(!out.success(), || {
        format!("volume still there after rm: {out:#?}")
    })
}

/// A new network namespace (`--network none`) has `lo` up: a server and a client in one
/// container talk over 127.0.0.1 (runc and crun bring `lo` up in a netns they create).
pub fn loopback_up<E: DockerCli>(e: &E, rt: &Rt) -> Res {
    let out = e.run_c(
        rt,
        &["--rm", "--network", "none"],
        &[
            "sh",
            "-c",
            "ip -o link show lo; mkdir /www && echo lo-ok > /www/x; \
             httpd -p 127.0.0.1:8081 -h /www; i=0; \
             until wget -qO- http://127.0.0.1:8081/x; do i=$((i+1)); \
             [ $i -gt 30 ] && exit 1; sleep 0.1; done",
        ],
    );
    expect_code(
        &out,
        0,
        "run --rm --network none (httpd + wget on 127.0.0.1)",
    )?;
    check(
        out.stdout.contains("<LOOPBACK,UP") && has_line(&out.stdout, "lo-ok"),
        || format!("`lo` not up / no reply over 127.0.0.1: {out:#?}"),
    )
}
