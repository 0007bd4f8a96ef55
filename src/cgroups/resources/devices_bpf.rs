//! cgroup v2 device control: the rule list compiled to a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program (raw instructions, no helpers, no maps) attached to the container's directory with
//! `BPF_F_ALLOW_MULTI` (ancestors' programs still run too).
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! (`access_type` = access << 16 | type; type 1 block, 2 char; access 1 mknod, 2 read,
//! 4 write) and returns 1 (allow) or 0 (deny). Rules are tested last-to-first, the first
//! match deciding, which is "a later rule overrides an earlier one"; an allow rule matches
//! when it grants every requested access, a deny rule when it covers any of them.

use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Result;

use super::devices::{reduce, Rule, ACC_ALL};
use super::field_err;
use crate::sys::bpf::{self, Insn};

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND64_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH64_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JNE32_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const JEQ32_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

// Registers: r1 ctx, r2 access_type, r3 type, r4 access, r5 major, r6 minor, r7 scratch.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;
const R7: u8 = 7;

/// A conditional jump to the end of the current rule block, patched when the block is done.
const SKIP: i16 = i16::MIN;

fn rule_block(r: &Rule) -> Vec<Insn> {
    let mut b = Vec::new();
    match r.kind {
        'b' => b.push(Insn::new(JNE32_K, R3, 0, SKIP, DEV_BLOCK)),
        'c' => b.push(Insn::new(JNE32_K, R3, 0, SKIP, DEV_CHAR)),
        _ => {}
    }
    if r.allow {
        let missing = (!r.access & ACC_ALL) as i32;
        if missing != 0 {
            b.push(Insn::new(MOV64_X, R7, R4, 0, 0));
            b.push(Insn::new(AND64_K, R7, 0, 0, missing));
            b.push(Insn::new(JNE32_K, R7, 0, SKIP, 0));
        }
    } else if r.access != ACC_ALL {
        b.push(Insn::new(MOV64_X, R7, R4, 0, 0));
        b.push(Insn::new(AND64_K, R7, 0, 0, r.access as i32));
        b.push(Insn::new(JEQ32_K, R7, 0, SKIP, 0));
    }
    if let Some(m) = r.major {
        b.push(Insn::new(JNE32_K, R5, 0, SKIP, m as i32));
    }
    if let Some(m) = r.minor {
        b.push(Insn::new(JNE32_K, R6, 0, SKIP, m as i32));
    }
    b.push(Insn::new(MOV64_K, R0, 0, 0, r.allow as i32));
    b.push(Insn::new(EXIT, 0, 0, 0, 0));
    let len = b.len();
    for (i, insn) in b.iter_mut().enumerate() {
        if insn.off == SKIP {
            insn.off = (len - i - 1) as i16;
        }
    }
    b
}

/// The program for a rule list (runc's defaults already appended).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let (default_allow, rules) = reduce(rules);
    let mut p = vec![
        Insn::new(LDX_W, R2, R1, 0, 0),
        Insn::new(MOV64_X, R3, R2, 0, 0),
        Insn::new(AND64_K, R3, 0, 0, 0xffff),
        Insn::new(MOV64_X, R4, R2, 0, 0),
        Insn::new(RSH64_K, R4, 0, 0, 16),
        Insn::new(LDX_W, R5, R1, 4, 0),
        Insn::new(LDX_W, R6, R1, 8, 0),
    ];
    for r in rules.iter().rev() {
        p.extend(rule_block(r));
    }
    p.push(Insn::new(MOV64_K, R0, 0, 0, default_allow as i32));
    p.push(Insn::new(EXIT, 0, 0, 0, 0));
    p
}

