//! `linux.memoryPolicy`: the NUMA memory policy of the container process
//! (`set_mempolicy(2)`, inherited across fork and execve).

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{
    LinuxMemoryPolicy, MemoryPolicyFlagType as Flag, MemoryPolicyModeType as Mode,
};

use super::cpulist;

/// Highest node count the kernel can be built with (CONFIG_NODES_SHIFT = 10).
const MAX_NODES: u32 = 1024;

pub const MPOL_DEFAULT: i32 = 0;
pub const MPOL_PREFERRED: i32 = 1;
pub const MPOL_BIND: i32 = 2;
pub const MPOL_INTERLEAVE: i32 = 3;
pub const MPOL_LOCAL: i32 = 4;
pub const MPOL_PREFERRED_MANY: i32 = 5;
pub const MPOL_WEIGHTED_INTERLEAVE: i32 = 6;
pub const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
pub const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
pub const MPOL_F_STATIC_NODES: i32 = 1 << 15;

/// A policy ready for `set_mempolicy`: mode with flags, and the nodemask words.
#[derive(Debug, PartialEq, Eq)]
pub struct Policy {
    pub mode: i32,
    pub nodes: Vec<u64>,
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::MpolDefault => "MPOL_DEFAULT",
        Mode::MpolBind => "MPOL_BIND",
        Mode::MpolInterleave => "MPOL_INTERLEAVE",
        Mode::MpolWeightedInterleave => "MPOL_WEIGHTED_INTERLEAVE",
        Mode::MpolPreferred => "MPOL_PREFERRED",
        Mode::MpolPreferredMany => "MPOL_PREFERRED_MANY",
        Mode::MpolLocal => "MPOL_LOCAL",
    }
}

/// Check mode, nodes and flags against the kernel's rules and build the syscall arguments.
pub fn build(p: &LinuxMemoryPolicy) -> Result<Policy> {
    let name = mode_name(p.mode());
    let list = p.nodes().as_deref().unwrap_or("");
    let nodes =
        cpulist::parse(list, MAX_NODES).map_err(|e| anyhow!("linux.memoryPolicy.nodes: {e}"))?;
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            Flag::MpolFNumaBalancing => MPOL_F_NUMA_BALANCING,
            Flag::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            Flag::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    let (mode, needs_nodes, takes_nodes) = match p.mode() {
        Mode::MpolDefault => (MPOL_DEFAULT, false, false),
        Mode::MpolLocal => (MPOL_LOCAL, false, false),
        // Without nodes, PREFERRED means "local allocation".
        Mode::MpolPreferred => (MPOL_PREFERRED, false, true),
        Mode::MpolBind => (MPOL_BIND, true, true),
        Mode::MpolInterleave => (MPOL_INTERLEAVE, true, true),
        Mode::MpolPreferredMany => (MPOL_PREFERRED_MANY, true, true),
        Mode::MpolWeightedInterleave => (MPOL_WEIGHTED_INTERLEAVE, true, true),
    };
    if needs_nodes && nodes.is_empty() {
        bail!("linux.memoryPolicy.nodes: {name} needs at least one node");
    }
    if !takes_nodes && !nodes.is_empty() {
        bail!("linux.memoryPolicy.nodes: {name} takes no nodes");
    }
    let node_flags = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES;
    if flags & node_flags == node_flags {
        bail!("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES are mutually exclusive");
    }
    if flags != 0 && p.mode() == Mode::MpolDefault {
        bail!("linux.memoryPolicy.flags: MPOL_DEFAULT takes no flags");
    }
    if flags & node_flags != 0 && nodes.is_empty() {
        bail!("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES/MPOL_F_RELATIVE_NODES need nodes");
    }
    if flags & MPOL_F_NUMA_BALANCING != 0
        && !matches!(p.mode(), Mode::MpolBind | Mode::MpolPreferredMany)
    {
        bail!("linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING only works with MPOL_BIND or MPOL_PREFERRED_MANY, not {name}");
    }
    Ok(Policy {
        mode: mode | flags,
        nodes,
    })
}

