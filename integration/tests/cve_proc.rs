//! /proc and /sys (docs/security-cases.md): nothing may be mounted over /proc except a real
//! procfs (CVE-2019-16884), cgroupfs stays read-only however /sys is provided (CVE-2023-25809),
//! and /proc writes (sysctls, LSM labels) cannot be redirected (CVE-2025-52881). Mount tests run
//! twice (`both_modes!`): as is and with openat2 forced to ENOSYS.

use std::path::Path;

use oxirun_integration::checks::{assert_nothing_left, mount_points};
use oxirun_integration::noopenat2::{self, Mode};
use oxirun_integration::sentinel::Sentinel;
use oxirun_integration::{both_modes, json, Container};

#[track_caller]
fn refused(c: &mut Container, mode: Mode, host_path: &Path) {
    let out = noopenat2::create(c, mode);
    assert_ne!(out.code, 0, "[{mode:?}] create should be refused: {out:#?}");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
    let bad: Vec<_> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(host_path))
        .collect();
    assert!(bad.is_empty(), "[{mode:?}] mounted on the host: {bad:?}");
}

// ---- CVE-2019-16884 ----------------------------------------------------------------------------

fn fake_proc(c: &Container) -> std::path::PathBuf {
    let fake = c.dir.join("F");
    std::fs::create_dir_all(fake.join("self/attr")).unwrap();
    std::fs::write(fake.join("self/attr/exec"), "orig").unwrap();
    std::fs::create_dir_all(fake.join("sys/kernel")).unwrap();
    fake
}

/// (a) a bind of host dir F (holding self/attr/exec) at /proc.
fn cve_2019_16884_bind_over_proc_refused(mode: Mode) {
    let mut c = Container::new("p16884a");
    let fake = fake_proc(&c);
    let s = Sentinel::new(&fake);
    c.sh("true").add_mount(
        json!({"destination": "/proc", "type": "bind", "source": fake, "options": ["rbind"]}),
    );
    refused(&mut c, mode, &fake);
    s.assert_unchanged("F");
}

/// (b) a tmpfs at /proc/self.
fn cve_2019_16884_tmpfs_on_proc_self_refused(mode: Mode) {
    let mut c = Container::new("p16884b");
    c.sh("true")
        .add_mount(json!({"destination": "/proc/self", "type": "tmpfs", "source": "tmpfs"}));
    let r = c.rootfs();
    refused(&mut c, mode, &r);
}

/// (c) a bind at /proc/sys/kernel.
fn cve_2019_16884_bind_at_proc_sys_kernel_refused(mode: Mode) {
    let mut c = Container::new("p16884c");
    let fake = fake_proc(&c);
    let s = Sentinel::new(&fake);
    c.sh("true")
        .add_mount(json!({"destination": "/proc/sys/kernel", "type": "bind",
                                  "source": fake.join("sys/kernel"), "options": ["rbind"]}));
    refused(&mut c, mode, &fake);
    s.assert_unchanged("F");
}

/// Positive control: a bind at /proc/cpuinfo (lxcfs-style) is allowed.
fn cve_2019_16884_control_bind_at_proc_cpuinfo_allowed(mode: Mode) {
    let mut c = Container::new("p16884ok");
    let f = c.dir.join("cpuinfo");
    std::fs::write(&f, "fake-cpuinfo\n").unwrap();
    c.add_mount(
        json!({"destination": "/proc/cpuinfo", "type": "bind", "source": f,
                       "options": ["bind", "ro"]}),
    );
    let out = noopenat2::inside(&mut c, mode, "cat /proc/cpuinfo");
    assert_eq!(out, "fake-cpuinfo\n");
}

// ---- CVE-2023-25809 ----------------------------------------------------------------------------

/// /sys as `rbind,ro` of the host's, with or without a cgroup namespace: every cgroup mount the
/// container sees is read-only and mkdir gives EROFS.
fn sys_rbind_ro(mode: Mode, cgroupns: bool) {
    let mut c = Container::new("cg25809");
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| {
        let d = m["destination"].as_str().unwrap_or("");
        d != "/sys" && !d.starts_with("/sys/")
    });
    mounts.push(
        json!({"destination": "/sys", "type": "bind", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
    );
    let mut ns: Vec<&str> = vec!["pid", "mount", "ipc", "uts", "network"];
    if cgroupns {
        ns.push("cgroup");
    }
    c.namespaces(&ns);
    // A unique probe name: if the defence is missing the mkdir lands in the host's cgroup
    // tmpfs, and the test removes it again (and fails).
    let probe = format!("oxi-25809-probe-{}", std::process::id());
    let host_probe = Path::new("/sys/fs/cgroup").join(&probe);
    let out = noopenat2::run(
        c.sh(&format!(
            "grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---; mkdir /sys/fs/cgroup/{probe} 2>&1; true"
        )),
        mode,
        &[],
    );
    if host_probe.is_dir() {
        let _ = std::fs::remove_dir(&host_probe);
        panic!(
            "[{mode:?} cgroupns={cgroupns}] the container created {} on the host",
            host_probe.display()
        );
    }
    out.ok("run");
    let out = out.stdout;
    let (mi, err) = out.split_once("---").unwrap();
    let mounts = oxirun_integration::checks::parse_mountinfo(mi);
    assert!(!mounts.is_empty(), "no cgroup mount seen: {out}");
    for m in &mounts {
        assert!(
            m.has_opt("ro"),
            "[{mode:?} cgroupns={cgroupns}] writable: {m:?}"
        );
    }
    assert!(err.contains("Read-only"), "[{mode:?}] mkdir: {err:?}");
}

fn cve_2023_25809_sys_rbind_ro_no_cgroupns(m: Mode) {
    sys_rbind_ro(m, false)
}
fn cve_2023_25809_sys_rbind_ro_with_cgroupns(m: Mode) {
    sys_rbind_ro(m, true)
}

// ---- CVE-2025-52881 ----------------------------------------------------------------------------

/// sysctl + a bind of host file F at the very sysctl path: refused, F unchanged.
fn cve_2025_52881_sysctl_target_overmounted_refused(mode: Mode) {
    let mut c = Container::new("sys52881");
    let f = c.dir.join("F");
    std::fs::write(&f, "0\n").unwrap();
    let s = Sentinel::new(&f);
    c.sh("cat /proc/sys/net/ipv4/ip_forward")
        .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
        .add_mount(
            json!({"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
                          "source": f, "options": ["bind"]}),
        );
    let out = noopenat2::run(&mut c, mode, &[]);
    s.assert_unchanged("F");
    assert_ne!(
        out.code, 0,
        "[{mode:?}] accepted a mount over a sysctl: {out:#?}"
    );
}

/// Normal run: the value is set in the container's net namespace (not the host's).
fn cve_2025_52881_sysctl_applied(mode: Mode) {
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut c = Container::new("sysok");
    c.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
    let out = noopenat2::inside(&mut c, mode, "cat /proc/sys/net/ipv4/ip_forward");
    assert_eq!(out.trim(), "1");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host,
        "host sysctl changed"
    );
}

