//! The engines as they ship on a systemd host, end to end in a guest with systemd as PID 1,
//! pure cgroup v2 and AppArmor on (`oxirun_integration::guest`: this machine's own `/`):
//! podman 4.3 with its default `cgroup_manager = "systemd"`, Docker 20.10 with its default
//! on cgroup v2 `native.cgroupdriver=systemd`, and containerd 1.6's CRI with
//! `SystemdCgroup = true` driven by crictl. Runc first, then oxirun, on every scenario.
//!
//! * systemd driver (issue 16): the container's init is in the unit the engine names
//!   (`libpod-<id>.scope` in `machine.slice`, `docker-<id>.scope` in `system.slice`,
//!   `cri-containerd-<id>.scope` in the pod's slice), the unit is active and delegated, the
//!   limits the engine asked for are in `systemctl show` and in the cgroup files, exec
//!   joins the container (exit codes pass through), update reaches the unit, stop removes
//!   the unit and its cgroup; podman's pod puts its containers in the pod's slice; the state
//!   was written by the runtime under test.
//! * AppArmor (issue 17): the engines' own profiles (`containers-default-*`,
//!   `docker-default`) confine the container (`deny mount`), and `apparmor=unconfined`
//!   lifts it (so the denial is AppArmor's).
//!
//! Daemons run one after the other, state on tmpfs, `--network none` / a hostNetwork pod.
//! Wall time: see README (about 2 min here).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use oxirun_integration::clients::{cri, crictl, images};
use oxirun_integration::guest;
use oxirun_integration::qemu::{run, static_oxirun, Console, TAP_END, TAP_HELPERS};
use oxirun_integration::util::TestDir;
use serde_json::json;

const GUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Shared shell helpers: `unit_checks WHO PID UNIT SLICE` checks the systemd side of a
/// container started with 64 MiB and 50 pids; `state_by WHO RUNTIME ID` who wrote its state;
/// `gone WHO UNIT DIR [slice]` that stop removed both; `lifecycle` runs podman's or Docker's
/// container through all of them.
const HELPERS: &str = r#"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T=/oxirun-test
probe='echo "label=$(cat /proc/self/attr/current)"; mkdir -p /tmp/m; if mount -t tmpfs t /tmp/m 2>/tmp/e; then echo mount=allowed; else echo mount=denied; cat /tmp/e; fi'
unit_checks() {
  W=$1; U=$3; CG=/sys/fs/cgroup/$4/$3
  check "$W: the init is in the unit $4/<engine>-<id>.scope" "0::/$4/$U" "$(cat /proc/$2/cgroup 2>&1)"
  systemctl show -p ActiveState,Delegate,MemoryMax,TasksMax $U > /tmp/props
  check "$W: the unit is active and delegated" "active yes" "$(sed -n 's/^ActiveState=//p' /tmp/props) $(sed -n 's/^Delegate=//p' /tmp/props)"
  check "$W: MemoryMax and TasksMax of the unit" "67108864 50" "$(sed -n 's/^MemoryMax=//p' /tmp/props) $(sed -n 's/^TasksMax=//p' /tmp/props)"
  check "$W: memory.max and pids.max of its cgroup" "67108864 50" "$(cat $CG/memory.max 2>&1) $(cat $CG/pids.max 2>&1)"
}
# The runtime under test wrote the container's state: oxirun's state.json has pid_start,
# runc's init_process_pid.
state_by() {
  f=$(find /run -path "*/$3/state.json" 2>/dev/null | head -1)
  key=init_process_pid; [ $2 = oxirun ] && key=pid_start
  yes_if "$1: the state is $2's" 'grep -q "\"$key\"" "$f"' "state file: [$f]"
}
gone() {
  # Globals: yes_if evaluates its condition with its own positional parameters.
  # A scope must be gone entirely (not even failed); a slice may stay loaded, inactive.
  gu=$2; gd=$3; gs="LoadState --value $gu)\" = not-found"
  [ "$4" = slice ] && gs="ActiveState --value $gu)\" = inactive"
  yes_if "$1: stop removes the unit and its cgroup" 'wait_for "[ \"\$(systemctl show -p $gs ] && [ ! -e $gd ]"' "$(systemctl show -p LoadState,ActiveState $gu | tr '\n' ' ') $(ls -d $gd 2>&1)"
}
# lifecycle W CLI NAME RUNTIME IMAGE UNIT_PREFIX SLICE R UPDATE_FLAGS: one engine's
# container under the systemd driver: run with 64 MiB and 50 pids, the unit, exec, update to
# 128 MiB, stop (podman's and Docker's command lines are alike here).
lifecycle() {
  E=$2; c=$3; S=$7
  $E run -d --name $c --runtime $4 --network none --memory 64m --pids-limit 50 $5 sleep 1000 >/tmp/lr.out 2>&1
  id=$($E inspect $c --format '{{.Id}}' 2>/dev/null); pid=$($E inspect $c --format '{{.State.Pid}}' 2>/dev/null)
  U=$6-$id.scope
  yes_if "$1: run -d with limits" '[ "${pid:-0}" -gt 0 ]' "$(cat /tmp/lr.out)"
  unit_checks $1 "$pid" $U $S
  state_by $1 $8 $id
  check "$1: exec sees the container's cgroup" "0::/ 67108864" "$($E exec $c sh -c 'echo $(cat /proc/self/cgroup) $(cat /sys/fs/cgroup/memory.max)' 2>&1)"
  $E exec $c sh -c 'exit 3'
  check "$1: exec's exit code" 3 "$?"
  $E update $9 $c >/tmp/lu.out 2>&1
  uv="$(systemctl show -p MemoryMax --value $U) $(cat /sys/fs/cgroup/$S/$U/memory.max 2>&1)"
  yes_if "$1: update reaches the unit and the file" '[ "$uv" = "134217728 134217728" ]' "$uv $(cat /tmp/lu.out)"
  $E stop -t 0 $c >/dev/null 2>&1
  gone $1 $U /sys/fs/cgroup/$S/$U
  $E rm $c >/dev/null 2>&1
}
"#;

