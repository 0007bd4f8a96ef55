//! `checkpoint` and `restore` through CRIU. Debian's criu 3.17 refuses this machine's kernel
//! (6.18: `vdso: Failed to fill self vdso symtable`; runc fails the same way), so the real
//! checkpoints run in the QEMU guest with Debian's 6.1 kernel and systemd as PID 1 (see
//! `oxirun_integration::guest`), runc first and then oxirun on the same script:
//!
//! * a busybox counter survives checkpoint + restore and goes on from where it was, with its
//!   tmpfs content, its bind mount, the prestart and createRuntime hooks run again with the
//!   new pid, its cgroup (path and memory limit) and `exec` working;
//!   the checkpoint ends the container (no state, no cgroup); the restore's pid file and
//!   state (`running`, the new pid);
//! * `--leave-running`; restore into a new id; a pre-dump then a dump on it (`--parent-path`);
//! * the init's stdout pipe reconnected to the restoring command's (what containerd and
//!   conmon rely on); a foreground restore returning the init's exit code;
//! * a network namespace joined by path, joined again by the restored init;
//! * the systemd cgroup driver: the unit stops with the checkpoint and comes back with the
//!   restore, its limits on it, and `delete` removes it;
//! * podman (systemd cgroup manager, conmon): `container checkpoint` / `restore`, and
//!   `--export` then `--import` as a new container;
//! * a terminal: restored with a new pty whose master reaches the console socket (a small
//!   receiver here; conmon with `podman run -dt`), the init's stdio and controlling terminal;
//! * containerd (`ctr container checkpoint --task` + `restore --live`, and `ctr task
//!   checkpoint`, which the shim does on a paused task);
//! * `features` says checkpoint is enabled there.
//!
//! On this host: `checkpoint --help` works, `features` says disabled, a missing CRIU is
//! refused in one line leaving the container running and untouched, and bad input to
//! `restore` leaves nothing behind.

use std::fs;
use std::path::Path;
use std::time::Duration;

use oxirun_integration::checks::assert_nothing_left;
use oxirun_integration::qemu::spec_config;
use oxirun_integration::util::TestDir;
use oxirun_integration::{guest, json, Container, Value};

