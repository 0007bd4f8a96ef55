//! /dev under attack (docs/security-cases.md): a hostile /dev/null used for masks
//! (CVE-2025-31133), a hostile /dev/console and /dev/pts (CVE-2025-52565), a symlinked rootfs
//! /dev (CVE-2026-41579/47766), device and console files created through symlinks
//! (CVE-2026-88264/88265) and every file the runtime writes into the rootfs (CVE-2025-24965).
//! Every test runs twice (`both_modes!`): as is and with openat2 forced to ENOSYS.
//!
//! Probes never write data into procfs: "is it writable" is `: >> file` (open O_WRONLY, write
//! nothing), so even a broken runtime cannot change the host's core_pattern or trigger sysrq.

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oxirun_integration::noopenat2::{self, Mode};
use oxirun_integration::sentinel::{snapshot, Sentinel};
use oxirun_integration::term::ConsoleSocket;
use oxirun_integration::util::reap;
use oxirun_integration::{both_modes, json, Container};

/// Replaces the spec's /dev tmpfs with a bind of host dir `d` (keeps /dev/pts etc. unless
/// `keep_subs` is false).
fn dev_from_host(c: &mut Container, d: &Path, keep_subs: bool) {
    let mounts = c.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| {
        let dst = m["destination"].as_str().unwrap_or("");
        dst != "/dev" && (keep_subs || !dst.starts_with("/dev/"))
    });
    mounts.insert(
        1,
        json!({"destination": "/dev", "type": "bind", "source": d, "options": ["rbind"]}),
    );
}

/// Removes the /dev tmpfs (the runtime then works in rootfs/dev itself).
fn no_dev_mount(c: &mut Container) {
    c.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
}

/// Creates + starts with stdio to files; waits for the init; returns (create ok, output files
/// dir content) via `/out` (a host dir bound into the container).
fn create_start_wait(c: &mut Container, mode: Mode, flags: &[&str]) -> bool {
    let out = noopenat2::create_with(c, mode, flags);
    if !out.success() {
        eprintln!("[{mode:?}] create refused: {}", out.stderr.trim());
        return false;
    }
    let st = noopenat2::rt(c, mode, &["start", &c.id]);
    if !st.success() {
        eprintln!("[{mode:?}] start refused: {}", st.stderr.trim());
        return false;
    }
    let _ = reap(c.pid.unwrap(), Duration::from_secs(20));
    c.reaped = true;
    true
}

