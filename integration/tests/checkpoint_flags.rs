//! runc's `checkpoint` / `restore` flags, each shown working through CRIU in the QEMU guest
//! (Debian's 6.1 kernel, where criu 3.17 works; see `checkpoint.rs` for why not here), runc
//! first and then oxirun on the same script. Each flag is judged by what it changes:
//!
//! * `--work-path`: CRIU's logs land there, the images elsewhere; `--bundle` from another
//!   directory; a restore into a new id whose config names another cgroup lands in that
//!   cgroup (oxirun; runc 1.1 on v2 restores into the dumped path);
//! * `--manage-cgroups-mode` ignore / full / strict: the restored init is in the container's
//!   cgroup with its limit whatever CRIU does with cgroups;
//! * `--empty-ns network`: oxirun's images hold the namespace's devices without it and none
//!   with it (runc 1.1.5's hold none either way: shown only); restored, the init is in a new
//!   network namespace;
//! * `--auto-dedup`: a dump on a pre-dump punches the parent's pages out;
//! * `--file-locks`: a container holding a flock cannot be dumped without it; with it, the
//!   restored init holds the lock again;
//! * `--tcp-established`: a TCP connection inside the container (in a network namespace
//!   joined by path) refuses the dump without it; with it, the connection carries on after
//!   the restore (oxirun; runc 1.1.5's restore succeeds but the connection stalls here);
//! * `--ext-unix-sk`: an init whose stdout is a datagram socket connected to one the host
//!   bound refuses the dump without it; with it, the restored init writes to it again;
//! * `--shell-job`: reaches CRIU (oxirun's call through a logging wrapper). What it is for,
//!   an init on a pty of the host's, criu 3.17 cannot dump from a container's mount
//!   namespace with it or without, for runc as for oxirun: both refusals are checked;
//! * `--page-server`: the dump's pages go to `criu page-server`, and a restore from them
//!   goes on counting;
//! * `--lazy-pages` with `--page-server` and `--status-fd`: the dump waits as a page server,
//!   reports ready on the status fd, and a restore through `criu lazy-pages` goes on counting;
//! * restore's `--no-pivot` and `--no-subreaper` in the foreground; a foreground restore of a
//!   terminal container, its new pty proxied to the restoring command's stdout.

use oxirun_integration::cprog;
use oxirun_integration::qemu::spec_config;
use oxirun_integration::util::TestDir;
use oxirun_integration::{guest, json, Value};

