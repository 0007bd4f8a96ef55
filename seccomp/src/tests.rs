//! Unit tests: compiled programs run through `interp` for every action, operator, ABI case,
//! the -ENOSYS stub, rule precedence and validation; plus root tests that load real filters
//! in forked children (EPERM / errnoRet, `int $0x80`, a NOTIFY round trip through the agent).

use super::*;
use crate::arch::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::compile::ret;
use crate::interp::{run, SeccompData};
use oci_spec::runtime::LinuxSeccomp;

fn profile(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("bad test profile: {e}\n{json}"))
}

fn x86(json: &str) -> Program {
    compile_for(&profile(json), Native::X86_64).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn exec(p: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    run(
        p.instructions(),
        &SeccompData {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        },
    )
    .expect("program runs to a ret")
}

fn x64(p: &Program, nr: u32) -> u32 {
    exec(p, AUDIT_ARCH_X86_64, nr, [0; 6])
}

fn err_of(json: &str) -> String {
    match compile_for(&profile(json), Native::X86_64) {
        Ok(_) => panic!("expected an error for {json}"),
        Err(e) => e.to_string(),
    }
}

const GETPID_64: u32 = 39;
const GETPID_32: u32 = 20;
const MKDIR_64: u32 = 83;
const ERRNO_EPERM: u32 = ret::ERRNO | 1;
const ERRNO_ENOSYS: u32 = ret::ERRNO | 38;

#[test]
fn every_action_as_rule_and_as_default() {
    let cases: &[(&str, &str, u32)] = &[
        ("SCMP_ACT_KILL", "", ret::KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", "", ret::KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", "", ret::KILL_PROCESS),
        ("SCMP_ACT_TRAP", "", ret::TRAP),
        ("SCMP_ACT_ERRNO", "", ERRNO_EPERM),
        ("SCMP_ACT_ERRNO", r#","errnoRet":38"#, ERRNO_ENOSYS),
        ("SCMP_ACT_ERRNO", r#","errnoRet":0"#, ret::ERRNO),
        ("SCMP_ACT_TRACE", "", ret::TRACE | 1),
        ("SCMP_ACT_TRACE", r#","errnoRet":7"#, ret::TRACE | 7),
        ("SCMP_ACT_LOG", "", ret::LOG),
        ("SCMP_ACT_NOTIFY", "", ret::USER_NOTIF),
    ];
    for (action, errno, want) in cases {
        let p = x86(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "syscalls":[{{"names":["getpid"],"action":"{action}"{errno}}}]}}"#
        ));
        assert_eq!(x64(&p, GETPID_64), *want, "{action}{errno} as a rule");
        assert_eq!(
            x64(&p, MKDIR_64),
            ret::ALLOW,
            "{action}: other syscalls take the default"
        );
        if *action == "SCMP_ACT_NOTIFY" {
            continue; // cannot be the default (tested below)
        }
        let default_errno = errno.replace("errnoRet", "defaultErrnoRet");
        let p = x86(&format!(
            r#"{{"defaultAction":"{action}"{default_errno},
                "syscalls":[{{"names":["getpid","open_tree"],"action":"SCMP_ACT_ALLOW"}}]}}"#
        ));
        assert_eq!(x64(&p, MKDIR_64), *want, "{action}{errno} as the default");
        assert_eq!(x64(&p, GETPID_64), ret::ALLOW);
    }
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid","open_tree"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        x64(&p, MKDIR_64),
        ERRNO_EPERM,
        "EPERM when defaultErrnoRet is absent"
    );
}

/// The reference semantics of one condition: 64-bit unsigned arithmetic on the argument as
/// the kernel sees it (`wide`), or on its low 32 bits (i386).
fn reference(op: &str, arg: u64, value: u64, value_two: u64, wide: bool) -> bool {
    let a = if wide { arg } else { arg & 0xFFFF_FFFF };
    match op {
        "SCMP_CMP_NE" => a != value,
        "SCMP_CMP_LT" => a < value,
        "SCMP_CMP_LE" => a <= value,
        "SCMP_CMP_EQ" => a == value,
        "SCMP_CMP_GE" => a >= value,
        "SCMP_CMP_GT" => a > value,
        "SCMP_CMP_MASKED_EQ" => a & value == value_two,
        _ => unreachable!(),
    }
}

const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_FFFF_FFFF,
    0x2_0000_0000,
    0x2_0000_0001,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    0xFFFF_FFFF_0000_0000,
    0xFFFF_FFFF_FFFF_FFFE,
    0xFFFF_FFFF_FFFF_FFFF,
];