const PODMAN: &str = r#"
# --- podman, cgroup_manager = "systemd" (its default)
mount -t tmpfs tmpfs /var/lib/containers 2>/dev/null || { mkdir -p /var/lib/containers; mount -t tmpfs tmpfs /var/lib/containers; }
P="podman --events-backend=file"
check "podman: its cgroup manager is systemd" systemd "$($P info --format '{{.Host.CgroupManager}}' 2>&1)"
$P import $T/rootfs.tar localhost/oxirun-bb >/tmp/pi.out 2>&1
yes_if "podman: image imported" '$P image exists localhost/oxirun-bb' "$(cat /tmp/pi.out)"
for R in /usr/bin/runc $T/oxirun; do
  r=$(basename $R); W=podman/$r
  lifecycle $W "$P" c-$r $R localhost/oxirun-bb libpod machine.slice $r "--memory 128m"
  # A pod: its containers live in the pod's slice, machine-libpod_pod_<id>.slice. The
  # runtime is global here so that the infra container (podman's own catatonit pause
  # image) runs under it too.
  pod=$($P --runtime $R pod create --name p-$r 2>/tmp/pp.out)
  $P --runtime $R run -d --name cp-$r --pod p-$r --network none localhost/oxirun-bb sleep 1000 >>/tmp/pp.out 2>&1
  id=$($P inspect cp-$r --format '{{.Id}}' 2>/dev/null); pid=$($P inspect cp-$r --format '{{.State.Pid}}' 2>/dev/null)
  PS=machine-libpod_pod_$pod.slice
  pcg="$(cat /proc/${pid:-0}/cgroup 2>&1)"
  yes_if "$W: a pod's container is in the pod's slice" '[ "$pcg" = "0::/machine.slice/$PS/libpod-$id.scope" ]' "$pcg $(cat /tmp/pp.out)"
  $P --runtime $R pod stop -t 0 p-$r >/dev/null 2>&1; $P --runtime $R pod rm -f p-$r >/dev/null 2>&1
  gone "$W: the pod" $PS /sys/fs/cgroup/machine.slice/$PS slice
  out=$($P run --rm --runtime $R --network none --cap-add SYS_ADMIN localhost/oxirun-bb sh -c "$probe" 2>&1)
  yes_if "$W: runs under containers-default" 'echo "$out" | grep -Eq "^label=containers-default-[0-9.]+ \(enforce\)$"' "$out"
  yes_if "$W: the profile denies mount" 'echo "$out" | grep -qx mount=denied' "$out"
  out=$($P run --rm --runtime $R --network none --cap-add SYS_ADMIN --security-opt apparmor=unconfined localhost/oxirun-bb sh -c "$probe" 2>&1)
  yes_if "$W: unconfined allows it" 'echo "$out" | grep -qx "label=unconfined" && echo "$out" | grep -qx mount=allowed' "$out"
