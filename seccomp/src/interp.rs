//! A classic-BPF interpreter over `struct seccomp_data`, covering the instructions the kernel's
//! seccomp checker accepts that our generator uses (LD W ABS, ALU AND K, JA, JEQ/JGT/JGE/JSET K,
//! RET K). Used by the unit tests to run compiled programs, and meant for the fuzz target
//! (every compiled program must run to a `ret` for every input).
//!
//! This module owns nothing the runtime uses when loading filters; the kernel runs those.

use seccompiler::sock_filter;

/// `struct seccomp_data` (include/uapi/linux/seccomp.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number (x32: with `__X32_SYSCALL_BIT`).
    pub nr: u32,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    /// Instruction pointer.
    pub instruction_pointer: u64,
    /// Arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32) -> Option<u32> {
        if off % 4 != 0 {
            return None;
        }
        let w = match off {
            0 => self.nr,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            16..=60 => {
                let a = self.args[((off - 16) / 8) as usize];
                if (off - 16) % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        };
        Some(w)
    }
}

/// Why a program could not be run to a result.
#[derive(Debug, PartialEq, Eq)]
pub enum InterpError {
    /// A jump or fall-through left the program at this instruction.
    OutOfBounds(usize),
    /// An instruction the interpreter (and our generator) does not use.
    BadOpcode(usize, u16),
    /// A load outside `seccomp_data` or unaligned.
    BadLoad(usize, u32),
}

/// Run `prog` on `data`; returns the `SECCOMP_RET_*` value.
pub fn run(prog: &[sock_filter], data: &SeccompData) -> Result<u32, InterpError> {
    let mut a: u32 = 0;
    let mut pc: usize = 0;
    loop {
        let insn = prog.get(pc).ok_or(InterpError::OutOfBounds(pc))?;
        let next = pc + 1;
        let cond = |taken: bool| next + usize::from(if taken { insn.jt } else { insn.jf });
        pc = match insn.code {
            0x20 => {
                a = data.word(insn.k).ok_or(InterpError::BadLoad(pc, insn.k))?;
                next
            }
            0x54 => {
                a &= insn.k;
                next
            }
            0x05 => next + insn.k as usize,
            0x15 => cond(a == insn.k),
            0x25 => cond(a > insn.k),
            0x35 => cond(a >= insn.k),
            0x45 => cond(a & insn.k != 0),
            0x06 => return Ok(insn.k),
            op => return Err(InterpError::BadOpcode(pc, op)),
        };
    }
}
