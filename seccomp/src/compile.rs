//! From `oci_spec::runtime::LinuxSeccomp` to a [`Program`]: validation (every user error names
//! its field), action and operator translation, per-ABI resolution of syscall names, the
//! precedence rules between several rules for one syscall, and the `-ENOSYS` threshold.
//!
//! This module owns the *meaning* of a profile; `bpf.rs` owns the instruction layout.
//!
//! Semantics (runc + libseccomp, the models named by the design):
//! - `errnoRet` absent -> `EPERM` for `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` (runc's defaults);
//!   `defaultErrnoRet` likewise for the default action. `errnoRet` on any other action has no
//!   meaning and is ignored (noted), as runc does.
//! - A rule whose action (and errno) equals the default action is dropped (runc: redundant),
//!   but its syscall names still count for the `-ENOSYS` threshold.
//! - Several args in one rule are ANDed; several rules for one syscall are ORed, the first
//!   matching rule (in profile order) decides; an unconditional rule for a syscall supersedes
//!   its conditional rules whatever the order (libseccomp: the shorter rule chain wins).
//! - Names unknown to an ABI's table are ignored for that ABI, with a note (profiles are
//!   written for many kernels).
//! - Two conditions on the same argument index in one rule are an error (the design asks for
//!   it; runc instead splits such a rule into one rule per condition, ORed).
//! - i386's `socketcall`/`ipc` multiplexers: a rule for a socket or SysV IPC call also covers
//!   the multiplexed form (see `i386_multiplexed`), as libseccomp does on x86.
//! - `-ENOSYS` stub (runc's): unless the default action lets syscalls through (ALLOW, LOG,
//!   TRACE), a syscall number above the highest number the profile names for that ABI returns
//!   `-ENOSYS`, so programs fall back from syscalls newer than the profile (glibc's clone3).

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::arch::{sections_for, Abi, Native};
use crate::{bpf, Error};

/// `SECCOMP_RET_*` action values (include/uapi/linux/seccomp.h).
pub mod ret {
    /// Kill the process.
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    /// Kill the thread (`SCMP_ACT_KILL`, `SCMP_ACT_KILL_THREAD`).
    pub const KILL_THREAD: u32 = 0x0000_0000;
    /// Send SIGSYS.
    pub const TRAP: u32 = 0x0003_0000;
    /// Return `-(data)`.
    pub const ERRNO: u32 = 0x0005_0000;
    /// Hand the syscall to the user-space listener.
    pub const USER_NOTIF: u32 = 0x7FC0_0000;
    /// Notify a ptrace tracer with `data`.
    pub const TRACE: u32 = 0x7FF0_0000;
    /// Allow after logging.
    pub const LOG: u32 = 0x7FFC_0000;
    /// Allow.
    pub const ALLOW: u32 = 0x7FFF_0000;
    /// The action part of a return value.
    pub const ACTION_FULL: u32 = 0xFFFF_0000;
    /// The data part of a return value.
    pub const DATA: u32 = 0x0000_FFFF;
}

/// `SECCOMP_FILTER_FLAG_*` (include/uapi/linux/seccomp.h).
pub mod flag {
    /// Synchronize all threads to the new filter.
    pub const TSYNC: u32 = 1 << 0;
    /// Log all non-ALLOW actions.
    pub const LOG: u32 = 1 << 1;
    /// Disable the Speculative Store Bypass mitigation.
    pub const SPEC_ALLOW: u32 = 1 << 2;
    /// Return a notify listener fd.
    pub const NEW_LISTENER: u32 = 1 << 3;
    /// With TSYNC: report a failing thread as ESRCH (needed to combine TSYNC and NEW_LISTENER).
    pub const TSYNC_ESRCH: u32 = 1 << 4;
    /// Waiting for a notify reply is killable only by fatal signals.
    pub const WAIT_KILLABLE_RECV: u32 = 1 << 5;
}

/// The action that ends a syscall from an architecture the filter has no section for. libseccomp's
/// default bad-arch action is `SCMP_ACT_KILL` (thread); we kill the whole process: a foreign-ABI
/// syscall is never legitimate for the profile, and killing one thread of a multithreaded
/// process leaves it in a state nobody asked for. For a single-threaded process both die by SIGSYS.
pub const BAD_ARCH_ACTION: u32 = ret::KILL_PROCESS;