const SCRIPT: &str = r##"
T=/oxirun-test
OX=$T/oxirun
mkdir -p /tmp/rootfs/bin /tmp/rootfs/proc /tmp/rootfs/dev /tmp/rootfs/sys /tmp/rootfs/tmp /tmp/rootfs/data /tmp/rootfs/scratch
cp /bin/busybox /tmp/rootfs/bin/
for a in sh sleep cat echo true; do ln -s busybox /tmp/rootfs/bin/$a; done
# NAME CMD...: ok when CMD exits 0, else its output as the reason.
runok() { name=$1; shift; if "$@" </dev/null >/tmp/out 2>&1; then ok "$name"; else notok "$name" "rc=$? $(tr '\n' ' ' </tmp/out)"; fi; }
yes_if "criu check passes on this kernel" 'criu check >/tmp/check 2>&1' "$(tail -3 /tmp/check)"
yes_if "oxirun features: checkpoint enabled" "$OX features | grep -q 'checkpoint.enabled\": \"true'" "$($OX features | grep checkpoint)"
for R in runc oxirun; do
  RT="$R --root /run/ck-$R"; [ $R = oxirun ] && RT="$OX --root /run/ck-$R"
  B=/tmp/b-$R; mkdir -p $B /tmp/$R-data; cp -a /tmp/rootfs $B/rootfs; echo hostfile > /tmp/$R-data/f
  sed "s|@DATA@|/tmp/$R-data|; s|@R@|$R|" $T/counter.json > $B/config.json
  cd $B
  runok "$R: run -d" $RT run -d $R-c
  wait_for "[ \"\$(cat $B/rootfs/count 2>/dev/null)\" -ge 10 ]"
  runok "$R: checkpoint" $RT checkpoint --image-path /tmp/$R-img $R-c
  before=$(cat $B/rootfs/count)
  yes_if "$R: checkpoint ends the container" "! $RT state $R-c >/dev/null 2>&1" "$($RT list)"
  yes_if "$R: its cgroup is gone" "[ ! -d /sys/fs/cgroup/ckpt/$R ]" "$(ls /sys/fs/cgroup/ckpt)"
  sleep 1; check "$R: counter stopped" "$before" "$(cat $B/rootfs/count)"
  runok "$R: restore" $RT restore -d --image-path /tmp/$R-img --pid-file /tmp/$R.pid $R-c
  pid=$(cat /tmp/$R.pid)
  st=$($RT state $R-c | tr -d '\n ')
  yes_if "$R: state running with the new pid" "echo '$st' | grep -q '\"status\":\"running\"' && echo '$st' | grep -q '\"pid\":$pid,'" "$st"
  sleep 1; after=$(cat $B/rootfs/count)
  # A fresh start would count from 0 again: less than before after a second.
  yes_if "$R: counter goes on from where it was" "[ $after -gt $before ] && [ $after -lt $((before+25)) ]" "before=$before after=$after"
  hooks=$(tail -2 /tmp/hooks-$R | sed 's/^\([a-zA-Z]*\) .*"pid": *\([0-9]*\).*/\1 \2/' | tr '\n' ' ')
  check "$R: restore ran prestart and createRuntime with the new pid" "prestart $pid createRuntime $pid " "$hooks"
  check "$R: tmpfs content survived" mark "$($RT exec $R-c cat /scratch/mark 2>&1)"
  check "$R: bind mount back" hostfile "$($RT exec $R-c cat /data/f 2>&1)"
  check "$R: restored init in its cgroup" "0::/ckpt/$R" "$(cat /proc/$pid/cgroup)"
  check "$R: memory limit on the cgroup" 268435456 "$(cat /sys/fs/cgroup/ckpt/$R/memory.max)"
  runok "$R: checkpoint --leave-running" $RT checkpoint --leave-running --image-path /tmp/$R-img2 $R-c
  yes_if "$R: still running" "$RT state $R-c | grep -q running" "$($RT state $R-c 2>&1)"
  a=$(cat $B/rootfs/count); sleep 1
  yes_if "$R: still counting" "[ $(cat $B/rootfs/count) -gt $a ]" "stuck at $a"
  $RT kill $R-c KILL; sleep 0.5; $RT delete -f $R-c
  runok "$R: restore into a new id" $RT restore -d --image-path /tmp/$R-img2 $R-new
  yes_if "$R: new id running" "$RT state $R-new | grep -q running" "$($RT list)"
  runok "$R: pre-dump" $RT checkpoint --pre-dump --image-path /tmp/$R-pre $R-new
  yes_if "$R: running after pre-dump" "$RT state $R-new | grep -q running" "$($RT list)"
  runok "$R: dump on the pre-dump" $RT checkpoint --parent-path ../$R-pre --image-path /tmp/$R-img3 $R-new
  yes_if "$R: the dump links its parent" "[ -L /tmp/$R-img3/parent ]" "$(ls /tmp/$R-img3 | head -5)"
  runok "$R: restore of the incremental dump" $RT restore -d --image-path /tmp/$R-img3 $R-new
  a=$(cat $B/rootfs/count); sleep 1
  yes_if "$R: counting after the incremental restore" "[ $(cat $B/rootfs/count) -gt $a ]" "stuck at $a"
  # A foreground restore waits for the init and returns its exit code, then deletes it.
  runok "$R: checkpoint for a foreground restore" $RT checkpoint --image-path /tmp/$R-img4 $R-new
  ( $RT restore --image-path /tmp/$R-img4 $R-fg </dev/null >/dev/null 2>/tmp/$R-fg.err; echo $? > /tmp/$R-fg.rc ) &
  wait_for "$RT state $R-fg 2>/dev/null | grep -q running"
  yes_if "$R: foreground restore running" "$RT state $R-fg | grep -q running" "$(cat /tmp/$R-fg.err)"
  $RT kill $R-fg KILL
  wait_for "[ -s /tmp/$R-fg.rc ]"
  check "$R: foreground restore returns the init's status" 137 "$(cat /tmp/$R-fg.rc)"
  yes_if "$R: foreground restore deleted it" "! $RT state $R-fg >/dev/null 2>&1" "$($RT list)"
  # The init's stdout is a pipe (as under containerd and conmon): after the restore it
  # writes to the restoring command's stdout.
  P=/tmp/p-$R; mkdir -p $P; cp -a /tmp/rootfs $P/rootfs; sed "s|@R@|$R-p|" $T/pipe.json > $P/config.json
  cd $P
  ( $RT run -d $R-p </dev/null 2>/dev/null | cat > /tmp/$R-p1 ) &
  wait_for "[ \$(wc -l < /tmp/$R-p1) -ge 5 ]"
  runok "$R: checkpoint with a stdout pipe" $RT checkpoint --image-path /tmp/$R-pimg $R-p
  wait_for "[ -s /tmp/$R-pimg/descriptors.json ]"
  last=$(tail -1 /tmp/$R-p1)
  ( $RT restore -d --image-path /tmp/$R-pimg $R-p </dev/null 2>/tmp/$R-perr | cat > /tmp/$R-p2 ) &
  wait_for "[ \$(wc -l < /tmp/$R-p2) -ge 3 ]"
  first=$(head -1 /tmp/$R-p2)
  yes_if "$R: the restored init writes on to the new pipe" "[ -n '$first' ] && [ '$first' -gt '$last' ]" "last=$last first=$first $(cat /tmp/$R-perr)"
  $RT kill $R-p KILL; sleep 0.5; $RT delete -f $R-p
  yes_if "$R: nothing left" "[ ! -d /sys/fs/cgroup/ckpt/$R ] && [ ! -d /sys/fs/cgroup/ckpt/$R-p ] && [ -z \"\$($RT list -q)\" ]" "$($RT list) $(ls /sys/fs/cgroup/ckpt)"
  # A network namespace joined by path (a pod's sandbox): left out of the dump, joined again
  # by the restored init.
  ip netns add ck-$R; N=/tmp/n-$R; mkdir -p $N; cp -a /tmp/rootfs $N/rootfs
  sed "s|@DATA@|/tmp/$R-data|; s|@R@|$R-ns|; s|@NETNS@|/run/netns/ck-$R|" $T/netns.json > $N/config.json
  cd $N
  runok "$R: netns: run -d" $RT run -d $R-ns
  wait_for "[ \"\$(cat $N/rootfs/count 2>/dev/null)\" -ge 3 ]"
  runok "$R: netns: checkpoint" $RT checkpoint --image-path /tmp/$R-nsimg $R-ns
  runok "$R: netns: restore" $RT restore -d --image-path /tmp/$R-nsimg --pid-file /tmp/$R-ns.pid $R-ns
  check "$R: netns: the restored init is in the joined namespace" "net:[$(stat -L -c %i /run/netns/ck-$R)]" "$(readlink /proc/$(cat /tmp/$R-ns.pid)/ns/net)"
  $RT delete -f $R-ns; ip netns del ck-$R
  # A terminal (process.terminal, the master sent to a console socket): the pty and
  # /dev/console are external; the restore's new pty master reaches the new console socket
  # and the init writes on to it, as its controlling terminal.
  Y=/tmp/y-$R; mkdir -p $Y; cp -a /tmp/rootfs $Y/rootfs; sed "s|@R@|$R-tty|" $T/tty.json > $Y/config.json
  cd $Y
  python3 $T/recvtty.py /tmp/$R-cs1 /tmp/$R-tty1 &
  wait_for "[ -S /tmp/$R-cs1 ]"
  runok "$R: tty: run -d --console-socket" $RT run -d --console-socket /tmp/$R-cs1 $R-tty
  wait_for "[ \"\$(cat $Y/rootfs/count 2>/dev/null)\" -ge 10 ]"
  runok "$R: tty: checkpoint" $RT checkpoint --image-path /tmp/$R-timg $R-tty
  before=$(cat $Y/rootfs/count)
  python3 $T/recvtty.py /tmp/$R-cs2 /tmp/$R-tty2 &
  wait_for "[ -S /tmp/$R-cs2 ]"
  runok "$R: tty: restore --console-socket" $RT restore -d --console-socket /tmp/$R-cs2 --image-path /tmp/$R-timg $R-tty
  wait_for "[ \$(grep -c tick /tmp/$R-tty2 2>/dev/null || echo 0) -ge 3 ]"
  first=$(grep tick /tmp/$R-tty2 | head -1 | tr -dc 0-9)
  yes_if "$R: tty: the restored init writes on to the new master" "[ -n '$first' ] && [ '$first' -ge '$before' ] && [ '$first' -lt $((before+10)) ]" "before=$before first=$first"
  set -- $($RT exec $R-tty sh -c 'readlink /proc/1/fd/1; cut -d" " -f7 /proc/1/stat')
  # tty_nr: a Unix98 pty slave (major 136).
  yes_if "$R: tty: stdio and controlling terminal on a pty" "case '$1' in /dev/pts/*) [ \$(($2 >> 8)) -eq 136 ];; *) false;; esac" "fd1=$1 tty_nr=$2"
  $RT delete -f $R-tty
  # The systemd driver: the unit goes with the checkpoint and comes back with the restore
  # (made around the restoring command, which then leaves it), limits and all.
  RT="$RT --systemd-cgroup"; S=/tmp/s-$R; U=ck-$R-sd.scope
  mkdir -p $S; cp -a /tmp/rootfs $S/rootfs; sed "s|@DATA@|/tmp/$R-data|; s|@R@|$R-sd|" $T/sd.json > $S/config.json
  cd $S
  runok "$R: systemd: run -d" $RT run -d $R-sd
  wait_for "[ \"\$(cat $S/rootfs/count 2>/dev/null)\" -ge 5 ]"
  runok "$R: systemd: checkpoint" $RT checkpoint --image-path /tmp/$R-sdimg $R-sd
  yes_if "$R: systemd: checkpoint stops the unit" "wait_for '[ \"\$(systemctl show -p LoadState --value $U)\" = not-found ]'" "$(systemctl show -p LoadState,ActiveState $U)"
  before=$(cat $S/rootfs/count)
  runok "$R: systemd: restore" $RT restore -d --image-path /tmp/$R-sdimg --pid-file /tmp/$R-sd.pid $R-sd
  pid=$(cat /tmp/$R-sd.pid)
  check "$R: systemd: restored init in the unit" "0::/ckpt.slice/$U" "$(cat /proc/$pid/cgroup)"
  check "$R: systemd: unit active with its MemoryMax" "active 268435456" "$(systemctl show -p ActiveState --value $U) $(systemctl show -p MemoryMax --value $U)"
  sleep 1; yes_if "$R: systemd: counting on" "[ $(cat $S/rootfs/count) -gt $before ]" "stuck at $before"
  runok "$R: systemd: delete -f" $RT delete -f $R-sd
  yes_if "$R: systemd: delete removes the unit" "wait_for '[ \"\$(systemctl show -p LoadState --value $U)\" = not-found ]'" "$(systemctl show -p LoadState,ActiveState $U)"
  cd /
