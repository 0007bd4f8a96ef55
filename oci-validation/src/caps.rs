//! Linux capability names (as in the OCI config, `CAP_*`) and their bit numbers.

/// Capability names indexed by bit number (capability.h, up to CAP_CHECKPOINT_RESTORE = 40).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The bit mask of a list of names; `Err` names the first unknown one.
pub fn mask<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<u64, String> {
    let mut m = 0u64;
    for n in names {
        let bit = NAMES
            .iter()
            .position(|x| *x == n)
            .ok_or_else(|| format!("unknown capability {n}"))?;
        m |= 1 << bit;
    }
    Ok(m)
}

/// The names of the bits set in `m` (for readable failure messages).
pub fn names(m: u64) -> Vec<String> {
    (0..64)
        .filter(|b| m & (1u64 << b) != 0)
        .map(|b| {
            NAMES
                .get(b)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("cap{b}"))
        })
        .collect()
}
