//! AppArmor and SELinux, each really on, in a QEMU guest (see `oxirun_integration::qemu`):
//! Debian's kernel booted once with its default LSM (AppArmor) and once with
//! `security=selinux`. Every scenario runs with Debian's runc first and then with oxirun, on
//! the same config.json, as the client tests do; runc's and the kernel's verdicts are the
//! reference.
//!
//! - **AppArmor**: Debian's `apparmor_parser` loads a test profile that allows everything but
//!   writes under `/denied`. Inside the container `/proc/self/attr/current` names the profile
//!   (also for an `exec`'d process), the denied write fails and others work; a profile that is
//!   not loaded fails `create` naming it and leaves no state, cgroup or mount behind.
//! - **SELinux**: Debian's `selinux-policy-default` (refpolicy, MCS) is loaded into selinuxfs
//!   by the guest's script, in **permissive** mode: the kernel applies labels exactly as in
//!   enforcing mode, but the busybox guest's files carry no labels a policy would allow. The
//!   container's context is the requested `svirt_t` label (also for `exec`), `/dev` and a
//!   tmpfs mount carry `linux.mountLabel` as `context=`, and a label the policy does not know
//!   fails `create` with a clear line, leaving nothing behind.
//!
//! Needs (the Makefile installs them): qemu-system-x86, linux-image-amd64, busybox-static,
//! cpio, runc, apparmor, selinux-policy-default. Skipped, saying why, only without a kernel.

use std::fs;
use std::time::Duration;

use oxirun_integration::qemu::{
    boot, kernel_image, spec_config, static_oxirun, Initramfs, TAP_END, TAP_PRELUDE,
};
use oxirun_integration::util::TestDir;
use oxirun_integration::{json, Value};

const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
const RUNTIMES: [&str; 2] = ["runc", "oxirun"];

/// Shell shared by both guests: cgroup2, per-runtime command lines, bundles, leak checks.
const COMMON: &str = r#"
mount -t cgroup2 cgroup2 /sys/fs/cgroup
rt() { echo "$1 --root /run/$1"; }
# bundle CONFIG ID: /b/ID from /cfg/CONFIG.json, its cgroup under /lsm/ID.
bundle() { mkdir -p /b/$2; sed "s|@ID@|$2|" /cfg/$1.json > /b/$2/config.json; cp -a /rootfs /b/$2/rootfs; }
# Nothing of container ID of runtime R is left: no state, no cgroup, no mount.
left_nothing() { [ ! -e /run/$1/$2 ] && [ ! -e /sys/fs/cgroup/lsm/$2 ] && ! grep -q "/b/$2/" /proc/self/mountinfo; }
# A created+started container (sleeping), an exec in it, then its removal.
exec_label() {
  X="$(rt $1)"; bundle sleep $2
  if $X create --bundle /b/$2 $2 </dev/null >/tmp/$2.out 2>&1 && $X start $2 >>/tmp/$2.out 2>&1; then
    $X exec $2 cat /proc/self/attr/current </dev/null 2>&1 | tr -d '\0'
    $X kill $2 KILL; wait_for "! $X state $2 2>/dev/null | grep -q running"; $X delete --force $2
  else
    echo "create failed: $(cat /tmp/$2.out)"
  fi
}
# refused R CONFIG ID WHAT: create must fail (scenario "R: WHAT") and leave nothing behind
# ("R: and leaves nothing behind"); sets out and rc (output to a file: a created init would
# hold a pipe).
refused() {
  # Globals: yes_if evaluates its condition with its own positional parameters.
  fr=$1; fid=$3; X="$(rt $fr)"; bundle $2 $fid
  $X create --bundle /b/$fid $fid </dev/null >/tmp/$fid.out 2>&1; rc=$?
  out=$(cat /tmp/$fid.out); [ $rc -eq 0 ] && $X delete --force $fid
  yes_if "$fr: $4" '[ $rc -ne 0 ]' "rc=$rc $out"
  yes_if "$fr: and leaves nothing behind" 'left_nothing $fr $fid' "$(ls /run/$fr /sys/fs/cgroup/lsm)"
}
"#;