done

# The engines' own commands take seconds under load: "goes on" allows up to 100 counts (20 s)
# after the one the checkpoint stopped at; a fresh start would be below it.
# podman (its default systemd cgroup manager, conmon): checkpoint + restore, and an
# exported checkpoint imported as a new container (a fresh rootfs: the mount points of its
# file bind mounts have to be made).
mount -t tmpfs tmpfs /var/lib/containers 2>/dev/null || { mkdir -p /var/lib/containers; mount -t tmpfs tmpfs /var/lib/containers; }
P="podman --events-backend=file"
tar -C /tmp/rootfs -cf /tmp/rootfs.tar .
$P import /tmp/rootfs.tar localhost/ck-bb >/tmp/pi.out 2>&1
yes_if "podman: image imported" '$P image exists localhost/ck-bb' "$(cat /tmp/pi.out)"
for R in /usr/bin/runc $OX; do
  r=$(basename $R); W=podman/$r
  runok "$W: run -d" $P run -d --name pc-$r --runtime $R --network none localhost/ck-bb sh -c 'i=0; while true; do echo $i > /count; i=$((i+1)); sleep 0.2; done'
  wait_for "[ \"\$($P exec pc-$r cat /count 2>/dev/null)\" -ge 5 ]"
  runok "$W: container checkpoint" $P container checkpoint pc-$r
  check "$W: the checkpointed container exited" exited "$($P inspect pc-$r --format '{{.State.Status}}')"
  before=$(cat $($P mount pc-$r)/count)
  runok "$W: container restore" $P container restore pc-$r
  sleep 1; after=$($P exec pc-$r cat /count 2>&1)
  yes_if "$W: the counter goes on" "[ '$after' -gt '$before' ] && [ '$after' -lt $((before+100)) ]" "before=$before after=$after"
  runok "$W: checkpoint --export" $P container checkpoint --export /tmp/pc-$r.tar.gz pc-$r
  $P rm -f pc-$r >/dev/null 2>&1
  runok "$W: restore --import" $P container restore --import /tmp/pc-$r.tar.gz --name pc2-$r
  sleep 1; now=$($P exec pc2-$r cat /count 2>&1)
  yes_if "$W: the imported container counts on" "[ '$now' -gt '$before' ]" "before=$before now=$now"
  $P rm -f pc2-$r >/dev/null 2>&1
  # With a terminal: conmon's console socket gets the restored pty's master.
  runok "$W: run -dt" $P run -dt --name pt-$r --runtime $R --network none localhost/ck-bb sh -c 'i=0; while true; do echo $i > /count; echo tick $i; i=$((i+1)); sleep 0.2; done'
  wait_for "[ \"\$($P exec pt-$r cat /count 2>/dev/null)\" -ge 10 ]"
  runok "$W: tty: container checkpoint" $P container checkpoint pt-$r
  before=$(cat $($P mount pt-$r)/count)
  runok "$W: tty: container restore" $P container restore pt-$r
  sleep 1.5; last=$($P logs pt-$r | tail -1 | tr -dc 0-9)
  yes_if "$W: tty: the log goes on through the new pty" "[ '$last' -gt '$before' ] && [ '$last' -lt $((before+100)) ]" "before=$before last=$last"
  $P rm -f -t 0 pt-$r >/dev/null 2>&1
