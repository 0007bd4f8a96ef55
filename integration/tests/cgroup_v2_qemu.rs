//! Pure cgroup v2, checked in a QEMU guest: Debian's `linux-image-amd64` kernel booted by
//! `qemu-system-x86_64` (TCG, `-m 512 -smp 1`) with an initramfs this test builds from a
//! STATIC release oxirun, busybox, one config.json per scenario and a test script. The guest
//! runs the real binary through each scenario, prints TAP-like lines on the serial console and
//! powers off; this test parses the console and asserts every scenario passed.
//!
//! Scenarios: resources read back from the v2 files (memory, swap, cpu weight/max, pids,
//! cpuset, hugetlb incl. rsvd, `unified`, io weight), a memory hog OOM-killed and reported by
//! `events`, a fork bomb stopped at pids.max, pause/resume through cgroup.freeze, `update` of
//! live limits (flags and `--resources -`), `ps` listing exactly cgroup.procs,
//! `events --stats`, delete removing the cgroup, the init and an exec'd process born in their
//! cgroup (`clone3` with `CLONE_INTO_CGROUP`, seen in the `--debug` log), the device BPF
//! program denying a device (a write to /dev/kmsg; reads are refused by dmesg_restrict
//! anyway), and v2-only refusals (`realtimeRuntime`).
//!
//! Needs: qemu-system-x86 (`qemu-system-x86_64`), linux-image-amd64 (`/boot/vmlinuz-*`),
//! busybox-static (`/bin/busybox`), cpio, gzip. Skipped (with the reason printed) only when no
//! kernel image is installed. The static build goes to `target/qemu-static` so the normal
//! build stays fast.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxirun_integration::qemu::{
    boot, kernel_image, spec_config, static_oxirun, Initramfs, TAP_END, TAP_PRELUDE,
};
use oxirun_integration::util::TestDir;
use oxirun_integration::{json, Value};

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
const MB: i64 = 1 << 20;

/// Every scenario line the guest must report as `ok`.
const EXPECTED: &[&str] = &[
    "pure v2 host",
    "resources: create",
    "resources: memory.max",
    "resources: memory.low",
    "resources: memory.swap.max",
    "resources: memory.high (unified)",
    "resources: cpu.weight from shares",
    "resources: cpu.max",
    "resources: cpu.max.burst",
    "resources: pids.max",
    "resources: cpuset.cpus",
    "resources: hugetlb.2MB.max",
    "io: weight",
    "oom: events reports oom",
    "oom: memory.events oom_kill",
    "oom: hog killed",
    "oom: events exits when the container stops",
    "pids: fork bomb stopped at pids.max",
    "pids: pids.events max",
    "freeze: cgroup.freeze set",
    "freeze: cgroup.events frozen",
    "freeze: state paused",
    "freeze: thawed",
    "freeze: state running",
    "ps: lists exactly cgroup.procs",
    "exec: born in the container's cgroup (CLONE_INTO_CGROUP)",
    "update: memory.max",
    "update: pids.max",
    "update: cpu.max keeps the period",
    "update: --resources - memory.max",
    "update: saved in state",
    "update: below usage refused with checkBeforeUpdate",
    "stats: events --stats",
    "delete: cgroup removed",
    "clone: the init is born in its cgroup (CLONE_INTO_CGROUP)",
    "devices: default devices usable",
    "devices: kmsg denied by the BPF program",
    "devices: kmsg allowed by an explicit rule",
    "refused: realtimeRuntime on v2",
    "refused: unified key of a missing controller",
];

/// A config.json for the guest: `oxirun spec` plus the scenario's settings.
fn config(
    base: &Value,
    name: &str,
    script: &str,
    resources: Value,
    devices: Option<Value>,
) -> Value {
    let mut c = base.clone();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["sh", "-c", script]);
    c["root"]["readonly"] = json!(false);
    c["linux"]["cgroupsPath"] = json!(format!("/oxirun-it/{name}"));
    let mut res = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let (Value::Object(r), Value::Object(extra)) = (&mut res, resources) {
        r.extend(extra);
    }
    c["linux"]["resources"] = res;
    if let Some(d) = devices {
        c["linux"]["devices"] = d;
    }
    c
}

