//! `rootfs::parse_mount_options` on arbitrary option lists (a config's `mounts[].options` array
//! can hold anything), plus the helpers fed by its result. Checks the parser's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxirun::rootfs::options::{flags_to_attr, parse_rootfs_propagation, remount_flags};
use oxirun::rootfs::{parse_mount_options, MountOptions};

/// `MOUNT_ATTR__ATIME`: the atime mode field (set and cleared together by design).
const ATIME_FIELD: u64 = 0x70;
const ATIME_MS: u64 = (libc::MS_NOATIME | libc::MS_RELATIME | libc::MS_STRICTATIME) as u64;

fn check(o: &MountOptions, input: &[&str]) {
    let flags = o.flags.bits() as u64;
    let cleared = o.cleared.bits() as u64;
    assert_eq!(
        flags & cleared,
        0,
        "flags and cleared overlap for {input:?}: {o:?}"
    );
    assert_eq!(
        o.rec_attr_set & o.rec_attr_clr & !ATIME_FIELD,
        0,
        "recursive attrs set and cleared at once for {input:?}: {o:?}"
    );
    assert!(
        (flags & ATIME_MS).count_ones() <= 1,
        "more than one atime mode for {input:?}: {o:?}"
    );
    // (Items are opaque: one holding a comma goes to the data string whole, as in runc.)
    if !input.iter().any(|i| i.contains(',')) {
        assert!(
            !o.data.split(',').any(|d| d.starts_with("x-")),
            "x- option reached the data string for {input:?}: {o:?}"
        );
    }
    let _ = remount_flags(o.flags);
    let (set, clr) = flags_to_attr(o.flags, o.cleared);
    assert_eq!(
        set & clr & !ATIME_FIELD,
        0,
        "flags_to_attr overlap for {input:?}"
    );
    let _ = (o.is_bind(), o.has_rec_attrs());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Items separated by NUL (an item may itself hold commas), then the same split at commas too.
    let items: Vec<&str> = text.split('\0').collect();
    check(&parse_mount_options(&items), &items);
    let parts: Vec<&str> = text.split([',', '\0']).collect();
    check(&parse_mount_options(&parts), &parts);
    for item in &items {
        let _ = parse_rootfs_propagation(item);
    }
});
