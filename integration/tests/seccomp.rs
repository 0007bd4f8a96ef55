//! `linux.seccomp` from inside real containers: the Docker default profile runs a shell
//! normally, errno / kill / log actions, argument filters, the i386 syscall table for
//! `int $0x80`, the notify listener (a test agent answers mkdir), exec'd processes filtered,
//! bad profiles refused with nothing left, and a filter loaded with noNewPrivileges false.

use std::time::Duration;

use oxirun_integration::checks::status_field;
use oxirun_integration::confcheck::{compile_static, create_fails, Agent, Answer};
use oxirun_integration::util::workspace_dir;
use oxirun_integration::{json, Container, Value};

fn profile(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

fn with_seccomp(short: &str, p: Value) -> Container {
    let mut c = Container::new(short);
    c.set("/linux/seccomp", p);
    c
}

#[test]
fn docker_default_profile_runs_a_shell() {
    let mut c = with_seccomp("scdocker", docker_default());
    let out = c.inside(
        "ls / > /dev/null && mkdir /tmp/d && ls /tmp | grep -c '^d$'; \
         echo c a b | tr ' ' '\\n' | sort | tail -1; \
         (sleep 0; echo sub) | cat; grep '^Seccomp:' /proc/self/status",
    );
    assert_eq!(out, "1\nc\nsub\nSeccomp:\t2\n");
}

#[test]
fn errno_eperm_on_mkdir() {
    let mut c = with_seccomp(
        "sceperm",
        profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
    );
    let out = c.inside("mkdir /tmp/x 2>&1; ls -A /tmp | wc -l; touch /tmp/f && echo touch-ok");
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/x': Operation not permitted\n0\ntouch-ok\n"
    );
    assert!(!c.rootfs().join("tmp/x").exists());
}

#[test]
fn errno_ret_38_on_mkdir() {
    let mut c = with_seccomp(
        "scenosys",
        profile(
            json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 38}]),
        ),
    );
    let out = c.inside("mkdir /tmp/x 2>&1; true");
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/x': Function not implemented\n"
    );
}

#[test]
fn kill_on_getpid_dies_with_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL"] {
        let mut c = with_seccomp(
            "sckill",
            profile(json!([{"names": ["getpid"], "action": action}])),
        );
        // ash calls getpid() at startup (for $$).
        c.sh("echo $$; echo survived");
        let out = c.run(&[]);
        assert_eq!(out.code, 128 + 31, "{action}: {out:#?}");
        assert!(!out.stdout.contains("survived"), "{action}: {out:#?}");
    }
}

#[test]
fn log_action_lets_the_syscall_run() {
    let mut c = with_seccomp(
        "sclog",
        profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}])),
    );
    assert_eq!(c.inside("mkdir /tmp/logged && echo ok"), "ok\n");
    assert!(c.rootfs().join("tmp/logged").is_dir());
}