const APPARMOR: &str = r#"
mount -t securityfs securityfs /sys/kernel/security
check "apparmor is the LSM" "Y" "$(cat /sys/module/apparmor/parameters/enabled)"
apparmor_parser --config-file /dev/null -r -K /etc/apparmor.d/oxirun-test >/tmp/aa.out 2>&1
yes_if "test profile loaded" 'grep -q "^oxirun-test (enforce)" /sys/kernel/security/apparmor/profiles' "$(cat /tmp/aa.out)"
for R in runc oxirun; do
  out=$(bundle aa aa-$R; $(rt $R) run --bundle /b/aa-$R aa-$R 2>&1 </dev/null)
  yes_if "$R: the process runs under the profile" 'echo "$out" | grep -qx "label=oxirun-test (enforce)"' "$out"
  yes_if "$R: the write the profile denies fails" 'echo "$out" | grep -qx "denied-write=refused"' "$out"
  yes_if "$R: other writes work" 'echo "$out" | grep -qx "tmp-write=ok"' "$out"
  check "$R: an exec'd process runs under the profile" "oxirun-test (enforce)" "$(exec_label $R aas-$R)"
  refused $R aa-missing aam-$R "a profile that is not loaded fails create"
done
yes_if "oxirun: one line naming the missing profile, exit 1" '[ $rc -eq 1 ] && [ $(echo "$out" | wc -l) -eq 1 ] && echo "$out" | grep -q "no-such-profile"' "rc=$rc $out"
"#;

const SELINUX: &str = r#"
mount -t selinuxfs selinuxfs /sys/fs/selinux
# selinuxfs takes the policy in one write.
dd if=/etc/oxirun-policy of=/sys/fs/selinux/load bs=16M 2>/tmp/dd.err
check "policy loaded, permissive" "system_u:system_r:kernel_t:s0 0" "$(cat /proc/self/attr/current | tr -d '\0') $(cat /sys/fs/selinux/enforce)"
L="system_u:system_r:svirt_t:s0:c1,c2"
M='context="\?system_u:object_r:svirt_image_t:s0:c1,c2"\?'
for R in runc oxirun; do
  out=$(bundle se se-$R; $(rt $R) run --bundle /b/se-$R se-$R 2>&1 </dev/null)
  yes_if "$R: the process has the requested context" 'echo "$out" | grep -qx "label=$L"' "$out"
  yes_if "$R: a tmpfs mount carries the mount label" 'echo "$out" | grep "^mnt=" | grep -q "$M"' "$out"
  yes_if "$R: /dev carries the mount label" 'echo "$out" | grep "^dev=" | grep -q "$M"' "$out"
  yes_if "$R: proc carries no mount label" 'echo "$out" | grep "^proc=" | grep -vq "context="' "$out"
  check "$R: an exec'd process has the requested context" "$L" "$(exec_label $R ses-$R)"
  refused $R se-bad seb-$R "a label the policy does not know fails create"
done
yes_if "oxirun: one line naming the field, exit 1" '[ $rc -eq 1 ] && [ $(echo "$out" | wc -l) -eq 1 ] && echo "$out" | grep -q "process.selinuxLabel"' "rc=$rc $out"
"#;

/// Allows everything but writes beneath /denied (a path inside the container: the profile
/// sees paths from the container's root, `attach_disconnected` for what lies outside it).
const PROFILE: &str = "profile oxirun-test flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /denied/** w,
}
";

/// A config.json for the guest from `oxirun spec`: `script` under `sh -c`, cgroup `/lsm/@ID@`.
fn config(base: &Value, script: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut c = base.clone();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["sh", "-c", script]);
    c["root"]["readonly"] = json!(false);
    c["linux"]["cgroupsPath"] = json!("/lsm/@ID@");
    edit(&mut c);
    c
}

/// Build, boot and judge one LSM guest.
fn lsm_guest(
    name: &str,
    append: &str,
    script: &str,
    configs: &[(&str, Value)],
    setup: impl FnOnce(&Initramfs),
    expected: &[String],
) {
    let Some(kernel) = kernel_image() else {
        eprintln!("SKIP {name}: no /boot/vmlinuz-* (install linux-image-amd64)");
        return;
    };
    let dir = TestDir::new(name);
    let oxirun = static_oxirun();
    let tree = Initramfs::new(
        &dir,
        &oxirun,
        &["sh", "cat", "echo", "grep", "sleep", "tr"],
        &format!("{TAP_PRELUDE}{COMMON}{script}{TAP_END}"),
        256,
    );
    tree.add_host_program("/usr/bin/runc");
    fs::create_dir_all(tree.root.join("rootfs/denied")).unwrap();
    for (cfg, c) in configs {
        tree.write(
            &format!("cfg/{cfg}.json"),
            &serde_json::to_vec_pretty(c).unwrap(),
        );
    }
    setup(&tree);
    let initrd = tree.pack();
    let console = boot(
        &kernel,
        &initrd,
        append,
        512,
        &dir.join("console.log"),
        BOOT_TIMEOUT,
        &[],
    );
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    console.assert_all_ok(&expected);
}