#[test]
fn every_operator_matches_64bit_and_32bit_reference_semantics() {
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let masks = [
        0xFFu64,
        0xFFFF_FFFF,
        0xFFFF_FFFF_0000_0000,
        u64::MAX,
        0x7E02_0000,
    ];
    let mut checked = 0;
    for op in ops {
        let pairs: Vec<(u64, u64)> = if op == "SCMP_CMP_MASKED_EQ" {
            masks
                .iter()
                .flat_map(|m| EDGES.iter().map(move |v| (*m, *v)))
                .collect()
        } else {
            EDGES.iter().map(|v| (*v, 0)).collect()
        };
        for (value, value_two) in pairs {
            let p = x86(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                    "syscalls":[{{"names":["getpid"],"action":"SCMP_ACT_ERRNO",
                    "args":[{{"index":2,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
            ));
            for arg in EDGES {
                let mut args = [0u64; 6];
                args[2] = *arg;
                let want = |wide: bool| {
                    if reference(op, *arg, value, value_two, wide) {
                        ERRNO_EPERM
                    } else {
                        ret::ALLOW
                    }
                };
                assert_eq!(
                    exec(&p, AUDIT_ARCH_X86_64, GETPID_64, args),
                    want(true),
                    "x86_64 {op} arg {arg:#x} value {value:#x}/{value_two:#x}"
                );
                assert_eq!(
                    exec(&p, AUDIT_ARCH_I386, GETPID_32, args),
                    want(false),
                    "i386 {op} arg {arg:#x} value {value:#x}/{value_two:#x}"
                );
                assert_eq!(
                    exec(&p, AUDIT_ARCH_X86_64, GETPID_64 | X32_SYSCALL_BIT, args),
                    want(true),
                    "x32 {op} arg {arg:#x} value {value:#x}/{value_two:#x}"
                );
                // Another argument does not influence it.
                let mut other = args;
                other[1] = !*arg;
                assert_eq!(exec(&p, AUDIT_ARCH_X86_64, GETPID_64, other), want(true));
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn args_in_a_rule_are_anded_and_rules_are_ored_first_match_wins() {
    let p = x86(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":10,
         "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":5,"value":2,"op":"SCMP_CMP_EQ"}]},
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":11,
         "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":12,
         "args":[{"index":3,"value":100,"op":"SCMP_CMP_GT"}]}]}"#);
    let run = |a0, a3, a5| exec(&p, AUDIT_ARCH_X86_64, GETPID_64, [a0, 0, 0, a3, 0, a5]);
    assert_eq!(run(1, 0, 2), ret::ERRNO | 10, "both args of rule 1");
    assert_eq!(
        run(1, 0, 3),
        ret::ERRNO | 11,
        "rule 1 fails on arg 5, rule 2 matches"
    );
    assert_eq!(run(1, 500, 2), ret::ERRNO | 10, "rule 1 is first");
    assert_eq!(run(0, 500, 2), ret::ERRNO | 12, "rule 3 alone");
    assert_eq!(run(0, 100, 2), ret::ALLOW, "none matches -> default");
}

#[test]
fn unconditional_rule_supersedes_conditional_ones_and_default_action_rules_are_dropped() {
    let p = x86(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["getpid"],"action":"SCMP_ACT_TRAP","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
        {"names":["mkdir"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#);
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, GETPID_64, [1, 0, 0, 0, 0, 0]),
        ret::ALLOW
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, MKDIR_64, [0, 1, 0, 0, 0, 0]),
        ret::ALLOW,
        "the default-action rule was dropped"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, MKDIR_64, [0, 2, 0, 0, 0, 0]),
        ERRNO_EPERM
    );
    assert!(p
        .notes()
        .iter()
        .any(|n| n.contains("syscalls[3]") && n.contains("default")));
}

#[test]
fn arch_dispatch_i386_x32_and_foreign() {
    let all = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_KILL_PROCESS"},{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_X86_64, GETPID_64, [0; 6]),
        ret::KILL_PROCESS
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_I386, GETPID_32, [0; 6]),
        ret::KILL_PROCESS,
        "i386 getpid is 20"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_I386, 39, [0; 6]),
        ERRNO_EPERM,
        "i386 39 is mkdir"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_X86_64, 20, [0; 6]),
        ret::ALLOW,
        "x86_64 20 is writev"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_X86_64, GETPID_64 | X32_SYSCALL_BIT, [0; 6]),
        ret::KILL_PROCESS,
        "x32 getpid"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_X86_64, MKDIR_64 | X32_SYSCALL_BIT, [0; 6]),
        ERRNO_EPERM,
        "x32 mkdir"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_X86_64, 900 | X32_SYSCALL_BIT, [0; 6]),
        ret::ALLOW,
        "x32 nr unknown to the table -> default"
    );
    assert_eq!(
        exec(&all, AUDIT_ARCH_AARCH64, 172, [0; 6]),
        crate::compile::BAD_ARCH_ACTION,
        "foreign arch"
    );
    assert_eq!(
        exec(&all, 0x1234_5678, 0, [0; 6]),
        ret::KILL_PROCESS,
        "unknown arch"
    );

    // Only the native ABI (architectures absent): i386 and x32 are foreign ABIs.
    let native = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        exec(&native, AUDIT_ARCH_X86_64, MKDIR_64, [0; 6]),
        ERRNO_EPERM
    );
    assert_eq!(exec(&native, AUDIT_ARCH_X86_64, 1, [0; 6]), ret::ALLOW);
    assert_eq!(
        exec(
            &native,
            AUDIT_ARCH_X86_64,
            MKDIR_64 | X32_SYSCALL_BIT,
            [0; 6]
        ),
        ret::KILL_PROCESS,
        "x32 never slips past an x86_64 rule"
    );
    assert_eq!(
        exec(&native, AUDIT_ARCH_X86_64, 0xFFFF_FFFF, [0; 6]),
        ret::KILL_PROCESS
    );
    assert_eq!(
        exec(&native, AUDIT_ARCH_I386, 39, [0; 6]),
        ret::KILL_PROCESS
    );

    // Native is always present, even when not listed.
    let only_x86 = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(
        exec(&only_x86, AUDIT_ARCH_X86_64, MKDIR_64, [0; 6]),
        ERRNO_EPERM
    );
    assert_eq!(exec(&only_x86, AUDIT_ARCH_I386, 39, [0; 6]), ERRNO_EPERM);
}