fn docker_default() -> Value {
    let text =
        std::fs::read_to_string(workspace_dir().join("seccomp/tests/data/docker-default.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn argument_filter_allows_personality_only_for_listed_values() {
    // The Docker profile allows personality 0x0, 0x8, 0x20000, 0x20008, 0xffffffff.
    let mut c = with_seccomp("scpers", docker_default());
    assert_eq!(c.inside("linux32 uname -m; uname -m"), "i686\nx86_64\n");
    // Keep only 0x0 and 0xffffffff: linux32 (0x8) is refused, linux64 (0x0) works.
    let mut p = docker_default();
    p["syscalls"].as_array_mut().unwrap().retain(|r| {
        r["names"] != json!(["personality"])
            || matches!(r["args"][0]["value"].as_u64(), Some(0) | Some(0xffff_ffff))
    });
    let mut c = with_seccomp("scpers2", p);
    let out = c.inside("linux64 uname -m; linux32 uname -m 2>&1; uname -m");
    assert_eq!(
        out,
        "x86_64\nlinux32: personality(0x8): Operation not permitted\nx86_64\n"
    );
}

#[test]
fn conditions_on_the_same_argument_are_ored_like_runc() {
    // runc (libcontainer/seccomp) splits a rule whose conditions share an argument index into
    // one rule per condition (OR); real profiles rely on it. 8 and 0x20000 are both refused.
    let mut c = with_seccomp(
        "scsameidx",
        profile(
            json!([{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                                 {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]}]),
        ),
    );
    let out = c.inside("linux64 uname -m; linux32 uname -m 2>&1; uname -m");
    assert_eq!(
        out,
        "x86_64\nlinux32: personality(0x8): Operation not permitted\nx86_64\n"
    );
}

#[test]
fn argument_filter_masked_eq() {
    // Refuse chmod to a world-writable mode: (mode & 0o002) == 0o002.
    let rule = |name: &str, idx: u32| {
        json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
               "args": [{"index": idx, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]})
    };
    let mut c = with_seccomp(
        "scmasked",
        profile(json!([
            rule("chmod", 1),
            rule("fchmodat", 2),
            rule("fchmodat2", 2),
            rule("fchmod", 1)
        ])),
    );
    let out = c.inside(
        "touch /tmp/f; chmod 0646 /tmp/f 2>&1 | grep -o 'Operation not permitted'; \
         chmod 0640 /tmp/f && stat -c %a /tmp/f",
    );
    assert_eq!(out, "Operation not permitted\n640\n");
}

/// Static, libc-free x86_64 helper: `int $0x80` getpid (i386 nr 20 = writev on x86_64),
/// `int $0x80` mkdir (i386 nr 39 = getpid on x86_64) and a native getpid; prints the three
/// results.
const INT80_C: &str = r#"
static long sys3(long n, long a, long b, long c) {
    long r; __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
                             : "rcx", "r11", "memory"); return r; }
static long i386(long n, long a, long b) {
    long r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
    return (int)r; }
static char buf[128]; static int pos;
static void put(const char *s) { while (*s) buf[pos++] = *s++; }
static void num(long v) { char t[24]; int n = 0; if (v < 0) { buf[pos++] = '-'; v = -v; }
    do { t[n++] = '0' + v % 10; v /= 10; } while (v); while (n) buf[pos++] = t[--n]; }
static const char path[] = "/tmp/i386dir";
void _start(void) {
    long a = i386(20, 0, 0);
    long b = i386(39, (long)path, 0755);
    long c = sys3(39, 0, 0, 0);
    put("i386_getpid="); num(a); put(" i386_mkdir="); num(b); put(" getpid="); num(c);
    put("\n");
    sys3(1, 1, (long)buf, pos);
    sys3(60, 0, 0, 0);
    for (;;) {}
}
"#;

fn int80_helper(c: &Container) -> Option<()> {
    let bin = c.dir.join("int80");
    match compile_static(
        INT80_C,
        &bin,
        &["-nostdlib", "-no-pie", "-fno-stack-protector"],
    ) {
        Ok(p) => {
            std::fs::copy(p, c.rootfs().join("bin/oxi-int80")).unwrap();
            Some(())
        }
        Err(e) => {
            eprintln!("SKIP: cannot build the int $0x80 helper: {e}");
            None
        }
    }
}

#[test]
fn i386_syscalls_are_filtered_by_the_i386_table() {
    // Probe: without a filter, int $0x80 works here (IA32 emulation enabled).
    let mut probe = Container::new("sci386p");
    if int80_helper(&probe).is_none() {
        return;
    }
    let out = probe.inside("exec oxi-int80");
    if !out.starts_with("i386_getpid=1 i386_mkdir=0 getpid=1") {
        eprintln!("SKIP: int $0x80 not usable on this kernel: {out:?}");
        return;
    }
    let mut c = with_seccomp(
        "sci386",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
               "syscalls": [
                   {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},
                   {"names": ["writev"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55},
                   {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 66}]}),
    );
    int80_helper(&c).unwrap();
    let out = c.inside("oxi-int80; ls -A /tmp | wc -l");
    assert_eq!(out, "i386_getpid=-77 i386_mkdir=-66 getpid=-77\n0\n");

    // Without SCMP_ARCH_X86 listed, an i386 syscall is a foreign ABI: the process is killed.
    let mut c = with_seccomp(
        "sci386n",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    int80_helper(&c).unwrap();
    c.args(&["/bin/oxi-int80"]);
    let out = c.run(&[]);
    assert_eq!(out.code, 128 + 31, "{out:#?}");
}

fn notify_profile(agent: &Agent) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path_str(),
           "listenerMetadata": "oxi-meta",
           "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]})
}