/// Load the program and attach it to `dir`, replacing programs a previous apply attached.
pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let insns = program(rules);
    let cg = std::fs::File::open(dir).map_err(|e| {
        field_err!(
            "devices",
            "open {}: {}",
            dir.display(),
            super::files::errstr(&e)
        )
    })?;
    let old = bpf::prog_query(&cg.as_fd(), bpf::ATTACH_CGROUP_DEVICE).unwrap_or_default();
    let prog = bpf::load_cgroup_device_prog(&insns, "Apache-2.0")
        .map_err(|e| field_err!("devices", "loading the cgroup device BPF program: {e}"))?;
    bpf::prog_attach(
        &cg.as_fd(),
        &prog.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
    )
    .map_err(|e| {
        field_err!(
            "devices",
            "attaching the device BPF program to {}: {e}",
            dir.display()
        )
    })?;
    for id in old {
        if let Ok(fd) = bpf::prog_fd_by_id(id) {
            let _ = bpf::prog_detach(&cg.as_fd(), &fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::devices::{rules, ACC_MKNOD, ACC_READ, ACC_WRITE};
    use super::*;

    /// Just enough of an eBPF interpreter for the instructions above.
    fn run(p: &[Insn], typ: u32, acc: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(acc << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let skip = |cond: bool, pc: &mut usize| {
                if cond {
                    *pc = (*pc as i64 + i.off as i64) as usize;
                }
            };
            match i.code {
                LDX_W => {
                    assert_eq!(src, 1);
                    r[dst] = ctx[(i.off / 4) as usize] as u64;
                }
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as i64 as u64,
                AND64_K => r[dst] &= i.imm as i64 as u64,
                RSH64_K => r[dst] >>= i.imm,
                JNE32_K => skip(r[dst] as u32 != i.imm as u32, &mut pc),
                JEQ32_K => skip(r[dst] as u32 == i.imm as u32, &mut pc),
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
            pc += 1;
        }
    }

    fn dev(json: &str) -> oci_spec::runtime::LinuxDeviceCgroup {
        serde_json::from_str(json).unwrap()
    }

    const RW: u32 = (ACC_READ | ACC_WRITE) as u32;

    #[test]
    fn deny_all_keeps_the_defaults() {
        let p = program(&rules(&[dev(r#"{"allow":false,"access":"rwm"}"#)]).unwrap());
        assert_eq!(run(&p, 2, RW, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, 2, RW, 136, 7), 1, "/dev/pts/7");
        assert_eq!(run(&p, 2, ACC_MKNOD as u32, 10, 229), 1, "mknod anything");
        assert_eq!(run(&p, 1, ACC_MKNOD as u32, 8, 0), 1, "mknod block");
        assert_eq!(run(&p, 2, ACC_READ as u32, 10, 229), 0, "/dev/fuse");
        assert_eq!(run(&p, 1, ACC_READ as u32, 8, 0), 0, "sda");
        assert_eq!(run(&p, 2, RW, 4, 1), 0, "tty1");
    }

    #[test]
    fn later_rules_override_and_partial_access() {
        let p = program(
            &rules(&[
                dev(r#"{"allow":false,"access":"rwm"}"#),
                dev(r#"{"allow":true,"type":"c","major":10,"minor":229,"access":"r"}"#),
                dev(r#"{"allow":true,"type":"b","major":8,"access":"rwm"}"#),
                dev(r#"{"allow":false,"type":"b","major":8,"minor":1,"access":"w"}"#),
                dev(r#"{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}"#),
            ])
            .unwrap(),
        );
        assert_eq!(run(&p, 2, ACC_READ as u32, 10, 229), 1);
        assert_eq!(run(&p, 2, RW, 10, 229), 0, "write not granted");
        assert_eq!(run(&p, 1, RW, 8, 0), 1);
        assert_eq!(run(&p, 1, ACC_READ as u32, 8, 1), 1);
        assert_eq!(run(&p, 1, RW, 8, 1), 0, "write denied on 8:1");
        // The defaults come after the user's deny of /dev/null, so it is allowed again (runc).
        assert_eq!(run(&p, 2, RW, 1, 3), 1);
    }

    #[test]
    fn allow_all() {
        let p = program(&rules(&[dev(r#"{"allow":true,"access":"rwm"}"#)]).unwrap());
        assert_eq!(run(&p, 1, RW, 8, 0), 1);
        assert_eq!(run(&p, 2, RW, 4, 1), 1);
    }
}
