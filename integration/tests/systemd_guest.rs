//! The systemd cgroup driver (`--systemd-cgroup`), checked in a QEMU guest with systemd as
//! PID 1 and pure cgroup v2 (see `oxirun_integration::guest`), runc first and then oxirun on
//! the same scenarios: the lifecycle; resources seen through `systemctl show` and in the
//! unit's cgroup files; an `org.systemd.property.*` annotation; `update`; pause/resume;
//! `ps`; `kill --all`; `delete` removing the unit; a failed create leaving no unit (not even a
//! failed one); a bad slice refused; rootless through user 1500's manager and session bus
//! (run with limits, update, pause/resume, delete). A second guest boots systemd's hybrid layout (v1
//! controllers): placement on every hierarchy, v1 unit properties and files, update, the
//! freezer, delete and a failed create leaving no unit and no directory. Plus, on this host
//! (no systemd), the refusal.
//!
//! Skipped (with the reason printed) when no kernel, systemd or qemu is installed.

use std::fs;
use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::qemu::{spec_config, TAP_HELPERS};
use oxirun_integration::util::TestDir;
use oxirun_integration::{guest, json, oxirun_bin, Container, Value};

const TIMEOUT: Duration = Duration::from_secs(300);

/// What both guests' scripts start with (after the TAP helpers `ok`, `check`, `yes_if`,
/// `wait_for`): systemctl helpers, a busybox rootfs, `bundle <runtime> <scenario>`.
const PRELUDE: &str = r##"
T=/oxirun-test
echo "pid1=$(cat /proc/1/comm)"
prop() { systemctl show -p "$2" --value "$1"; }
# One systemctl call for many properties (each call costs under TCG).
snap() { systemctl show -p "$2" "$1" > /tmp/props; }
pv() { sed -n "s/^$1=//p" /tmp/props; }
# Not even a failed unit: a failed one stays loaded.
no_unit() { [ "$(prop $1 LoadState)" = not-found ]; }
mkdir -p /tmp/rootfs/bin /tmp/rootfs/proc /tmp/rootfs/dev /tmp/rootfs/sys /tmp/rootfs/tmp
cp /bin/busybox /tmp/rootfs/bin/
for a in sh sleep cat true echo; do ln -s busybox /tmp/rootfs/bin/$a; done
bundle() { # runtime scenario
  mkdir -p /tmp/b/$1-$2; sed "s/@RT@/$1/g" $T/$2.json > /tmp/b/$1-$2/config.json
  cp -a /tmp/rootfs /tmp/b/$1-$2/rootfs
}
# For runtime $R: its command line $RT, the res container's unit $U and cgroup path $P;
# creates it (pid: its init).
create_res() {
  RT="$R --root /run/rt-$R --systemd-cgroup"
  [ $R = oxirun ] && RT="$T/oxirun --root /run/rt-$R --systemd-cgroup"
  U=oxt-$R-res.scope
  P=oxtest.slice/oxtest-guest.slice/$U
  bundle $R res
  if $RT create --bundle /tmp/b/$R-res $R-res </dev/null >/tmp/$R-res.out 2>&1; then
    ok "$R: create"
  else
    notok "$R: create" "$(cat /tmp/$R-res.out | tr '\n' ' ')"
  fi
  pid=$($RT state $R-res | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
}
yes_if "systemd is PID 1" '[ "$(cat /proc/1/comm)" = systemd ]' "$(cat /proc/1/comm)"
"##;

/// The pure cgroup v2 scenarios.
const SCRIPT: &str = r##"
yes_if "pure v2 host" '[ -e /sys/fs/cgroup/cgroup.subtree_control ] && ! grep -q " cgroup " /proc/mounts' "$(grep cgroup /proc/mounts)"

for R in runc oxirun; do
  create_res
  D=/sys/fs/cgroup/$P
  snap $U ActiveState,Slice,Delegate,MemoryMax,MemoryLow,MemorySwapMax,TasksMax,CPUWeight,CPUQuotaPerSecUSec,AllowedCPUs,CollectMode
  check "$R: unit active" active "$(pv ActiveState)"
  check "$R: init in the unit's cgroup (nested slices)" "0::/oxtest.slice/oxtest-guest.slice/$U" "$(cat /proc/$pid/cgroup)"
  check "$R: unit slice" oxtest-guest.slice "$(pv Slice)"
  check "$R: Delegate" yes "$(pv Delegate)"
  check "$R: MemoryMax" 33554432 "$(pv MemoryMax)"
  check "$R: memory.max" 33554432 "$(cat $D/memory.max)"
  check "$R: MemoryLow" 16777216 "$(pv MemoryLow)"
  check "$R: memory.low" 16777216 "$(cat $D/memory.low)"
  check "$R: MemorySwapMax" 16777216 "$(pv MemorySwapMax)"
  check "$R: TasksMax" 42 "$(pv TasksMax)"
  check "$R: pids.max" 42 "$(cat $D/pids.max)"
  # 1024 shares: runc 1.1's linear mapping gives 39; oxirun maps as runc 1.3 and crun do (100),
  # the same in the unit and in the file, so systemd never rewrites the file to another value.
  W=39; [ $R = oxirun ] && W=100
  check "$R: CPUWeight" $W "$(pv CPUWeight)"
  check "$R: cpu.weight as the unit's CPUWeight" $W "$(cat $D/cpu.weight)"
  check "$R: CPUQuotaPerSecUSec" 500ms "$(pv CPUQuotaPerSecUSec)"
  check "$R: cpu.max" "50000 100000" "$(cat $D/cpu.max)"
  check "$R: AllowedCPUs" 0 "$(pv AllowedCPUs)"
  check "$R: annotation property CollectMode" inactive-or-failed "$(pv CollectMode)"
  $RT start $R-res
  yes_if "$R: state running" 'wait_for "$RT state $R-res | grep -q running"' "$($RT state $R-res)"
  yes_if "$R: ps lists the init" '$RT ps $R-res | grep -q " $pid "' "$($RT ps $R-res)"
  $RT exec -d $R-res sleep 100
  yes_if "$R: exec joins the unit's cgroup" '[ "$(wc -l < $D/cgroup.procs)" = 2 ]' "$(cat $D/cgroup.procs)"
  $RT update --memory 67108864 --pids-limit 50 $R-res >/tmp/$R-upd.out 2>&1 || echo "# update: $(cat /tmp/$R-upd.out)"
  check "$R: update MemoryMax" 67108864 "$(prop $U MemoryMax)"
  check "$R: update memory.max" 67108864 "$(cat $D/memory.max)"
  check "$R: update pids.max" 50 "$(cat $D/pids.max)"
  $RT pause $R-res
  check "$R: pause cgroup.freeze" 1 "$(cat $D/cgroup.freeze)"
  yes_if "$R: state paused" '$RT state $R-res | grep -q paused' "$($RT state $R-res)"
  $RT resume $R-res
  check "$R: resume cgroup.freeze" 0 "$(cat $D/cgroup.freeze)"
  $RT kill --all $R-res KILL
  yes_if "$R: kill --all stops it" 'wait_for "$RT state $R-res | grep -q stopped"' "$($RT state $R-res)"
  $RT delete $R-res
  yes_if "$R: delete removes the unit" 'wait_for "no_unit $U"' "$(prop $U LoadState)"
  yes_if "$R: delete removes the cgroup" '[ ! -e $D ]' "$(ls $D)"

  # A create failing after the unit exists (a bind mount of a missing source).
  bundle $R fail
  if $RT create --bundle /tmp/b/$R-fail $R-fail </dev/null >/tmp/$R-fail.out 2>&1; then
    notok "$R: failing create fails" "it succeeded"
  else
    ok "$R: failing create fails"
  fi
  yes_if "$R: a failed create leaves no unit" 'wait_for "no_unit oxt-$R-fail.scope"' "$(prop oxt-$R-fail.scope LoadState)"
  yes_if "$R: a failed create leaves no container" '! $RT state $R-fail >/dev/null 2>&1' "$($RT state $R-fail)"

  bundle $R badslice
  $RT create --bundle /tmp/b/$R-badslice $R-badslice </dev/null >/tmp/$R-bad.out 2>&1
  yes_if "$R: a bad slice is refused" '[ $? -ne 0 ] && grep -q "slice" /tmp/$R-bad.out' "$(cat /tmp/$R-bad.out)"
  yes_if "$R: a bad slice leaves nothing" '! $RT state $R-badslice >/dev/null 2>&1 && [ -z "$(ls /run/rt-$R 2>/dev/null | grep badslice)" ]' "left over"

  # The default cgroupsPath: system.slice:<runtime>:<id> (prefix differs: runc uses "runc").
  bundle $R default
  $RT run -d --bundle /tmp/b/$R-default $R-def </dev/null >/tmp/$R-def.out 2>&1
  pid=$($RT state $R-def | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
  yes_if "$R: default unit" '[ "$(cat /proc/$pid/cgroup)" = "0::/system.slice/$R-$R-def.scope" ]' "$(cat /proc/$pid/cgroup 2>&1) $(cat /tmp/$R-def.out)"
  $RT delete -f $R-def
  yes_if "$R: delete -f removes the default unit" 'wait_for "no_unit $R-$R-def.scope"' "$(prop $R-$R-def.scope LoadState)"

  # A unit that exists already is joined, as runc does (two containers, one cgroupsPath).
  bundle $R dup
  $RT create --bundle /tmp/b/$R-dup $R-dup1 </dev/null >/tmp/$R-dup1.out 2>&1
  if $RT create --bundle /tmp/b/$R-dup $R-dup2 </dev/null >/tmp/$R-dup2.out 2>&1; then
    ok "$R: create into an existing unit"
  else
    notok "$R: create into an existing unit" "$(cat /tmp/$R-dup2.out)"
  fi
  # runc 1.1 leaves its second init outside the unit's cgroup (one process there); oxirun
  # moves it in.
  [ $R = oxirun ] && check "$R: the second init is in the existing unit" 2 "$(wc -l < /sys/fs/cgroup/oxtest.slice/oxtest-guest.slice/oxt-$R-dup.scope/cgroup.procs)"
  $RT delete -f $R-dup2; $RT delete -f $R-dup1
  yes_if "$R: the joined unit goes with its containers" 'wait_for "no_unit oxt-$R-dup.scope"' "$(prop oxt-$R-dup.scope LoadState)"

  # A foreground run: the unit goes away with the container.
  bundle $R fg
  out=$($RT run --bundle /tmp/b/$R-fg $R-fg </dev/null 2>/tmp/$R-fg.err)
  check "$R: foreground run" "fg-ok rc=0" "$out rc=$?"
  yes_if "$R: foreground run leaves no unit" 'wait_for "no_unit oxt-$R-fg.scope"' "$(prop oxt-$R-fg.scope LoadState) $(cat /tmp/$R-fg.err)"
done

# Rootless through the user's bus: user 1500's manager (user@1500.service, Debian's
# delegation: cpu memory pids) and its D-Bus session bus (dbus-user-session), runc's own
# `spec --rootless` with limits, no cgroupsPath (runc's rootless default: user.slice).
useradd -m -u 1500 oxu
systemctl start dbus.socket systemd-logind.service && systemctl start user@1500.service
AS="setpriv --reuid 1500 --regid 1500 --clear-groups env HOME=/home/oxu XDG_RUNTIME_DIR=/run/user/1500 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1500/bus"
uprop() { $AS systemctl --user show -p "$2" --value "$1"; }
no_uunit() { [ "$(uprop $1 LoadState)" = not-found ]; }
MGR=/sys/fs/cgroup/user.slice/user-1500.slice/user@1500.service
# (/tmp/rootfs is gone once the user's manager has started, seen with Debian's units: this
# rootfs is made afresh.)
mkdir -p /tmp/rl/rootfs/bin /tmp/rl/rootfs/proc /tmp/rl/rootfs/dev /tmp/rl/rootfs/sys /tmp/rl/rootfs/tmp
cp /bin/busybox /tmp/rl/rootfs/bin/ && ln -s busybox /tmp/rl/rootfs/bin/sleep
chown -R 1500:1500 /tmp/rl
(cd /tmp/rl && $AS runc spec --rootless)
sed -i 's/"terminal": true/"terminal": false/; s/^\t\t\t"sh"$/\t\t\t"sleep", "1000"/' /tmp/rl/config.json
sed -i 's/"linux": {/"linux": {\n\t\t"resources": {"pids": {"limit": 42}, "memory": {"limit": 33554432}},/' /tmp/rl/config.json
for R in runc oxirun; do
  RT="$AS $R --root /tmp/rl/st-$R --systemd-cgroup"
  [ $R = oxirun ] && RT="$AS $T/oxirun --root /tmp/rl/st-$R --systemd-cgroup"
  U=$R-rl-$R.scope
  D=$MGR/user.slice/$U
  if $RT run -d --bundle /tmp/rl rl-$R </dev/null >/tmp/rl-$R.out 2>&1; then
    ok "$R: rootless run"
  else
    notok "$R: rootless run" "$(cat /tmp/rl-$R.out | tr '\n' ' ')"
  fi
  pid=$($RT state rl-$R | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
  check "$R: rootless init in the user manager's unit" "0::${D#/sys/fs/cgroup}" "$(cat /proc/$pid/cgroup)"
  check "$R: rootless unit active" active "$(uprop $U ActiveState)"
  check "$R: rootless TasksMax" 42 "$(uprop $U TasksMax)"
  check "$R: rootless pids.max" 42 "$(cat $D/pids.max)"
  check "$R: rootless memory.max" 33554432 "$(cat $D/memory.max)"
  $RT update --pids-limit 33 rl-$R >/tmp/rl-$R-upd.out 2>&1 || echo "# update: $(cat /tmp/rl-$R-upd.out)"
  check "$R: rootless update TasksMax" 33 "$(uprop $U TasksMax)"
  check "$R: rootless update pids.max" 33 "$(cat $D/pids.max)"
  $RT pause rl-$R 2>/dev/null
  check "$R: rootless pause" 1 "$(cat $D/cgroup.freeze)"
  $RT resume rl-$R 2>/dev/null
  check "$R: rootless resume" 0 "$(cat $D/cgroup.freeze)"
  $RT delete -f rl-$R
  yes_if "$R: rootless delete removes the unit" 'wait_for "no_uunit $U"' "$(uprop $U LoadState)"
  yes_if "$R: rootless delete removes the cgroup" '[ ! -e $D ]' "$(ls $D)"
done
echo "GUEST-DONE fails=$fails"
"##;

/// The hybrid scenarios (systemd's v1 layout, as this machine has): the unit on
/// `name=systemd` and the controllers systemd manages, the other v1 controllers' directories
/// made by the runtime, the limits in the v1 files.
const HYBRID_SCRIPT: &str = r##"
C=/sys/fs/cgroup
yes_if "hybrid host" '[ -d $C/unified ] && [ -d $C/memory ] && grep -q ":name=systemd:" /proc/self/cgroup' "$(grep cgroup /proc/mounts)"
for R in runc oxirun; do
  create_res
  snap $U ActiveState,Slice,MemoryLimit,TasksMax,CPUShares,CPUQuotaPerSecUSec
  check "$R: unit active" active "$(pv ActiveState)"
  check "$R: unit slice" oxtest-guest.slice "$(pv Slice)"
  for h in name=systemd memory pids cpu,cpuacct cpuset freezer; do
    check "$R: init in the unit's $h cgroup" "/$P" "$(grep ":$h:" /proc/$pid/cgroup | cut -d: -f3)"
  done
  check "$R: MemoryLimit" 33554432 "$(pv MemoryLimit)"
  check "$R: memory.limit_in_bytes" 33554432 "$(cat $C/memory/$P/memory.limit_in_bytes)"
  check "$R: memory.soft_limit_in_bytes" 16777216 "$(cat $C/memory/$P/memory.soft_limit_in_bytes)"
  check "$R: memory.memsw.limit_in_bytes" 50331648 "$(cat $C/memory/$P/memory.memsw.limit_in_bytes)"
  check "$R: TasksMax" 42 "$(pv TasksMax)"
  check "$R: pids.max" 42 "$(cat $C/pids/$P/pids.max)"
  check "$R: CPUShares" 1024 "$(pv CPUShares)"
  check "$R: cpu.shares" 1024 "$(cat $C/cpu,cpuacct/$P/cpu.shares)"
  check "$R: cpu.cfs_quota_us" 50000 "$(cat $C/cpu,cpuacct/$P/cpu.cfs_quota_us)"
  check "$R: cpuset.cpus" 0 "$(cat $C/cpuset/$P/cpuset.cpus)"
  $RT start $R-res
  yes_if "$R: state running" 'wait_for "$RT state $R-res | grep -q running"' "$($RT state $R-res)"
  $RT exec -d $R-res sleep 100
  yes_if "$R: exec joins every hierarchy" '[ "$(wc -l < $C/memory/$P/cgroup.procs)" = 2 ] && [ "$(wc -l < $C/freezer/$P/cgroup.procs)" = 2 ]' "$(cat $C/memory/$P/cgroup.procs $C/freezer/$P/cgroup.procs)"
  $RT update --memory 67108864 --memory-swap 100663296 --pids-limit 50 $R-res >/tmp/$R-upd.out 2>&1 || echo "# update: $(cat /tmp/$R-upd.out)"
  check "$R: update MemoryLimit" 67108864 "$(prop $U MemoryLimit)"
  check "$R: update memory.limit_in_bytes" 67108864 "$(cat $C/memory/$P/memory.limit_in_bytes)"
  check "$R: update pids.max" 50 "$(cat $C/pids/$P/pids.max)"
  $RT pause $R-res
  check "$R: pause freezer.state" FROZEN "$(cat $C/freezer/$P/freezer.state)"
  yes_if "$R: state paused" '$RT state $R-res | grep -q paused' "$($RT state $R-res)"
  $RT resume $R-res
  check "$R: resume freezer.state" THAWED "$(cat $C/freezer/$P/freezer.state)"
  # runc 1.1 leaves its init in the slice's devices cgroup (not the scope's), and its ps and
  # kill --all read that hierarchy: they miss the init. oxirun's init is in the scope there.
  if [ $R = runc ]; then
    echo "# runc: init in devices:$(grep :devices: /proc/$pid/cgroup | cut -d: -f3)"
    $RT kill $R-res KILL
  else
    check "$R: init in the unit's devices cgroup" "/$P" "$(grep ":devices:" /proc/$pid/cgroup | cut -d: -f3)"
    yes_if "$R: ps lists both" '[ "$($RT ps $R-res | wc -l)" = 3 ]' "$($RT ps $R-res)"
    $RT kill --all $R-res KILL
  fi
  yes_if "$R: kill stops it" 'wait_for "$RT state $R-res | grep -q stopped"' "$($RT state $R-res)"
  $RT delete $R-res
  yes_if "$R: delete removes the unit" 'wait_for "no_unit $U"' "$(prop $U LoadState)"
  yes_if "$R: delete removes every hierarchy's cgroup" '! ls -d $C/*/$P 2>/dev/null' "$(ls -d $C/*/$P)"

  bundle $R fail
  if $RT create --bundle /tmp/b/$R-fail $R-fail </dev/null >/tmp/$R-fail.out 2>&1; then
    notok "$R: failing create fails" "it succeeded"
  else
    ok "$R: failing create fails"
  fi
  F=oxtest.slice/oxtest-guest.slice/oxt-$R-fail.scope
  yes_if "$R: a failed create leaves no unit" 'wait_for "no_unit oxt-$R-fail.scope"' "$(prop oxt-$R-fail.scope LoadState)"
  yes_if "$R: a failed create leaves no cgroup" '! ls -d $C/*/$F 2>/dev/null' "$(ls -d $C/*/$F)"
done
echo "GUEST-DONE fails=$fails"
"##;

/// Every hybrid scenario the guest must report `ok`, for each runtime.
const HYBRID_PER_RUNTIME: &[&str] = &[
    "create",
    "unit active",
    "unit slice",
    "init in the unit's name=systemd cgroup",
    "init in the unit's memory cgroup",
    "init in the unit's pids cgroup",
    "init in the unit's cpu,cpuacct cgroup",
    "init in the unit's cpuset cgroup",
    "init in the unit's freezer cgroup",
    "MemoryLimit",
    "memory.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "TasksMax",
    "pids.max",
    "CPUShares",
    "cpu.shares",
    "cpu.cfs_quota_us",
    "cpuset.cpus",
    "state running",
    "exec joins every hierarchy",
    "update MemoryLimit",
    "update memory.limit_in_bytes",
    "update pids.max",
    "pause freezer.state",
    "state paused",
    "resume freezer.state",
    "kill stops it",
    "delete removes the unit",
    "delete removes every hierarchy's cgroup",
    "failing create fails",
    "a failed create leaves no unit",
    "a failed create leaves no cgroup",
];

/// Every scenario the guest must report `ok`, for each runtime.
const PER_RUNTIME: &[&str] = &[
    "create",
    "unit active",
    "init in the unit's cgroup (nested slices)",
    "unit slice",
    "Delegate",
    "MemoryMax",
    "memory.max",
    "MemoryLow",
    "memory.low",
    "MemorySwapMax",
    "TasksMax",
    "pids.max",
    "CPUWeight",
    "CPUQuotaPerSecUSec",
    "cpu.max",
    "AllowedCPUs",
    "annotation property CollectMode",
    "state running",
    "ps lists the init",
    "exec joins the unit's cgroup",
    "update MemoryMax",
    "update memory.max",
    "update pids.max",
    "pause cgroup.freeze",
    "state paused",
    "resume cgroup.freeze",
    "kill --all stops it",
    "delete removes the unit",
    "delete removes the cgroup",
    "failing create fails",
    "a failed create leaves no unit",
    "a failed create leaves no container",
    "a bad slice is refused",
    "a bad slice leaves nothing",
    "default unit",
    "delete -f removes the default unit",
    "create into an existing unit",
    "the joined unit goes with its containers",
    "foreground run",
    "foreground run leaves no unit",
    "rootless run",
    "rootless init in the user manager's unit",
    "rootless unit active",
    "rootless TasksMax",
    "rootless pids.max",
    "rootless memory.max",
    "rootless update TasksMax",
    "rootless update pids.max",
    "rootless pause",
    "rootless resume",
    "rootless delete removes the unit",
    "rootless delete removes the cgroup",
];

fn base_spec(dir: &TestDir) -> Value {
    let mut c = spec_config(dir);
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["sleep", "1000"]);
    c
}

fn configs(base: &Value) -> Vec<(&'static str, Value)> {
    let mut res = base.clone();
    res["linux"]["cgroupsPath"] = json!("oxtest-guest.slice:oxt:@RT@-res");
    res["annotations"] = json!({"org.systemd.property.CollectMode": "'inactive-or-failed'"});
    res["linux"]["resources"] = json!({
        "memory": {"limit": 33554432, "reservation": 16777216, "swap": 50331648},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 42}
    });
    let mut fail = base.clone();
    fail["linux"]["cgroupsPath"] = json!("oxtest-guest.slice:oxt:@RT@-fail");
    fail["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt", "type": "bind", "source": "/nonexistent-src", "options": ["bind"]}));
    let mut bad = base.clone();
    bad["linux"]["cgroupsPath"] = json!("bad--x.slice:oxt:@RT@-bad");
    let mut default = base.clone();
    if let Some(l) = default["linux"].as_object_mut() {
        l.remove("cgroupsPath");
    }
    let mut fg = base.clone();
    fg["linux"]["cgroupsPath"] = json!("oxtest-guest.slice:oxt:@RT@-fg");
    fg["process"]["args"] = json!(["echo", "fg-ok"]);
    let mut dup = base.clone();
    dup["linux"]["cgroupsPath"] = json!("oxtest-guest.slice:oxt:@RT@-dup");
    vec![
        ("dup", dup),
        ("fg", fg),
        ("res", res),
        ("fail", fail),
        ("badslice", bad),
        ("default", default),
    ]
}

