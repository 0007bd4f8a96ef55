//! Architectures: which ABIs a filter has sections for, how the kernel tells them apart in
//! `seccomp_data` (the `AUDIT_ARCH_*` value plus, for x32, `__X32_SYSCALL_BIT` in the syscall
//! number), their argument width, and name -> number lookup in the generated tables.
//!
//! This module owns the mapping from the spec's `SCMP_ARCH_*` names to sections, and the rule
//! that decides which listed architectures get a section on the host (see [`sections_for`]).

use oci_spec::runtime::Arch;

use crate::tables;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_I386` (EM_386 | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64` (EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `AUDIT_ARCH_ARM` (EM_ARM | __AUDIT_ARCH_LE): the 32-bit compat ABI of an arm64 kernel.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `__X32_SYSCALL_BIT`: set in the syscall number of every x32 syscall.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An ABI the compiler has a syscall table for, i.e. that can get its own filter section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Abi {
    /// x86_64: `AUDIT_ARCH_X86_64`, numbers below `__X32_SYSCALL_BIT`.
    X86_64,
    /// i386 (`int $0x80`, `sysenter`, 32-bit processes): `AUDIT_ARCH_I386`.
    X86,
    /// x32: `AUDIT_ARCH_X86_64` with `__X32_SYSCALL_BIT` set in the number.
    X32,
    /// aarch64: `AUDIT_ARCH_AARCH64`, asm-generic numbering.
    Aarch64,
}

impl Abi {
    /// The `seccomp_data.arch` value the kernel reports for this ABI.
    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// Whether syscall arguments are 64 bits wide for this ABI's comparisons.
    ///
    /// i386 passes 32-bit registers: as libseccomp does for 32-bit ABIs, only the low word of
    /// an argument is compared there (and a value with high bits set is decided at compile time:
    /// the kernel acts on the 32-bit value, which can never equal it). x32 processes make
    /// syscalls with full 64-bit registers through the 64-bit entry, and the kernel's handlers
    /// see all 64 bits, so x32 compares all 64 bits (libseccomp treats x32 as 32-bit here; ours
    /// differs only for arguments with the high word set, where it is exact).
    pub fn args_are_64bit(self) -> bool {
        !matches!(self, Abi::X86)
    }

    /// The spec's name for the ABI.
    pub fn spec_name(self) -> &'static str {
        match self {
            Abi::X86_64 => "SCMP_ARCH_X86_64",
            Abi::X86 => "SCMP_ARCH_X86",
            Abi::X32 => "SCMP_ARCH_X32",
            Abi::Aarch64 => "SCMP_ARCH_AARCH64",
        }
    }

    /// This ABI's column in the generated table (`tables::COLUMNS`).
    pub(crate) fn column(self) -> usize {
        match self {
            Abi::X86_64 => 0,
            Abi::X86 => 1,
            Abi::X32 => 2,
            Abi::Aarch64 => 3,
        }
    }

    /// The syscall number of `name` for this ABI (x32 numbers include `__X32_SYSCALL_BIT`).
    pub fn syscall_nr(self, name: &str) -> Option<u32> {
        lookup(name).and_then(|row| self.nr_in(row))
    }

    /// This ABI's number in a row returned by [`lookup`].
    pub(crate) fn nr_in(self, row: &[u32; 4]) -> Option<u32> {
        Some(row[self.column()]).filter(|nr| *nr != tables::NONE)
    }
}

/// The numbers of `name` on every ABI (one binary search for all of them).
pub(crate) fn lookup(name: &str) -> Option<&'static [u32; 4]> {
    tables::SYSCALLS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &tables::SYSCALLS[i].1)
}

/// The architecture the filter is compiled for: the one the runtime binary (and so the
/// container's init, which loads the filter) runs on. Its ABIs are always in the filter, as
/// libseccomp always keeps the native architecture in a filter context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    /// An x86_64 kernel: reports `AUDIT_ARCH_X86_64` (x86_64 and x32) and `AUDIT_ARCH_I386`.
    X86_64,
    /// An arm64 kernel: reports `AUDIT_ARCH_AARCH64` and `AUDIT_ARCH_ARM` (32-bit compat).
    Aarch64,
}

impl Native {
    /// The architecture this crate was built for, if the compiler supports it.
    pub fn host() -> Option<Native> {
        if cfg!(target_arch = "x86_64") {
            Some(Native::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Native::Aarch64)
        } else {
            None
        }
    }

    /// The ABI whose section is always present.
    pub fn abi(self) -> Abi {
        match self {
            Native::X86_64 => Abi::X86_64,
            Native::Aarch64 => Abi::Aarch64,
        }
    }
}

