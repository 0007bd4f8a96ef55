//! The engines' own AppArmor profiles, end to end, in a guest where AppArmor is on: podman's
//! `containers-default-*` and Docker's `docker-default`, each generated and loaded by the
//! engine itself (Debian's podman 4.3 and docker.io 20.10), with runc first and then oxirun
//! as the runtime. The guest is this machine's own `/` under systemd (`oxirun_integration::guest`);
//! AppArmor is Debian's kernel's default LSM.
//!
//! Per engine and runtime: the container's `/proc/self/attr/current` names the engine's
//! profile in enforce mode, and a `mount` that CAP_SYS_ADMIN would allow is denied by the
//! profile (`deny mount`), while with `apparmor=unconfined` the same mount works (so the
//! denial is AppArmor's, not a capability's or seccomp's).
//!
//! podman runs with `--cgroup-manager=cgroupfs` and dockerd with
//! `native.cgroupdriver=cgroupfs` (its default under systemd on cgroup v2 is the systemd
//! driver) until oxirun has a systemd cgroup driver; both engines with `--network none`. Wall time: see README (about 1.5 min here).

use std::fs;
use std::process::Command;
use std::time::Duration;

use oxirun_integration::guest;
use oxirun_integration::qemu::{run, static_oxirun, Console, TAP_END, TAP_HELPERS};
use oxirun_integration::util::TestDir;

const GUEST_TIMEOUT: Duration = Duration::from_secs(420);

const SCRIPT: &str = r#"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
check "apparmor is on" Y "$(cat /sys/module/apparmor/parameters/enabled)"
T=/oxirun-test
probe='echo "label=$(cat /proc/self/attr/current)"; mkdir -p /tmp/m; if mount -t tmpfs t /tmp/m 2>/tmp/e; then echo mount=allowed; else echo mount=denied; cat /tmp/e; fi'

# --- podman
mount -t tmpfs tmpfs /var/lib/containers 2>/dev/null || { mkdir -p /var/lib/containers; mount -t tmpfs tmpfs /var/lib/containers; }
P="podman --cgroup-manager=cgroupfs --events-backend=file"
$P import $T/rootfs.tar localhost/oxirun-bb >/tmp/pi.out 2>&1
yes_if "podman: image imported" '$P image exists localhost/oxirun-bb' "$(cat /tmp/pi.out)"
for R in /usr/bin/runc $T/oxirun; do
  r=$(basename $R)
  out=$($P run --rm --runtime $R --network none --cap-add SYS_ADMIN localhost/oxirun-bb sh -c "$probe" 2>&1)
  yes_if "podman/$r: runs under containers-default" 'echo "$out" | grep -Eq "^label=containers-default-[0-9.]+ \(enforce\)$"' "$out"
  yes_if "podman/$r: the profile denies mount" 'echo "$out" | grep -qx mount=denied' "$out"
  out=$($P run --rm --runtime $R --network none --cap-add SYS_ADMIN --security-opt apparmor=unconfined localhost/oxirun-bb sh -c "$probe" 2>&1)
  yes_if "podman/$r: unconfined allows it" 'echo "$out" | grep -qx "label=unconfined" && echo "$out" | grep -qx mount=allowed' "$out"
done

# --- Docker (its own dockerd, its own containerd, state on tmpfs)
mkdir -p /var/lib/docker-t /run/docker-t && mount -t tmpfs tmpfs /var/lib/docker-t
dockerd --data-root /var/lib/docker-t --exec-root /run/docker-t --pidfile /run/docker-t.pid \
  --host unix:///run/docker-t.sock --bridge none --iptables=false --ip6tables=false \
  --exec-opt native.cgroupdriver=cgroupfs --add-runtime oxirun=$T/oxirun >/tmp/dockerd.log 2>&1 &
D="docker -H unix:///run/docker-t.sock"
yes_if "docker: dockerd up" 'wait_for "$D info >/dev/null 2>&1" || wait_for "$D info >/dev/null 2>&1"' "$(tail -5 /tmp/dockerd.log)"
$D import $T/rootfs.tar oxirun-bb >/tmp/di.out 2>&1
yes_if "docker: image imported" '$D image inspect oxirun-bb >/dev/null 2>&1' "$(cat /tmp/di.out)"
for r in runc oxirun; do
  out=$($D run --rm --runtime $r --network none --cap-add SYS_ADMIN oxirun-bb sh -c "$probe" 2>&1)
  yes_if "docker/$r: runs under docker-default" 'echo "$out" | grep -qx "label=docker-default (enforce)"' "$out"
  yes_if "docker/$r: the profile denies mount" 'echo "$out" | grep -qx mount=denied' "$out"
  out=$($D run --rm --runtime $r --network none --cap-add SYS_ADMIN --security-opt apparmor=unconfined oxirun-bb sh -c "$probe" 2>&1)
  yes_if "docker/$r: unconfined allows it" 'echo "$out" | grep -qx "label=unconfined" && echo "$out" | grep -qx mount=allowed' "$out"
done
kill $(cat /run/docker-t.pid) 2>/dev/null
"#;

#[test]
fn engines_apparmor_profiles_in_a_qemu_guest() {
    if let Some(why) = guest::unavailable() {
        eprintln!("SKIP engines_apparmor_profiles_in_a_qemu_guest: {why}");
        return;
    }
    let dir = TestDir::new("qemu-lsm-engines");
    let rootfs = dir.join("rootfs");
    oxirun_integration::rootfs::copy_to(&rootfs);
    let tar = dir.join("rootfs.tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        "tar the busybox rootfs",
    );
    let files = [
        ("rootfs.tar", fs::read(&tar).unwrap(), false),
        ("oxirun", fs::read(static_oxirun()).unwrap(), true),
    ];
    let run = guest::boot(
        &dir.path,
        &files,
        &format!("{TAP_HELPERS}{SCRIPT}{TAP_END}"),
        GUEST_TIMEOUT,
    );
    eprintln!("guest ran {:?}; console:\n{}", run.wall, run.console);
    assert!(!run.timed_out, "guest timed out after {GUEST_TIMEOUT:?}");
    let console = Console { text: run.console };
    let mut expected = vec![
        "apparmor is on".to_string(),
        "podman: image imported".into(),
        "docker: dockerd up".into(),
        "docker: image imported".into(),
    ];
    for engine in ["podman", "docker"] {
        for r in ["runc", "oxirun"] {
            let profile = if engine == "podman" {
                "containers-default"
            } else {
                "docker-default"
            };
            expected.push(format!("{engine}/{r}: runs under {profile}"));
            expected.push(format!("{engine}/{r}: the profile denies mount"));
            expected.push(format!("{engine}/{r}: unconfined allows it"));
        }
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    console.assert_all_ok(&expected);
}