fn out_dir(c: &mut Container) -> PathBuf {
    let o = c.dir.join("out");
    std::fs::create_dir_all(&o).unwrap();
    std::fs::set_permissions(&o, std::fs::Permissions::from_mode(0o777)).unwrap();
    c.add_mount(json!({"destination": "/out", "type": "bind", "source": o, "options": ["rbind"]}));
    o
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

// ---- CVE-2025-31133: masks with a hostile /dev/null --------------------------------------------

fn hostile_dev_null(mode: Mode, variant: &str) {
    let mut c = Container::new(&format!("devnull-{variant}"));
    let d = c.dir.join("D");
    for sub in ["pts", "shm", "mqueue"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    match variant {
        "symlink" => symlink("/proc/sys/kernel/core_pattern", d.join("null")).unwrap(),
        "regular" => std::fs::write(d.join("null"), "not a device").unwrap(),
        "zero" | "good" => {
            let minor = if variant == "good" { 3 } else { 5 };
            nix::sys::stat::mknod(
                &d.join("null"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o666),
                nix::sys::stat::makedev(1, minor),
            )
            .unwrap();
        }
        _ => unreachable!(),
    }
    let host_cp = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    dev_from_host(&mut c, &d, true);
    let o = out_dir(&mut c);
    c.set(
        "/linux/maskedPaths",
        json!(["/proc/timer_list", "/proc/keys"]),
    );
    c.sh("stat -c %t:%T /proc/timer_list > /out/kcore; \
         (: >> /proc/sys/kernel/core_pattern) 2> /out/cp; echo $? > /out/cp.rc");
    let started = create_start_wait(&mut c, mode, &[]);
    if variant == "good" {
        assert!(
            started,
            "[{mode:?}] positive control: a real /dev/null must work"
        );
    }
    if started {
        assert_eq!(
            read(&o.join("kcore")).trim(),
            "1:3",
            "[{mode:?}/{variant}] masked /proc/timer_list is not the 1:3 null device"
        );
        assert_ne!(
            read(&o.join("cp.rc")).trim(),
            "0",
            "[{mode:?}/{variant}] core_pattern writable in the container"
        );
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        host_cp
    );
}

fn cve_2025_31133_dev_null_symlink_to_core_pattern(m: Mode) {
    hostile_dev_null(m, "symlink")
}
fn cve_2025_31133_dev_null_regular_file(m: Mode) {
    hostile_dev_null(m, "regular")
}
fn cve_2025_31133_dev_null_is_dev_zero(m: Mode) {
    hostile_dev_null(m, "zero")
}
fn cve_2025_31133_control_real_dev_null(m: Mode) {
    hostile_dev_null(m, "good")
}

// ---- CVE-2025-52565: hostile /dev/console and /dev/pts/0 ---------------------------------------

fn hostile_console(mode: Mode, keep_devpts: bool) {
    console_case(mode, keep_devpts, true)
}

fn console_case(mode: Mode, keep_devpts: bool, hostile: bool) {
    let mut c = Container::new("console");
    let d = c.dir.join("D");
    for sub in ["pts", "shm", "mqueue"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    symlink("/proc/sysrq-trigger", d.join("pts/0")).unwrap();
    symlink("/proc/sys/kernel/core_pattern", d.join("console")).unwrap();
    // A genuine /dev/null so that masking works and the console is what is tested.
    nix::sys::stat::mknod(
        &d.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    if hostile {
        dev_from_host(&mut c, &d, keep_devpts);
    }
    let o = out_dir(&mut c);
    c.set("/process/terminal", json!(true));
    c.sh("stat -L -c %t /dev/console > /out/console; \
         (: >> /proc/sysrq-trigger) 2> /out/sysrq; echo $? > /out/sysrq.rc; \
         (: >> /proc/sys/kernel/core_pattern) 2> /out/cp; echo $? > /out/cp.rc; \
         stat -c %F /proc/sys/kernel/core_pattern /proc/sysrq-trigger > /out/procfiles");
    let sock = ConsoleSocket::bind(&c.dir.path);
    let sp = sock.path_str().to_string();
    let out = noopenat2::create_with(&mut c, mode, &["--console-socket", &sp]);
    if out.success() {
        let master = sock.recv(Duration::from_secs(10)).expect("console master");
        noopenat2::rt(&c, mode, &["start", &c.id]).ok("start");
        let _ = reap(c.pid.unwrap(), Duration::from_secs(20));
        c.reaped = true;
        drop(master);
        assert_eq!(
            read(&o.join("console")).trim(),
            "88",
            "[{mode:?}] /dev/console is not a devpts pty (major 136)"
        );
        assert_ne!(
            read(&o.join("sysrq.rc")).trim(),
            "0",
            "sysrq-trigger writable"
        );
        assert_ne!(read(&o.join("cp.rc")).trim(), "0", "core_pattern writable");
        // The pty was not mounted over a procfs file that a planted symlink pointed at.
        let pf = read(&o.join("procfiles"));
        assert!(
            !pf.contains("character special"),
            "[{mode:?}] a procfs file was replaced by the console: {pf:?}"
        );
    } else {
        assert!(hostile, "[{mode:?}] positive control refused: {out:#?}");
        eprintln!("[{mode:?}] create refused: {}", out.stderr.trim());
    }
    // The host dir keeps its symlinks (nothing followed and replaced on the host).
    assert!(d.join("console").is_symlink());
}

fn cve_2025_52565_console_symlinks_with_devpts(m: Mode) {
    hostile_console(m, true)
}
fn cve_2025_52565_console_symlinks_without_devpts(m: Mode) {
    hostile_console(m, false)
}
fn cve_2025_52565_control_plain_terminal(m: Mode) {
    console_case(m, true, false)
}

// ---- CVE-2026-41579 / CVE-2026-47766: rootfs /dev is a symlink ---------------------------------

fn cve_2026_41579_dev_symlink_does_not_touch_host(mode: Mode) {
    for keep_tmpfs in [true, false] {
        let mut c = Container::new("devsym");
        let outside = c.dir.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("ptmx"), "marker").unwrap();
        let sentinel = Sentinel::new(&outside);
        let dev = c.rootfs().join("dev");
        std::fs::remove_dir(&dev).unwrap();
        symlink(&outside, &dev).unwrap();
        if !keep_tmpfs {
            no_dev_mount(&mut c);
        }
        c.sh("true");
        let out = noopenat2::run(&mut c, mode, &[]);
        sentinel.assert_unchanged(&format!(
            "[{mode:?}] /dev symlink, tmpfs={keep_tmpfs}: {out:?}"
        ));
    }
}

// ---- CVE-2026-88264 / 88265: console and /dev/null created or reopened through symlinks -------

fn planted_console_and_null(mode: Mode, terminal: bool) {
    let mut c = Container::new("devplant");
    let host = c.dir.join("host");
    std::fs::create_dir(&host).unwrap();
    let victim = host.join("victim");
    std::fs::write(&victim, "victim").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sentinel = Sentinel::new(&host);
    no_dev_mount(&mut c);
    let dev = c.rootfs().join("dev");
    symlink(host.join("new"), dev.join("console")).unwrap();
    symlink(&victim, dev.join("null")).unwrap();
    c.user(1000, 1000, &[])
        .set("/process/terminal", json!(terminal));
    c.sh("true");
    if terminal {
        let sock = ConsoleSocket::bind(&c.dir.path);
        let sp = sock.path_str().to_string();
        let out = noopenat2::create_with(&mut c, mode, &["--console-socket", &sp]);
        if out.success() {
            let m = sock.recv(Duration::from_secs(10)).expect("master");
            let _ = noopenat2::rt(&c, mode, &["start", &c.id]);
            let _ = reap(c.pid.unwrap(), Duration::from_secs(20));
            c.reaped = true;
            drop(m);
        }
    } else {
        // Foreground run with stdin = /dev/null (the harness's default).
        let _ = noopenat2::run(&mut c, mode, &[]);
    }
    assert!(
        !host.join("new").exists(),
        "[{mode:?}] console created on the host"
    );
    let md = std::fs::metadata(&victim).unwrap();
    assert_eq!(
        (md.uid(), md.mode() & 0o7777),
        (0, 0o600),
        "[{mode:?}] victim chowned/chmodded"
    );
    sentinel.assert_unchanged(&format!("[{mode:?}] terminal={terminal}"));
}

fn cve_2026_88264_console_and_null_symlinks_terminal(m: Mode) {
    planted_console_and_null(m, true)
}
fn cve_2026_88265_dev_null_symlink_stdio(m: Mode) {
    planted_console_and_null(m, false)
}

// ---- CVE-2025-24965: every file the runtime writes into the rootfs -----------------------------

/// Which rootfs paths did one plain run (no /dev tmpfs, terminal on) create or change?
fn written_paths(mode: Mode) -> Vec<PathBuf> {
    let mut c = Container::new("writes");
    no_dev_mount(&mut c);
    c.set("/process/terminal", json!(true));
    c.sh("true");
    let root = c.rootfs();
    let before = snapshot(&root);
    let sock = ConsoleSocket::bind(&c.dir.path);
    let sp = sock.path_str().to_string();
    noopenat2::create_with(&mut c, mode, &["--console-socket", &sp]).ok("create");
    let m = sock.recv(Duration::from_secs(10)).expect("master");
    let after = snapshot(&root);
    noopenat2::rt(&c, mode, &["start", &c.id]).ok("start");
    let _ = reap(c.pid.unwrap(), Duration::from_secs(20));
    c.reaped = true;
    drop(m);
    let mut v: Vec<PathBuf> = after
        .iter()
        .filter(|(k, val)| before.get(*k) != Some(val))
        .map(|(k, _)| k.strip_prefix(&root).unwrap().to_path_buf())
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    v.sort();
    v
}

fn cve_2025_24965_runtime_writes_never_follow_symlinks(mode: Mode) {
    let written = written_paths(mode);
    eprintln!("[{mode:?}] paths the runtime writes into the rootfs: {written:?}");
    assert!(
        written.iter().any(|p| p.starts_with("dev")),
        "expected device nodes in rootfs/dev: {written:?}"
    );
    // Plant a symlink at each top-most written path (a created directory's children go with it).
    let tops: Vec<&PathBuf> = written
        .iter()
        .filter(|p| !written.iter().any(|q| q != *p && p.starts_with(q)))
        .collect();
    let mut c = Container::new("plant");
    no_dev_mount(&mut c);
    c.set("/process/terminal", json!(true));
    c.sh("true");
    let host = c.dir.join("sentinels");
    std::fs::create_dir(&host).unwrap();
    let root = c.rootfs();
    for (i, p) in tops.iter().enumerate() {
        let at = root.join(p);
        if at
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && !m.file_type().is_symlink())
        {
            continue; // an existing directory the runtime only wrote into (e.g. rootfs/dev)
        }
        let s = host.join(format!("s{i}"));
        std::fs::write(&s, "sentinel").unwrap();
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o600)).unwrap();
        let _ = std::fs::remove_file(&at);
        let _ = std::fs::remove_dir_all(&at);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        symlink(&s, &at).unwrap();
    }
    let sentinel = Sentinel::new(&host);
    let sock = ConsoleSocket::bind(&c.dir.path);
    let sp = sock.path_str().to_string();
    let out = noopenat2::create_with(&mut c, mode, &["--console-socket", &sp]);
    if out.success() {
        let m = sock.recv(Duration::from_secs(10)).expect("master");
        let _ = noopenat2::rt(&c, mode, &["start", &c.id]);
        let _ = reap(c.pid.unwrap(), Duration::from_secs(20));
        c.reaped = true;
        drop(m);
    }
    sentinel.assert_unchanged(&format!("[{mode:?}] planted symlinks: {out:?}"));
}

