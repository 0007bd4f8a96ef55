//! Bundle loading and validation: config.json -> `oci_spec::runtime::Spec`, checked before
//! anything is created. Every user error in a config is found here and named by its field.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// Largest config.json we read (a malicious one must not exhaust memory).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A loaded, validated bundle.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute, canonical root filesystem path.
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// `linux.seccomp`, compiled (and so validated) before anything is created.
    pub seccomp: Option<oxirun_seccomp::Program>,
}

/// Load `<dir>/config.json` and validate it for creating a container.
pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(dir).with_context(|| format!("bundle {}", dir.display()))?;
    let spec = read_config(&dir.join("config.json"))?;
    let rootfs = validate(&spec, &dir)?;
    let seccomp = compile_seccomp(&spec)?;
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        seccomp,
    })
}

/// Compile `linux.seccomp`; the profile's notes (unknown syscall names...) go to the debug log.
pub fn compile_seccomp(spec: &Spec) -> Result<Option<oxirun_seccomp::Program>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let program = oxirun_seccomp::compile(s).map_err(|e| anyhow!("{e}"))?;
    for note in program.notes() {
        crate::logging::debug(&format!("seccomp: {note}"));
    }
    Ok(Some(program))
}

/// Read and parse config.json, bounded in size.
pub fn read_config(path: &Path) -> Result<Spec> {
    let file = File::open(path).map_err(|e| anyhow!("config.json: {}: {e}", path.display()))?;
    let mut buf = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| anyhow!("config.json: {}: {e}", path.display()))?;
    if buf.len() as u64 > MAX_CONFIG_BYTES {
        bail!("config.json: larger than {} MiB", MAX_CONFIG_BYTES >> 20);
    }
    parse_config(&buf)
}

/// Parse config.json bytes (serde_json keeps its recursion limit, so deep nesting is an error).
/// Errors name the field (`config.json: linux.namespaces[2].type: unknown variant ...`).
pub fn parse_config(bytes: &[u8]) -> Result<Spec> {
    // The common case parses once, untracked; only a failing config is parsed again with
    // its path tracked, for an error that names the field.
    if let Ok(spec) =
        <Spec as serde::Deserialize>::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
    {
        return Ok(spec);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            anyhow!("config.json: {}", e.inner())
        } else {
            anyhow!("config.json: {path}: {}", e.inner())
        }
    })
}

/// Check a container id: `[A-Za-z0-9_+.-]+`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-'));
    if !ok {
        bail!("invalid container ID format: {id:?}");
    }
    Ok(())
}

fn no_nul(field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        bail!("{field}: contains a NUL byte");
    }
    Ok(())
}

fn no_nul_path(field: &str, value: &Path) -> Result<()> {
    no_nul(field, &value.to_string_lossy())
}

/// The canonical path of the rootfs directory: opened once, named by its /proc/self/fd link
/// (three syscalls; `canonicalize` readlinks every component of the path in turn).
fn canonical_dir(rootfs: &Path) -> Result<PathBuf> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(rootfs)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => anyhow!("root.path: {} is not a directory", rootfs.display()),
            _ => anyhow!("root.path: {}: {e}", rootfs.display()),
        })?;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    match link {
        Ok(p) if p.is_absolute() => Ok(p),
        _ => rootfs
            .canonicalize()
            .map_err(|e| anyhow!("root.path: {}: {e}", rootfs.display())),
    }
}

/// Validate everything a create needs; returns the canonical rootfs path.
pub fn validate(spec: &Spec, dir: &Path) -> Result<PathBuf> {
    let version = spec.version();
    if !(version.starts_with("1.") || version == "1") {
        bail!("ociVersion: unsupported version {version:?} (oxirun supports 1.x)");
    }

    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| anyhow!("root: missing (root.path is required)"))?;
    no_nul_path("root.path", root.path())?;
    let rootfs = canonical_dir(&dir.join(root.path()))?;

    validate_process(spec)?;
    validate_linux(spec)?;

    if let Some(hostname) = spec.hostname() {
        no_nul("hostname", hostname)?;
    }
    if let Some(mounts) = spec.mounts() {
        for (i, m) in mounts.iter().enumerate() {
            no_nul_path(&format!("mounts[{i}].destination"), m.destination())?;
            if let Some(src) = m.source() {
                no_nul_path(&format!("mounts[{i}].source"), src)?;
            }
            for opt in m.options().iter().flatten() {
                no_nul(&format!("mounts[{i}].options"), opt)?;
            }
        }
    }
    Ok(rootfs)
}