/// The `-ENOSYS` return value of the stub.
pub const ENOSYS_ACTION: u32 = ret::ERRNO | libc::ENOSYS as u32;

/// A comparison operator on one 64-bit argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `!=`
    Ne,
    /// `<` (unsigned)
    Lt,
    /// `<=` (unsigned)
    Le,
    /// `==`
    Eq,
    /// `>=` (unsigned)
    Ge,
    /// `>` (unsigned)
    Gt,
    /// `(arg & mask) == value`
    MaskedEq(u64),
}

/// One argument condition, after translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    /// Argument index, 0-5.
    pub arg: u8,
    /// Operator (MASKED_EQ carries its mask).
    pub op: Op,
    /// The value compared against (MASKED_EQ: `valueTwo`).
    pub value: u64,
}

/// One rule for one syscall of one ABI: all conditions must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// ANDed conditions.
    pub conds: Vec<Cond>,
    /// The `SECCOMP_RET_*` value returned when they hold.
    pub action: u32,
}

/// What the filter does for one syscall number of one ABI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyscallRules {
    /// An unconditional action (supersedes `rules`).
    pub unconditional: Option<u32>,
    /// Conditional rules, first match wins; none matching -> the default action.
    pub rules: Vec<Rule>,
}

/// Everything the code generator needs for one ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The ABI.
    pub abi: Abi,
    /// Syscall number -> rules.
    pub syscalls: BTreeMap<u32, SyscallRules>,
    /// Numbers above this return `-ENOSYS` (None: no stub for this ABI).
    pub enosys_above: Option<u32>,
}

/// The compiled, validated filter.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) insns: Vec<seccompiler::sock_filter>,
    pub(crate) flags: u32,
    pub(crate) actions_used: Vec<u32>,
    pub(crate) listener_path: Option<PathBuf>,
    pub(crate) listener_metadata: Option<String>,
    pub(crate) notes: Vec<String>,
}

impl Program {
    /// The classic BPF instructions (as seccompiler's `sock_filter`, the kernel's layout).
    pub fn instructions(&self) -> &[seccompiler::sock_filter] {
        &self.insns
    }

    /// `SECCOMP_FILTER_FLAG_*` bits passed to seccomp(2) by [`Program::load`].
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether loading returns a notify listener fd (some rule uses `SCMP_ACT_NOTIFY`).
    pub fn has_listener(&self) -> bool {
        self.flags & flag::NEW_LISTENER != 0
    }

    /// `linux.seccomp.listenerPath`, required (and only present) when [`Program::has_listener`].
    pub fn listener_path(&self) -> Option<&std::path::Path> {
        self.listener_path.as_deref()
    }

    /// `linux.seccomp.listenerMetadata`, for the container process state sent to the agent.
    pub fn listener_metadata(&self) -> Option<&str> {
        self.listener_metadata.as_deref()
    }

    /// Debug-level notes: ignored names, skipped architectures, ignored fields. The runtime
    /// logs them at debug level; none is an error.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

fn invalid(field: String, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        reason: reason.into(),
    }
}

fn action_name(a: LinuxSeccompAction) -> String {
    a.to_string()
}

/// Translate an action and its errnoRet to a `SECCOMP_RET_*` value.
fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
    notes: &mut Vec<String>,
) -> Result<u32, Error> {
    let data = || -> Result<u32, Error> {
        match errno_ret {
            None => Ok(libc::EPERM as u32),
            Some(v) if v <= ret::DATA => Ok(v),
            Some(v) => Err(invalid(
                errno_field.to_string(),
                format!("{v} does not fit the 16-bit SECCOMP_RET_DATA (max 65535)"),
            )),
        }
    };
    let value = match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ret::KILL_THREAD,
        LinuxSeccompAction::ScmpActKillProcess => ret::KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => ret::TRAP,
        LinuxSeccompAction::ScmpActErrno => ret::ERRNO | data()?,
        LinuxSeccompAction::ScmpActTrace => ret::TRACE | data()?,
        LinuxSeccompAction::ScmpActNotify => ret::USER_NOTIF,
        LinuxSeccompAction::ScmpActLog => ret::LOG,
        LinuxSeccompAction::ScmpActAllow => ret::ALLOW,
    };
    if errno_ret.is_some()
        && !matches!(
            action,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        notes.push(format!(
            "{errno_field}: ignored for {}",
            action_name(action)
        ));
    }
    Ok(value)
}

