//! Root end-to-end tests: each attribute is applied in a forked child and observed from
//! inside it (/proc/self, sched_getattr, ioprio_get, personality, get_mempolicy, clocks),
//! the result coming back through a pipe. The netDevices tests are in `e2e_net`.

use std::io::Read;
use std::os::fd::OwnedFd;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::sys::attrs as sys;
use crate::sys::process::exit_now;

pub(super) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A default spec with the given `process` / `linux` keys replaced.
pub(super) fn spec(process: Value, linux: Value) -> Spec {
    let mut v = serde_json::to_value(Spec::default()).unwrap();
    for (section, patch) in [("process", process), ("linux", linux)] {
        if let Value::Object(m) = patch {
            for (k, val) in m {
                v[section][k] = val;
            }
        }
    }
    serde_json::from_value(v).unwrap()
}

/// Run `f` in a forked child; its `Err` text (or a panic) comes back as `Err`.
fn in_child(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (rd, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let pid = sys::test_fork().map_err(|e| e.to_string())?;
    if pid == 0 {
        drop(rd);
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(Ok(())) => 0,
            Ok(Err(msg)) => {
                let _ = nix::unistd::write(&wr, msg.as_bytes());
                1
            }
            Err(_) => 2,
        };
        exit_now(code);
    }
    drop(wr);
    let mut msg = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut msg);
    match waitpid(Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(WaitStatus::Exited(_, 2)) => Err("child panicked".into()),
        Ok(st) => Err(format!("{msg} ({st:?})")),
        Err(e) => Err(e.to_string()),
    }
}

fn check(cond: bool, what: String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what)
    }
}

fn status_field(name: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn io_priority_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    for (class, prio, want) in [
        ("IOPRIO_CLASS_RT", 3, (1 << 13) | 3),
        ("IOPRIO_CLASS_BE", 7, (2 << 13) | 7),
        ("IOPRIO_CLASS_IDLE", 0, 3 << 13),
    ] {
        let s = spec(
            json!({"ioPriority": {"class": class, "priority": prio}}),
            json!({}),
        );
        super::validate(&s).unwrap();
        in_child(|| {
            super::apply(&s).map_err(|e| e.to_string())?;
            let got = sys::ioprio_get_self().map_err(|e| e.to_string())?;
            check(
                got == want,
                format!("{class}: ioprio_get = {got:#x}, want {want:#x}"),
            )
        })
        .unwrap();
    }
}

#[test]
fn scheduler_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let cases = [
        (
            json!({"policy": "SCHED_BATCH", "nice": 5}),
            libc::SCHED_BATCH as u32,
            5,
            0,
        ),
        (
            json!({"policy": "SCHED_IDLE"}),
            libc::SCHED_IDLE as u32,
            0,
            0,
        ),
        (
            json!({"policy": "SCHED_OTHER", "nice": -3}),
            libc::SCHED_OTHER as u32,
            -3,
            0,
        ),
        (
            json!({"policy": "SCHED_FIFO", "priority": 10}),
            libc::SCHED_FIFO as u32,
            0,
            10,
        ),
        (
            json!({"policy": "SCHED_RR", "priority": 5, "flags": ["SCHED_RESET_ON_FORK"]}),
            libc::SCHED_RR as u32,
            0,
            5,
        ),
    ];
    for (sched, policy, nice, prio) in cases {
        let s = spec(json!({ "scheduler": sched }), json!({}));
        super::validate(&s).unwrap();
        in_child(|| {
            super::apply(&s).map_err(|e| e.to_string())?;
            let a = sys::sched_getattr_self().map_err(|e| e.to_string())?;
            check(
                a.sched_policy == policy && a.sched_nice == nice && a.sched_priority == prio,
                format!("{sched}: got {a:?}"),
            )
        })
        .unwrap();
    }
    // RESET_ON_FORK is visible as a flag.
    let s = spec(
        json!({"scheduler": {"policy": "SCHED_RR", "priority": 5, "flags": ["SCHED_RESET_ON_FORK"]}}),
        json!({}),
    );
    in_child(|| {
        super::apply(&s).map_err(|e| e.to_string())?;
        let a = sys::sched_getattr_self().map_err(|e| e.to_string())?;
        check(
            a.sched_flags & 1 == 1,
            format!("flags {:#x}", a.sched_flags),
        )
    })
    .unwrap();
}

#[test]
fn deadline_scheduler_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let s = spec(
        json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1_000_000u64,
                             "deadline": 10_000_000u64, "period": 20_000_000u64}}),
        json!({}),
    );
    super::validate(&s).unwrap();
    in_child(|| {
        super::apply(&s).map_err(|e| e.to_string())?;
        let a = sys::sched_getattr_self().map_err(|e| e.to_string())?;
        check(
            a.sched_policy == 6
                && (a.sched_runtime, a.sched_deadline, a.sched_period)
                    == (1_000_000, 10_000_000, 20_000_000),
            format!("got {a:?}"),
        )
    })
    .unwrap();
}

#[test]
fn personality_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let s = spec(json!({}), json!({"personality": {"domain": "LINUX32"}}));
    super::validate(&s).unwrap();
    in_child(|| {
        super::apply(&s).map_err(|e| e.to_string())?;
        let p = sys::personality(0xffff_ffff).map_err(|e| e.to_string())?;
        check(
            p & 0xff == 8,
            format!("personality {p:#x}, want PER_LINUX32"),
        )
    })
    .unwrap();
    let s = spec(
        json!({}),
        json!({"personality": {"domain": "LINUX", "flags": ["X"]}}),
    );
    let e = super::validate(&s).unwrap_err().to_string();
    assert!(e.starts_with("linux.personality.flags"), "{e}");
}