/// What happens to one `architectures[]` entry on a given host.
#[derive(Debug, PartialEq, Eq)]
pub enum ArchUse {
    /// It gets a section with this ABI's rules.
    Section(Abi),
    /// The host kernel can never report it in `seccomp_data.arch`: no section is needed
    /// (libseccomp would emit one that never matches).
    Unreachable,
    /// The host kernel can report it, but the compiler has no syscall table for it: it gets no
    /// section, so its syscalls take the bad-architecture action (kill the process).
    NoTable,
}

/// Decide what an `architectures[]` entry means on `native`.
pub fn arch_use(native: Native, arch: Arch) -> ArchUse {
    match (native, arch) {
        (_, Arch::ScmpArchNative) => ArchUse::Section(native.abi()),
        (Native::X86_64, Arch::ScmpArchX86_64) => ArchUse::Section(Abi::X86_64),
        (Native::X86_64, Arch::ScmpArchX86) => ArchUse::Section(Abi::X86),
        (Native::X86_64, Arch::ScmpArchX32) => ArchUse::Section(Abi::X32),
        (Native::Aarch64, Arch::ScmpArchAarch64) => ArchUse::Section(Abi::Aarch64),
        (Native::Aarch64, Arch::ScmpArchArm) => ArchUse::NoTable,
        _ => ArchUse::Unreachable,
    }
}

/// The ABIs that get a section, in a fixed order (native first), and notes about the entries
/// that do not.
pub fn sections_for(native: Native, archs: &[Arch]) -> (Vec<Abi>, Vec<String>) {
    let mut abis = vec![native.abi()];
    let mut notes = Vec::new();
    for (i, arch) in archs.iter().enumerate() {
        match arch_use(native, *arch) {
            ArchUse::Section(abi) => {
                if !abis.contains(&abi) {
                    abis.push(abi);
                }
            }
            ArchUse::Unreachable => notes.push(format!(
                "linux.seccomp.architectures[{i}]: {arch} cannot occur on a {native:?} kernel; no section emitted"
            )),
            ArchUse::NoTable => notes.push(format!(
                "linux.seccomp.architectures[{i}]: {arch} has no syscall table in oxirun; its syscalls take the bad-architecture action (kill)"
            )),
        }
    }
    abis.sort();
    (abis, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_known_numbers_match() {
        let t = tables::SYSCALLS;
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "not sorted");
        for abi in [Abi::X86_64, Abi::X86, Abi::X32, Abi::Aarch64] {
            assert_eq!(
                tables::COLUMNS[abi.column()],
                format!("{abi:?}").to_uppercase()
            );
        }
        assert_eq!(Abi::X86_64.syscall_nr("read"), Some(0));
        assert_eq!(Abi::X86_64.syscall_nr("mkdir"), Some(83));
        assert_eq!(Abi::X86.syscall_nr("getpid"), Some(20));
        assert_eq!(Abi::X86.syscall_nr("socketcall"), Some(102));
        assert_eq!(Abi::X32.syscall_nr("getpid"), Some(39 | X32_SYSCALL_BIT));
        assert_eq!(
            Abi::X32.syscall_nr("rt_sigaction"),
            Some(512 | X32_SYSCALL_BIT)
        );
        assert_eq!(Abi::Aarch64.syscall_nr("getpid"), Some(172));
        assert_eq!(Abi::Aarch64.syscall_nr("mkdir"), None);
        assert_eq!(Abi::Aarch64.syscall_nr("mkdirat"), Some(34));
        assert_eq!(Abi::X86_64.syscall_nr("clone3"), Some(435));
        assert_eq!(Abi::X86_64.syscall_nr("no_such_syscall"), None);
        // The libc crate agrees for the host ABI.
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(
                Abi::X86_64.syscall_nr("openat2"),
                Some(libc::SYS_openat2 as u32)
            );
            assert_eq!(
                Abi::X86_64.syscall_nr("pidfd_open"),
                Some(libc::SYS_pidfd_open as u32)
            );
            assert_eq!(
                Abi::X86_64.syscall_nr("seccomp"),
                Some(libc::SYS_seccomp as u32)
            );
        }
    }

    #[test]
    fn native_is_always_in_and_foreign_archs_are_noted() {
        let (abis, notes) = sections_for(Native::X86_64, &[Arch::ScmpArchX86]);
        assert_eq!(abis, vec![Abi::X86_64, Abi::X86]);
        assert!(notes.is_empty());
        let (abis, notes) =
            sections_for(Native::X86_64, &[Arch::ScmpArchAarch64, Arch::ScmpArchX32]);
        assert_eq!(abis, vec![Abi::X86_64, Abi::X32]);
        assert_eq!(notes.len(), 1);
        let (abis, notes) = sections_for(Native::Aarch64, &[Arch::ScmpArchArm]);
        assert_eq!(abis, vec![Abi::Aarch64]);
        assert!(notes[0].contains("kill"));
    }
}