/// Race: the attacker flips a volume entry between a directory and a symlink into /proc while
/// the victim sets a sysctl; the host's value never changes and the container's is 1.
fn cve_2025_52881_sysctl_race(mode: Mode) {
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut c = Container::new("sysrace");
    let v = c.dir.join("V");
    std::fs::create_dir_all(v.join("d")).unwrap();
    std::os::unix::fs::symlink("/proc/sys/net/ipv4", v.join("l")).unwrap();
    c.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
        .add_mount(json!({"destination": "/v", "type": "bind", "source": v, "options": ["rbind"]}))
        .add_mount(json!({"destination": "/v/d", "type": "tmpfs", "source": "tmpfs"}));
    c.sh("cat /proc/sys/net/ipv4/ip_forward");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let (a, b) = (v.join("d"), v.join("l"));
    let h = std::thread::spawn(move || {
        use std::os::unix::ffi::OsStrExt;
        let ca = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
        let cb = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: renameat2 on our own temp paths.
            unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), 2) };
        }
    });
    let mut started = 0;
    for i in 0..60 {
        let out = noopenat2::run(&mut c, mode, &[]);
        if out.success() {
            started += 1;
            assert_eq!(out.stdout.trim(), "1", "[{mode:?}] iteration {i}");
        }
        let _ = c.delete(true);
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            host,
            "host sysctl changed"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = h.join();
    assert!(
        started > 0,
        "[{mode:?}] no run with the sysctl ever started"
    );
}

/// apparmorProfile on a host without AppArmor: start fails, or the label really is the profile;
/// never "silently unconfined" with a label the runtime claims to have set.
fn cve_2025_52881_apparmor_never_silently_unconfined(mode: Mode) {
    let mut c = Container::new("aa52881");
    c.set("/process/apparmorProfile", json!("oxirun-test-profile"));
    c.sh("cat /proc/self/attr/current 2>/dev/null || cat /proc/self/attr/apparmor/current 2>/dev/null; true");
    let out = noopenat2::run(&mut c, mode, &[]);
    let aa_enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if out.success() {
        assert!(
            out.stdout.contains("oxirun-test-profile"),
            "[{mode:?}] started without the requested profile (AppArmor enabled: {aa_enabled}): {out:#?}"
        );
    }
    eprintln!(
        "[{mode:?}] apparmor enabled={aa_enabled}: exit {} {:?}",
        out.code,
        out.stderr.trim()
    );
}

both_modes! {
    cve_2019_16884_bind_over_proc_refused => super::cve_2019_16884_bind_over_proc_refused,
    cve_2019_16884_tmpfs_on_proc_self_refused => super::cve_2019_16884_tmpfs_on_proc_self_refused,
    cve_2019_16884_bind_at_proc_sys_kernel_refused => super::cve_2019_16884_bind_at_proc_sys_kernel_refused,
    cve_2019_16884_control_bind_at_proc_cpuinfo_allowed => super::cve_2019_16884_control_bind_at_proc_cpuinfo_allowed,
    cve_2023_25809_sys_rbind_ro_no_cgroupns => super::cve_2023_25809_sys_rbind_ro_no_cgroupns,
    cve_2023_25809_sys_rbind_ro_with_cgroupns => super::cve_2023_25809_sys_rbind_ro_with_cgroupns,
    cve_2025_52881_sysctl_target_overmounted_refused => super::cve_2025_52881_sysctl_target_overmounted_refused,
    cve_2025_52881_sysctl_applied => super::cve_2025_52881_sysctl_applied,
    cve_2025_52881_sysctl_race => super::cve_2025_52881_sysctl_race,
    cve_2025_52881_apparmor_never_silently_unconfined => super::cve_2025_52881_apparmor_never_silently_unconfined,
}