/// `per_runtime` scenario names for each runtime, then the runtime-independent ones.
fn expected(common: &[&str], per_runtime: &[&str], tail: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    for r in RUNTIMES {
        v.extend(per_runtime.iter().map(|s| format!("{r}: {s}")));
    }
    v.extend(tail.iter().map(|s| s.to_string()));
    v
}

#[test]
fn apparmor_in_a_qemu_guest() {
    let dir = TestDir::new("lsm-aa-spec");
    let base = spec_config(&dir);
    let probe = "echo \"label=$(cat /proc/self/attr/current)\"; \
                 (echo x > /denied/f) 2>/dev/null && echo denied-write=allowed || echo denied-write=refused; \
                 echo x > /tmp/f && echo tmp-write=ok";
    let with_profile =
        |p: &'static str| move |c: &mut Value| c["process"]["apparmorProfile"] = json!(p);
    let configs = [
        ("aa", config(&base, probe, with_profile("oxirun-test"))),
        (
            "sleep",
            config(&base, "exec sleep 1000", with_profile("oxirun-test")),
        ),
        (
            "aa-missing",
            config(&base, "true", with_profile("no-such-profile")),
        ),
    ];
    lsm_guest(
        "qemu-apparmor",
        "apparmor=1 security=apparmor",
        APPARMOR,
        &configs,
        |t| {
            t.add_host_program("/usr/sbin/apparmor_parser");
            t.write("etc/apparmor.d/oxirun-test", PROFILE.as_bytes());
        },
        &expected(
            &["apparmor is the LSM", "test profile loaded"],
            &[
                "the process runs under the profile",
                "the write the profile denies fails",
                "other writes work",
                "an exec'd process runs under the profile",
                "a profile that is not loaded fails create",
                "and leaves nothing behind",
            ],
            &["oxirun: one line naming the missing profile, exit 1"],
        ),
    );
}

#[test]
fn selinux_in_a_qemu_guest() {
    let dir = TestDir::new("lsm-se-spec");
    let base = spec_config(&dir);
    let probe = "echo \"label=$(cat /proc/self/attr/current | tr -d '\\0')\"; \
                 echo \"mnt=$(grep ' /mnt ' /proc/self/mountinfo)\"; \
                 echo \"dev=$(grep ' /dev ' /proc/self/mountinfo)\"; \
                 echo \"proc=$(grep ' /proc ' /proc/self/mountinfo)\"";
    let labels = |process: &'static str| {
        move |c: &mut Value| {
            c["process"]["selinuxLabel"] = json!(process);
            c["linux"]["mountLabel"] = json!("system_u:object_r:svirt_image_t:s0:c1,c2");
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev"]
            }));
        }
    };
    let good = "system_u:system_r:svirt_t:s0:c1,c2";
    let configs = [
        ("se", config(&base, probe, labels(good))),
        ("sleep", config(&base, "exec sleep 1000", labels(good))),
        (
            "se-bad",
            config(&base, "true", labels("system_u:system_r:no_such_t:s0")),
        ),
    ];
    let policy = fs::read("/etc/selinux/default/policy/policy.33")
        .expect("/etc/selinux/default/policy/policy.33 (package selinux-policy-default)");
    lsm_guest(
        "qemu-selinux",
        "security=selinux selinux=1 enforcing=0",
        SELINUX,
        &configs,
        |t| t.write("etc/oxirun-policy", &policy),
        &expected(
            &["policy loaded, permissive"],
            &[
                "the process has the requested context",
                "a tmpfs mount carries the mount label",
                "/dev carries the mount label",
                "proc carries no mount label",
                "an exec'd process has the requested context",
                "a label the policy does not know fails create",
                "and leaves nothing behind",
            ],
            &["oxirun: one line naming the field, exit 1"],
        ),
    );
}