done

# containerd (its runc shim v2, --runc-binary): `ctr container checkpoint --task` then
# `restore --live`; then `ctr task checkpoint`, which the shim does on a paused container
# (leave-running: the task goes on). Container checkpoints come first: containerd 1.6
# cannot restore an image made after a task checkpoint ("media type not found", #7980).
mkdir -p /var/lib/ctd /run/ctd; mount -t tmpfs tmpfs /var/lib/ctd
printf 'version = 2\nroot = "/var/lib/ctd"\nstate = "/run/ctd"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "/run/ctd/ctd.sock"\n' > /tmp/ctd.toml
containerd --config /tmp/ctd.toml > /tmp/ctd.log 2>&1 &
wait_for "[ -S /run/ctd/ctd.sock ]"
C="ctr -a /run/ctd/ctd.sock -n ck"
$P save --format docker-archive -o /tmp/bb.tar localhost/ck-bb >/dev/null 2>&1
$C image import /tmp/bb.tar >/tmp/ci.out 2>&1
yes_if "containerd: image imported" "$C image ls -q | grep -q ck-bb" "$(cat /tmp/ci.out)"
CNT='i=0; while true; do echo $i > /count; i=$((i+1)); sleep 0.2; done'
for R in /usr/bin/runc $OX; do
  r=$(basename $R); W=containerd/$r; id=cc-$r
  runok "$W: run -d" $C run -d --runc-binary $R --runc-root /run/ctr-$r localhost/ck-bb:latest $id sh -c "$CNT"
  wait_for "[ \"\$($C task exec --exec-id w1 $id cat /count 2>/dev/null)\" -ge 10 ]"
  before=$($C task exec --exec-id w2 $id cat /count)
  runok "$W: container checkpoint --task" $C container checkpoint --task --rw $id ref-$r
  $C task kill -s KILL $id >/dev/null 2>&1; sleep 1; $C task rm $id >/dev/null 2>&1; $C container rm $id >/dev/null 2>&1
  runok "$W: container restore --live" $C container restore --live --rw $id ref-$r
  yes_if "$W: restored task running" "$C task ls | grep -q '^$id .*RUNNING'" "$($C task ls)"
  sleep 1; after=$($C task exec --exec-id w3 $id cat /count 2>&1)
  yes_if "$W: the counter goes on" "[ '$after' -gt '$before' ] && [ '$after' -lt $((before+100)) ]" "before=$before after=$after"
  $C task kill -s KILL $id >/dev/null 2>&1; sleep 1; $C task rm $id >/dev/null 2>&1; $C container rm $id >/dev/null 2>&1