#[test]
fn i386_socketcall_and_ipc_multiplexers_follow_the_direct_rules() {
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
        {"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"}]},
        {"names":["recv","shmat"],"action":"SCMP_ACT_ERRNO","errnoRet":5}]}"#,
    );
    let i386 = |nr: u32, a0: u64, a1: u64| exec(&p, AUDIT_ARCH_I386, nr, [a0, a1, 0, 0, 0, 0]);
    assert_eq!(i386(359, 16, 0), ERRNO_EPERM, "direct socket(AF_NETLINK)");
    assert_eq!(i386(359, 1, 0), ret::ALLOW, "direct socket(AF_UNIX)");
    assert_eq!(
        i386(102, 1, 0),
        ERRNO_EPERM,
        "socketcall(SYS_SOCKET): family unknowable -> the restrictive action"
    );
    assert_eq!(i386(102, 2, 0), ret::ALLOW, "socketcall(SYS_BIND)");
    assert_eq!(
        i386(102, 10, 0),
        ret::ERRNO | 5,
        "recv exists only multiplexed"
    );
    assert_eq!(i386(117, 21, 0), ret::ERRNO | 5, "ipc(SHMAT)");
    assert_eq!(
        i386(117, 21 | (1 << 16), 0),
        ret::ERRNO | 5,
        "ipc(SHMAT, version 1)"
    );
    assert_eq!(i386(117, 22, 0), ret::ALLOW, "ipc(SHMDT)");
    assert_eq!(i386(397, 0, 0), ret::ERRNO | 5, "direct shmat");
    assert!(
        !p.notes().iter().any(|n| n.contains("recv")),
        "recv is known on i386: {:?}",
        p.notes()
    );

    // An ALLOW rule with conditions does not open the multiplexed call.
    let q = x86(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["connect"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        exec(&q, AUDIT_ARCH_I386, 359, [1, 0, 0, 0, 0, 0]),
        ret::ALLOW
    );
    assert_eq!(
        exec(&q, AUDIT_ARCH_I386, 102, [1, 0, 0, 0, 0, 0]),
        ERRNO_EPERM
    );
    assert_eq!(
        exec(&q, AUDIT_ARCH_I386, 102, [3, 0, 0, 0, 0, 0]),
        ret::ALLOW,
        "socketcall(SYS_CONNECT)"
    );
}

