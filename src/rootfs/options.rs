//! Mount options: the pure translation of a config.json `mounts[].options` list (fstab-style
//! strings) into `mount(2)` flags, propagation changes, recursive `mount_setattr` attributes
//! and the filesystem data string. No syscalls here; fuzzed by `fuzz/`.

use nix::mount::MsFlags;

use crate::sys::fs::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};

/// The parsed form of one mount's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for `mount(2)` (includes `MS_BIND`/`MS_REC` for bind/rbind, `MS_REMOUNT`...).
    pub flags: MsFlags,
    /// Flags the options explicitly turned off (`rw`, `suid`, `dev`, `exec`, `atime`...), so a
    /// bind remount knows not to keep them from the source mount.
    pub cleared: MsFlags,
    /// Propagation changes applied after the mount, in order (`MS_PRIVATE`, `MS_SHARED|MS_REC`..).
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`...) for `mount_setattr(AT_RECURSIVE)`.
    pub rec_attr_set: u64,
    pub rec_attr_clr: u64,
    /// `tmpcopyup`: copy the directory's previous contents into the new tmpfs.
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap`: an idmapped bind mount (see `rootfs::idmap`).
    pub idmap: Idmap,
    /// Everything else, comma-joined: the filesystem-specific data argument.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr_set: 0,
            rec_attr_clr: 0,
            tmpcopyup: false,
            idmap: Idmap::None,
            data: String::new(),
        }
    }
}

impl MountOptions {
    /// Whether these options ask for a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Whether recursive attributes must be applied.
    pub fn has_rec_attrs(&self) -> bool {
        self.rec_attr_set != 0 || self.rec_attr_clr != 0
    }
}

/// Whether (and how) a bind mount is idmapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    None,
    /// `idmap`: the top mount of the (possibly recursive) bind is idmapped.
    Top,
    /// `ridmap`: every mount of the bound tree is idmapped.
    Recursive,
}

/// The per-mount flags a bind mount needs a remount for (everything except bind/rec/remount).
pub fn remount_flags(flags: MsFlags) -> MsFlags {
    flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
}

