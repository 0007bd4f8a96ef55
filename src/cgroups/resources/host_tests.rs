//! Root tests on the real host for the v2 device program: a cgroup of our own under the
//! unified hierarchy's `oxirun-it/` (on this hybrid host the v2 hierarchy carries no
//! controllers, but BPF device programs work on any cgroup2 directory), holding only a shell
//! this test spawned.

use std::path::PathBuf;
use std::process::Command;

use crate::cgroups::Cgroup;

fn unified_root() -> Option<PathBuf> {
    let layout = crate::cgroups::Layout::current().ok()?;
    layout
        .hierarchies
        .iter()
        .find(|h| h.name.is_empty())
        .map(|h| h.mount_point.clone())
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn bpf_device_program_denies_and_allows() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let Some(root) = unified_root() else {
        eprintln!("skipping: no cgroup2 mount");
        return;
    };
    let parent = root.join("oxirun-it");
    let _ = std::fs::create_dir(&parent);
    let dir = parent.join(format!("unit-bpf-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let guard = Dir(dir.clone());
    let cg = Cgroup {
        dirs: vec![(String::new(), dir.clone())],
    };
    assert!(cg.is_unified());
    let r: oci_spec::runtime::LinuxResources = serde_json::from_str(
        r#"{"devices":[{"allow":false,"access":"rwm"},
                       {"allow":true,"type":"c","major":1,"minor":11,"access":"r"}]}"#,
    )
    .unwrap();
    cg.validate_resources(&r).unwrap();
    cg.apply(&r).unwrap();
    // Re-applying replaces the program instead of stacking a second one.
    cg.apply(&r).unwrap();
    let f = std::fs::File::open(&dir).unwrap();
    let ids = crate::sys::bpf::prog_query(&f, crate::sys::bpf::ATTACH_CGROUP_DEVICE).unwrap();
    assert_eq!(ids.len(), 1, "programs attached: {ids:?}");
    let procs = dir.join("cgroup.procs");
    let script = format!(
        "echo $$ > {}; \
         head -c1 /dev/null && echo null-ok; \
         head -c1 /dev/full >/dev/null && echo full-ok; \
         echo x > /dev/kmsg 2>/dev/null || echo kmsg-write-denied; \
         : < /dev/kmsg && echo kmsg-read-ok",
        procs.display()
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["null-ok", "full-ok", "kmsg-write-denied", "kmsg-read-ok"] {
        assert!(
            text.contains(want),
            "{want} missing in {text:?} / {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(guard);
}
