//! The `features` document (runtime-spec features.md): what this build of oxirun implements.
//! Nothing is advertised that does not work; the tests check the lists against the code that
//! implements them (mount options against the parser, hooks against `hooks::Kind`).

use serde_json::{json, Value};

/// Mount options the rootfs code understands (see `rootfs::options`). `remount` is parsed
/// but not advertised: a fresh mount has nothing to remount (runc fails the same way).
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Namespaces oxirun can create and join.
pub const NAMESPACES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

fn capabilities() -> Vec<String> {
    let mut all: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    all.sort();
    all
}

fn seccomp() -> Value {
    let f = oxirun_seccomp::features();
    if !f.enabled {
        return json!({"enabled": false});
    }
    json!({
        "enabled": true,
        "actions": f.actions,
        "operators": f.operators,
        "archs": f.archs,
        "knownFlags": f.known_flags,
        "supportedFlags": f.supported_flags,
    })
}

pub fn document() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": capabilities(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": false},
            "seccomp": seccomp(),
            "apparmor": {"enabled": crate::attrs::lsm::apparmor_enabled()},
            "selinux": {"enabled": crate::attrs::lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": {
                "modes": [
                    "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                    "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"
                ],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            }
        },
        "annotations": {
            // True only when `criu check` passes here (criu 3.17 refuses kernel 6.18).
            "org.opencontainers.runc.checkpoint.enabled":
                crate::checkpoint::criu::usable(std::path::Path::new("criu")).to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::parse_mount_options;

    #[test]
    fn every_advertised_mount_option_is_understood() {
        for opt in MOUNT_OPTIONS {
            let parsed = parse_mount_options(&[*opt]);
            assert!(
                parsed.data.is_empty(),
                "{opt} is advertised but the parser passes it through as fs data"
            );
        }
    }

    #[test]
    fn hooks_match_the_kinds_we_run() {
        use crate::hooks::Kind::*;
        let names: Vec<&str> = [
            Prestart,
            CreateRuntime,
            CreateContainer,
            StartContainer,
            Poststart,
            Poststop,
        ]
        .iter()
        .map(|k| k.name())
        .collect();
        assert_eq!(names, HOOKS);
    }

    #[test]
    fn capability_names_are_oci_names() {
        let caps = capabilities();
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(caps.iter().all(|c| c.starts_with("CAP_")));
    }
}