/// `MS_NOSYMFOLLOW` (Linux 5.10; nix does not name it).
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// Parse one mount's option list. Never fails: unknown `x-*` options are dropped, any other
/// unknown option goes into the data string, as mount(8) does.
pub fn parse_mount_options<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut o = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let opt = opt.as_ref();
        // (flag, set?) for the plain mount(2) flags.
        let plain: Option<(MsFlags, bool)> = match opt {
            "defaults" => Some((MsFlags::empty(), true)),
            "ro" => Some((MsFlags::MS_RDONLY, true)),
            "rw" => Some((MsFlags::MS_RDONLY, false)),
            "suid" => Some((MsFlags::MS_NOSUID, false)),
            "nosuid" => Some((MsFlags::MS_NOSUID, true)),
            "dev" => Some((MsFlags::MS_NODEV, false)),
            "nodev" => Some((MsFlags::MS_NODEV, true)),
            "exec" => Some((MsFlags::MS_NOEXEC, false)),
            "noexec" => Some((MsFlags::MS_NOEXEC, true)),
            "sync" => Some((MsFlags::MS_SYNCHRONOUS, true)),
            "async" => Some((MsFlags::MS_SYNCHRONOUS, false)),
            "dirsync" => Some((MsFlags::MS_DIRSYNC, true)),
            "remount" => Some((MsFlags::MS_REMOUNT, true)),
            "mand" => Some((MsFlags::MS_MANDLOCK, true)),
            "nomand" => Some((MsFlags::MS_MANDLOCK, false)),
            "atime" => Some((MsFlags::MS_NOATIME, false)),
            "noatime" => Some((MsFlags::MS_NOATIME, true)),
            "diratime" => Some((MsFlags::MS_NODIRATIME, false)),
            "nodiratime" => Some((MsFlags::MS_NODIRATIME, true)),
            "relatime" => Some((MsFlags::MS_RELATIME, true)),
            "norelatime" => Some((MsFlags::MS_RELATIME, false)),
            "strictatime" => Some((MsFlags::MS_STRICTATIME, true)),
            "nostrictatime" => Some((MsFlags::MS_STRICTATIME, false)),
            "lazytime" => Some((MsFlags::MS_LAZYTIME, true)),
            "nolazytime" => Some((MsFlags::MS_LAZYTIME, false)),
            "silent" => Some((MsFlags::MS_SILENT, true)),
            "loud" => Some((MsFlags::MS_SILENT, false)),
            "nosymfollow" => Some((MS_NOSYMFOLLOW, true)),
            "symfollow" => Some((MS_NOSYMFOLLOW, false)),
            "bind" => Some((MsFlags::MS_BIND, true)),
            "rbind" => Some((MsFlags::MS_BIND | MsFlags::MS_REC, true)),
            _ => None,
        };
        if let Some((flag, set)) = plain {
            if set {
                // One atime mode at a time: the last one given wins, as with mount(8).
                if ATIME_FLAGS.contains(flag) {
                    o.flags &= !ATIME_FLAGS;
                }
                o.flags |= flag;
                o.cleared &= !flag;
            } else {
                o.flags &= !flag;
                o.cleared |= flag;
            }
            continue;
        }
        let prop = match opt {
            "private" => Some(MsFlags::MS_PRIVATE),
            "rprivate" => Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            "shared" => Some(MsFlags::MS_SHARED),
            "rshared" => Some(MsFlags::MS_SHARED | MsFlags::MS_REC),
            "slave" => Some(MsFlags::MS_SLAVE),
            "rslave" => Some(MsFlags::MS_SLAVE | MsFlags::MS_REC),
            "unbindable" => Some(MsFlags::MS_UNBINDABLE),
            "runbindable" => Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
            _ => None,
        };
        if let Some(p) = prop {
            o.propagation.push(p);
            continue;
        }
        // Recursive attributes: (attr, set?) ; atime modes are handled as a mode switch.
        let rec: Option<(u64, bool)> = match opt {
            "rro" => Some((MOUNT_ATTR_RDONLY, true)),
            "rrw" => Some((MOUNT_ATTR_RDONLY, false)),
            "rnosuid" => Some((MOUNT_ATTR_NOSUID, true)),
            "rsuid" => Some((MOUNT_ATTR_NOSUID, false)),
            "rnodev" => Some((MOUNT_ATTR_NODEV, true)),
            "rdev" => Some((MOUNT_ATTR_NODEV, false)),
            "rnoexec" => Some((MOUNT_ATTR_NOEXEC, true)),
            "rexec" => Some((MOUNT_ATTR_NOEXEC, false)),
            "rnodiratime" => Some((MOUNT_ATTR_NODIRATIME, true)),
            "rdiratime" => Some((MOUNT_ATTR_NODIRATIME, false)),
            "rnosymfollow" => Some((MOUNT_ATTR_NOSYMFOLLOW, true)),
            "rsymfollow" => Some((MOUNT_ATTR_NOSYMFOLLOW, false)),
            _ => None,
        };
        if let Some((attr, set)) = rec {
            if set {
                o.rec_attr_set |= attr;
                o.rec_attr_clr &= !attr;
            } else {
                o.rec_attr_clr |= attr;
                o.rec_attr_set &= !attr;
            }
            continue;
        }
        let atime_mode = match opt {
            "rnoatime" => Some(MOUNT_ATTR_NOATIME),
            "rstrictatime" => Some(MOUNT_ATTR_STRICTATIME),
            "rrelatime" | "ratime" | "rnorelatime" | "rnostrictatime" => Some(MOUNT_ATTR_RELATIME),
            _ => None,
        };
        if let Some(mode) = atime_mode {
            // The kernel wants the whole atime field cleared and exactly one mode set.
            o.rec_attr_clr |= MOUNT_ATTR__ATIME;
            o.rec_attr_set = (o.rec_attr_set & !MOUNT_ATTR__ATIME) | mode;
            continue;
        }
        if opt == "tmpcopyup" {
            o.tmpcopyup = true;
            continue;
        }
        // `ridmap` wins over `idmap` whatever the order: recursion is never silently dropped.
        if opt == "idmap" {
            if o.idmap == Idmap::None {
                o.idmap = Idmap::Top;
            }
            continue;
        }
        if opt == "ridmap" {
            o.idmap = Idmap::Recursive;
            continue;
        }
        if opt.starts_with("x-") || opt.is_empty() {
            continue;
        }
        data.push(opt);
    }
    o.data = data.join(",");
    o
}

