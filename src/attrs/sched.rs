//! `process.scheduler`: the scheduling policy and parameters of the container process, set
//! with `sched_setattr(2)` on the init before execve (inherited across fork unless
//! `SCHED_RESET_ON_FORK` is asked for).

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{LinuxSchedulerFlag as Flag, LinuxSchedulerPolicy as Policy, Scheduler};

use crate::sys::attrs::SchedAttr;

/// The kernel's minimum SCHED_DEADLINE runtime (2^DL_SCALE ns).
const DL_MIN_RUNTIME: u64 = 1 << 10;

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::SchedOther => "SCHED_OTHER",
        Policy::SchedFifo => "SCHED_FIFO",
        Policy::SchedRr => "SCHED_RR",
        Policy::SchedBatch => "SCHED_BATCH",
        Policy::SchedIso => "SCHED_ISO",
        Policy::SchedIdle => "SCHED_IDLE",
        Policy::SchedDeadline => "SCHED_DEADLINE",
    }
}

/// Check the combination of policy and parameters the way the kernel will, so a bad config
/// fails before anything is created with a message naming the field.
pub fn validate(s: &Scheduler) -> Result<()> {
    let policy = *s.policy();
    let name = policy_name(policy);
    let realtime = matches!(policy, Policy::SchedFifo | Policy::SchedRr);
    let fair = matches!(
        policy,
        Policy::SchedOther | Policy::SchedBatch | Policy::SchedIdle
    );
    if policy == Policy::SchedIso {
        bail!("process.scheduler.policy: SCHED_ISO is not supported by Linux");
    }
    if let Some(nice) = s.nice() {
        if !(-20..=19).contains(nice) {
            bail!("process.scheduler.nice: {nice} is out of range (-20 to 19)");
        }
        if *nice != 0 && !fair {
            bail!("process.scheduler.nice: not used by {name} (only SCHED_OTHER, SCHED_BATCH, SCHED_IDLE)");
        }
    }
    match (realtime, s.priority()) {
        (true, Some(p)) if (1..=99).contains(p) => {}
        (true, Some(p)) => {
            bail!("process.scheduler.priority: {p} is out of range for {name} (1-99)")
        }
        (true, None) => bail!("process.scheduler.priority: required for {name} (1-99)"),
        (false, Some(p)) if *p != 0 => {
            bail!("process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, not {name}")
        }
        (false, _) => {}
    }
    let (runtime, deadline, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if policy != Policy::SchedDeadline {
        if runtime != 0 || deadline != 0 || period != 0 {
            bail!("process.scheduler: runtime, deadline and period are only for SCHED_DEADLINE, not {name}");
        }
        return Ok(());
    }
    if runtime < DL_MIN_RUNTIME {
        bail!("process.scheduler.runtime: SCHED_DEADLINE needs a runtime of at least {DL_MIN_RUNTIME} ns");
    }
    if deadline == 0 || deadline & (1 << 63) != 0 {
        bail!(
            "process.scheduler.deadline: SCHED_DEADLINE needs a deadline between 1 and 2^63-1 ns"
        );
    }
    if runtime > deadline {
        bail!("process.scheduler.runtime: {runtime} is larger than the deadline {deadline}");
    }
    if period != 0 && (period < deadline || period & (1 << 63) != 0) {
        bail!("process.scheduler.period: {period} must be 0 or at least the deadline {deadline}");
    }
    Ok(())
}

/// The `struct sched_attr` for a validated scheduler.
pub fn attr(s: &Scheduler) -> SchedAttr {
    let mut flags = 0u64;
    let mut a = SchedAttr {
        sched_policy: match s.policy() {
            Policy::SchedOther => libc::SCHED_OTHER,
            Policy::SchedFifo => libc::SCHED_FIFO,
            Policy::SchedRr => libc::SCHED_RR,
            Policy::SchedBatch => libc::SCHED_BATCH,
            // Refused by `validate`; SCHED_ISO was reserved as 4 and never merged.
            Policy::SchedIso => 4,
            Policy::SchedIdle => libc::SCHED_IDLE,
            Policy::SchedDeadline => 6,
        } as u32,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..SchedAttr::default()
    };
    for f in s.flags().iter().flatten() {
        flags |= match f {
            Flag::SchedResetOnFork => 0x01,
            Flag::SchedFlagReclaim => 0x02,
            Flag::SchedFlagDLOverrun => 0x04,
            Flag::SchedFlagKeepPolicy => 0x08,
            Flag::SchedFlagKeepParams => 0x10,
            Flag::SchedFlagUtilClampMin => {
                // The spec carries no clamp values: ask for the default (-1 = reset).
                a.sched_util_min = u32::MAX;
                0x20
            }
            Flag::SchedFlagUtilClampMax => {
                a.sched_util_max = u32::MAX;
                0x40
            }
        };
    }
    a.sched_flags = flags;
    a
}

/// Set the calling process's scheduling policy.
pub fn apply(s: &Scheduler) -> Result<()> {
    crate::sys::attrs::sched_setattr_self(&attr(s)).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EPERM)
            && matches!(s.policy(), Policy::SchedFifo | Policy::SchedRr)
        {
            " (with cgroup v1 realtime group scheduling the container's cgroup needs \
             linux.resources.cpu.realtimeRuntime)"
        } else {
            ""
        };
        anyhow!(
            "process.scheduler: sched_setattr({}): {e}{hint}",
            policy_name(*s.policy())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(json: &str) -> Scheduler {
        serde_json::from_str(json).unwrap()
    }

    fn err(json: &str) -> String {
        validate(&sched(json)).unwrap_err().to_string()
    }

    #[test]
    fn accepts_good_configs() {
        for ok in [
            r#"{"policy":"SCHED_OTHER","nice":5}"#,
            r#"{"policy":"SCHED_BATCH","nice":-20}"#,
            r#"{"policy":"SCHED_IDLE"}"#,
            r#"{"policy":"SCHED_FIFO","priority":10}"#,
            r#"{"policy":"SCHED_RR","priority":99,"flags":["SCHED_RESET_ON_FORK"]}"#,
            r#"{"policy":"SCHED_DEADLINE","runtime":10000000,"deadline":20000000,"period":30000000}"#,
            r#"{"policy":"SCHED_DEADLINE","runtime":1024,"deadline":1024}"#,
        ] {
            validate(&sched(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(serde_json::from_str::<Scheduler>(r#"{"policy":"SCHED_FOO"}"#).is_err());
        assert!(err(r#"{"policy":"SCHED_ISO"}"#).contains("SCHED_ISO"));
        assert!(err(r#"{"policy":"SCHED_OTHER","nice":20}"#).starts_with("process.scheduler.nice"));
        assert!(err(r#"{"policy":"SCHED_FIFO","priority":10,"nice":3}"#).contains("nice"));
        assert!(err(r#"{"policy":"SCHED_FIFO"}"#).contains("required"));
        assert!(err(r#"{"policy":"SCHED_RR","priority":100}"#).contains("1-99"));
        assert!(err(r#"{"policy":"SCHED_OTHER","priority":1}"#)
            .starts_with("process.scheduler.priority"));
        assert!(err(r#"{"policy":"SCHED_OTHER","runtime":5}"#).contains("only for SCHED_DEADLINE"));
        assert!(
            err(r#"{"policy":"SCHED_DEADLINE","runtime":10,"deadline":100}"#).contains("runtime")
        );
        assert!(
            err(r#"{"policy":"SCHED_DEADLINE","runtime":2000,"deadline":1500}"#).contains("larger")
        );
        assert!(err(r#"{"policy":"SCHED_DEADLINE","runtime":2000}"#).contains("deadline"));
        assert!(
            err(r#"{"policy":"SCHED_DEADLINE","runtime":2000,"deadline":4000,"period":3000}"#)
                .starts_with("process.scheduler.period")
        );
    }

    #[test]
    fn builds_sched_attr() {
        let a = attr(&sched(
            r#"{"policy":"SCHED_RR","priority":7,"flags":["SCHED_RESET_ON_FORK","SCHED_FLAG_UTIL_CLAMP_MAX"]}"#,
        ));
        assert_eq!(a.sched_policy, libc::SCHED_RR as u32);
        assert_eq!(a.sched_priority, 7);
        assert_eq!(a.sched_flags, 0x41);
        assert_eq!(a.sched_util_max, u32::MAX);
        let a = attr(&sched(
            r#"{"policy":"SCHED_DEADLINE","runtime":1,"deadline":2,"period":3}"#,
        ));
        assert_eq!(
            (
                a.sched_policy,
                a.sched_runtime,
                a.sched_deadline,
                a.sched_period
            ),
            (6, 1, 2, 3)
        );
    }
}