#[test]
fn aarch64_tables() {
    let p = compile_for(
        &profile(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
            "syscalls":[{"names":["getpid","mkdir","mkdirat"],"action":"SCMP_ACT_ALLOW"}]}"#),
        Native::Aarch64,
    )
    .unwrap();
    assert_eq!(
        exec(&p, AUDIT_ARCH_AARCH64, 172, [0; 6]),
        ret::ALLOW,
        "getpid"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_AARCH64, 34, [0; 6]),
        ret::ALLOW,
        "mkdirat"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_AARCH64, 39, [0; 6]),
        ERRNO_EPERM,
        "umount2"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_AARCH64, 173, [0; 6]),
        ERRNO_ENOSYS,
        "above the highest named number"
    );
    assert_eq!(exec(&p, AUDIT_ARCH_X86_64, 39, [0; 6]), ret::KILL_PROCESS);
    assert_eq!(
        exec(&p, crate::arch::AUDIT_ARCH_ARM, 20, [0; 6]),
        ret::KILL_PROCESS,
        "ARM has no table"
    );
    assert!(p.notes().iter().any(|n| n.contains("SCMP_ARCH_ARM")));
    assert!(
        p.notes().iter().any(|n| n.contains("\"mkdir\"")),
        "mkdir does not exist on aarch64"
    );
}

#[test]
fn enosys_above_the_highest_named_syscall_per_abi() {
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[{"names":["read","getpid","mkdir","open_tree"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    // open_tree is 428 on all three ABIs.
    assert_eq!(x64(&p, 428), ret::ALLOW);
    assert_eq!(x64(&p, 429), ERRNO_ENOSYS);
    assert_eq!(
        x64(&p, 435),
        ERRNO_ENOSYS,
        "clone3 newer than the profile -> glibc falls back"
    );
    assert_eq!(
        x64(&p, 427),
        ERRNO_EPERM,
        "known to the profile's era, not allowed"
    );
    assert_eq!(exec(&p, AUDIT_ARCH_I386, 429, [0; 6]), ERRNO_ENOSYS);
    assert_eq!(exec(&p, AUDIT_ARCH_I386, 100, [0; 6]), ERRNO_EPERM);
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, 427 | X32_SYSCALL_BIT, [0; 6]),
        ERRNO_EPERM
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, 429 | X32_SYSCALL_BIT, [0; 6]),
        ERRNO_ENOSYS
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, 512 | X32_SYSCALL_BIT, [0; 6]),
        ERRNO_ENOSYS,
        "x32 rt_sigaction, not named"
    );
    let q = x86(
        r#"{"defaultAction":"SCMP_ACT_KILL","architectures":["SCMP_ARCH_X32"],
        "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        exec(&q, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, [0; 6]),
        ret::ALLOW
    );
    assert_eq!(
        exec(&q, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1, [0; 6]),
        ERRNO_ENOSYS
    );
    assert_eq!(x64(&q, 1), ERRNO_ENOSYS);
    // No stub when the default lets syscalls through.
    for d in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let r = x86(&format!(
            r#"{{"defaultAction":"{d}","syscalls":[{{"names":["read"],"action":"SCMP_ACT_KILL"}}]}}"#
        ));
        assert_eq!(
            x64(&r, 400) & ret::ACTION_FULL,
            ret::ACTION_FULL & compile_default(d),
            "{d}"
        );
    }
}

fn compile_default(d: &str) -> u32 {
    match d {
        "SCMP_ACT_ALLOW" => ret::ALLOW,
        "SCMP_ACT_LOG" => ret::LOG,
        _ => ret::TRACE,
    }
}

#[test]
fn unknown_names_are_ignored_with_a_note() {
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_call","mkdir",""],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(x64(&p, MKDIR_64), ERRNO_EPERM);
    assert!(
        p.notes()
            .iter()
            .any(|n| n
                == "linux.seccomp.syscalls[0].names[0]: unknown syscall \"no_such_call\" ignored"),
        "{:?}",
        p.notes()
    );
}