done
"#;

const DOCKER: &str = r#"
# --- Docker, native.cgroupdriver=systemd (its default on cgroup v2), own dockerd and containerd
mkdir -p /var/lib/docker-t /run/docker-t && mount -t tmpfs tmpfs /var/lib/docker-t
dockerd --data-root /var/lib/docker-t --exec-root /run/docker-t --pidfile /run/docker-t.pid \
  --host unix:///run/docker-t.sock --bridge none --iptables=false --ip6tables=false \
  --add-runtime oxirun=$T/oxirun >/tmp/dockerd.log 2>&1 &
D="docker -H unix:///run/docker-t.sock"
yes_if "docker: dockerd up" 'wait_for "$D info >/dev/null 2>&1" || wait_for "$D info >/dev/null 2>&1"' "$(tail -5 /tmp/dockerd.log)"
check "docker: its cgroup driver is systemd" systemd "$($D info --format '{{.CgroupDriver}}' 2>&1)"
$D import $T/rootfs.tar oxirun-bb >/tmp/di.out 2>&1
yes_if "docker: image imported" '$D image inspect oxirun-bb >/dev/null 2>&1' "$(cat /tmp/di.out)"
for r in runc oxirun; do
  W=docker/$r
  lifecycle $W "$D" d-$r $r oxirun-bb docker system.slice $r "--memory 128m --memory-swap 256m"
  out=$($D run --rm --runtime $r --network none --cap-add SYS_ADMIN oxirun-bb sh -c "$probe" 2>&1)
  yes_if "$W: runs under docker-default" 'echo "$out" | grep -qx "label=docker-default (enforce)"' "$out"
  yes_if "$W: the profile denies mount" 'echo "$out" | grep -qx mount=denied' "$out"
  out=$($D run --rm --runtime $r --network none --cap-add SYS_ADMIN --security-opt apparmor=unconfined oxirun-bb sh -c "$probe" 2>&1)
  yes_if "$W: unconfined allows it" 'echo "$out" | grep -qx "label=unconfined" && echo "$out" | grep -qx mount=allowed' "$out"
done
dp=$(cat /run/docker-t.pid); kill $dp 2>/dev/null
wait_for '! kill -0 $dp 2>/dev/null'
"#;

/// `@PAUSE@` and `@CRICTL@` are filled in by the test.
const CRI: &str = r#"
# --- containerd's CRI, SystemdCgroup = true, driven by crictl; a hostNetwork pod in oxit.slice
C=/run/cri-t
mkdir -p $C /var/lib/cri-t && mount -t tmpfs tmpfs /var/lib/cri-t
handler() { printf '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s]\n      runtime_type = "io.containerd.runc.v2"\n      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s.options]\n        BinaryName = "%s"\n        SystemdCgroup = true\n' $1 $1 $2; }
{ printf 'version = 2\nroot = "/var/lib/cri-t"\nstate = "%s/state"\n[grpc]\n  address = "%s/c.sock"\n' $C $C
  printf '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "@PAUSE@"\n  [plugins."io.containerd.grpc.v1.cri".containerd]\n'
  handler runc /usr/bin/runc; handler oxirun $T/oxirun; } > $C/config.toml
