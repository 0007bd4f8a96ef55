//! What the process sees inside (the probe: a busybox `sh` script printing `key=value` lines)
//! and what a scenario leaves on the host, each as `(key, value)` observations.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::checks::{cgroup_dirs, mount_points, parse_mountinfo, processes_inside};

/// The in-container probe. Values that differ per run (pids, inode numbers, host paths) are
/// normalised by [`parse_probe`].
pub const PROBE: &str = r#"echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
echo "cwd=$(pwd)"; echo "hostname=$(hostname)"; echo "umask=$(umask)"
echo "tty=$(tty 2>/dev/null || echo none)"
t=$(tty 2>/dev/null) && echo "tty_owner=$(stat -c '%u:%g %a' "$t")"
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
echo "oom_score_adj=$(cat /proc/self/oom_score_adj)"
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward 2>&1)"
echo "root_writable=$(touch /.probe 2>/dev/null && echo yes || echo no)"
env | sort | sed 's/^/env./'
for n in cgroup ipc mnt net pid user uts; do echo "ns.$n=$(readlink /proc/self/ns/$n)"; done
sed 's/^/cgroup=/' /proc/self/cgroup
sed 's/^/limit=/' /proc/self/limits
sed 's/^/mount=/' /proc/self/mountinfo
"#;

/// The test process's own namespaces (`ns.<type>` -> link text) to tell "host" from "new".
pub fn host_namespaces() -> BTreeMap<String, String> {
    ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]
        .iter()
        .filter_map(|n| {
            let l = fs::read_link(format!("/proc/self/ns/{n}")).ok()?;
            Some((format!("ns.{n}"), l.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Mount options that matter for a comparison; the rest (relatime, propagation peers, ...)
/// are the host's business.
fn key_opts(opts: &[String], super_opts: &[String]) -> String {
    let mut v: Vec<&str> = opts
        .iter()
        .map(String::as_str)
        .filter(|o| ["ro", "rw", "nosuid", "nodev", "noexec"].contains(o))
        .collect();
    v.extend(
        super_opts
            .iter()
            .map(String::as_str)
            .filter(|o| o.starts_with("mode=") || o.starts_with("size=")),
    );
    v.join(",")
}

/// Probe output (already with placeholders) as `probe.<key>` observations.
pub fn parse_probe(
    stdout: &str,
    host_ns: &BTreeMap<String, String>,
    out: &mut Vec<(String, String)>,
) {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut mounts = String::new();
    for line in stdout.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("mount=") {
            mounts.push_str(m);
            mounts.push('\n');
        } else if let Some(l) = line.strip_prefix("limit=") {
            // "Max open files            1024                 1024                 files"
            let cols: Vec<&str> = l.split("  ").filter(|c| !c.trim().is_empty()).collect();
            if let Some((name, vals)) = cols.split_first() {
                if *name != "Limit" {
                    let vals: Vec<&str> = vals.iter().map(|v| v.trim()).collect();
                    out.push((format!("probe.limit.{}", name.trim()), vals.join(" ")));
                }
            }
        } else if let Some(l) = line.strip_prefix("cgroup=") {
            // "N:controllers:/path": the hierarchy number is the host's.
            let mut it = l.splitn(3, ':');
            let (_, ctl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
            multi
                .entry(format!("probe.cgroup.{ctl}"))
                .or_default()
                .push(path.to_string());
        } else if let Some((k, v)) = line.split_once('=').filter(|(k, _)| !k.contains(' ')) {
            let v = if k.starts_with("ns.") {
                match host_ns.get(k) {
                    Some(h) if h == v => "host".to_string(),
                    _ if v.is_empty() => "absent".to_string(),
                    _ => "new".to_string(),
                }
            } else {
                v.trim().to_string()
            };
            out.push((format!("probe.{k}"), v));
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((format!("probe.{k}"), v.trim().to_string()));
        } else if !line.trim().is_empty() {
            multi
                .entry("probe.other".to_string())
                .or_default()
                .push(line.to_string());
        }
    }
    for m in parse_mountinfo(&mounts) {
        multi
            .entry(format!("probe.mount {}", m.mount_point))
            .or_default()
            .push(format!("{} {}", m.fstype, key_opts(&m.opts, &m.super_opts)));
    }
    for (k, v) in multi {
        out.push((k, v.join(" | ")));
    }
}

/// What is left on the host after the scenario's steps: the state root's entries, the
/// container's cgroup dirs, mounts below the scenario's own dir, processes in the bundle.
pub fn leftovers(
    root: &Path,
    dir: &Path,
    bundle: &Path,
    cgroup_rel: &str,
    subst: &dyn Fn(&str) -> String,
    out: &mut Vec<(String, String)>,
) {
    let mut entries: Vec<String> = fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| subst(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    out.push(("host.state-root entries".into(), entries.join(" ")));
    out.push((
        "host.cgroup dirs".into(),
        cgroup_dirs(cgroup_rel).len().to_string(),
    ));
    let mounts: Vec<String> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .map(|m| subst(&m.to_string_lossy()))
        .collect();
    out.push(("host.mounts".into(), mounts.join(" ")));
    out.push((
        "host.processes".into(),
        processes_inside(bundle).len().to_string(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_lines() {
        let mut ns = BTreeMap::new();
        ns.insert("ns.net".to_string(), "net:[1]".to_string());
        let text = "uid=0\nCapEff:\t00000000a80425fb\nns.net=net:[1]\nns.pid=pid:[9]\n\
                    cgroup=4:memory:/oxirun-it/<id>\n\
                    limit=Max open files            1024                 2048                 files     \n\
                    mount=40 1 0:33 / /tmp rw,nosuid,relatime - tmpfs tmpfs rw,size=8k,mode=1777\n";
        let mut out = Vec::new();
        parse_probe(text, &ns, &mut out);
        let m: BTreeMap<_, _> = out.into_iter().collect();
        assert_eq!(m["probe.uid"], "0");
        assert_eq!(m["probe.CapEff"], "00000000a80425fb");
        assert_eq!(m["probe.ns.net"], "host");
        assert_eq!(m["probe.ns.pid"], "new");
        assert_eq!(m["probe.cgroup.memory"], "/oxirun-it/<id>");
        assert_eq!(m["probe.limit.Max open files"], "1024 2048 files");
        assert_eq!(m["probe.mount /tmp"], "tmpfs rw,nosuid,size=8k,mode=1777");
    }
}