#[test]
fn validation_errors_name_the_field() {
    assert_eq!(
        err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"},{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#
        ),
        "linux.seccomp.syscalls[1].args[0].index: 6 is out of range (syscalls have arguments 0-5)"
    );
    // Conditions on the same argument are ORed as separate rules, like runc does.
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":8,"op":"SCMP_CMP_EQ"},{"index":1,"value":32,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    for (mode, want) in [(8u64, ERRNO_EPERM), (32, ERRNO_EPERM), (9, ret::ALLOW)] {
        let got = exec(&p, AUDIT_ARCH_X86_64, MKDIR_64, [0, mode, 0, 0, 0, 0]);
        assert_eq!(got, want, "mkdir mode {mode}");
    }
    assert_eq!(
        err_of(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as the default action"
    );
    assert_eq!(
        err_of(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#
        ),
        "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY"
    );
    assert!(err_of(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"rel","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#)
        .starts_with("linux.seccomp.listenerPath: \"rel\" is not an absolute path"));
    assert!(err_of(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["mkdir","write"],"action":"SCMP_ACT_NOTIFY"}]}"#)
        .starts_with("linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall"));
    assert!(err_of(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}"#)
        .starts_with("linux.seccomp.syscalls[0].errnoRet: 70000 does not fit"));
    assert!(
        err_of(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":65536}"#)
            .starts_with("linux.seccomp.defaultErrnoRet: 65536")
    );
    // Unknown actions, operators and flags are rejected when config.json is parsed into
    // oci-spec's enums (the bundle loader reports the JSON path); they cannot reach `compile`.
    for bad in [
        r#"{"defaultAction":"SCMP_ACT_FOO"}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_FOO"}]}]}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FOO"]}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_FOO"]}"#,
    ] {
        assert!(serde_json::from_str::<LinuxSeccomp>(bad).is_err(), "{bad}");
    }
}

#[test]
fn flags_and_listener() {
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    );
    use crate::compile::flag;
    assert_eq!(
        p.flags(),
        flag::TSYNC | flag::LOG | flag::SPEC_ALLOW,
        "WAIT_KILLABLE_RECV is dropped without a listener"
    );
    assert!(!p.has_listener());
    let p = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath":"/run/a.sock","listenerMetadata":"m=1","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert_eq!(
        p.flags(),
        flag::TSYNC | flag::TSYNC_ESRCH | flag::NEW_LISTENER | flag::WAIT_KILLABLE_RECV
    );
    assert!(p.has_listener());
    assert_eq!(p.listener_path(), Some(std::path::Path::new("/run/a.sock")));
    assert_eq!(p.listener_metadata(), Some("m=1"));
}

#[test]
fn features_are_probed() {
    let f = features();
    assert!(
        f.enabled,
        "seccomp filter mode is available on the dev kernel"
    );
    assert!(f.supported_flags.contains(&"SECCOMP_FILTER_FLAG_TSYNC"));
    // Kernel 6.x supports all four; a flag we report must be one we know.
    assert!(f.supported_flags.iter().all(|s| f.known_flags.contains(s)));
    assert_eq!(f.actions.len(), 9);
    assert_eq!(f.operators.len(), 7);
}

fn docker_default() -> LinuxSeccomp {
    profile(include_str!("../tests/data/docker-default.json"))
}