containerd --config $C/config.toml > /tmp/containerd.log 2>&1 &
K="@CRICTL@ --runtime-endpoint unix://$C/c.sock --image-endpoint unix://$C/c.sock --timeout 60s"
yes_if "cri: containerd up" 'wait_for "$K version >/dev/null 2>&1" || wait_for "$K version >/dev/null 2>&1"' "$(tail -5 /tmp/containerd.log)"
ctr --address $C/c.sock -n k8s.io images import $T/bb.tar >/tmp/ci.out 2>&1
ctr --address $C/c.sock -n k8s.io images import $T/pause.tar >>/tmp/ci.out 2>&1
yes_if "cri: images imported" '[ "$($K images -q | wc -l)" = 2 ]' "$(cat /tmp/ci.out)"
cd /tmp
for r in runc oxirun; do
  W=cri/$r
  printf '{"metadata": {"name": "p-%s", "namespace": "oxit", "uid": "p-%s", "attempt": 0}, "log_directory": "/tmp/logs-%s", "linux": {"cgroup_parent": "oxit.slice", "security_context": {"namespace_options": {"network": 2}}}}' $r $r $r > pod-$r.json
  printf '{"metadata": {"name": "c-%s"}, "image": {"image": "localhost/oxirun-bb:latest"}, "command": ["sleep", "1000"], "log_path": "c.log", "linux": {"resources": {"memory_limit_in_bytes": 67108864}}}' $r > ctr-$r.json
  pod=$($K runp --runtime $r pod-$r.json 2>/tmp/kr.out)
  id=$($K create --no-pull $pod ctr-$r.json pod-$r.json 2>>/tmp/kr.out) && $K start $id >/dev/null 2>>/tmp/kr.out
  pid=$($K inspect -o go-template --template '{{.info.pid}}' $id 2>/dev/null)
  yes_if "$W: runp, create, start" '[ "${pid:-0}" -gt 0 ]' "$(cat /tmp/kr.out)"
  U=cri-containerd-$id.scope
  check "$W: the init is in the unit oxit.slice/cri-containerd-<id>.scope" "0::/oxit.slice/$U" "$(cat /proc/${pid:-0}/cgroup 2>&1)"
  check "$W: the pod's sandbox has its own unit" active "$(systemctl show -p ActiveState --value cri-containerd-$pod.scope)"
  check "$W: MemoryMax of the unit and memory.max" "67108864 67108864" "$(systemctl show -p MemoryMax --value $U) $(cat /sys/fs/cgroup/oxit.slice/$U/memory.max 2>&1)"
  state_by $W $r $id
  check "$W: exec -s sees the container's cgroup" "0::/ 67108864" "$($K exec -s $id sh -c 'echo $(cat /proc/self/cgroup) $(cat /sys/fs/cgroup/memory.max)' 2>&1)"
  $K stop -t 0 $id >/dev/null 2>&1; $K rm $id >/dev/null 2>&1
  gone $W $U /sys/fs/cgroup/oxit.slice/$U
  $K stopp $pod >/dev/null 2>&1; $K rmp $pod >/dev/null 2>&1
  gone "$W: the pod" cri-containerd-$pod.scope /sys/fs/cgroup/oxit.slice/cri-containerd-$pod.scope
done
"#;