/// Boot a guest with `cgroups` running the prelude and `scenarios`; every name in `want`
/// must report ok, none may fail.
fn run_guest(name: &str, cgroups: guest::Cgroups, scenarios: &str, want: &[String]) {
    if let Some(why) = guest::unavailable() {
        eprintln!("SKIP {name}: {why}");
        return;
    }
    let dir = TestDir::new(name);
    let base = base_spec(&dir);
    let mut files: Vec<(&str, Vec<u8>, bool)> = configs(&base)
        .into_iter()
        .map(|(n, c)| {
            let name: &str = Box::leak(format!("{n}.json").into_boxed_str());
            (name, serde_json::to_vec_pretty(&c).unwrap(), false)
        })
        .collect();
    // The guest's root is this machine's: the dynamically linked debug build runs there.
    files.push(("oxirun", fs::read(oxirun_bin()).unwrap(), true));
    let script = format!("{TAP_HELPERS}{PRELUDE}{scenarios}");
    guest::run_suite(name, cgroups, &dir, &files, &script, TIMEOUT, want);
}

/// `first` and then each runtime's `per_runtime` scenario names.
fn expected(first: &[&str], per_runtime: &[&str]) -> Vec<String> {
    let mut want: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    for rt in ["runc", "oxirun"] {
        want.extend(per_runtime.iter().map(|s| format!("{rt}: {s}")));
    }
    want
}