#[test]
fn docker_default_profile_size_time_and_semantics() {
    let spec = docker_default();
    // The best of 200 runs: the machine is shared, the minimum is the compiler's own cost.
    let first = std::time::Instant::now();
    std::hint::black_box(compile_for(std::hint::black_box(&spec), Native::X86_64).unwrap());
    let first = first.elapsed();
    let mut per = std::time::Duration::MAX;
    for _ in 0..200 {
        let start = std::time::Instant::now();
        std::hint::black_box(compile_for(std::hint::black_box(&spec), Native::X86_64).unwrap());
        per = per.min(start.elapsed());
    }
    let p = compile_for(&spec, Native::X86_64).unwrap();
    let n = p.instructions().len();
    println!(
        "docker default profile: {n} BPF instructions, compiled in {per:?} (best of 200; first call {first:?}; {} build)",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    assert!(n < BPF_MAXINSNS, "{n} instructions");
    if !cfg!(debug_assertions) {
        assert!(per < std::time::Duration::from_millis(1), "{per:?}");
    }

    let a = |nr: u32, args: [u64; 6]| exec(&p, AUDIT_ARCH_X86_64, nr, args);
    assert_eq!(a(0, [0; 6]), ret::ALLOW, "read");
    assert_eq!(a(MKDIR_64, [0; 6]), ret::ALLOW);
    assert_eq!(a(169, [0; 6]), ERRNO_EPERM, "reboot");
    assert_eq!(a(165, [0; 6]), ERRNO_EPERM, "mount");
    assert_eq!(a(435, [0; 6]), ERRNO_ENOSYS, "clone3 -> ENOSYS by rule");
    assert_eq!(
        a(456, [0; 6]),
        ret::ALLOW,
        "futex_requeue: the highest named"
    );
    assert_eq!(
        a(457, [0; 6]),
        ERRNO_ENOSYS,
        "statmount: newer than the profile"
    );
    let personality = 135;
    for (v, want) in [
        (0u64, ret::ALLOW),
        (8, ret::ALLOW),
        (0x20008, ret::ALLOW),
        (0xFFFF_FFFF, ret::ALLOW),
        (1, ERRNO_EPERM),
        (0x1_0000_0000, ERRNO_EPERM),
    ] {
        assert_eq!(
            a(personality, [v, 0, 0, 0, 0, 0]),
            want,
            "personality({v:#x})"
        );
    }
    let clone = 56;
    let thread_flags = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD) as u64;
    assert_eq!(a(clone, [thread_flags, 0, 0, 0, 0, 0]), ret::ALLOW);
    assert_eq!(
        a(clone, [libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]),
        ERRNO_EPERM
    );
    assert_eq!(
        a(
            clone,
            [libc::CLONE_NEWUSER as u64 | thread_flags, 0, 0, 0, 0, 0]
        ),
        ERRNO_EPERM
    );
    assert_eq!(
        a(clone, [1 << 40, 0, 0, 0, 0, 0]),
        ret::ALLOW,
        "bits above 32 are not namespace flags"
    );
    // i386 and x32
    assert_eq!(
        exec(&p, AUDIT_ARCH_I386, 102, [0; 6]),
        ret::ALLOW,
        "socketcall"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_I386, 136, [8, 0, 0, 0, 0, 0]),
        ret::ALLOW,
        "personality(PER_LINUX32) on i386"
    );
    assert_eq!(
        exec(
            &p,
            AUDIT_ARCH_I386,
            120,
            [libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]
        ),
        ERRNO_EPERM,
        "i386 clone"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_I386, 88, [0; 6]),
        ERRNO_EPERM,
        "i386 reboot"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, 39 | X32_SYSCALL_BIT, [0; 6]),
        ret::ALLOW,
        "x32 getpid"
    );
    assert_eq!(
        exec(&p, AUDIT_ARCH_X86_64, 169 | X32_SYSCALL_BIT, [0; 6]),
        ERRNO_EPERM,
        "x32 reboot"
    );
}

#[test]
fn every_program_runs_to_a_ret_for_every_probe() {
    let p = compile_for(&docker_default(), Native::X86_64).unwrap();
    for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0] {
        for nr in (0..1100).chain([X32_SYSCALL_BIT, X32_SYSCALL_BIT + 600, u32::MAX]) {
            for arg in [0, u64::MAX] {
                run(
                    p.instructions(),
                    &SeccompData {
                        nr,
                        arch,
                        instruction_pointer: 0,
                        args: [arg; 6],
                    },
                )
                .unwrap();
            }
        }
    }
}

// ---- root tests: real filters in forked children ----

/// Fork; the child runs `f` and `_exit`s with its return value; returns the wait status.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: fork in a test process; the child only loads a filter, makes syscalls and
    // `_exit`s (glibc's fork resets malloc's locks, so the little allocation done is safe).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = f();
        // SAFETY: terminating the forked child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    status
}

fn exit_code(status: i32) -> i32 {
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}

/// Without root the filter can only be loaded under no_new_privs; with root we prove that
/// `load` works without it (the runtime's case when noNewPrivileges is false).
fn prepare_child() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) affects only this (child) process.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    }
}

fn mkdir_errno_in_child(json: &str) -> i32 {
    let p = x86(json);
    let dir = std::env::temp_dir().join(format!("oxirun-seccomp-test-{}", std::process::id()));
    let cdir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let status = in_child(|| {
        prepare_child();
        if let Err(e) = p.load() {
            eprintln!("load: {e}");
            return 200;
        }
        // SAFETY: cdir is a valid NUL-terminated path.
        let r = unsafe { libc::mkdir(cdir.as_ptr(), 0o700) };
        if r == 0 {
            return 0;
        }
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(201)
    });
    let _ = std::fs::remove_dir(&dir);
    exit_code(status)
}