#[test]
fn notify_agent_turns_mkdir_into_error_42() {
    let mut c = Container::new("scnotify42");
    let agent = Agent::start(&c.dir.path, Answer::Errno(42));
    c.set("/linux/seccomp", notify_profile(&agent));
    c.sh("mkdir /tmp/n 2>&1; echo rc=$?; touch /tmp/t && echo touch-ok");
    let out = c.run(&[]);
    let rep = agent.finish();
    out.ok("run with a notify profile");
    assert_eq!(
        out.stdout,
        "mkdir: can't create directory '/tmp/n': No message of desired type\nrc=1\ntouch-ok\n"
    );
    assert!(!c.rootfs().join("tmp/n").exists());
    assert_eq!(rep.error, None, "{rep:?}");
    assert_eq!(rep.nfds, 1, "{rep:?}");
    assert!(
        rep.syscalls.iter().all(|n| *n == 83 || *n == 258) && !rep.syscalls.is_empty(),
        "{rep:?}"
    );
    let st = rep.state.expect("state JSON");
    assert_eq!(st["fds"], json!(["seccompFd"]), "{st}");
    assert_eq!(st["metadata"], "oxi-meta", "{st}");
    assert_eq!(st["state"]["id"], c.id.as_str(), "{st}");
    assert!(st["pid"].as_i64().unwrap_or(0) > 0, "{st}");
}

#[test]
fn notify_agent_lets_mkdir_succeed() {
    let mut c = Container::new("scnotifyok");
    let agent = Agent::start(&c.dir.path, Answer::Continue);
    c.set("/linux/seccomp", notify_profile(&agent));
    c.sh("mkdir /tmp/n && echo made");
    let out = c.run(&[]);
    let rep = agent.finish();
    out.ok("run with a notify profile");
    assert_eq!(out.stdout, "made\n");
    assert!(c.rootfs().join("tmp/n").is_dir());
    assert!(!rep.syscalls.is_empty(), "{rep:?}");
}

#[test]
fn exec_processes_are_filtered_too() {
    let mut c = with_seccomp(
        "scexec",
        profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
    );
    c.sh("exec sleep 30");
    c.run_detached().ok("run -d");
    let out = c.rt(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "mkdir /tmp/e 2>&1; grep '^Seccomp:' /proc/self/status",
    ]);
    out.ok("exec");
    assert_eq!(
        out.stdout,
        "mkdir: can't create directory '/tmp/e': Operation not permitted\nSeccomp:\t2\n"
    );
    c.kill(Some("KILL")).ok("kill");
    c.wait_exit(Duration::from_secs(10));
}

#[test]
fn bad_profiles_fail_create_naming_the_field() {
    let cases = [
        (
            "action",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}),
            "SCMP_ACT_NOPE",
        ),
        (
            "default",
            json!({"defaultAction": "SCMP_ACT_WHATEVER", "syscalls": []}),
            "SCMP_ACT_WHATEVER",
        ),
        (
            "op",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}),
            "SCMP_CMP_BOGUS",
        ),
        (
            "index",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "index",
        ),
        (
            "arch",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NOPE"],
                   "syscalls": []}),
            "SCMP_ARCH_NOPE",
        ),
    ];
    for (name, p, phrase) in cases {
        let mut c = with_seccomp(&format!("scbad{name}"), p);
        c.sh("true");
        create_fails(&mut c, &["seccomp", phrase]);
    }
}

#[test]
fn filter_loaded_without_no_new_privs_for_an_unprivileged_user() {
    let mut c = with_seccomp(
        "scnnp",
        profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
    );
    c.no_new_privs(false)
        .user(1000, 1000, &[])
        .caps(&[], &[], &[], &[], &[]);
    let out =
        c.inside("mkdir /tmp/u 2>&1; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status");
    assert!(
        out.starts_with("mkdir: can't create directory '/tmp/u': Operation not permitted\n"),
        "{out}"
    );
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("0"), "{out}");
    assert_eq!(status_field(&out, "Seccomp"), Some("2"), "{out}");
    assert_eq!(
        status_field(&out, "CapEff"),
        Some("0000000000000000"),
        "{out}"
    );
}