#[test]
fn engines_with_systemd_and_apparmor_in_a_qemu_guest() {
    if let Some(why) = guest::unavailable() {
        eprintln!("SKIP engines_with_systemd_and_apparmor_in_a_qemu_guest: {why}");
        return;
    }
    let crictl = crictl::crictl().expect("crictl (built from the vendored cri-tools)");
    let dir = TestDir::new("qemu-engines");
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
    let (bb, pause) = (dir.join("bb.tar"), dir.join("pause.tar"));
    images::docker_archive(&dir.path, "localhost/oxirun-bb:latest", &bb);
    let pause_tag = "localhost/oxirun-pause:1";
    images::docker_archive_with(
        &dir.path,
        pause_tag,
        &pause,
        json!({"Cmd": ["sh", "-c", cri::PAUSE_CMD]}),
    );
    let mut files = vec![
        ("rootfs.tar", fs::read(&tar).unwrap(), false),
        ("bb.tar", fs::read(&bb).unwrap(), false),
        ("pause.tar", fs::read(&pause).unwrap(), false),
        ("oxirun", fs::read(static_oxirun()).unwrap(), true),
    ];
    // The guest sees this machine's `/` except /tmp and /run (tmpfs there): crictl (50 MB)
    // is read in place unless it lives under those.
    let crictl_in_guest = if [Path::new("/tmp"), Path::new("/run")]
        .iter()
        .any(|p| crictl.starts_with(p))
    {
        files.push(("crictl", fs::read(&crictl).unwrap(), true));
        "/oxirun-test/crictl".to_string()
    } else {
        crictl.display().to_string()
    };
    let cri_script = CRI
        .replace("@PAUSE@", pause_tag)
        .replace("@CRICTL@", &crictl_in_guest);
    let run = guest::boot(
        &dir.path,
        &files,
        &format!("{TAP_HELPERS}{HELPERS}{PODMAN}{DOCKER}{cri_script}{TAP_END}"),
        GUEST_TIMEOUT,
    );
    eprintln!("guest ran {:?}; console:\n{}", run.wall, run.console);
    assert!(!run.timed_out, "guest timed out after {GUEST_TIMEOUT:?}");
    let console = Console { text: run.console };
    let mut expected: Vec<String> = [
        "podman: its cgroup manager is systemd",
        "podman: image imported",
        "docker: dockerd up",
        "docker: its cgroup driver is systemd",
        "docker: image imported",
        "cri: containerd up",
        "cri: images imported",
    ]
    .map(String::from)
    .to_vec();
    let unit = |w: &str, slice: &str| {
        vec![
            format!("{w}: the init is in the unit {slice}/<engine>-<id>.scope"),
            format!("{w}: the unit is active and delegated"),
            format!("{w}: MemoryMax and TasksMax of the unit"),
            format!("{w}: memory.max and pids.max of its cgroup"),
        ]
    };
    for r in ["runc", "oxirun"] {
        for (engine, slice, profile) in [
            ("podman", "machine.slice", "containers-default"),
            ("docker", "system.slice", "docker-default"),
        ] {
            let w = format!("{engine}/{r}");
            expected.push(format!("{w}: run -d with limits"));
            expected.extend(unit(&w, slice));
            expected.push(format!("{w}: the state is {r}'s"));
            expected.push(format!("{w}: exec sees the container's cgroup"));
            expected.push(format!("{w}: exec's exit code"));
            expected.push(format!("{w}: update reaches the unit and the file"));
            expected.push(format!("{w}: stop removes the unit and its cgroup"));
            if engine == "podman" {
                expected.push(format!("{w}: a pod's container is in the pod's slice"));
                expected.push(format!(
                    "{w}: the pod: stop removes the unit and its cgroup"
                ));
            }
            expected.push(format!("{w}: runs under {profile}"));
            expected.push(format!("{w}: the profile denies mount"));
            expected.push(format!("{w}: unconfined allows it"));
        }
        let w = format!("cri/{r}");
        for s in [
            "runp, create, start",
            "the init is in the unit oxit.slice/cri-containerd-<id>.scope",
            "the pod's sandbox has its own unit",
            "MemoryMax of the unit and memory.max",
        ] {
            expected.push(format!("{w}: {s}"));
        }
        expected.push(format!("{w}: the state is {r}'s"));
        expected.push(format!("{w}: exec -s sees the container's cgroup"));
        expected.push(format!("{w}: stop removes the unit and its cgroup"));
        expected.push(format!(
            "{w}: the pod: stop removes the unit and its cgroup"
        ));
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    console.assert_all_ok(&expected);
}
