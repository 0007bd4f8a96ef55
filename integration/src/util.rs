//! Small shared pieces: paths, unique ids, per-test temp dirs and running a command with a
//! timeout while capturing its output through files (never pipes: a detached container inherits
//! the runtime's stdio and would keep a pipe open for its whole life).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The cargo workspace (parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace dir")
        .to_path_buf()
}

/// `<workspace>/target/oxirun-it`: the rootfs cache and every test's temp dir.
pub fn it_dir() -> PathBuf {
    workspace_dir().join("target/oxirun-it")
}

fn next_seq() -> usize {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A unique container id: `it-<short>-<pid>-<n>`.
pub fn unique_id(short: &str) -> String {
    format!("it-{short}-{}-{}", std::process::id(), next_seq())
}

/// A temp dir under `target/oxirun-it/`; on drop, every mount below it is detached and the tree
/// is removed.
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        crate::binary::init();
        let path = it_dir().join(format!("t-{name}"));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let mut mounts: Vec<PathBuf> = crate::checks::mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&self.path))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for m in mounts {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("warning: removing {}: {e}", self.path.display());
            }
        }
    }
}

/// The result of one command.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code; `-N` if the process was killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// Panics (showing everything) unless the command exited 0.
    #[track_caller]
    pub fn ok(&self, what: &str) -> &Self {
        assert!(self.success(), "{what} failed: {self:#?}");
        self
    }

    /// True if stderr contains `phrase`, verbatim or with quotes escaped as in a logrus text
    /// line (`msg="... exec: \"x\": ..."`).
    pub fn stderr_has(&self, phrase: &str) -> bool {
        self.stderr.contains(phrase) || self.stderr.contains(&phrase.replace('"', "\\\""))
    }

    /// Asserts exit 1 and that stderr contains `phrase` (see [`Out::stderr_has`]).
    #[track_caller]
    pub fn fails_with(&self, what: &str, phrase: &str) -> &Self {
        assert_eq!(self.code, 1, "{what}: expected exit 1: {self:#?}");
        assert!(
            self.stderr_has(phrase),
            "{what}: stderr lacks {phrase:?}: {self:#?}"
        );
        self
    }
}

pub fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => -s,
        _ => -1000,
    }
}

/// Files receiving one command's stdout/stderr.
pub struct OutFiles {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl OutFiles {
    pub fn new(dir: &Path, tag: &str) -> OutFiles {
        let n = next_seq();
        OutFiles {
            stdout: dir.join(format!("{tag}-{n}.out")),
            stderr: dir.join(format!("{tag}-{n}.err")),
        }
    }

    /// Points the command's stdin at /dev/null and stdout/stderr at the files.
    pub fn attach(&self, cmd: &mut Command) {
        let o = fs::File::create(&self.stdout).expect("create stdout file");
        let e = fs::File::create(&self.stderr).expect("create stderr file");
        cmd.stdin(Stdio::null()).stdout(o).stderr(e);
    }

    pub fn read(&self, code: i32) -> Out {
        Out {
            code,
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

/// Waits for `child` up to `timeout`; on timeout kills it (it is our own child) and panics.
pub fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return exit_code(st),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: timed out after {timeout:?}");
            }
            Err(e) => panic!("{what}: wait: {e}"),
        }
    }
}

/// Runs `cmd` to completion (timeout 30 s) with output captured through files in `dir`.
pub fn run_cmd(mut cmd: Command, dir: &Path, tag: &str) -> Out {
    run_cmd_timeout(&mut cmd, dir, tag, Duration::from_secs(30))
}

pub fn run_cmd_timeout(cmd: &mut Command, dir: &Path, tag: &str, timeout: Duration) -> Out {
    let files = OutFiles::new(dir, tag);
    files.attach(cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let code = wait_child(&mut child, timeout, &format!("{cmd:?}"));
    files.read(code)
}

/// Polls `f` every 10 ms until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `cmd` with all output discarded, never panicking (for `Drop` paths); `None` on spawn
/// failure or timeout (the child is then killed: it is ours).
pub fn quiet_run(cmd: &mut Command, timeout: Duration) -> Option<i32> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().ok()?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(exit_code(st)),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Result of waiting for a known pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// Reaped; exit code, or `-N` if killed by signal N.
    Exited(i32),
    /// Not (or no longer) our child (ECHILD).
    NotChild,
    /// Still running after the timeout.
    Timeout,
}

/// Waits for our child `pid` (never `waitpid(-1)`), polling with WNOHANG up to `timeout`.
pub fn reap(pid: i32, timeout: Duration) -> Reap {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => return Reap::Exited(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Reap::Exited(-(s as i32)),
            Ok(WaitStatus::StillAlive) | Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Reap::NotChild,
        }
        if Instant::now() >= deadline {
            return Reap::Timeout;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True if /proc/<pid> exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z')) | Some(Some('X')))
        }
        Err(_) => false,
    }
}
