//! H4, state-dir crash safety (docs/security-cases.md): a `create` SIGKILLed at any point leaves
//! state that parses or errors cleanly and `delete -f` always cleans up; a full state
//! filesystem never corrupts older state; 32 parallel `create` of one id give exactly one
//! winner; start/kill/delete storms never panic.

use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::util::{reap, wait_child, OutFiles};
use oxirun_integration::{Container, Out};

fn no_panic(out: &Out, what: &str) {
    assert_ne!(out.code, 101, "{what}: the runtime panicked: {out:#?}");
    assert!(!out.stderr.contains("panicked"), "{what}: panic: {out:#?}");
}

fn kill_iters() -> usize {
    std::env::var("OXIRUN_IT_H4_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// (a) SIGKILL `create` at pseudo-random offsets (0..60 ms, deterministic LCG).
#[test]
fn h4_sigkill_create_then_state_and_delete_clean_up() {
    let mut c = Container::new("h4kill");
    c.sh("exec sleep 1000");
    c.write_config();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let (b, p) = (c.bundle_str(), c.pid_file.to_str().unwrap().to_string());
    for i in 0..kill_iters() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 60_000);
        let _ = std::fs::remove_file(&c.pid_file);
        let files = OutFiles::new(&c.dir.path, "create");
        let mut cmd = c.command(&["create", "--bundle", &b, "--pid-file", &p, &c.id]);
        files.attach(&mut cmd);
        let mut child: Child = cmd.spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // our own child
        let _ = child.wait();
        let st = c.state_out();
        no_panic(&st, &format!("state after kill #{i} at {delay:?}"));
        if st.success() {
            let v: serde_json::Value = serde_json::from_str(&st.stdout)
                .unwrap_or_else(|e| panic!("#{i}: state is not JSON ({e}): {st:#?}"));
            assert!(v["status"].is_string(), "#{i}: {v}");
        }
        let d = c.delete(true);
        no_panic(&d, &format!("delete -f after kill #{i}"));
        // A pid-file written before the kill names an init reparented to us: reap it.
        if let Ok(Ok(pid)) = std::fs::read_to_string(&c.pid_file).map(|s| s.trim().parse::<i32>()) {
            let _ = reap(pid, Duration::from_secs(2));
        }
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}

/// (b) State root on a full 16 KiB tmpfs: create fails cleanly and older state stays intact.
#[test]
fn h4_full_state_fs_keeps_older_state() {
    let mut a = Container::new("h4fullA");
    let root = a.dir.join("smallroot");
    std::fs::create_dir(&root).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &root,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=16k,mode=0700"),
    )
    .expect("mount 16k tmpfs");
    a.root = root.clone();
    a.sh("exec sleep 1000").create_ok();
    let before = a.state();
    // Fill the filesystem.
    let filler = root.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = [0u8; 1024];
        while f.write_all(&chunk).is_ok() {}
    }
    let mut b = Container::new_in("h4fullB", &root);
    b.sh("true");
    let out = b.create();
    no_panic(&out, "create on a full state fs");
    assert_ne!(out.code, 0, "create succeeded on a full fs?");
    assert!(!root.join(&b.id).join("state.json").exists() || b.state_out().success());
    // `start` rewrites A's state.json: it may fail, but A's state must still parse.
    let st = a.start();
    no_panic(&st, "start on a full state fs");
    let after = a.state();
    assert_eq!(after["id"], before["id"]);
    assert!(after["status"].is_string());
    let _ = std::fs::remove_file(&filler);
    a.delete(true).ok("delete -f A");
    let _ = b.delete(true);
}

/// (c) 32 parallel `create` of the same id: exactly one succeeds.
#[test]
fn h4_parallel_create_same_id_one_winner() {
    let c = Arc::new({
        let mut c = Container::new("h4race");
        c.sh("exec sleep 1000");
        c.write_config();
        c
    });
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let pf = c.dir.join(&format!("pid-{i}"));
                let files = OutFiles::new(&c.dir.path, &format!("par{i}"));
                let mut cmd = c.command(&[
                    "create",
                    "--bundle",
                    &c.bundle_str(),
                    "--pid-file",
                    pf.to_str().unwrap(),
                    &c.id,
                ]);
                files.attach(&mut cmd);
                let mut ch = cmd.spawn().unwrap();
                let code = wait_child(&mut ch, Duration::from_secs(60), "create");
                (files.read(code), pf)
            })
        })
        .collect();
    let results: Vec<(Out, std::path::PathBuf)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(o, _)| o.success()).collect();
    for (o, _) in &results {
        no_panic(o, "parallel create");
    }
    assert_eq!(winners.len(), 1, "winners: {}", winners.len());
    let pid: i32 = std::fs::read_to_string(&winners[0].1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    c.delete(true).ok("delete -f");
    let _ = reap(pid, Duration::from_secs(5));
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}

/// (d) start/kill/delete/state storms on one container: no panic, and delete -f cleans up.
#[test]
fn h4_command_storm_no_panic() {
    let mut c = Container::new("h4storm");
    c.sh("exec sleep 1000").create_ok();
    let pid = c.pid.unwrap();
    let c = Arc::new(c);
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let cmds: [&[&str]; 5] = [
                    &["start"],
                    &["kill"],
                    &["state"],
                    &["delete"],
                    &["kill", "--all"],
                ];
                for j in 0..6 {
                    let cmd = cmds[(i + j) % cmds.len()];
                    let mut args: Vec<&str> = cmd.to_vec();
                    if cmd == ["kill", "--all"] {
                        args = vec!["kill", "--all", &c.id, "KILL"];
                    } else {
                        args.push(&c.id);
                    }
                    let out = c.rt(&args);
                    no_panic(&out, &format!("{args:?}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let d = c.delete(true);
    no_panic(&d, "final delete -f");
    let _ = reap(pid, Duration::from_secs(5));
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}
