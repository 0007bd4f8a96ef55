//! `kill` / `delete --force` never signal a recycled pid (security case H1): the init is killed
//! and reaped behind the runtime's back, an impostor is spawned with the very same pid
//! (clone3 `set_tid`), and the runtime must treat the container as stopped and leave the
//! impostor alone.

use std::time::Duration;

use oxirun_integration::impostor::spawn_with_pid;
use oxirun_integration::util::{pid_alive, reap, Reap};
use oxirun_integration::Container;

/// Kills our impostor on drop (it is our child: kill + reap by pid).
struct Impostor(i32);

impl Drop for Impostor {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
        let _ = reap(self.0, Duration::from_secs(5));
    }
}

#[test]
fn kill_after_pid_reuse_spares_the_impostor() {
    let mut c = Container::new("pidreuse");
    c.sh("exec sleep 1000").create_ok();
    c.start().ok("start");
    let pid = c.pid.unwrap();
    // SAFETY: kill(2) on our own container's init (our unreaped child).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(reap(pid, Duration::from_secs(5)), Reap::Exited(-9));
    c.reaped = true;

    let mut spawned = None;
    for attempt in 0..5 {
        match spawn_with_pid(pid, &["/bin/sleep", "1000"]) {
            Ok(p) => {
                spawned = Some(p);
                break;
            }
            Err(e) => {
                eprintln!("clone3(set_tid=[{pid}]) attempt {attempt}: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let Some(got) = spawned else {
        eprintln!("SKIPPED: pid {pid} could not be reused (see errors above)");
        return;
    };
    let imp = Impostor(got);
    assert_eq!(imp.0, pid, "clone3 gave another pid");
    // Let it exec so its start time and comm are final.
    std::thread::sleep(Duration::from_millis(50));
    assert!(pid_alive(pid));

    assert_eq!(
        c.status(),
        "stopped",
        "a recycled pid made the container look alive"
    );
    let k = c.kill(Some("KILL"));
    assert!(
        k.success() || k.stderr.contains("not running"),
        "kill: {k:#?}"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(pid_alive(pid), "kill signalled the impostor");
    assert_eq!(reap(pid, Duration::ZERO), Reap::Timeout, "impostor died");

    c.delete(true).ok("delete --force");
    std::thread::sleep(Duration::from_millis(50));
    assert!(pid_alive(pid), "delete --force signalled the impostor");
    assert_eq!(reap(pid, Duration::ZERO), Reap::Timeout, "impostor died");
    drop(imp);
}