/// The system calls static busybox makes for `sh -c script`, traced on the host with strace
/// (cwd `/`, a container-like environment), plus nothing else.
fn traced_syscalls(script: &str) -> Vec<String> {
    let dir = oxirun_integration::TestDir::new(&oxirun_integration::unique_id("sctrace"));
    let log = dir.join("strace.log");
    let out = std::process::Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .args(["/bin/busybox", "sh", "-c", script])
        .current_dir("/")
        .env_clear()
        .env("PATH", "/bin")
        .output()
        .expect("strace (apt-get install strace)");
    assert!(out.status.success(), "strace busybox: {out:?}");
    let mut names: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let call = l.split_once(' ')?.1.trim_start();
            let name = call.split('(').next()?;
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .then(|| name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(names.contains(&"execve".to_string()), "{names:?}");
    names
}

/// A profile written for runc: default deny, allowing exactly what the container's program
/// needs. The runtime's own calls after the filter (close_range, the exec gate's accept and
/// read, capset...) must not need it: execve is the only one (runtime-tools' default profile
/// has no close_range, and every container failed with `close_range: Operation not permitted`).
fn strict_profile(allowed: &[String]) -> Value {
    json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]})
}

#[test]
fn strict_profile_allows_only_what_the_program_needs() {
    let script = "echo ok";
    let allowed = traced_syscalls(script);
    assert!(!allowed.contains(&"close_range".to_string()), "{allowed:?}");
    for nnp in [true, false] {
        let mut c = with_seccomp(&format!("scstrict{nnp}"), strict_profile(&allowed));
        c.no_new_privs(nnp).sh(script);
        let out = c.run(&[]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "ok\n"),
            "noNewPrivileges {nnp}: {out:#?}"
        );
        // The same through create + start (the exec gate), where the init waits for `start`.
        let mut c = with_seccomp(&format!("scstrictcs{nnp}"), strict_profile(&allowed));
        c.no_new_privs(nnp).sh(script);
        c.create_ok();
        c.start().ok("start under a strict profile");
        assert_eq!(c.wait_exit(Duration::from_secs(10)), 0);
        assert_eq!(
            c.container_output().0,
            "ok\n",
            "create+start, noNewPrivileges {nnp}"
        );
    }
}

#[test]
fn strict_profile_exec_into_a_running_container() {
    let mut allowed = traced_syscalls("echo ok");
    allowed.extend(traced_syscalls("sleep 1"));
    allowed.sort();
    allowed.dedup();
    for nnp in [true, false] {
        let mut c = with_seccomp(&format!("scstrictex{nnp}"), strict_profile(&allowed));
        c.no_new_privs(nnp).sh("sleep 30");
        c.run_detached().ok("run -d under a strict profile");
        let out = c.rt(&["exec", &c.id, "sh", "-c", "echo ok"]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "ok\n"),
            "noNewPrivileges {nnp}: {out:#?}"
        );
    }
}

/// Without no_new_privs the filter is loaded with CAP_SYS_ADMIN kept until then: execve drops
/// it again (a root process gets its bounding set, here empty), in the init and in exec.
#[test]
fn the_cap_kept_for_a_late_filter_does_not_outlive_execve() {
    let mut c = with_seccomp(
        "sccapsroot",
        profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
    );
    c.no_new_privs(false).caps(&[], &[], &[], &[], &[]);
    c.sh("grep -E '^Cap(Eff|Prm):' /proc/self/status; sleep 30");
    c.run_detached().ok("run -d");
    let seen = oxirun_integration::util::poll(Duration::from_secs(10), || {
        let (out, _) = c.container_output();
        (out.lines().count() >= 2).then_some(out)
    })
    .expect("container output");
    assert_eq!(
        status_field(&seen, "CapEff"),
        Some("0000000000000000"),
        "{seen}"
    );
    assert_eq!(
        status_field(&seen, "CapPrm"),
        Some("0000000000000000"),
        "{seen}"
    );
    let out = c.rt(&[
        "exec",
        &c.id,
        "grep",
        "-E",
        "^Cap(Eff|Prm):",
        "/proc/self/status",
    ]);
    assert_eq!(
        status_field(&out.stdout, "CapEff"),
        Some("0000000000000000"),
        "{out:#?}"
    );
    assert_eq!(
        status_field(&out.stdout, "CapPrm"),
        Some("0000000000000000"),
        "{out:#?}"
    );
}