done
for R in /usr/bin/runc $OX; do
  r=$(basename $R); W=containerd/$r; id=ct-$r
  runok "$W: run -d (task checkpoint)" $C run -d --runc-binary $R --runc-root /run/ctr-$r localhost/ck-bb:latest $id sh -c "$CNT"
  wait_for "[ \"\$($C task exec --exec-id w1 $id cat /count 2>/dev/null)\" -ge 5 ]"
  runok "$W: task checkpoint of the paused task" $C task checkpoint $id
  yes_if "$W: the checkpoint image exists" "$C image ls -q | grep -q checkpoint/$id" "$($C image ls -q)"
  a=$($C task exec --exec-id w2 $id cat /count); sleep 1
  yes_if "$W: the task goes on after it" "$C task ls | grep -q '^$id .*RUNNING' && [ \$($C task exec --exec-id w3 $id cat /count) -gt '$a' ]" "$($C task ls) a=$a"
  $C task kill -s KILL $id >/dev/null 2>&1; sleep 1; $C task rm $id >/dev/null 2>&1; $C container rm $id >/dev/null 2>&1
done
echo "GUEST-DONE fails=$fails"
"##;

/// What each runtime must report ok (the guest also checks CRIU itself).
const PER_RUNTIME: &[&str] = &[
    "checkpoint",
    "restore",
    "counter goes on from where it was",
    "restore ran prestart and createRuntime with the new pid",
    "tmpfs content survived",
    "bind mount back",
    "restored init in its cgroup",
    "checkpoint --leave-running",
    "restore into a new id",
    "dump on the pre-dump",
    "restore of the incremental dump",
    "foreground restore returns the init's status",
    "the restored init writes on to the new pipe",
    "nothing left",
    "netns: restore",
    "netns: the restored init is in the joined namespace",
    "tty: checkpoint",
    "tty: restore --console-socket",
    "tty: the restored init writes on to the new master",
    "tty: stdio and controlling terminal on a pty",
    "systemd: restore",
    "systemd: restored init in the unit",
    "systemd: unit active with its MemoryMax",
    "systemd: delete removes the unit",
];