/// Host check: without a node flag, every node must be online (the kernel would refuse an
/// empty effective set, or silently drop the offline ones).
pub fn check_host(policy: &Policy) -> Result<()> {
    if policy.mode & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 || policy.nodes.is_empty() {
        return Ok(());
    }
    let online =
        std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
    let online = cpulist::parse(online.trim(), MAX_NODES).unwrap_or_else(|_| vec![1]);
    for node in cpulist::indices(&policy.nodes) {
        let word = online.get(node as usize / 64).copied().unwrap_or(0);
        if word & (1 << (node % 64)) == 0 {
            bail!("linux.memoryPolicy.nodes: node {node} is not online on this host");
        }
    }
    Ok(())
}

/// Set the calling process's memory policy.
pub fn apply(p: &LinuxMemoryPolicy) -> Result<()> {
    let policy = build(p)?;
    let words: Vec<libc::c_ulong> = policy.nodes.iter().map(|w| *w as libc::c_ulong).collect();
    crate::sys::attrs::set_mempolicy(policy.mode, &words).map_err(|e| {
        anyhow!(
            "linux.memoryPolicy: set_mempolicy({}): {e}",
            mode_name(p.mode())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<Policy> {
        build(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn builds_policies() {
        assert_eq!(
            policy(r#"{"mode":"MPOL_DEFAULT"}"#).unwrap(),
            Policy {
                mode: 0,
                nodes: vec![]
            }
        );
        assert_eq!(
            policy(r#"{"mode":"MPOL_BIND","nodes":"0-1,3","flags":["MPOL_F_STATIC_NODES"]}"#)
                .unwrap(),
            Policy {
                mode: MPOL_BIND | MPOL_F_STATIC_NODES,
                nodes: vec![0b1011]
            }
        );
        assert_eq!(
            policy(r#"{"mode":"MPOL_PREFERRED"}"#).unwrap().mode,
            MPOL_PREFERRED
        );
        assert_eq!(policy(r#"{"mode":"MPOL_LOCAL"}"#).unwrap().mode, MPOL_LOCAL);
        assert_eq!(
            policy(r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}"#)
                .unwrap()
                .mode,
            MPOL_BIND | MPOL_F_NUMA_BALANCING
        );
        assert_eq!(
            policy(r#"{"mode":"MPOL_WEIGHTED_INTERLEAVE","nodes":"0"}"#)
                .unwrap()
                .mode,
            6
        );
    }

    #[test]
    fn rejects_bad_policies() {
        assert!(serde_json::from_str::<LinuxMemoryPolicy>(r#"{"mode":"MPOL_FOO"}"#).is_err());
        let e = |j: &str| policy(j).unwrap_err().to_string();
        assert!(e(r#"{"mode":"MPOL_BIND"}"#).contains("at least one node"));
        assert!(e(r#"{"mode":"MPOL_INTERLEAVE","nodes":""}"#).contains("at least one node"));
        assert!(e(r#"{"mode":"MPOL_DEFAULT","nodes":"0"}"#).contains("takes no nodes"));
        assert!(e(r#"{"mode":"MPOL_LOCAL","nodes":"0"}"#).contains("takes no nodes"));
        assert!(e(r#"{"mode":"MPOL_BIND","nodes":"0-x"}"#).starts_with("linux.memoryPolicy.nodes"));
        assert!(e(r#"{"mode":"MPOL_BIND","nodes":"2000"}"#).contains("out of range"));
        assert!(e(r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#)
            .contains("mutually exclusive"));
        assert!(
            e(r#"{"mode":"MPOL_INTERLEAVE","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}"#)
                .contains("MPOL_F_NUMA_BALANCING")
        );
        assert!(
            e(r#"{"mode":"MPOL_LOCAL","flags":["MPOL_F_STATIC_NODES"]}"#).contains("need nodes")
        );
        assert!(
            e(r#"{"mode":"MPOL_DEFAULT","flags":["MPOL_F_STATIC_NODES"]}"#).contains("no flags")
        );
    }

    #[test]
    fn host_check_refuses_missing_nodes() {
        let p = policy(r#"{"mode":"MPOL_BIND","nodes":"1000"}"#).unwrap();
        assert!(check_host(&p)
            .unwrap_err()
            .to_string()
            .contains("not online"));
        let p = policy(r#"{"mode":"MPOL_BIND","nodes":"1000","flags":["MPOL_F_STATIC_NODES"]}"#)
            .unwrap();
        assert!(check_host(&p).is_ok());
        assert!(check_host(&policy(r#"{"mode":"MPOL_BIND","nodes":"0"}"#).unwrap()).is_ok());
    }
}
