//! H3, malicious config.json (docs/security-cases.md), the cases not already in
//! `bad_input.rs` (NUL bytes, ids, `..` in cgroupsPath, >16 MiB, `../` destinations) and
//! `security.rs` (100 000 nested arrays, uid 2^32): a 1 GiB sparse config fails fast in little
//! memory, and 10^6 seccomp rules fail (or work) cleanly. Every failure: non-zero exit, no
//! panic, nothing left behind.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::{json, Container, Value};

/// `create` via wait4 so we get the runtime's max RSS.
fn create_with_rusage(c: &mut Container) -> (i32, String, i64, Duration) {
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    let err = c.dir.join("create.err");
    let mut cmd = c.command(&["create", "--bundle", &b, "--pid-file", &p, &id]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    let t = Instant::now();
    // Reaped below with wait4 (for its rusage), not through `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 on our own child's pid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(rc, child.id() as i32);
    let st = std::process::ExitStatus::from_raw(status);
    (
        st.code().unwrap_or(-1),
        std::fs::read_to_string(&err).unwrap_or_default(),
        ru.ru_maxrss,
        t.elapsed(),
    )
}

#[test]
fn h3_sparse_1gib_config_fails_fast_in_little_memory() {
    let mut c = Container::new("sparse");
    c.write_raw_config(b"");
    // A sparse 1 GiB file of NUL bytes.
    std::fs::File::options()
        .write(true)
        .open(c.bundle.join("config.json"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (code, err, maxrss_kib, took) = create_with_rusage(&mut c);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(maxrss_kib < 64 * 1024, "max RSS {maxrss_kib} KiB");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

#[test]
fn h3_million_seccomp_rules_clean() {
    let mut c = Container::new("bigsec");
    let rules: Vec<Value> = (0..1_000_000)
        .map(|i| {
            json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 + (i % 100),
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    c.sh("true").set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": rules}),
    );
    // Written before the clock starts: only the runtime's time counts.
    let text = serde_json::to_vec(&c.config).unwrap();
    c.write_raw_config(&text);
    let t = Instant::now();
    let out = c.create();
    let took = t.elapsed();
    assert_ne!(
        out.code,
        101,
        "panic: {:?}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(!out.stderr.contains("panicked"));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    if out.success() {
        c.delete(true).ok("delete");
    } else {
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
    eprintln!("10^6 seccomp rules: exit {} in {took:?}", out.code);
}