fn validate_process(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| anyhow!("process: missing (required to create a container)"))?;
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        bail!("process.args: must not be empty");
    }
    for (i, a) in args.iter().enumerate() {
        no_nul(&format!("process.args[{i}]"), a)?;
    }
    if args[0].is_empty() {
        bail!("process.args[0]: must not be empty");
    }
    for (i, e) in process.env().iter().flatten().enumerate() {
        no_nul(&format!("process.env[{i}]"), e)?;
    }
    no_nul_path("process.cwd", process.cwd())?;
    if !process.cwd().is_absolute() {
        bail!(
            "process.cwd: must be an absolute path, got {:?}",
            process.cwd().display().to_string()
        );
    }
    let mut seen_rlimits = HashSet::new();
    for rl in process.rlimits().iter().flatten() {
        let name = crate::process::rlimit_name(rl.typ());
        if !seen_rlimits.insert(name.clone()) {
            bail!("process.rlimits: duplicate entry for {name}");
        }
        if rl.soft() > rl.hard() {
            bail!(
                "process.rlimits: {name} soft limit {} is above its hard limit {}",
                rl.soft(),
                rl.hard()
            );
        }
    }
    Ok(())
}

fn validate_linux(spec: &Spec) -> Result<()> {
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| anyhow!("linux: missing (required on Linux)"))?;
    let mut seen = HashSet::new();
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    for ns in namespaces {
        let what = crate::namespaces::name(ns.typ());
        if !seen.insert(ns.typ()) {
            bail!("linux.namespaces: duplicate namespace type {what:?}");
        }
        if let Some(path) = ns.path() {
            no_nul_path("linux.namespaces.path", path)?;
            crate::namespaces::open_checked(ns, path)?;
        }
    }
    // A UTS namespace of the container's own (new, or joined by path as a Kubernetes pod's
    // containers do); without one the hostname would be the host's.
    let own_uts = namespaces
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::Uts);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("hostname: setting the hostname requires a UTS namespace");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !own_uts {
        bail!("domainname: setting the domainname requires a UTS namespace");
    }
    crate::userns::validate(spec)?;
    crate::rootfs::idmap::validate(spec)?;
    crate::sysctl::validate(spec)?;
    crate::attrs::validate(spec)?;
    if let Some(p) = linux.cgroups_path() {
        no_nul_path("linux.cgroupsPath", p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-DEF_1.2+3", "x.y"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "a\0b", "é"] {
            let err = validate_id(bad).unwrap_err().to_string();
            assert!(err.contains("invalid container ID format"), "{bad}: {err}");
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse_config(
            br#"{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("config.json: linux.namespaces[1].type: unknown variant"),
            "{err}"
        );
        let err = parse_config(
            br#"{"ociVersion":"1.0.0","process":{"cwd":"/","user":{"uid":4294967296,"gid":0}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("config.json: process.user.uid: invalid value"),
            "{err}"
        );
    }

    #[test]
    fn exec_cpu_affinity_syntax_is_checked_at_parse() {
        // oci-spec checks it with its one regex (served by regex-lite, shims/regex).
        let cfg = |list: &str| {
            format!(
                r#"{{"ociVersion":"1.0.0","process":{{"cwd":"/","user":{{"uid":0,"gid":0}},
                "execCPUAffinity":{{"initial":"{list}"}}}}}}"#
            )
        };
        for good in ["0", "0-1", "0-1,3,5-7"] {
            assert!(parse_config(cfg(good).as_bytes()).is_ok(), "{good}");
        }
        // Not a CPU list; and digits outside ASCII (which a Unicode `\d` would accept).
        for bad in ["", "a", "1-", "0,,1", "\u{0663}", "\u{ff11}"] {
            let err = parse_config(cfg(bad).as_bytes()).unwrap_err().to_string();
            assert!(err.contains("execCPUAffinity"), "{bad}: {err}");
        }
    }

    #[test]
    fn broken_json_names_config() {
        let err = parse_config(b"{").unwrap_err().to_string();
        assert!(err.starts_with("config.json:"), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // 100 000 nested arrays, closed: a recursive parser would overflow the stack here.
        let depth = 100_000;
        let s = format!(
            "{{\"ociVersion\":\"1.0.0\",\"annotations\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let err = parse_config(s.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("config.json:"), "{err}");
    }
}