/// The guest's test script (PID 1 after switch_root). `@WEIGHT@` = expected cpu.weight.
const SCRIPT: &str = r#"
mount -t cgroup2 cgroup2 /sys/fs/cgroup
state_of() { sed 's/.*) \(.\).*/\1/' /proc/$1/stat 2>/dev/null; }
gone() { s=$(state_of $1); [ -z "$s" ] || [ "$s" = Z ]; }
O="oxirun --root /run/oxirun"
CG=/sys/fs/cgroup/oxirun-it
bundle() { mkdir -p /b/$1; cp /cfg/$1.json /b/$1/config.json; cp -a /rootfs /b/$1/rootfs; }
create() { bundle $1; $O create --bundle /b/$1 $1 </dev/null >/tmp/$1.out 2>/tmp/$1.err; }
procs_json() { echo "[$(sort -n $1/cgroup.procs | tr '\n' ',' | sed 's/,$//')]"; }

yes_if "pure v2 host" '[ -e /sys/fs/cgroup/cgroup.subtree_control ] && ! grep -q " cgroup " /proc/mounts' "$(cat /proc/mounts)"

# --- resources read back
if create res && $O start res; then
  ok "resources: create"
  d=$CG/res
  check "resources: memory.max" 33554432 "$(cat $d/memory.max)"
  check "resources: memory.low" 16777216 "$(cat $d/memory.low)"
  check "resources: memory.swap.max" 16777216 "$(cat $d/memory.swap.max)"
  check "resources: memory.high (unified)" 41943040 "$(cat $d/memory.high)"
  check "resources: cpu.weight from shares" @WEIGHT@ "$(cat $d/cpu.weight)"
  check "resources: cpu.max" "50000 100000" "$(cat $d/cpu.max)"
  check "resources: cpu.max.burst" 10000 "$(cat $d/cpu.max.burst 2>/dev/null || echo no-burst-file)"
  check "resources: pids.max" 42 "$(cat $d/pids.max)"
  check "resources: cpuset.cpus" 0 "$(cat $d/cpuset.cpus)"
  check "resources: hugetlb.2MB.max" 4194304 "$(cat $d/hugetlb.2MB.max)"
  if [ -e $d/hugetlb.2MB.rsvd.max ]; then
    check "resources: hugetlb.2MB.rsvd.max" 4194304 "$(cat $d/hugetlb.2MB.rsvd.max)"
  fi
else
  notok "resources: create" "$(cat /tmp/res.err)"
fi

# --- io weight (needs io.weight (iocost) or io.bfq.weight in the kernel)
if create io && $O start io; then
  d=$CG/io
  if [ -e $d/io.bfq.weight ]; then
    check "io: weight" "default 500" "$(head -n1 $d/io.bfq.weight)"
  else
    check "io: weight" "default 4950" "$(head -n1 $d/io.weight)"
  fi
  $O kill io KILL; sleep 0.5; $O delete --force io
elif grep -q "io.weight\|io.bfq" /tmp/io.err && [ ! -e $CG/io.weight ] ; then
  ok "io: weight # SKIP kernel has neither io.weight nor io.bfq.weight: $(cat /tmp/io.err)"
else
  notok "io: weight" "$(cat /tmp/io.err)"
fi

# --- OOM
if create oom; then
  $O events --interval 1s oom >/tmp/ev.oom 2>/tmp/ev.err &
  EV=$!
  $O start oom
  yes_if "oom: events reports oom" 'wait_for "grep -q \"^{.type.:.oom.,.id.:.oom.}\$\" /tmp/ev.oom"' "$(cat /tmp/ev.oom /tmp/ev.err | head -c 600)"
  k=$(sed -n 's/^oom_kill //p' $CG/oom/memory.events)
  yes_if "oom: memory.events oom_kill" '[ "${k:-0}" -ge 1 ]' "oom_kill=$k"
  yes_if "oom: hog killed" 'wait_for "grep -q dd=137 /tmp/oom.out"' "$(cat /tmp/oom.out)"
  $O kill oom KILL
  yes_if "oom: events exits when the container stops" 'wait_for "gone $EV"' "events still running"
  $O delete oom
else
  notok "oom: events reports oom" "$(cat /tmp/oom.err)"
fi