/// Whether a default action lets syscalls run (runc: no `-ENOSYS` stub for those).
fn default_is_permissive(action: u32) -> bool {
    matches!(
        action & ret::ACTION_FULL,
        ret::ALLOW | ret::LOG | ret::TRACE
    )
}

/// Syscalls the runtime's init itself makes between loading a filter with a listener and
/// handing the listener fd to the runtime: a NOTIFY rule on them would deadlock the init.
const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

/// Translate one spec condition; the errors name `field`.
fn translate_cond(arg: &oci_spec::runtime::LinuxSeccompArg, field: &str) -> Result<Cond, Error> {
    let index = arg.index();
    if index > 5 {
        return Err(invalid(
            format!("{field}.index"),
            format!("{index} is out of range (syscalls have arguments 0-5)"),
        ));
    }
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (Op::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, arg.value()),
        // libseccomp: SCMP_CMP_MASKED_EQ compares (arg & datum_a) == datum_b, and runc passes
        // value as datum_a (the mask) and valueTwo as datum_b.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (Op::MaskedEq(arg.value()), arg.value_two().unwrap_or(0))
        }
    };
    Ok(Cond {
        arg: index as u8,
        op,
        value,
    })
}

/// Decide a condition at compile time where the ABI makes it constant: on a 32-bit ABI the
/// kernel acts on the low 32 bits only, so compare those and settle comparisons with values
/// that do not fit. Returns `Some(true/false)` when constant, `None` when it must be tested;
/// rewrites `c` to its 32-bit form.
fn narrow_cond(c: &mut Cond) -> Option<bool> {
    const LO: u64 = 0xFFFF_FFFF;
    match c.op {
        Op::MaskedEq(mask) => {
            if c.value & !mask != 0 || (c.value & !LO) != 0 {
                return Some(false); // bits the masked arg can never have
            }
            c.op = Op::MaskedEq(mask & LO);
            None
        }
        _ if c.value <= LO => None,
        Op::Eq | Op::Gt | Op::Ge => Some(false),
        Op::Ne | Op::Lt | Op::Le => Some(true),
    }
}

/// Add one rule for `nr` on `abi`, narrowing conditions for 32-bit ABIs.
fn add_rule(
    map: &mut BTreeMap<u32, SyscallRules>,
    abi: Abi,
    nr: u32,
    mut conds: Vec<Cond>,
    action: u32,
) -> bool {
    let mut never = false;
    if !abi.args_are_64bit() {
        conds.retain_mut(|c| match narrow_cond(c) {
            None => true,
            Some(true) => false,
            Some(false) => {
                never = true;
                false
            }
        });
    }
    if never {
        return false; // cannot match on this ABI
    }
    let entry = map.entry(nr).or_default();
    if conds.is_empty() {
        if entry.unconditional.is_none() {
            entry.unconditional = Some(action);
        }
        false
    } else {
        entry.rules.push(Rule { conds, action });
        true
    }
}

/// Syscall names with an unconditional rule somewhere in the profile: their conditional
/// rules are dropped in the end (the unconditional one decides), so they never count
/// towards the instruction limit.
fn unconditional_names(seccomp: &LinuxSeccomp, default: u32) -> std::collections::HashSet<&str> {
    let mut scratch = Vec::new();
    let mut set = std::collections::HashSet::new();
    for sc in seccomp.syscalls().as_deref().unwrap_or(&[]) {
        if !sc.args().as_deref().unwrap_or(&[]).is_empty() {
            continue;
        }
        match action_value(sc.action(), sc.errno_ret(), "", &mut scratch) {
            Ok(a) if a != default => set.extend(sc.names().iter().map(String::as_str)),
            _ => {}
        }
    }
    set
}

/// The kernel's order of actions: a lower signed action value is less permissive.
fn more_restrictive(a: u32, b: u32) -> bool {
    ((a & ret::ACTION_FULL) as i32) < ((b & ret::ACTION_FULL) as i32)
}

