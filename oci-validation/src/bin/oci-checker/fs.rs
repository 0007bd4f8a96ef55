//! The container's filesystem: config.md `root` and `mounts`, config-linux.md devices, default
//! devices, /dev symlinks, maskedPaths, readonlyPaths and rootfsPropagation, all read from
//! /proc/self/mountinfo and stat(2) inside the container.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

use oci_validation::mountinfo::{self, Mount};
use oci_validation::sys;
use oci_validation::tap::Outcome;
use serde_json::Value;

use crate::{get, strs, Report};

/// Options observable in the per-mount flags of mountinfo.
const FLAG_OPTIONS: [&str; 7] = [
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "noatime",
    "nodiratime",
    "relatime",
];

pub fn check(cfg: &Value, r: &mut Report) {
    let mounts = mountinfo::parse(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
    root(cfg, &mounts, r);
    config_mounts(cfg, &mounts, r);
    devices(cfg, r);
    masked(cfg, r);
    readonly(cfg, &mounts, r);
}

fn root(cfg: &Value, mounts: &[Mount], r: &mut Report) {
    // root.readonly: "If true then the root filesystem MUST be read-only inside the container"
    let ro = get(cfg, &["root", "readonly"]).as_bool().unwrap_or(false);
    let outcome = match mountinfo::at(mounts, "/") {
        None => Outcome::Fail("no mount at / in mountinfo".into()),
        Some((_, m)) => Outcome::eq(m.has_option("ro"), ro),
    };
    r.add(
        "config.md#root",
        format!(
            "root.readonly={ro}: / is mounted {}",
            if ro { "ro" } else { "rw" }
        ),
        outcome,
    );
    // rootfsPropagation: "sets the rootfs's mount propagation"
    if let Some(p) = get(cfg, &["linux", "rootfsPropagation"]).as_str() {
        let want = p.trim_start_matches('r');
        let outcome = match mountinfo::at(mounts, "/") {
            None => Outcome::Fail("no mount at /".into()),
            Some((_, m)) => Outcome::eq(m.propagation(), want),
        };
        r.add(
            "config-linux.md#rootfs-mount-propagation",
            format!("rootfsPropagation {p}"),
            outcome,
        );
    }
}

fn config_mounts(cfg: &Value, mounts: &[Mount], r: &mut Report) {
    const SEC: &str = "config.md#mounts";
    let list = get(cfg, &["mounts"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut index = Vec::new();
    for m in &list {
        let dest = m["destination"]
            .as_str()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let opts = strs(m, &["options"]);
        let found = mountinfo::at(mounts, &dest);
        index.push((dest.clone(), found.map(|(i, _)| i)));
        // destination: "Destination of mount point: path inside container"
        let Some((_, mi)) = found else {
            r.add(
                SEC,
                format!("{dest} is a mount point"),
                Outcome::Fail("not in /proc/self/mountinfo".into()),
            );
            continue;
        };
        r.add(SEC, format!("{dest} is a mount point"), Outcome::Pass);
        let bind = opts.iter().any(|o| o == "bind" || o == "rbind") || m["type"] == "bind";
        if let (Some(ty), false) = (m["type"].as_str(), bind) {
            // cgroup v1 has no single filesystem: runtimes mount a tmpfs holding per-controller
            // cgroup mounts at the destination (README: "cgroup mount on v1").
            let ok = mi.fstype == ty || (ty == "cgroup" && mi.fstype == "tmpfs");
            r.add(
                SEC,
                format!("{dest} type {ty}"),
                Outcome::check(ok, || format!("got {}", mi.fstype)),
            );
        }
        for o in &opts {
            let o = o.as_str();
            let outcome = if FLAG_OPTIONS.contains(&o) {
                Outcome::check(mi.has_option(o), || {
                    format!("mount options {:?}", mi.options)
                })
            } else if o == "rw" {
                Outcome::check(!mi.has_option("ro"), || {
                    format!("mount options {:?}", mi.options)
                })
            } else if let Some(p) = ["shared", "slave", "private", "unbindable"]
                .iter()
                .find(|p| o.trim_start_matches('r') == **p)
            {
                Outcome::eq(mi.propagation(), *p)
            } else if let (Some(mode), "tmpfs") = (o.strip_prefix("mode="), mi.fstype.as_str()) {
                let got = fs::metadata(&dest).map(|m| m.mode() & 0o7777).unwrap_or(0);
                Outcome::eq(format!("{got:o}"), mode.trim_start_matches('0').to_string())
            } else {
                continue;
            };
            r.add(SEC, format!("{dest} option {o}"), outcome);
        }
        // bind sources carry a marker file naming them (written by the driver).
        if let Some(src) = m["source"].as_str().filter(|_| bind) {
            if let Ok(marker) = fs::read_to_string(format!("{dest}/.ocv-source")) {
                r.add(
                    SEC,
                    format!("{dest} shows its bind source"),
                    Outcome::eq(marker.trim(), src),
                );
            }
        }
    }
    // "The runtime MUST mount entries in the listed order."
    for (i, (a, ia)) in index.iter().enumerate() {
        for (b, ib) in &index[i + 1..] {
            if let (true, Some(ia), Some(ib)) = (b.starts_with(&format!("{a}/")), ia, ib) {
                r.add(
                    SEC,
                    format!("{b} mounted after {a} (listed order)"),
                    Outcome::check(ib > ia, || "mounted before its parent".into()),
                );
            }
        }
    }
}

fn dev_kind(m: &fs::Metadata) -> char {
    let t = m.file_type();
    if t.is_char_device() {
        'c'
    } else if t.is_block_device() {
        'b'
    } else if t.is_fifo() {
        'p'
    } else {
        '?'
    }
}

fn devices(cfg: &Value, r: &mut Report) {
    const SEC: &str = "config-linux.md#devices";
    for d in get(cfg, &["linux", "devices"])
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = d["path"].as_str().unwrap_or("");
        let Ok(m) = fs::symlink_metadata(path) else {
            r.add(
                SEC,
                format!("{path} exists"),
                Outcome::Fail("missing".into()),
            );
            continue;
        };
        let want = match d["type"].as_str().unwrap_or("") {
            "u" => 'c',
            t => t.chars().next().unwrap_or('?'),
        };
        r.add(
            SEC,
            format!("{path} type {want}"),
            Outcome::eq(dev_kind(&m), want),
        );
        if want != 'p' {
            let want = (
                d["major"].as_u64().unwrap_or(0),
                d["minor"].as_u64().unwrap_or(0),
            );
            r.add(
                SEC,
                format!("{path} major:minor {}:{}", want.0, want.1),
                Outcome::eq(sys::major_minor(m.rdev()), want),
            );
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            r.add(
                SEC,
                format!("{path} fileMode {mode:o}"),
                Outcome::eq(
                    format!("{:o}", m.mode() & 0o777),
                    format!("{:o}", mode & 0o777),
                ),
            );
        }
        for (k, got) in [("uid", m.uid()), ("gid", m.gid())] {
            if let Some(w) = d[k].as_u64() {
                r.add(SEC, format!("{path} {k} {w}"), Outcome::eq(got as u64, w));
            }
        }
    }
    allowlist(cfg, r);
    // Default devices: "the runtime MUST also supply" these.
    const DEF: &str = "config-linux.md#default-devices";
    for (p, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let outcome = match fs::symlink_metadata(p) {
            Err(e) => Outcome::Fail(e.to_string()),
            Ok(m) => Outcome::eq(
                (dev_kind(&m), sys::major_minor(m.rdev())),
                ('c', (maj, min)),
            ),
        };
        r.add(DEF, format!("{p} is char {maj}:{min}"), outcome);
    }
    // "/dev/ptmx. A bind-mount or symlink of the container's /dev/pts/ptmx."
    let outcome = match (fs::read_link("/dev/ptmx"), fs::metadata("/dev/ptmx")) {
        (Ok(t), _) => Outcome::check(
            t.to_str() == Some("pts/ptmx") || t.to_str() == Some("/dev/pts/ptmx"),
            || format!("links to {t:?}"),
        ),
        (_, Ok(m)) => Outcome::eq((dev_kind(&m), sys::major_minor(m.rdev())), ('c', (5, 2))),
        (_, Err(e)) => Outcome::Fail(e.to_string()),
    };
    r.add(
        DEF,
        "/dev/ptmx links to (or is a bind of) /dev/pts/ptmx",
        outcome,
    );
    if get(cfg, &["process", "terminal"]).as_bool() == Some(true) {
        r.add(
            DEF,
            "/dev/console exists (terminal: true)",
            Outcome::check(fs::metadata("/dev/console").is_ok(), || "missing".into()),
        );
    }
    // "Dev symbolic links": runtime MUST create them if the source exists after processing mounts.
    const SYM: &str = "runtime-linux.md#dev-symbolic-links";
    for (l, t) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = fs::read_link(l)
            .map(|p| p.display().to_string())
            .map_err(|e| e.to_string());
        r.add(
            SYM,
            format!("{l} -> {t}"),
            Outcome::eq(got, Ok(t.to_string())),
        );
    }
}

fn masked(cfg: &Value, r: &mut Report) {
    // maskedPaths: "will mask over the provided paths inside the container so that they cannot be read"
    const SEC: &str = "config-linux.md#masked-paths";
    for p in strs(cfg, &["linux", "maskedPaths"]) {
        let outcome = match fs::metadata(&p) {
            Err(_) => Outcome::Pass, // absent: nothing to read
            Ok(m) if m.is_dir() => match fs::read_dir(&p) {
                Ok(mut d) => Outcome::check(d.next().is_none(), || {
                    "directory content is readable".into()
                }),
                Err(_) => Outcome::Pass,
            },
            Ok(_) => match fs::File::open(&p) {
                Err(_) => Outcome::Pass,
                Ok(mut f) => {
                    let mut buf = [0u8; 64];
                    match f.read(&mut buf) {
                        Ok(0) | Err(_) => Outcome::Pass,
                        Ok(n) => Outcome::Fail(format!("read {n} bytes")),
                    }
                }
            },
        };
        r.add(SEC, format!("{p} cannot be read"), outcome);
    }
}

fn readonly(cfg: &Value, mounts: &[Mount], r: &mut Report) {
    // readonlyPaths: "will set the provided paths as readonly inside the container"
    const SEC: &str = "config-linux.md#readonly-paths";
    for p in strs(cfg, &["linux", "readonlyPaths"]) {
        if fs::symlink_metadata(&p).is_err() {
            r.add(
                SEC,
                format!("{p} read-only"),
                Outcome::Skip("path absent in this container".into()),
            );
            continue;
        }
        let outcome = match mountinfo::at(mounts, &p) {
            None => Outcome::Fail("not a mount point (no read-only remount)".into()),
            Some((_, m)) => {
                Outcome::check(m.has_option("ro"), || format!("options {:?}", m.options))
            }
        };
        r.add(SEC, format!("{p} read-only"), outcome);
    }
}

/// Whether the last matching linux.resources.devices rule allows reading `(kind, major, minor)`.
fn allowed(rules: &[Value], kind: char, major: u64, minor: u64) -> bool {
    let mut ok = true;
    for rule in rules {
        let ty = rule["type"].as_str().unwrap_or("a");
        let hit = (ty == "a" || ty.starts_with(kind))
            && rule["major"].as_u64().is_none_or(|m| m == major)
            && rule["minor"].as_u64().is_none_or(|m| m == minor)
            && rule["access"].as_str().unwrap_or("rwm").contains('r');
        if hit {
            ok = rule["allow"].as_bool().unwrap_or(false);
        }
    }
    ok
}

fn allowlist(cfg: &Value, r: &mut Report) {
    // resources.devices: "allow (boolean, REQUIRED) whether the entry is allowed or denied"
    const SEC: &str = "config-linux.md#allowed-device-list";
    let Some(rules) = get(cfg, &["linux", "resources", "devices"]).as_array() else {
        return;
    };
    for d in get(cfg, &["linux", "devices"])
        .as_array()
        .into_iter()
        .flatten()
    {
        let (path, kind) = (
            d["path"].as_str().unwrap_or(""),
            d["type"]
                .as_str()
                .unwrap_or("")
                .chars()
                .next()
                .unwrap_or('?'),
        );
        if kind != 'c' && kind != 'b' {
            continue;
        }
        let allow = allowed(
            rules,
            kind,
            d["major"].as_u64().unwrap_or(0),
            d["minor"].as_u64().unwrap_or(0),
        );
        let res = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        let eperm = matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EPERM));
        let outcome = Outcome::check(allow != eperm, || {
            format!(
                "open: {:?}",
                res.as_ref().map(|_| ()).map_err(|e| e.to_string())
            )
        });
        r.add(
            SEC,
            format!(
                "{path} open {}",
                if allow { "allowed" } else { "denied (EPERM)" }
            ),
            outcome,
        );
    }
}