# --- fork bomb
if create fork && $O start fork; then
  wait_for 'grep -q spawned /tmp/fork.out'
  c=$(cat $CG/fork/pids.current)
  yes_if "pids: fork bomb stopped at pids.max" '[ "$c" -le 10 ] && [ "$c" -ge 8 ]' "pids.current=$c out=$(cat /tmp/fork.out)"
  m=$(sed -n 's/^max //p' $CG/fork/pids.events)
  yes_if "pids: pids.events max" '[ "${m:-0}" -ge 1 ]' "max=$m"
  $O kill fork KILL; sleep 0.5; $O delete --force fork
else
  notok "pids: fork bomb stopped at pids.max" "$(cat /tmp/fork.err)"
fi

# --- freeze, ps
if create fr && $O start fr; then
  wait_for '[ $(wc -l < $CG/fr/cgroup.procs) -eq 3 ]'
  $O pause fr
  check "freeze: cgroup.freeze set" 1 "$(cat $CG/fr/cgroup.freeze)"
  yes_if "freeze: cgroup.events frozen" 'grep -q "^frozen 1" $CG/fr/cgroup.events' "$(cat $CG/fr/cgroup.events)"
  yes_if "freeze: state paused" '$O state fr | grep -q "\"status\": \"paused\""' "$($O state fr)"
  $O resume fr
  yes_if "freeze: thawed" 'grep -q "^frozen 0" $CG/fr/cgroup.events' "$(cat $CG/fr/cgroup.events)"
  yes_if "freeze: state running" '$O state fr | grep -q "\"status\": \"running\""' "$($O state fr)"
  check "ps: lists exactly cgroup.procs" "$(procs_json $CG/fr)" "$($O ps --format json fr)"
  out=$($O --debug exec fr cat /proc/self/cgroup 2>&1 </dev/null)
  yes_if "exec: born in the container's cgroup (CLONE_INTO_CGROUP)" 'echo "$out" | grep -q "exec process cloned into its cgroup" && echo "$out" | grep -Eq "^0::/(oxirun-it/fr)?\$"' "$out"
  $O kill fr KILL; sleep 0.5; $O delete --force fr
else
  notok "freeze: cgroup.freeze set" "$(cat /tmp/fr.err)"
fi

# --- update, stats, delete (on the resources container)
if [ -d $CG/res ]; then
  $O update --memory 64m --pids-limit 20 --cpu-quota 20000 res 2>/tmp/upd.err
  check "update: memory.max" 67108864 "$(cat $CG/res/memory.max)"
  check "update: pids.max" 20 "$(cat $CG/res/pids.max)"
  check "update: cpu.max keeps the period" "20000 100000" "$(cat $CG/res/cpu.max)"
  echo '{"memory":{"limit":50331648,"swap":67108864}}' | $O update --resources - res 2>>/tmp/upd.err
  check "update: --resources - memory.max" 50331648 "$(cat $CG/res/memory.max)"
  yes_if "update: saved in state" 'grep -q "\"limit\":50331648" /run/oxirun/res/state.json' "$(cat /tmp/upd.err)"
  echo '{"memory":{"limit":4096,"checkBeforeUpdate":true}}' | $O update --resources - res 2>/tmp/upd2.err
  yes_if "update: below usage refused with checkBeforeUpdate" 'grep -q "memory.limit" /tmp/upd2.err && [ "$(cat $CG/res/memory.max)" = 50331648 ]' "$(cat /tmp/upd2.err) max=$(cat $CG/res/memory.max)"
  s=$($O events --stats res)
  yes_if "stats: events --stats" 'echo "$s" | grep -q "^{\"type\":\"stats\",\"id\":\"res\",\"data\":{" && echo "$s" | grep -q "\"pids\":{\"current\":1,\"limit\":20}" && echo "$s" | grep -q "\"limit\":50331648"' "$s"
  $O kill res KILL; sleep 0.5; $O delete res
  yes_if "delete: cgroup removed" '[ ! -e $CG/res ]' "still there: $(ls $CG)"
else
  notok "update: memory.max" "no res container"
fi