/// i386 reaches the socket and SysV IPC calls through the `socketcall` (102) and `ipc` (117)
/// multiplexers as well as directly (since Linux 4.3 / 5.1). As libseccomp does on x86, a rule
/// for such a call also applies to the multiplexer with the sub-call selected by argument 0
/// (`ipc` keeps a version in the upper 16 bits of it, which the kernel strips).
fn i386_multiplexed(name: &str) -> Option<(u32, Cond)> {
    const SOCKETCALL: [&str; 20] = [
        "socket",
        "bind",
        "connect",
        "listen",
        "accept",
        "getsockname",
        "getpeername",
        "socketpair",
        "send",
        "recv",
        "sendto",
        "recvfrom",
        "shutdown",
        "setsockopt",
        "getsockopt",
        "sendmsg",
        "recvmsg",
        "accept4",
        "recvmmsg",
        "sendmmsg",
    ];
    const IPC: [(&str, u64); 12] = [
        ("semop", 1),
        ("semget", 2),
        ("semctl", 3),
        ("semtimedop", 4),
        ("msgsnd", 11),
        ("msgrcv", 12),
        ("msgget", 13),
        ("msgctl", 14),
        ("shmat", 21),
        ("shmdt", 22),
        ("shmget", 23),
        ("shmctl", 24),
    ];
    if let Some(i) = SOCKETCALL.iter().position(|n| *n == name) {
        return Some((
            102,
            Cond {
                arg: 0,
                op: Op::Eq,
                value: i as u64 + 1,
            },
        ));
    }
    IPC.iter().find(|(n, _)| *n == name).map(|(_, call)| {
        (
            117,
            Cond {
                arg: 0,
                op: Op::MaskedEq(0xFFFF),
                value: *call,
            },
        )
    })
}