#[test]
fn root_loaded_filter_denies_mkdir_with_eperm_and_errnoret() {
    assert_eq!(
        mkdir_errno_in_child(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#
        ),
        libc::EPERM
    );
    assert_eq!(
        mkdir_errno_in_child(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#
        ),
        libc::ENOSYS
    );
    // The Docker default profile lets mkdir through (and the child can still exit).
    assert_eq!(
        mkdir_errno_in_child(include_str!("../tests/data/docker-default.json")),
        0
    );
    // Flags reach the kernel.
    assert_eq!(
        mkdir_errno_in_child(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#
        ),
        libc::EACCES
    );
}

/// `int $0x80` with i386's getpid (20) from 64-bit code; returns eax.
#[cfg(target_arch = "x86_64")]
fn int80_getpid() -> i64 {
    let mut rax: i64 = 20;
    // SAFETY: the i386 getpid takes no arguments and touches no memory; int $0x80 from 64-bit
    // code clobbers r8-r11 (zeroed on entry), declared here.
    unsafe {
        std::arch::asm!("int 0x80", inout("rax") rax, out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    rax as i32 as i64
}

#[cfg(target_arch = "x86_64")]
#[test]
fn root_int80_i386_getpid_is_filtered_by_the_i386_table() {
    // Does this kernel run i386 syscalls (CONFIG_IA32_EMULATION, not disabled)?
    let probe = in_child(|| {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as i64;
        if int80_getpid() == pid {
            0
        } else {
            1
        }
    });
    if !(libc::WIFEXITED(probe) && libc::WEXITSTATUS(probe) == 0) {
        eprintln!("SKIP: the kernel does not run int $0x80 syscalls (status {probe:#x})");
        return;
    }
    let kill_getpid_x86 = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    let status = in_child(|| {
        prepare_child();
        if kill_getpid_x86.load().is_err() {
            return 200;
        }
        int80_getpid();
        0
    });
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
        "status {status:#x}"
    );

    // An errno rule shows the number is read from the i386 table: 20 is writev on x86_64.
    let errno_getpid = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]}"#,
    );
    let status = in_child(|| {
        prepare_child();
        if errno_getpid.load().is_err() {
            return 200;
        }
        if int80_getpid() == -77 {
            0
        } else {
            1
        }
    });
    assert_eq!(exit_code(status), 0);

    // i386 not listed: a foreign ABI -> the process is killed.
    let native_only = x86(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let status = in_child(|| {
        prepare_child();
        if native_only.load().is_err() {
            return 200;
        }
        int80_getpid();
        0
    });
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
        "status {status:#x}"
    );
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100; // _IOWR('!', 0, struct seccomp_notif)
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)