#[test]
fn systemd_driver_in_a_guest_with_systemd_as_pid1() {
    let mut want = expected(&["systemd is PID 1", "pure v2 host"], PER_RUNTIME);
    want.push("oxirun: the second init is in the existing unit".into());
    run_guest("systemd-guest", guest::Cgroups::V2, SCRIPT, &want);
}

#[test]
fn systemd_driver_on_a_hybrid_cgroup_host() {
    let mut want = expected(&["systemd is PID 1", "hybrid host"], HYBRID_PER_RUNTIME);
    want.push("oxirun: init in the unit's devices cgroup".into());
    want.push("oxirun: ps lists both".into());
    run_guest(
        "systemd-hybrid",
        guest::Cgroups::Hybrid,
        HYBRID_SCRIPT,
        &want,
    );
}

/// This host has no systemd (PID 1 is not systemd): `--systemd-cgroup` is refused with one
/// line naming the cause, and nothing is left behind.
#[test]
fn systemd_cgroup_without_systemd_is_refused() {
    if std::path::Path::new("/run/systemd/system").exists() {
        eprintln!("SKIP systemd_cgroup_without_systemd_is_refused: systemd runs here");
        return;
    }
    let mut c = Container::new("nosd");
    c.sh("exec sleep 1000");
    c.set("/linux/cgroupsPath", json!("system.slice:oxt:nosd"));
    c.write_config();
    let b = c.bundle.to_string_lossy().into_owned();
    let id = c.id.clone();
    for flags in [&["--systemd-cgroup"][..], &["--cgroup-manager=systemd"][..]] {
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["create", "--bundle", &b, &id]);
        let out = c.rt(&args);
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(
            out.stderr
                .contains("--systemd-cgroup: systemd is not running"),
            "{out:#?}"
        );
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
    // A malformed systemd path is named, before systemd is even looked for.
    c.set("/linux/cgroupsPath", json!("bad--x.slice:p:n"));
    c.write_config();
    let out = c.rt(&["--systemd-cgroup", "create", "--bundle", &b, &id]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("bad--x.slice:p:n"), "{out:#?}");
    assert_nothing_left(&c.root, &c.id, &c.bundle);
}