/// `MsFlags` (per-mount ones) -> `(attr_set, attr_clr)` for a non-recursive `mount_setattr`,
/// honouring the flags that were explicitly cleared. Unmentioned attributes are kept.
pub fn flags_to_attr(flags: MsFlags, cleared: MsFlags) -> (u64, u64) {
    let mut set = 0;
    let mut clr = 0;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags.contains(ms) {
            set |= attr;
        } else if cleared.contains(ms) {
            clr |= attr;
        }
    }
    let mode = if flags.contains(MsFlags::MS_NOATIME) {
        Some(MOUNT_ATTR_NOATIME)
    } else if flags.contains(MsFlags::MS_STRICTATIME) {
        Some(MOUNT_ATTR_STRICTATIME)
    } else if flags.contains(MsFlags::MS_RELATIME) || cleared.intersects(ATIME_FLAGS) {
        Some(MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(mode) = mode {
        clr |= MOUNT_ATTR__ATIME;
        set |= mode;
    }
    (set, clr)
}

/// `linux.rootfsPropagation` -> the flags for `mount("", "/", MS_REC|...)`.
pub fn parse_rootfs_propagation(value: &str) -> Option<MsFlags> {
    let f = match value {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    };
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_flags_and_data() {
        let o = parse_mount_options(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.is_bind());
        assert!(o.propagation.is_empty());
    }

    #[test]
    fn later_option_wins_and_cleared_is_tracked() {
        let o = parse_mount_options(&["ro", "rw", "nodev", "dev", "noexec"]);
        assert_eq!(o.flags, MsFlags::MS_NOEXEC);
        assert!(o.cleared.contains(MsFlags::MS_RDONLY | MsFlags::MS_NODEV));
        let o = parse_mount_options(&["rw", "ro"]);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert!(!o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn every_plain_option_is_known() {
        for opt in [
            "defaults",
            "ro",
            "rw",
            "suid",
            "nosuid",
            "dev",
            "nodev",
            "exec",
            "noexec",
            "sync",
            "async",
            "dirsync",
            "remount",
            "mand",
            "nomand",
            "atime",
            "noatime",
            "diratime",
            "nodiratime",
            "relatime",
            "norelatime",
            "strictatime",
            "nostrictatime",
            "lazytime",
            "nolazytime",
            "silent",
            "loud",
            "bind",
            "rbind",
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
            "rro",
            "rrw",
            "rnosuid",
            "rsuid",
            "rnodev",
            "rdev",
            "rnoexec",
            "rexec",
            "rnoatime",
            "ratime",
            "rrelatime",
            "rnorelatime",
            "rstrictatime",
            "rnostrictatime",
            "rnodiratime",
            "rdiratime",
            "tmpcopyup",
            "idmap",
            "ridmap",
            "x-systemd.automount",
        ] {
            assert_eq!(
                parse_mount_options(&[opt]).data,
                "",
                "{opt} leaked into data"
            );
        }
    }

    #[test]
    fn bind_rbind_and_propagation_order() {
        let o = parse_mount_options(&["rbind", "ro", "rprivate", "shared"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert_eq!(remount_flags(o.flags), MsFlags::MS_RDONLY);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SHARED]
        );
        let o = parse_mount_options(&["bind"]);
        assert!(o.is_bind() && !o.flags.contains(MsFlags::MS_REC));
    }

    #[test]
    fn recursive_attrs() {
        let o = parse_mount_options(&["rro", "rnosuid", "rdev", "rnoatime"]);
        assert_eq!(
            o.rec_attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_attr_clr, MOUNT_ATTR_NODEV | MOUNT_ATTR__ATIME);
        assert!(o.has_rec_attrs());
        assert!(o.flags.is_empty());
        let o = parse_mount_options(&["rro", "rrw"]);
        assert_eq!((o.rec_attr_set, o.rec_attr_clr), (0, MOUNT_ATTR_RDONLY));
        let o = parse_mount_options(&["rstrictatime", "rrelatime"]);
        assert_eq!(o.rec_attr_set & MOUNT_ATTR__ATIME, MOUNT_ATTR_RELATIME);
        assert_eq!(o.rec_attr_clr, MOUNT_ATTR__ATIME);
    }

    #[test]
    fn unknown_options_and_x_options() {
        let o = parse_mount_options(&["x-foo=bar", "uid=5", "", "gid=5", "tmpcopyup"]);
        assert_eq!(o.data, "uid=5,gid=5");
        assert!(o.tmpcopyup);
        let empty: [&str; 0] = [];
        assert_eq!(parse_mount_options(&empty), MountOptions::default());
    }

    #[test]
    fn idmap_and_ridmap() {
        assert_eq!(parse_mount_options(&["bind"]).idmap, Idmap::None);
        assert_eq!(parse_mount_options(&["bind", "idmap"]).idmap, Idmap::Top);
        assert_eq!(
            parse_mount_options(&["rbind", "ridmap"]).idmap,
            Idmap::Recursive
        );
        assert_eq!(
            parse_mount_options(&["ridmap", "idmap"]).idmap,
            Idmap::Recursive
        );
        let o = parse_mount_options(&["idmap", "rw"]);
        assert_eq!(o.data, "");
        assert!(!o.is_bind());
    }

    #[test]
    fn one_atime_mode_reaches_the_kernel() {
        let o = parse_mount_options(&["noatime", "strictatime"]);
        assert_eq!(o.flags & ATIME_FLAGS, MsFlags::MS_STRICTATIME);
    }

    #[test]
    fn flags_to_attr_keeps_unmentioned() {
        let o = parse_mount_options(&["bind", "ro", "dev", "noatime"]);
        let (set, clr) = flags_to_attr(remount_flags(o.flags), o.cleared);
        assert_eq!(set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
        assert_eq!(clr, MOUNT_ATTR_NODEV | MOUNT_ATTR__ATIME);
        assert_eq!(flags_to_attr(MsFlags::empty(), MsFlags::empty()), (0, 0));
    }

    #[test]
    fn rootfs_propagation_values() {
        assert_eq!(
            parse_rootfs_propagation("rslave"),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(
            parse_rootfs_propagation("unbindable"),
            Some(MsFlags::MS_UNBINDABLE)
        );
        assert_eq!(parse_rootfs_propagation("bogus"), None);
    }

    #[test]
    fn a_later_no_atime_option_is_not_undone() {
        // Found by the mount_options fuzz target: the last-mode fix-up re-added a mode that a
        // later "norelatime" had cleared.
        let o = parse_mount_options(&["noatime", "strictatime", "relatime", "norelatime"]);
        assert_eq!(o.flags & o.cleared, MsFlags::empty(), "{o:?}");
        assert!(!o.flags.contains(MsFlags::MS_RELATIME), "{o:?}");
        let o = parse_mount_options(&["noatime", "relatime", "strictatime"]);
        assert_eq!(o.flags & ATIME_FLAGS, MsFlags::MS_STRICTATIME, "{o:?}");
    }
}