#[test]
fn memory_policy_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    use super::mempolicy::*;
    let cases = [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), MPOL_BIND, 1u64),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            MPOL_INTERLEAVE | MPOL_F_STATIC_NODES,
            1,
        ),
        (
            json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}),
            MPOL_PREFERRED_MANY,
            1,
        ),
        (json!({"mode": "MPOL_LOCAL"}), MPOL_LOCAL, 0),
    ];
    for (policy, mode, mask) in cases {
        let s = spec(json!({}), json!({ "memoryPolicy": policy }));
        super::validate(&s).unwrap();
        in_child(|| {
            super::apply(&s).map_err(|e| e.to_string())?;
            let (got, nodes) = sys::get_mempolicy(16).map_err(|e| e.to_string())?;
            check(
                got == mode && nodes[0] == mask,
                format!(
                    "{policy}: mode {got:#x} nodes {:#x}, want {mode:#x} {mask:#x}",
                    nodes[0]
                ),
            )
        })
        .unwrap();
    }
    let s = spec(
        json!({}),
        json!({"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "7"}}),
    );
    let e = super::validate(&s).unwrap_err().to_string();
    assert!(e.contains("node 7 is not online"), "{e}");
}

#[test]
fn exec_cpu_affinity_is_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let s = spec(
        json!({"execCPUAffinity": {"initial": "0", "final": "0-1"}}),
        json!({}),
    );
    super::validate(&s).unwrap();
    let a = s
        .process()
        .as_ref()
        .unwrap()
        .exec_cpu_affinity()
        .clone()
        .unwrap();
    in_child(|| {
        let before = status_field("Cpus_allowed_list");
        // The init path leaves it alone (runtime-spec: not applicable to the init).
        super::apply(&s).map_err(|e| e.to_string())?;
        check(
            status_field("Cpus_allowed_list") == before,
            "init changed affinity".into(),
        )?;
        super::affinity::apply_initial(&a, 0).map_err(|e| e.to_string())?;
        let initial = status_field("Cpus_allowed_list");
        check(initial == "0", format!("after initial: {initial}"))?;
        super::affinity::apply_final(&a, 0).map_err(|e| e.to_string())?;
        let fin = status_field("Cpus_allowed_list");
        check(fin == "0-1", format!("after final: {fin}"))
    })
    .unwrap();
}

#[test]
fn exec_cpu_affinity_initial_is_set_from_the_parent() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let a: oci_spec::runtime::ExecCPUAffinity =
        serde_json::from_str(r#"{"initial": "1"}"#).unwrap();
    let holder = idle_child();
    let _guard = super::e2e_net::NetCleanup {
        links: vec![],
        holder: Some(holder),
    };
    super::affinity::apply_initial(&a, holder).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{holder}/status")).unwrap();
    let got = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    assert_eq!(got, Some("1"));
}

/// A child of ours that only waits to be killed.
pub(super) fn idle_child() -> i32 {
    let pid = sys::test_fork().unwrap();
    if pid == 0 {
        loop {
            nix::unistd::pause();
        }
    }
    pid
}

#[test]
fn time_offsets_are_applied() {
    if !is_root() {
        return eprintln!("skipped: needs root");
    }
    let s = spec(
        json!({}),
        json!({"namespaces": [{"type": "time"}, {"type": "mount"}],
               "timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 5},
                               "boottime": {"secs": 3600}}}),
    );
    super::validate(&s).unwrap();
    in_child(|| {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
            libc::CLONE_NEWTIME,
        ))
        .map_err(|e| format!("unshare(CLONE_NEWTIME): {e}"))?;
        super::write_time_offsets(&s).map_err(|e| e.to_string())?;
        let host_mono = sys::clock_ns(libc::CLOCK_MONOTONIC).map_err(|e| e.to_string())?;
        let host_boot = sys::clock_ns(libc::CLOCK_BOOTTIME).map_err(|e| e.to_string())?;
        // Only children enter the new time namespace.
        in_child(|| {
            let mono = sys::clock_ns(libc::CLOCK_MONOTONIC).map_err(|e| e.to_string())?;
            let boot = sys::clock_ns(libc::CLOCK_BOOTTIME).map_err(|e| e.to_string())?;
            let (dm, db) = (mono - host_mono, boot - host_boot);
            let near = |d: i128, want: i128| (want..want + 5_000_000_000).contains(&d);
            check(
                near(dm, 86_400_000_000_005) && near(db, 3_600_000_000_000),
                format!("monotonic moved by {dm} ns, boottime by {db} ns"),
            )
        })
    })
    .unwrap();
}

#[test]
fn lsm_and_rdt_fail_clearly() {
    let cases = [
        (
            json!({"apparmorProfile": "docker-default"}),
            json!({}),
            "process.apparmorProfile: AppArmor is not enabled",
        ),
        (
            json!({}),
            json!({"intelRdt": {"closID": "x"}}),
            "linux.intelRdt: not supported on this host",
        ),
    ];
    for (p, l, want) in cases {
        let e = super::validate(&spec(p, l)).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
    // SELinux labels without SELinux: nothing to confine with, ignored (crun, youki).
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let p = json!({"selinuxLabel": "system_u:system_r:container_t:s0"});
        let l = json!({"mountLabel": "system_u:object_r:container_file_t:s0"});
        super::validate(&spec(p, l)).expect("labels ignored without SELinux");
    }
}