/// What podman must report ok with each runtime.
const PODMAN: &[&str] = &[
    "container checkpoint",
    "container restore",
    "the counter goes on",
    "checkpoint --export",
    "restore --import",
    "the imported container counts on",
    "tty: container checkpoint",
    "tty: container restore",
    "tty: the log goes on through the new pty",
];

/// What containerd must report ok with each runtime.
const CONTAINERD: &[&str] = &[
    "container checkpoint --task",
    "container restore --live",
    "restored task running",
    "the counter goes on",
    "task checkpoint of the paused task",
    "the checkpoint image exists",
    "the task goes on after it",
];

/// The counter (writes `/count` every 0.2 s; stdio on the container's /dev/null, a tmpfs
/// mark, a bind mount, a cgroup with a memory limit) and the stdout-pipe counter, from the
/// config `oxirun spec` writes. The count is written in place (`1<>`, no truncation): CRIU
/// checks the size of every file open at a dump, and a `--leave-running` dump that froze the
/// shell between `>`'s truncation and its write recorded size 0 ("File count has bad size"
/// on the later restore; seen once under heavy load).
fn configs(dir: &TestDir) -> [Value; 5] {
    let mut c = spec_config(dir);
    c["process"]["terminal"] = json!(false);
    c["root"]["readonly"] = json!(false);
    let mut pipe = c.clone();
    c["process"]["args"] = json!(["sh", "-c",
        "exec </dev/null >/dev/null 2>&1; echo mark > /scratch/mark; i=0; while true; do echo $i 1<>/count; i=$((i+1)); sleep 0.2; done"]);
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "type": "bind", "source": "@DATA@", "options": ["rbind", "ro"]}));
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
    c["linux"]["cgroupsPath"] = json!("/ckpt/@R@");
    c["linux"]["resources"]["memory"] = json!({"limit": 268435456});
    let hook = |tag: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo \"{tag} $(cat)\" >> /tmp/hooks-@R@")]});
    c["hooks"] = json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]});
    pipe["process"]["args"] = json!([
        "sh",
        "-c",
        "exec </dev/null 2>/dev/null; i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"
    ]);
    pipe["linux"]["cgroupsPath"] = json!("/ckpt/@R@");
    let mut sd = c.clone();
    sd["linux"]["cgroupsPath"] = json!("ckpt.slice:ck:@R@");
    let mut netns = c.clone();
    for ns in netns["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!("@NETNS@");
        }
    }
    let mut tty = pipe.clone();
    tty["process"]["terminal"] = json!(true);
    tty["process"]["args"] = json!([
        "sh",
        "-c",
        "i=0; while true; do echo $i > /count; echo tick $i; i=$((i+1)); sleep 0.2; done"
    ]);
    [c, pipe, sd, netns, tty]
}