both_modes! {
    cve_2025_31133_dev_null_symlink_to_core_pattern => super::cve_2025_31133_dev_null_symlink_to_core_pattern,
    cve_2025_31133_dev_null_regular_file => super::cve_2025_31133_dev_null_regular_file,
    cve_2025_31133_dev_null_is_dev_zero => super::cve_2025_31133_dev_null_is_dev_zero,
    cve_2025_31133_control_real_dev_null => super::cve_2025_31133_control_real_dev_null,
    cve_2025_52565_console_symlinks_with_devpts => super::cve_2025_52565_console_symlinks_with_devpts,
    cve_2025_52565_console_symlinks_without_devpts => super::cve_2025_52565_console_symlinks_without_devpts,
    cve_2025_52565_control_plain_terminal => super::cve_2025_52565_control_plain_terminal,
    cve_2026_41579_dev_symlink_does_not_touch_host => super::cve_2026_41579_dev_symlink_does_not_touch_host,
    cve_2026_88264_console_and_null_symlinks_terminal => super::cve_2026_88264_console_and_null_symlinks_terminal,
    cve_2026_88265_dev_null_symlink_stdio => super::cve_2026_88265_dev_null_symlink_stdio,
    cve_2025_24965_runtime_writes_never_follow_symlinks => super::cve_2025_24965_runtime_writes_never_follow_symlinks,
}
