//! Classic BPF code generation: the instruction layout of the filter.
//!
//! This module owns the program's shape; `compile.rs` decided what each syscall does.
//!
//! ```text
//!   ld  [arch]
//!   jeq AUDIT_ARCH_<a>, +0, +1 ; ja section_<a>       one pair per distinct AUDIT_ARCH value
//!   ret BAD_ARCH                                      (KILL_PROCESS)
//! section x86_64 (AUDIT_ARCH_X86_64):
//!   ld  [nr]
//!   jge __X32_SYSCALL_BIT, +0, +1 ; ja section_x32    (x32 listed)
//!   jge __X32_SYSCALL_BIT, +0, +1 ; ret BAD_ARCH      (x32 not listed: a foreign ABI)
//!   <body>
//! section x32: <body>                                  (A still holds nr)
//! section <other>: ld [nr] ; <body>
//! body:
//!   jgt max_nr, +0, +1 ; ret ERRNO(ENOSYS)            (the -ENOSYS stub, when enabled)
//!   jeq nr1, ret_a ; jge lo2 ; jgt hi2, +0, ret_a ...   unconditional syscalls, grouped by
//!   ret a                                              action; a run of consecutive numbers
//!                                                      is one range test (jge+jgt), so the
//!                                                      Docker profile's ~940 jeq become ~230;
//!                                                      chunks of <= 250 insns (jt reach)
//!   jeq nrX, +1, +0 ; ja past ; <rules of nrX> ; ret DEFAULT     conditional syscalls
//!   ret DEFAULT
//! rule: <conditions, each failing to the next rule> ; ret action
//! ```
//! Conditional jumps reach at most 255 instructions, so every far target goes through `ja`
//! (32-bit offset). 64-bit argument comparisons are split into high and low 32-bit words as
//! libseccomp does (the high word decides unless equal); 32-bit ABIs compare the low word.
//!
//! seccompiler supplies the instruction type (`sock_filter`, the kernel's `struct
//! sock_filter`); its own filter builder cannot express several ABIs in one program, x32's
//! number space, per-rule actions, NOTIFY or the -ENOSYS stub, so the layout is ours.

use std::collections::BTreeMap;

use seccompiler::sock_filter;

use crate::arch::{Abi, X32_SYSCALL_BIT};
use crate::compile::{Cond, Op, Rule, Section, BAD_ARCH_ACTION, ENOSYS_ACTION};
use crate::Error;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

// Opcodes (include/uapi/linux/filter.h, bpf_common.h).
pub(crate) const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(crate) const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
pub(crate) const BPF_JMP_JA: u16 = 0x05;
pub(crate) const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
pub(crate) const BPF_JMP_JGT_K: u16 = 0x05 | 0x20;
pub(crate) const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
pub(crate) const BPF_RET_K: u16 = 0x06;

// struct seccomp_data offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// Instructions of number tests before their shared `ret` (jt reaches 255).
const CHUNK: usize = 250;