#[test]
fn checkpoint_and_restore_in_a_guest() {
    let files = |dir: &TestDir| {
        let [counter, pipe, sd, netns, tty] = configs(dir);
        [
            ("counter.json", counter),
            ("pipe.json", pipe),
            ("sd.json", sd),
            ("netns.json", netns),
            ("tty.json", tty),
        ]
        .into_iter()
        .map(|(n, v)| (n, serde_json::to_vec_pretty(&v).unwrap(), false))
        .collect()
    };
    let mut want: Vec<String> = vec![
        "criu check passes on this kernel".into(),
        "oxirun features: checkpoint enabled".into(),
    ];
    for rt in ["runc", "oxirun"] {
        want.extend(PER_RUNTIME.iter().map(|s| format!("{rt}: {s}")));
        want.extend(PODMAN.iter().map(|s| format!("podman/{rt}: {s}")));
        want.extend(CONTAINERD.iter().map(|s| format!("containerd/{rt}: {s}")));
    }
    want.push("podman: image imported".into());
    want.push("containerd: image imported".into());
    guest::run_criu_suite("checkpoint-guest", files, SCRIPT, &want);
}

/// Here CRIU is missing (`--criu` names nothing): one line in runc's words, exit 1, and the
/// container goes on running, untouched (same init, still counting).
#[test]
fn missing_criu_leaves_the_container_running() {
    let mut c = Container::new("ck-nocriu");
    c.sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done");
    c.run_detached().ok("run -d");
    let pid = c.state()["pid"].as_i64().unwrap();
    let img = c.dir.join("img");
    let out = c.rt(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        img.to_str().unwrap(),
        &c.id,
    ]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:#?}");
    assert!(out.stderr.contains("CRIU version check failed"), "{out:#?}");
    assert_eq!(c.status(), "running");
    assert_eq!(c.state()["pid"].as_i64().unwrap(), pid, "the init changed");
    let count = || c.rt(&["exec", &c.id, "cat", "/tmp/n"]).stdout;
    let a = count();
    std::thread::sleep(Duration::from_millis(400));
    let b = count();
    assert!(!a.trim().is_empty(), "no count");
    assert_ne!(a, b, "the counter stopped");
    assert!(!img.join("inventory.img").exists(), "an image was written");
}