/// Check and translate a profile for `native`. Public for tests and the fuzz target; the
/// runtime calls [`crate::compile()`].
pub fn compile_for(seccomp: &LinuxSeccomp, native: Native) -> Result<Program, Error> {
    let mut notes = Vec::new();

    // defaultAction
    let default_action = seccomp.default_action();
    if default_action == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "linux.seccomp.defaultAction".into(),
            "SCMP_ACT_NOTIFY cannot be used as the default action",
        ));
    }
    let default = action_value(
        default_action,
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
        &mut notes,
    )?;

    // architectures
    let archs = seccomp.architectures().as_deref().unwrap_or(&[]);
    let (abis, arch_notes) = sections_for(native, archs);
    notes.extend(arch_notes);

    // syscalls
    let mut per_abi: Vec<(Abi, BTreeMap<u32, SyscallRules>, Option<u32>)> =
        abis.iter().map(|a| (*a, BTreeMap::new(), None)).collect();
    let mut uses_notify = false;
    let mut actions_used = vec![default];
    let syscalls = seccomp.syscalls().as_deref().unwrap_or(&[]);
    // Every conditional rule that survives costs at least one instruction (its return): once
    // they outnumber the kernel's limit, the result is known and the rest is not compiled
    // (150k argument rules took 5-14 s and ~137 MiB before the final length check).
    let decided = unconditional_names(seccomp, default);
    let mut at_least = 0usize;
    for (si, sc) in syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{si}]");
        let action = action_value(
            sc.action(),
            sc.errno_ret(),
            &format!("{field}.errnoRet"),
            &mut notes,
        )?;
        let mut all = Vec::new();
        for (ai, arg) in sc.args().as_deref().unwrap_or(&[]).iter().enumerate() {
            all.push(translate_cond(arg, &format!("{field}.args[{ai}]"))?);
        }
        // Conditions on distinct arguments are ANDed in one rule. Several conditions on the
        // same argument cannot all hold at once; runc (and so every profile written for it)
        // turns each of those into a rule of its own, ORed with the rest: do the same.
        let repeated = |c: &Cond| all.iter().filter(|o| o.arg == c.arg).count() > 1;
        let mut rule_sets: Vec<Vec<Cond>> = all
            .iter()
            .filter(|c| repeated(c))
            .map(|c| vec![*c])
            .collect();
        let unique: Vec<Cond> = all.iter().filter(|c| !repeated(c)).copied().collect();
        if !unique.is_empty() || rule_sets.is_empty() {
            rule_sets.push(unique);
        }
        let conds_empty = all.is_empty();
        if sc.action() == LinuxSeccompAction::ScmpActNotify {
            uses_notify = true;
            for (ni, name) in sc.names().iter().enumerate() {
                if NOTIFY_FORBIDDEN.contains(&name.as_str()) {
                    return Err(invalid(
                        format!("{field}.names[{ni}]"),
                        format!("SCMP_ACT_NOTIFY cannot be used for the {name} syscall (the runtime needs it to pass the listener on)"),
                    ));
                }
            }
        }
        let redundant = action == default;
        if redundant {
            notes.push(format!(
                "{field}: action equals the default action; rule dropped"
            ));
        } else if !actions_used.contains(&action) {
            actions_used.push(action);
        }
        for (ni, name) in sc.names().iter().enumerate() {
            let mut known = false;
            let row = crate::arch::lookup(name);
            for (abi, map, max) in per_abi.iter_mut() {
                let direct = row.and_then(|r| abi.nr_in(r));
                let mux = if *abi == Abi::X86 {
                    i386_multiplexed(name)
                } else {
                    None
                };
                for nr in direct.iter().chain(mux.as_ref().map(|(nr, _)| nr)) {
                    known = true;
                    *max = Some(max.map_or(*nr, |m: u32| m.max(*nr)));
                }
                if redundant {
                    continue;
                }
                if let Some(nr) = direct {
                    for conds in &rule_sets {
                        if add_rule(map, *abi, nr, conds.clone(), action)
                            && !decided.contains(name.as_str())
                        {
                            at_least += 1;
                        }
                    }
                }
                if let Some((mux_nr, selector)) = mux {
                    // The multiplexed call's arguments are in memory, out of the filter's
                    // reach: an unconditional rule maps exactly; a conditional one applies to
                    // the whole sub-call only when it is more restrictive than the default
                    // (libseccomp drops the conditions either way, which widens ALLOW rules).
                    if conds_empty || more_restrictive(action, default) {
                        add_rule(map, *abi, mux_nr, vec![selector], action);
                    }
                }
            }
            if !known {
                notes.push(format!(
                    "{field}.names[{ni}]: unknown syscall {name:?} ignored"
                ));
            }
        }
        if at_least > crate::BPF_MAXINSNS {
            return Err(Error::TooManyRules { rules: at_least });
        }
    }

    // listener
    let listener_path = seccomp.listener_path().clone();
    if uses_notify {
        match &listener_path {
            None => {
                return Err(invalid(
                    "linux.seccomp.listenerPath".into(),
                    "required when a rule uses SCMP_ACT_NOTIFY",
                ))
            }
            Some(p) if !p.is_absolute() => {
                return Err(invalid(
                    "linux.seccomp.listenerPath".into(),
                    format!("{:?} is not an absolute path", p),
                ))
            }
            Some(_) => {}
        }
    } else if listener_path.is_some() {
        notes.push("linux.seccomp.listenerPath: no rule uses SCMP_ACT_NOTIFY; ignored".into());
    }

    // flags
    let mut flags = 0;
    for f in seccomp.flags().as_deref().unwrap_or(&[]) {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => flag::TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => flag::LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => flag::SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                if uses_notify {
                    flag::WAIT_KILLABLE_RECV
                } else {
                    notes.push("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV has no effect without an SCMP_ACT_NOTIFY rule; not passed".into());
                    0
                }
            }
        };
    }
    if uses_notify {
        flags |= flag::NEW_LISTENER;
        if flags & flag::TSYNC != 0 {
            flags |= flag::TSYNC_ESRCH; // the kernel refuses TSYNC|NEW_LISTENER without it
        }
    }

    // sections
    let stub = !default_is_permissive(default);
    let sections: Vec<Section> = per_abi
        .into_iter()
        .map(|(abi, mut syscalls, max)| {
            for rules in syscalls.values_mut() {
                if rules.unconditional.is_some() {
                    rules.rules.clear();
                }
            }
            syscalls.retain(|_, r| r.unconditional.is_some() || !r.rules.is_empty());
            Section {
                abi,
                syscalls,
                enosys_above: if stub { max } else { None },
            }
        })
        .collect();
    if stub && sections.iter().any(|s| s.enosys_above.is_some()) {
        actions_used.push(ENOSYS_ACTION);
    }
    actions_used.push(BAD_ARCH_ACTION);

    let insns = bpf::generate(&sections, default)?;
    Ok(Program {
        insns,
        flags,
        actions_used,
        listener_path: if uses_notify { listener_path } else { None },
        listener_metadata: if uses_notify {
            seccomp.listener_metadata().clone()
        } else {
            None
        },
        notes,
    })
}