# --- devices (foreground run: output on our stdout)
bundle dev
out=$($O --debug run --bundle /b/dev dev 2>&1 </dev/null)
yes_if "clone: the init is born in its cgroup (CLONE_INTO_CGROUP)" 'echo "$out" | grep -q "init cloned into its cgroup"' "$out"
yes_if "devices: default devices usable" 'echo "$out" | grep -q null-ok && echo "$out" | grep -q zero-ok' "$out"
yes_if "devices: kmsg denied by the BPF program" 'echo "$out" | grep -q kmsg-denied' "$out"
bundle dev2
out=$($O run --bundle /b/dev2 dev2 2>&1 </dev/null)
yes_if "devices: kmsg allowed by an explicit rule" 'echo "$out" | grep -q kmsg-write-ok' "$out"

# --- v2-only refusals
bundle rt
out=$($O create --bundle /b/rt rt 2>&1 </dev/null)
yes_if "refused: realtimeRuntime on v2" 'echo "$out" | grep -q "linux.resources.cpu.realtimeRuntime" && [ ! -e $CG/rt ]' "$out"
bundle badu
out=$($O create --bundle /b/badu badu 2>&1 </dev/null)
yes_if "refused: unified key of a missing controller" 'echo "$out" | grep -q "linux.resources.unified\[nosuch.max\]" && [ ! -e $CG/badu ]' "$out"

"#;

/// Build the initramfs tree and pack it (`cpio -H newc | gzip`).
fn initramfs(dir: &TestDir, oxirun: &Path, base: &Value) -> PathBuf {
    // runc's shares -> weight mapping (oxirun's convert::shares_to_weight) for 512 shares.
    let weight = 59;
    let script = format!(
        "{TAP_PRELUDE}{}{TAP_END}",
        SCRIPT.replace("@WEIGHT@", &weight.to_string())
    );
    let tree = Initramfs::new(
        dir,
        oxirun,
        &["sh", "sleep", "dd", "head", "echo", "cat"],
        &script,
        320,
    );
    let kmsg =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    let cfgs = [
        config(
            base,
            "res",
            "exec sleep 1000",
            json!({
                "memory": {"limit": 32 * MB, "reservation": 16 * MB, "swap": 48 * MB},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "cpus": "0", "mems": "0"},
                "pids": {"limit": 42},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
                "unified": {"memory.high": "41943040"}
            }),
            None,
        ),
        config(base, "io", "exec sleep 1000", json!({"blockIO": {"weight": 500}}), None),
        config(
            base,
            "oom",
            "sleep 2; dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; exec sleep 1000",
            json!({"memory": {"limit": 16 * MB, "swap": 16 * MB}}),
            None,
        ),
        config(
            base,
            "fork",
            "(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; echo spawned; exec sleep 1000",
            json!({"pids": {"limit": 10}}),
            None,
        ),
        config(base, "fr", "sleep 1000 & sleep 1000 & exec sleep 1000", json!({}), None),
        config(
            base,
            "dev",
            "head -c1 /dev/null; echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; \
             echo oxirun-test 2>/dev/null >/dev/kmsg || echo kmsg-denied",
            json!({}),
            Some(kmsg.clone()),
        ),
        {
            let mut c = config(
                base,
                "dev2",
                "echo oxirun-test >/dev/kmsg && echo kmsg-write-ok",
                json!({}),
                Some(kmsg),
            );
            c["linux"]["resources"]["devices"] = json!([
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}
            ]);
            c
        },
        config(
            base,
            "rt",
            "true",
            json!({"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 100000}}),
            None,
        ),
        config(base, "badu", "true", json!({"unified": {"nosuch.max": "1"}}), None),
    ];
    for c in &cfgs {
        let name = c["linux"]["cgroupsPath"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        tree.write(
            &format!("cfg/{name}.json"),
            &serde_json::to_vec_pretty(c).unwrap(),
        );
    }
    tree.pack()
}

#[test]
fn cgroup_v2_scenarios_in_a_qemu_guest() {
    let Some(kernel) = kernel_image() else {
        eprintln!("SKIP cgroup_v2_scenarios_in_a_qemu_guest: no /boot/vmlinuz-* (install linux-image-amd64)");
        return;
    };
    let dir = TestDir::new("qemu-v2");
    let oxirun = static_oxirun();
    // The guest's configs start from our own `spec` output.
    let base = spec_config(&dir);
    let initrd = initramfs(&dir, &oxirun, &base);

    let console = boot(
        &kernel,
        &initrd,
        "",
        512,
        &dir.join("console.log"),
        BOOT_TIMEOUT,
        &[],
    );
    console.assert_all_ok(EXPECTED);
}