/// `checkpoint --help` exits 0 (clients probe support with it) and shows runc's flags;
/// `features` says enabled only when `criu check` passes (never on this kernel).
#[test]
fn help_and_features_tell_the_truth() {
    let c = Container::new("ck-help");
    let help = c.rt(&["checkpoint", "--help"]);
    help.ok("checkpoint --help");
    for flag in [
        "--image-path",
        "--leave-running",
        "--pre-dump",
        "--parent-path",
    ] {
        assert!(help.stdout.contains(flag), "{flag}: {help:#?}");
    }
    let help = c.rt(&["restore", "--help"]);
    help.ok("restore --help");
    assert!(help.stdout.contains("--bundle") && help.stdout.contains("--detach"));
    let features = c.rt(&["features"]);
    features.ok("features");
    let v: Value = serde_json::from_str(&features.stdout).unwrap();
    let criu_works = std::process::Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    assert_eq!(
        v["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        json!(criu_works.to_string()),
        "criu check passes: {criu_works}"
    );
}

/// Bad input: a checkpoint of an unknown container, a restore from a directory that holds no
/// checkpoint or with a broken bundle: exit 1, one line, and no state, cgroup or mount left.
#[test]
fn bad_input_leaves_nothing() {
    let mut c = Container::new("ck-bad");
    c.args(&["true"]);
    c.write_config();
    let empty = c.dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let (img, bundle) = (empty.display().to_string(), c.bundle.display().to_string());
    let restore = |extra: &[&str], bundle: &str| -> Vec<String> {
        let mut v: Vec<String> = vec!["restore".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--image-path", &img, "--bundle", bundle, &c.id].map(String::from));
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            ["checkpoint", "--image-path", &img, &c.id]
                .map(String::from)
                .to_vec(),
            "does not exist",
        ),
        (restore(&["-d"], &bundle), "not a checkpoint"),
        (restore(&["-d"], &img), "config.json"),
        (
            restore(&["--manage-cgroups-mode", "sometimes"], &bundle),
            "",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = c.rt(&args);
        assert_eq!(out.code, 1, "{args:?}: {out:#?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{args:?}: {out:#?}");
        assert!(
            out.stderr.contains(want),
            "{args:?}: want {want:?}: {out:#?}"
        );
        assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}

/// A detached init whose stdin is the host's /dev/null (conmon and containerd give it one)
/// holds the container's own /dev/null instead, as runc's does: a file of a host mount left
/// open in the container is what CRIU cannot dump (`Can't lookup mount`). Stdout, a regular
/// file here, is left alone.
#[test]
fn host_dev_null_stdio_is_reopened_inside() {
    let mut c = Container::new("ck-devnull");
    c.args(&["sleep", "100"]);
    c.run_detached().ok("run -d");
    let pid = c.state()["pid"].as_i64().unwrap();
    let mnt_id = |fd: u32| -> String {
        let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .unwrap()
            .trim()
            .to_string()
    };
    let mountinfo = fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let dev = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/dev"))
        .and_then(|l| l.split(' ').next())
        .expect("the container's /dev mount")
        .to_string();
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
        Path::new("/dev/null")
    );
    assert_eq!(mnt_id(0), dev, "stdin is not the container's /dev/null");
    let out = fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    assert!(
        out.to_string_lossy()
            .starts_with(&*c.dir.path.to_string_lossy()),
        "stdout was replaced: {out:?}"
    );
}