const SCRIPT: &str = r##"
T=/oxirun-test
OX=$T/oxirun
mkdir -p /tmp/rootfs/bin /tmp/rootfs/proc /tmp/rootfs/dev /tmp/rootfs/sys /tmp/rootfs/tmp
cp /bin/busybox /tmp/rootfs/bin/; cp $T/locker /tmp/rootfs/bin/
for a in sh sleep cat echo true nc; do ln -s busybox /tmp/rootfs/bin/$a; done
# CRIU's errors from the newest log of the command's work directory (--work-path, else
# --image-path): runc names only the log file, without its directory.
criu_errors() { w=; i=; while [ $# -gt 0 ]; do case $1 in --work-path) w=$2;; --image-path) i=$2;; esac; shift; done
  log=$(ls -t ${w:-$i}/*.log 2>/dev/null | head -1); [ -n "$log" ] && grep Error "$log" | head -3 | tr '\n' ' '; }
# Output for a TAP line: one line, no backslashes (busybox echo would expand runc's "\n").
flat() { tr '\n\\' '  ' </tmp/out; }
runok() { name=$1; shift; if "$@" </dev/null >/tmp/out 2>&1; then ok "$name"; else notok "$name" "rc=$? $(flat) $(criu_errors "$@")"; fi; }
# NAME WANT CMD...: ok when CMD fails and CRIU's reason names WANT (in its output or its
# log).
refused() { name=$1; want=$2; shift 2
  if "$@" </dev/null >/tmp/out 2>&1; then notok "$name" "it passed"; return; fi
  if { cat /tmp/out; criu_errors "$@"; } | grep -qi -- "$want"; then ok "$name"; else notok "$name" "want [$want] in: $(flat) $(criu_errors "$@")"; fi; }
count() { cat $1/rootfs/count 2>/dev/null || echo 0; }
# NAME BUNDLE: ok when the counter of BUNDLE moves on within 2 s of now.
counting() { a=$(count $2); sleep 1; yes_if "$1" "wait_for '[ \$(count $2) -gt $a ]'" "stuck at $a"; }
# NAME COND WHY: judged for oxirun; for runc, whose 1.1.5 does otherwise here, only shown.
ours() { if [ $R = oxirun ]; then yes_if "$@"; elif eval "$2"; then echo "# $1: yes"; else echo "# $1: no ($3)"; fi; }
bundle() { mkdir -p $1; cp -a /tmp/rootfs $1/rootfs; sed "s|@R@|$3|" $T/$2.json > $1/config.json; }
ip link set lo up
# The host's end of --ext-unix-sk's socket: CRIU connects to it by name from the container's
# root on restore, so the container mounts this directory at the same path.
mkdir -p /xsk
printf '#!/bin/sh\necho "$*" >> /tmp/criu-args\nexec criu "$@"\n' > /tmp/criu-log; chmod +x /tmp/criu-log
for R in runc oxirun; do
  RT="$R --root /run/cf-$R"; [ $R = oxirun ] && RT="$OX --root /run/cf-$R"
  cd /
  B=/tmp/f-$R; bundle $B counter $R; id=$R-f
  runok "$R: run -d --bundle" $RT run -d --bundle $B $id
  wait_for "[ \$(count $B) -ge 5 ]"

  # --work-path: logs there, images elsewhere; --bundle from another directory.
  runok "$R: checkpoint --work-path" $RT checkpoint --work-path /tmp/$R-w1 --image-path /tmp/$R-i1 $id
  yes_if "$R: dump.log in the work path only" "[ -s /tmp/$R-w1/dump.log ] && [ ! -e /tmp/$R-i1/dump.log ] && [ -s /tmp/$R-i1/inventory.img ]" "$(ls /tmp/$R-w1 /tmp/$R-i1 | tr '\n' ' ')"
  runok "$R: restore --work-path --bundle" $RT restore -d --bundle $B --work-path /tmp/$R-w1r --image-path /tmp/$R-i1 $id
  yes_if "$R: restore.log in the work path only" "[ -s /tmp/$R-w1r/restore.log ] && [ ! -e /tmp/$R-i1/restore.log ]" "$(ls /tmp/$R-w1r /tmp/$R-i1 | tr '\n' ' ')"
  counting "$R: counting after restore --bundle" $B

  # Into a new id whose config names another cgroup, from a --leave-running dump: oxirun's
  # tree lands in the new cgroup (runc 1.1 on v2 leaves it in the dumped path: shown only).
  runok "$R: checkpoint --leave-running for a new id" $RT checkpoint --leave-running --image-path /tmp/$R-mv $id
  B2=/tmp/f2-$R; bundle $B2 counter $R-moved
  runok "$R: restore into a new id with another cgroup" $RT restore -d --bundle $B2 --image-path /tmp/$R-mv --pid-file /tmp/$R-mv.pid $R-moved
  mv=$(cat /proc/$(cat /tmp/$R-mv.pid)/cgroup)
  ours "$R: the new id's tree is in its own cgroup" "[ '$mv' = 0::/ckf/$R-moved ]" "$mv"
  counting "$R: the new id counts in its own rootfs" $B2
  $RT delete -f $R-moved

  # --manage-cgroups-mode: the init ends up in the container's cgroup, with its limit.
  # runc 1.1 knows no "ignore" (1.2 does).
  modes="full strict"; [ $R = oxirun ] && modes="ignore full strict"
  for mode in $modes; do
    runok "$R: checkpoint --manage-cgroups-mode $mode" $RT checkpoint --manage-cgroups-mode $mode --image-path /tmp/$R-cg$mode $id
    runok "$R: restore --manage-cgroups-mode $mode" $RT restore -d --manage-cgroups-mode $mode --bundle $B --image-path /tmp/$R-cg$mode --pid-file /tmp/$R-cg.pid $id
    check "$R: $mode: restored init in its cgroup" "0::/ckf/$R" "$(cat /proc/$(cat /tmp/$R-cg.pid)/cgroup)"
    check "$R: $mode: limit on the cgroup" 268435456 "$(cat /sys/fs/cgroup/ckf/$R/memory.max)"
    counting "$R: $mode: counting" $B
  done

  # --empty-ns network: the namespace is left out of the images, restored empty.
  runok "$R: checkpoint --empty-ns network" $RT checkpoint --empty-ns network --image-path /tmp/$R-en $id
  ours "$R: --empty-ns leaves the network devices out of the images" "ls /tmp/$R-i1 | grep -q '^netdev-' && ! ls /tmp/$R-en | grep -q '^netdev-'" "with: $(ls /tmp/$R-en | grep -c '^netdev-') without: $(ls /tmp/$R-i1 | grep -c '^netdev-')"
  runok "$R: restore --empty-ns network" $RT restore -d --empty-ns network --bundle $B --image-path /tmp/$R-en --pid-file /tmp/$R-en.pid $id
  pid=$(cat /tmp/$R-en.pid)
  yes_if "$R: restored init in a network namespace of its own" "[ \"\$(readlink /proc/$pid/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]" "$(readlink /proc/$pid/ns/net)"
  counting "$R: counting after --empty-ns" $B

  # --auto-dedup: a dump on a pre-dump punches the pages it took over out of the parent.
  runok "$R: pre-dump for --auto-dedup" $RT checkpoint --pre-dump --image-path /tmp/$R-dp $id
  before=$(du -sk /tmp/$R-dp | cut -f1)
  runok "$R: checkpoint --auto-dedup" $RT checkpoint --auto-dedup --parent-path ../$R-dp --image-path /tmp/$R-dd $id
  after=$(du -sk /tmp/$R-dp | cut -f1)
  yes_if "$R: the parent's pages were punched out" "[ $after -lt $before ]" "parent ${before}k -> ${after}k"
  runok "$R: restore --auto-dedup" $RT restore -d --auto-dedup --bundle $B --image-path /tmp/$R-dd $id
  counting "$R: counting after --auto-dedup" $B

  # --page-server: the dump sends its pages to `criu page-server` (a migration's target);
  # its images joined with the dump's restore.
  psport=$((27280 + ${#R}))
  mkdir -p /tmp/$R-ps; criu page-server --images-dir /tmp/$R-ps --port $psport >/tmp/$R-ps.out 2>&1 &
  yes_if "$R: criu page-server listening" "wait_for 'ss -ltn | grep -q :$psport'" "$(cat /tmp/$R-ps.out)"
  runok "$R: checkpoint --page-server" $RT checkpoint --page-server 127.0.0.1:$psport --image-path /tmp/$R-psi $id
  yes_if "$R: the pages went to the page server" "ls /tmp/$R-ps | grep -q '^pages-' && ! ls /tmp/$R-psi | grep -q '^pages-'" "server: $(ls /tmp/$R-ps | tr '\n' ' ') dump: $(ls /tmp/$R-psi | tr '\n' ' ')"
  cp /tmp/$R-ps/*.img /tmp/$R-psi/
  runok "$R: restore with the page server's pages" $RT restore -d --bundle $B --image-path /tmp/$R-psi $id
  counting "$R: counting after the page-server restore" $B

  # --lazy-pages: the dump serves pages from a page server and says so on --status-fd; a
  # restore into a new id pulls them through `criu lazy-pages`.
  # The status fd is write-only (runc refuses any other).
  rm -f /tmp/$R-lz.fifo; mkfifo /tmp/$R-lz.fifo; exec 7<>/tmp/$R-lz.fifo 8>/tmp/$R-lz.fifo
  port=$((27270 + ${#R}))
  ( $RT checkpoint --lazy-pages --page-server 127.0.0.1:$port --status-fd 8 --work-path /tmp/$R-lzw --image-path /tmp/$R-lz $id </dev/null >/tmp/$R-lz.out 2>&1; echo $? > /tmp/$R-lz.rc ) &
  exec 8>&-
  st=$(timeout 60 dd bs=1 count=1 <&7 2>/dev/null | od -An -c | tr -d ' ')
  exec 7>&-
  check "$R: --status-fd says ready" '\0' "$st"
  yes_if "$R: lazy dump wrote its inventory" "[ -e /tmp/$R-lz/inventory.img ]" "$(cat /tmp/$R-lz.out)"
  criu lazy-pages --page-server --address 127.0.0.1 --port $port -D /tmp/$R-lz -W /tmp/$R-lz >/tmp/$R-lzd.out 2>&1 &
  wait_for "[ -S /tmp/$R-lz/lazy-pages.socket ]"
  runok "$R: restore --lazy-pages" $RT restore -d --lazy-pages --bundle $B --work-path /tmp/$R-lz --image-path /tmp/$R-lz $R-lazy
  counting "$R: counting after the lazy restore" $B
  yes_if "$R: the lazy dump ended once its pages were taken" "wait_for '[ -s /tmp/$R-lz.rc ]' && [ \$(cat /tmp/$R-lz.rc) = 0 ]" "rc=$(cat /tmp/$R-lz.rc 2>/dev/null) $(tr '\n' ' ' </tmp/$R-lz.out)"
  yes_if "$R: the original container is gone" "! $RT state $id >/dev/null 2>&1" "$($RT list)"
  id=$R-lazy

  # restore --no-pivot --no-subreaper in the foreground: the init's status, then deleted.
  runok "$R: checkpoint for --no-pivot" $RT checkpoint --image-path /tmp/$R-np $id
  ( $RT restore --no-pivot --no-subreaper --bundle $B --image-path /tmp/$R-np $R-np </dev/null >/dev/null 2>/tmp/$R-np.err; echo $? > /tmp/$R-np.rc ) &
  wait_for "$RT state $R-np 2>/dev/null | grep -q running"
  yes_if "$R: restore --no-pivot --no-subreaper running" "$RT state $R-np | grep -q running" "$(cat /tmp/$R-np.err)"
  counting "$R: counting after --no-pivot" $B
  $RT kill $R-np KILL
  wait_for "[ -s /tmp/$R-np.rc ]"
  check "$R: --no-subreaper restore returns the init's status" 137 "$(cat /tmp/$R-np.rc)"
  yes_if "$R: --no-subreaper restore deleted it" "! $RT state $R-np >/dev/null 2>&1" "$($RT list)"

  # --file-locks: an init holding a flock.
  L=/tmp/l-$R; bundle $L locker $R-l
  runok "$R: locker: run -d" $RT run -d --bundle $L $R-l
  wait_for "[ \$(count $L) -ge 3 ]"
  refused "$R: a held lock refuses the dump without --file-locks" "lock" $RT checkpoint --image-path /tmp/$R-fl0 $R-l
  yes_if "$R: still running after the refusal" "$RT state $R-l | grep -q running" "$($RT list)"
  runok "$R: checkpoint --file-locks" $RT checkpoint --file-locks --image-path /tmp/$R-fl $R-l
  runok "$R: restore --file-locks" $RT restore -d --file-locks --bundle $L --image-path /tmp/$R-fl --pid-file /tmp/$R-fl.pid $R-l
  pid=$(cat /tmp/$R-fl.pid)
  yes_if "$R: the restored init holds its flock" "grep -q 'FLOCK .* $pid ' /proc/locks" "pid $pid; $(cat /proc/locks | tr '\n' ' ')"
  counting "$R: locker counting after restore" $L
  $RT delete -f $R-l

  # --tcp-established: nc sends a count to nc over the container's loopback.
  # In a network namespace joined by path (a pod's, its loopback up), which CRIU leaves
  # alone: one the container made comes back from criu 3.17 with its loopback down for runc.
  ip netns add cf-$R; ip -n cf-$R link set lo up
  N=/tmp/n-$R; bundle $N tcp $R-t; sed -i "s|@NETNS@|/run/netns/cf-$R|" $N/config.json
  runok "$R: tcp: run -d" $RT run -d --bundle $N $R-t
  wait_for "[ \$(wc -l < $N/rootfs/got) -ge 5 ]"
  refused "$R: an established connection refuses the dump without --tcp-established" "tcp" $RT checkpoint --image-path /tmp/$R-tc0 $R-t
  runok "$R: checkpoint --tcp-established" $RT checkpoint --tcp-established --image-path /tmp/$R-tc $R-t
  got=$(wc -l < $N/rootfs/got)
  runok "$R: restore --tcp-established" $RT restore -d --tcp-established --bundle $N --image-path /tmp/$R-tc $R-t
  ours "$R: the connection carries on after the restore" "wait_for '[ \$(wc -l < $N/rootfs/got) -gt $((got+3)) ]'" "stuck at $got lines"
  $RT delete -f $R-t; ip netns del cf-$R

  # --ext-unix-sk and --shell-job: the init's stdout is the host's (a socket, a pty).
  for kind in sock pty; do
    E=/tmp/e-$R-$kind; bundle $E talker-$kind $R-$kind
    python3 $T/holder.py $kind /xsk/$R-$kind.out /tmp/$R-$kind.rc $RT run -d --bundle $E $R-$kind &
    wait_for "[ -s /tmp/$R-$kind.rc ]"
    check "$R: $kind: run -d with stdio on it" 0 "$(cat /tmp/$R-$kind.rc)"
    wait_for "[ \$(count $E) -ge 3 ]"
  done
  refused "$R: a host socket refuses the dump without --ext-unix-sk" "ext-unix-sk" $RT checkpoint --leave-running --image-path /tmp/$R-us0 $R-sock
  runok "$R: checkpoint --ext-unix-sk" $RT checkpoint --ext-unix-sk --image-path /tmp/$R-us $R-sock
  lines=$(wc -l < /xsk/$R-sock.out)
  runok "$R: restore --ext-unix-sk" $RT restore -d --ext-unix-sk --bundle /tmp/e-$R-sock --image-path /tmp/$R-us $R-sock
  yes_if "$R: the restored init writes to the host's socket again" "wait_for '[ \$(wc -l < /xsk/$R-sock.out) -gt $((lines+3)) ]'" "stuck at $lines lines"
  # --shell-job: criu 3.17 cannot dump an init whose stdio is a pty of the host's devpts
  # from the container's mount namespace, with the flag or without, for runc as for oxirun
  # (it finds no mount for the fd); oxirun's call through a logging wrapper shows the flag
  # reaching CRIU.
  refused "$R: a host pty on stdio: refused without --shell-job" "lookup mount" $RT checkpoint --leave-running --image-path /tmp/$R-sj0 $R-pty
  CR=; [ $R = oxirun ] && CR="--criu /tmp/criu-log"
  refused "$R: a host pty on stdio: refused with --shell-job too (criu 3.17)" "lookup mount" $RT $CR checkpoint --shell-job --leave-running --image-path /tmp/$R-sj $R-pty
  [ $R = oxirun ] && yes_if "$R: --shell-job reaches criu" "grep -q -- 'dump.* --shell-job' /tmp/criu-args" "$(cat /tmp/criu-args)"
  counting "$R: the pty's container still counting" /tmp/e-$R-pty
  $RT delete -f $R-sock; $RT delete -f $R-pty

  # A terminal restored in the foreground: its new pty proxied to our stdout.
  Y=/tmp/y-$R; bundle $Y tty $R-y
  python3 $T/recvtty.py /tmp/$R-cs /tmp/$R-tty1 &
  wait_for "[ -S /tmp/$R-cs ]"
  runok "$R: tty: run -d --console-socket" $RT run -d --bundle $Y --console-socket /tmp/$R-cs $R-y
  wait_for "[ \$(count $Y) -ge 5 ]"
  runok "$R: tty: checkpoint" $RT checkpoint --image-path /tmp/$R-ty $R-y
  before=$(count $Y)
  # On a pty of its own, as from a shell (runc opens /dev/tty for the proxy).
  python3 $T/holder.py pty /tmp/$R-tyfg /tmp/$R-ty.rc $RT restore --bundle $Y --image-path /tmp/$R-ty $R-y &
  wait_for "[ \$(grep -c tick /tmp/$R-tyfg) -ge 3 ]"
  first=$(grep tick /tmp/$R-tyfg | head -1 | tr -dc 0-9)
  yes_if "$R: tty: the foreground restore proxies the new pty" "[ -n '$first' ] && [ '$first' -ge '$before' ] && [ '$first' -lt $((before+10)) ]" "before=$before first=$first $(head -c 300 /tmp/$R-tyfg)"
  $RT kill $R-y KILL
  wait_for "[ -s /tmp/$R-ty.rc ]"
  check "$R: tty: foreground restore returns the init's status" 137 "$(cat /tmp/$R-ty.rc)"
  $RT delete -f $id
  yes_if "$R: nothing left" "[ -z \"\$($RT list -q)\" ] && [ ! -d /sys/fs/cgroup/ckf/$R ] && [ ! -d /sys/fs/cgroup/ckf/$R-moved ]" "$($RT list) $(ls /sys/fs/cgroup/ckf)"
done
echo "GUEST-DONE fails=$fails"
"##;

/// What each runtime must report ok.
const PER_RUNTIME: &[&str] = &[
    "dump.log in the work path only",
    "restore.log in the work path only",
    "counting after restore --bundle",
    "the new id counts in its own rootfs",
    "full: restored init in its cgroup",
    "strict: limit on the cgroup",
    "restore --empty-ns network",
    "restored init in a network namespace of its own",
    "the parent's pages were punched out",
    "counting after --auto-dedup",
    "the pages went to the page server",
    "counting after the page-server restore",
    "--status-fd says ready",
    "restore --lazy-pages",
    "counting after the lazy restore",
    "the lazy dump ended once its pages were taken",
    "--no-subreaper restore returns the init's status",
    "a held lock refuses the dump without --file-locks",
    "the restored init holds its flock",
    "an established connection refuses the dump without --tcp-established",
    "a host socket refuses the dump without --ext-unix-sk",
    "checkpoint --ext-unix-sk",
    "the restored init writes to the host's socket again",
    "a host pty on stdio: refused without --shell-job",
    "a host pty on stdio: refused with --shell-job too (criu 3.17)",
    "the pty's container still counting",
    "tty: the foreground restore proxies the new pty",
    "tty: foreground restore returns the init's status",
    "nothing left",
];

/// `holder.py sock|pty OUT RC CMD...`: runs CMD with its stdout (for a pty all its stdio,
/// in a session of its own so that the pty is its controlling terminal) on a datagram socket
/// connected to one bound at OUT.sock, or on a pty, copies what arrives at the other end to OUT until it closes, and
/// writes CMD's exit code to RC when CMD ends.
const HOLDER: &str = r#"#!/usr/bin/python3
import os, pty, socket, subprocess, sys, threading
kind, out, rc = sys.argv[1:4]
if kind == "sock":
    # CRIU dumps one end of a unix connection only when the other is a named datagram one
    # (which it connects to again on restore).
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(out + ".sock")
    cli = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    cli.connect(out + ".sock")
    mine, theirs = srv.detach(), cli.detach()
    io = dict(stdin=subprocess.DEVNULL, stdout=theirs, stderr=subprocess.DEVNULL)
else:
    mine, theirs = pty.openpty()
    io = dict(stdin=theirs, stdout=theirs, stderr=theirs, start_new_session=True)
p = subprocess.Popen(sys.argv[4:], **io)
os.close(theirs)
def reap():
    code = p.wait()
    with open(rc + ".tmp", "w") as f:
        f.write(str(code if code >= 0 else 128 - code))
    os.rename(rc + ".tmp", rc)
threading.Thread(target=reap).start()
sys.path.insert(0, os.path.dirname(__file__))
from recvtty import copy
copy(mine, out)
"#;

/// Takes a flock on /lockf and writes a count to /count every 0.2 s.
const LOCKER: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
int main(void) {
    int fd = open("/lockf", O_CREAT | O_RDWR, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) { perror("lock"); return 1; }
    for (int i = 0;; i++) {
        FILE *f = fopen("/count", "w");
        if (f) { fprintf(f, "%d\n", i); fclose(f); }
        usleep(200000);
    }
}
"#;

/// The configs, from the one `oxirun spec` writes: a counter (cgroup `/ckf/@R@` with a
/// memory limit), the same writing to the caller's stdout, the locker, a TCP pair over the
/// loopback of a network namespace joined by path, a terminal counter.
fn configs(dir: &TestDir) -> [(&'static str, Value); 6] {
    let mut c = spec_config(dir);
    c["process"]["terminal"] = json!(false);
    c["root"]["readonly"] = json!(false);
    c["linux"]["cgroupsPath"] = json!("/ckf/@R@");
    c["linux"]["resources"]["memory"] = json!({"limit": 268435456});
    let sh = |c: &Value, script: &str| {
        let mut c = c.clone();
        c["process"]["args"] = json!(["sh", "-c", script]);
        c
    };
    // Written in place, not truncated: see checkpoint.rs's counter (CRIU's file size check).
    let count = "i=0; while true; do echo $i 1<>/count; echo $i; i=$((i+1)); sleep 0.2; done";
    let counter = sh(&c, &format!("exec </dev/null >/dev/null 2>&1; {count}"));
    // Stdout stays the caller's: a socket for --ext-unix-sk, in the host's network
    // namespace (CRIU looks a unix socket's peer up in the dumped one's), its peer's
    // directory mounted at the same path; a pty for --shell-job.
    let talker = sh(&c, &format!("exec </dev/null 2>/dev/null; {count}"));
    let mut talker_sock = talker.clone();
    talker_sock["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "network");
    talker_sock["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/xsk", "type": "bind", "source": "/xsk", "options": ["rbind"]}),
    );
    let talker_pty = talker;
    let locker = sh(&c, "exec </dev/null >/dev/null 2>&1; exec /bin/locker");
    // The server's stdin must not end (busybox nc closes the connection on EOF there).
    let tcp = sh(
        &c,
        "exec </dev/null >/dev/null 2>&1; sleep 1000000 | nc -l -p 5000 > /got & sleep 1; i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done | nc 127.0.0.1 5000",
    );
    let mut tcp = tcp;
    for ns in tcp["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!("@NETNS@");
        }
    }
    let mut tty = sh(
        &c,
        "i=0; while true; do echo $i > /count; echo tick $i; i=$((i+1)); sleep 0.2; done",
    );
    tty["process"]["terminal"] = json!(true);
    [
        ("counter.json", counter),
        ("talker-sock.json", talker_sock),
        ("talker-pty.json", talker_pty),
        ("locker.json", locker),
        ("tcp.json", tcp),
        ("tty.json", tty),
    ]
}

#[test]
fn checkpoint_flags_in_a_guest() {
    let files = |dir: &TestDir| {
        let mut files: Vec<(&str, Vec<u8>, bool)> = configs(dir)
            .into_iter()
            .map(|(n, v)| (n, serde_json::to_vec_pretty(&v).unwrap(), false))
            .collect();
        files.push(("holder.py", HOLDER.as_bytes().to_vec(), true));
        let locker = std::fs::read(cprog::build("locker", LOCKER)).unwrap();
        files.push(("locker", locker, true));
        files
    };
    let mut want: Vec<String> = ["runc", "oxirun"]
        .iter()
        .flat_map(|rt| PER_RUNTIME.iter().map(move |s| format!("{rt}: {s}")))
        .collect();
    // runc 1.1 has no "ignore" mode.
    want.push("oxirun: ignore: restored init in its cgroup".into());
    want.push("oxirun: the new id's tree is in its own cgroup".into());
    want.push("oxirun: --shell-job reaches criu".into());
    want.push("oxirun: the connection carries on after the restore".into());
    want.push("oxirun: --empty-ns leaves the network devices out of the images".into());
    guest::run_criu_suite("checkpoint-flags-guest", files, SCRIPT, &want);
}