#[test]
fn root_notify_listener_reaches_the_agent_and_answers_a_syscall() {
    use std::os::fd::AsRawFd;
    assert_eq!(std::mem::size_of::<SeccompNotif>(), 80);
    let dir = std::env::temp_dir().join(format!("oxirun-seccomp-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let p = x86(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{}","listenerMetadata":"hello",
        "syscalls":[{{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_NOTIFY"}}]}}"#,
        sock.display()
    ));
    let target = std::ffi::CString::new(dir.join("never").as_os_str().as_encoded_bytes()).unwrap();
    let sock_path = sock.clone();
    let meta = p.listener_metadata().map(str::to_owned);
    let agent = std::thread::spawn(move || -> Result<(serde_json::Value, i32), String> {
        let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
        let (json, fds) = notify::recv_from_runtime(&mut conn).map_err(|e| e.to_string())?;
        let state: serde_json::Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        let fd = fds.first().ok_or("no fd")?;
        let mut req = SeccompNotif::default();
        // SAFETY: NOTIF_RECV fills a struct seccomp_notif (80 bytes) we own.
        if unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            return Err(format!("NOTIF_RECV: {}", std::io::Error::last_os_error()));
        }
        let resp = SeccompNotifResp {
            id: req.id,
            val: 0,
            error: -42,
            flags: 0,
        };
        // SAFETY: NOTIF_SEND reads a struct seccomp_notif_resp (24 bytes) we own.
        if unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &resp) } != 0 {
            return Err(format!("NOTIF_SEND: {}", std::io::Error::last_os_error()));
        }
        Ok((state, req.nr))
    });
    let status = in_child(|| {
        prepare_child();
        let fd = match p.load() {
            Ok(Some(fd)) => fd,
            _ => return 200,
        };
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let state = serde_json::json!({"ociVersion":"1.2.0","id":"c1","status":"creating","pid":pid,"bundle":"/b"});
        let json = notify::process_state_json("1.2.0", pid, meta.as_deref(), &state);
        if notify::send_to_agent(&sock_path, &json, &[fd.as_raw_fd()]).is_err() {
            return 201;
        }
        drop(fd);
        // SAFETY: target is a valid NUL-terminated path.
        let r = unsafe { libc::mkdir(target.as_ptr(), 0o700) };
        if r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(42) {
            0
        } else {
            202
        }
    });
    let agent = agent.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(exit_code(status), 0);
    let (state, nr) = agent.unwrap();
    assert_eq!(state["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello");
    assert_eq!(state["state"]["id"], "c1");
    assert!(state["pid"].as_i64().unwrap() > 0);
    assert!(nr == 83 || nr == 258, "mkdir or mkdirat, got {nr}");
}

/// Range tests for runs of consecutive numbers decide exactly what one `jeq` per number does:
/// the same action for every ABI, number and argument probed, over profiles mixing actions,
/// conditional rules between the runs, and both kinds of default (with and without the stub).
#[test]
fn range_tests_match_one_jeq_per_number() {
    let mixed = |default: &str| {
        format!(
            r#"{{"defaultAction":"{default}","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
            "syscalls":[
              {{"names":["read","write","open","close","stat","fstat","lstat","poll"],"action":"SCMP_ACT_ALLOW"}},
              {{"names":["lseek","mmap"],"action":"SCMP_ACT_ERRNO","errnoRet":5}},
              {{"names":["mprotect"],"action":"SCMP_ACT_LOG"}},
              {{"names":["munmap","brk","rt_sigaction"],"action":"SCMP_ACT_ALLOW"}},
              {{"names":["rt_sigprocmask"],"action":"SCMP_ACT_ALLOW","args":[{{"index":0,"value":1,"op":"SCMP_CMP_EQ"}}]}},
              {{"names":["rt_sigreturn","ioctl","pread64","pwrite64","readv","writev","access","pipe","select"],"action":"SCMP_ACT_ALLOW"}},
              {{"names":["reboot","mount"],"action":"SCMP_ACT_KILL_PROCESS"}},
              {{"names":["getpid"],"action":"SCMP_ACT_TRACE"}}
            ]}}"#
        )
    };
    let profiles = [
        docker_default(),
        profile(&mixed("SCMP_ACT_ERRNO")),
        profile(&mixed("SCMP_ACT_ALLOW")),
        profile(&mixed("SCMP_ACT_KILL")),
    ];
    for (i, spec) in profiles.iter().enumerate() {
        let ranged = compile_for(spec, Native::X86_64).unwrap();
        crate::bpf::LINEAR.with(|l| l.set(true));
        let linear = compile_for(spec, Native::X86_64);
        crate::bpf::LINEAR.with(|l| l.set(false));
        let linear = linear.unwrap();
        assert!(
            ranged.instructions().len() <= linear.instructions().len(),
            "profile {i}: {} ranged vs {} linear instructions",
            ranged.instructions().len(),
            linear.instructions().len()
        );
        let numbers = (0..1100)
            .chain(X32_SYSCALL_BIT..X32_SYSCALL_BIT + 1100)
            .chain([u32::MAX, X32_SYSCALL_BIT - 1]);
        for nr in numbers {
            for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0] {
                for arg in [0, 1, u64::MAX] {
                    let args = [arg; 6];
                    assert_eq!(
                        exec(&ranged, arch, nr, args),
                        exec(&linear, arch, nr, args),
                        "profile {i}, arch {arch:#x}, nr {nr}, args {arg:#x}"
                    );
                }
            }
        }
    }
    let n = compile_for(&docker_default(), Native::X86_64)
        .unwrap()
        .instructions()
        .len();
    assert!(n < 500, "docker default: {n} instructions");
}

fn many_rules(n: usize, extra: &str) -> String {
    let rules: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{{"index":0,"value":{i},"op":"SCMP_CMP_EQ"}}]}}"#)
        })
        .collect();
    format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{}{extra}]}}"#,
        rules.join(",")
    )
}

#[test]
fn more_argument_rules_than_instructions_are_refused_early() {
    let e = err_of(&many_rules(5000, ""));
    assert!(
        e.contains("4097 argument rules need more than the kernel's limit of 4096"),
        "{e}"
    );
    // The same rules superseded by an unconditional rule for the syscall (even one listed
    // last) compile to a small filter: they never counted.
    let p = x86(&many_rules(
        5000,
        r#",{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}"#,
    ));
    assert!(p.instructions().len() < 100, "{}", p.instructions().len());
}