#[cfg(test)]
thread_local! {
    /// Tests turn range tests off to compare against one `jeq` per number.
    pub(crate) static LINEAR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Sorted numbers as runs of consecutive values `(lo, hi)`.
fn runs(nrs: &[u32]) -> Vec<(u32, u32)> {
    #[cfg(test)]
    if LINEAR.with(|l| l.get()) {
        return nrs.iter().map(|&n| (n, n)).collect();
    }
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in nrs {
        match out.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(n) => *hi = n,
            _ => out.push((n, n)),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Target {
    /// The next instruction.
    Next,
    /// A label.
    Label(usize),
}

struct Insn {
    code: u16,
    jt: Target,
    jf: Target,
    k: u32,
    /// For `ja`: the label whose offset goes into `k`.
    ja: Option<usize>,
}

#[derive(Default)]
struct Emitter {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
}

impl Emitter {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.insns.push(Insn {
            code,
            jt: Target::Next,
            jf: Target::Next,
            k,
            ja: None,
        });
    }
    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.insns.push(Insn {
            code,
            jt,
            jf,
            k,
            ja: None,
        });
    }
    fn ja(&mut self, l: usize) {
        self.insns.push(Insn {
            code: BPF_JMP_JA,
            jt: Target::Next,
            jf: Target::Next,
            k: 0,
            ja: Some(l),
        });
    }
    fn ret(&mut self, action: u32) {
        self.stmt(BPF_RET_K, action);
    }
    fn load(&mut self, off: u32) {
        self.stmt(BPF_LD_W_ABS, off);
    }

    fn finish(self) -> Result<Vec<sock_filter>, Error> {
        if self.insns.len() > BPF_MAXINSNS {
            return Err(Error::TooLong {
                len: self.insns.len(),
            });
        }
        let mut out = Vec::with_capacity(self.insns.len());
        for (i, insn) in self.insns.iter().enumerate() {
            let dist = |l: usize| -> Result<usize, Error> {
                match self.labels[l] {
                    Some(p) if p > i => Ok(p - (i + 1)),
                    _ => Err(Error::Internal(format!(
                        "instruction {i}: jump to an unbound or backward label"
                    ))),
                }
            };
            let rel = |t: Target| -> Result<u8, Error> {
                match t {
                    Target::Next => Ok(0),
                    Target::Label(l) => u8::try_from(dist(l)?).map_err(|_| {
                        Error::Internal(format!("instruction {i}: conditional jump out of reach"))
                    }),
                }
            };
            let k = match insn.ja {
                Some(l) => dist(l)? as u32,
                None => insn.k,
            };
            out.push(sock_filter {
                code: insn.code,
                jt: rel(insn.jt)?,
                jf: rel(insn.jf)?,
                k,
            });
        }
        Ok(out)
    }
}

/// Generate the program for `sections` (native ABI first) with `default` as the action for
/// syscalls no rule decides.
pub(crate) fn generate(sections: &[Section], default: u32) -> Result<Vec<sock_filter>, Error> {
    let mut e = Emitter::default();
    let find = |abi: Abi| sections.iter().find(|s| s.abi == abi);

    // Dispatch on the architecture.
    let mut arch_values: Vec<u32> = Vec::new();
    for s in sections {
        let v = s.abi.audit_arch();
        if !arch_values.contains(&v) {
            arch_values.push(v);
        }
    }
    e.load(OFF_ARCH);
    let arch_labels: Vec<usize> = arch_values.iter().map(|_| e.label()).collect();
    for (v, l) in arch_values.iter().zip(&arch_labels) {
        let skip = e.label();
        e.jump(BPF_JMP_JEQ_K, *v, Target::Next, Target::Label(skip));
        e.ja(*l);
        e.bind(skip);
    }
    e.ret(BAD_ARCH_ACTION);

    for (v, l) in arch_values.iter().zip(&arch_labels) {
        e.bind(*l);
        e.load(OFF_NR);
        if *v == crate::arch::AUDIT_ARCH_X86_64 {
            // x86_64 and x32 share the audit arch; the number tells them apart.
            let not_x32 = e.label();
            e.jump(
                BPF_JMP_JGE_K,
                X32_SYSCALL_BIT,
                Target::Next,
                Target::Label(not_x32),
            );
            let x32 = find(Abi::X32);
            let x32_label = e.label();
            match x32 {
                Some(_) => e.ja(x32_label),
                // x32 not listed: a foreign ABI, as libseccomp treats it.
                None => e.ret(BAD_ARCH_ACTION),
            }
            e.bind(not_x32);
            match find(Abi::X86_64) {
                Some(s) => body(&mut e, s, default),
                // x32 listed on its own: x86_64 is native and always present, so unreachable
                // in practice; keep the program total anyway.
                None => e.ret(BAD_ARCH_ACTION),
            }
            e.bind(x32_label); // unused when x32 is not listed
            if let Some(s) = x32 {
                body(&mut e, s, default);
            }
        } else {
            let s = sections
                .iter()
                .find(|s| s.abi.audit_arch() == *v)
                .expect("section exists");
            body(&mut e, s, default);
        }
    }
    e.finish()
}

/// The per-ABI part: A holds the syscall number.
fn body(e: &mut Emitter, s: &Section, default: u32) {
    if let Some(max) = s.enosys_above {
        let past = e.label();
        e.jump(BPF_JMP_JGT_K, max, Target::Next, Target::Label(past));
        e.ret(ENOSYS_ACTION);
        e.bind(past);
    }

    // Unconditional syscalls grouped by action.
    let mut by_action: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (nr, r) in &s.syscalls {
        if let Some(a) = r.unconditional {
            if a != default {
                by_action.entry(a).or_default().push(*nr);
            }
        }
    }
    for (action, nrs) in &by_action {
        let runs = runs(nrs);
        let cost = |&(lo, hi): &(u32, u32)| if lo == hi { 1 } else { 2 };
        let mut rest = &runs[..];
        while !rest.is_empty() {
            // As many runs as fit in CHUNK instructions (at least one).
            let mut n = 0;
            let mut take = 0;
            while take < rest.len() && (take == 0 || n + cost(&rest[take]) <= CHUNK) {
                n += cost(&rest[take]);
                take += 1;
            }
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let hit = e.label();
            let miss = e.label();
            for (i, &(lo, hi)) in chunk.iter().enumerate() {
                let last = i + 1 == chunk.len();
                let next = e.label();
                let onward = Target::Label(if last { miss } else { next });
                if lo == hi {
                    e.jump(BPF_JMP_JEQ_K, lo, Target::Label(hit), onward);
                } else {
                    // lo <= nr <= hi
                    e.jump(BPF_JMP_JGE_K, lo, Target::Next, onward);
                    e.jump(BPF_JMP_JGT_K, hi, onward, Target::Label(hit));
                }
                e.bind(next);
            }
            e.bind(hit);
            e.ret(*action);
            e.bind(miss);
        }
    }

    // Conditional syscalls.
    let wide = s.abi.args_are_64bit();
    for (nr, r) in &s.syscalls {
        if r.unconditional.is_some() {
            continue;
        }
        let past = e.label();
        let enter = e.label();
        e.jump(BPF_JMP_JEQ_K, *nr, Target::Label(enter), Target::Next);
        e.ja(past);
        e.bind(enter);
        for rule in &r.rules {
            emit_rule(e, rule, wide);
        }
        e.ret(default);
        e.bind(past);
    }
    e.ret(default);
}

fn emit_rule(e: &mut Emitter, rule: &Rule, wide: bool) {
    let fail = e.label();
    for c in &rule.conds {
        emit_cond(e, c, wide, fail);
    }
    e.ret(rule.action);
    e.bind(fail);
}

fn lo_off(arg: u8) -> u32 {
    OFF_ARGS + 8 * u32::from(arg)
}

/// One condition: falls through when it holds, jumps to `fail` when not.
fn emit_cond(e: &mut Emitter, c: &Cond, wide: bool, fail: usize) {
    let lo = c.value as u32;
    let hi = (c.value >> 32) as u32;
    let f = Target::Label(fail);
    let n = Target::Next;
    if !wide {
        e.load(lo_off(c.arg));
        match c.op {
            Op::Eq => e.jump(BPF_JMP_JEQ_K, lo, n, f),
            Op::Ne => e.jump(BPF_JMP_JEQ_K, lo, f, n),
            Op::Gt => e.jump(BPF_JMP_JGT_K, lo, n, f),
            Op::Ge => e.jump(BPF_JMP_JGE_K, lo, n, f),
            Op::Lt => e.jump(BPF_JMP_JGE_K, lo, f, n),
            Op::Le => e.jump(BPF_JMP_JGT_K, lo, f, n),
            Op::MaskedEq(mask) => {
                e.stmt(BPF_ALU_AND_K, mask as u32);
                e.jump(BPF_JMP_JEQ_K, lo, n, f);
            }
        }
        return;
    }
    // Little-endian seccomp_data: the low word first, the high word at +4.
    let lo_at = lo_off(c.arg);
    let hi_at = lo_at + 4;
    let pass = e.label();
    let p = Target::Label(pass);
    match c.op {
        Op::Eq => {
            e.load(hi_at);
            e.jump(BPF_JMP_JEQ_K, hi, n, f);
            e.load(lo_at);
            e.jump(BPF_JMP_JEQ_K, lo, n, f);
        }
        Op::Ne => {
            e.load(hi_at);
            e.jump(BPF_JMP_JEQ_K, hi, n, p);
            e.load(lo_at);
            e.jump(BPF_JMP_JEQ_K, lo, f, n);
        }
        Op::Gt | Op::Ge => {
            e.load(hi_at);
            e.jump(BPF_JMP_JGT_K, hi, p, n);
            e.jump(BPF_JMP_JEQ_K, hi, n, f);
            e.load(lo_at);
            let code = if c.op == Op::Gt {
                BPF_JMP_JGT_K
            } else {
                BPF_JMP_JGE_K
            };
            e.jump(code, lo, n, f);
        }
        Op::Lt | Op::Le => {
            e.load(hi_at);
            e.jump(BPF_JMP_JGE_K, hi, n, p); // hi < vhi: holds
            e.jump(BPF_JMP_JEQ_K, hi, n, f); // hi > vhi: fails
            e.load(lo_at);
            let code = if c.op == Op::Lt {
                BPF_JMP_JGE_K
            } else {
                BPF_JMP_JGT_K
            };
            e.jump(code, lo, f, n);
        }
        Op::MaskedEq(mask) => {
            e.load(hi_at);
            e.stmt(BPF_ALU_AND_K, (mask >> 32) as u32);
            e.jump(BPF_JMP_JEQ_K, hi, n, f);
            e.load(lo_at);
            e.stmt(BPF_ALU_AND_K, mask as u32);
            e.jump(BPF_JMP_JEQ_K, lo, n, f);
        }
    }
    e.bind(pass);
}
