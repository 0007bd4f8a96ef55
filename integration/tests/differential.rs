//! The differential harness of issue 19: every scenario goes to Debian's runc 1.1.5 and to
//! oxirun, and every observation must match, or the difference must be written down here as
//! intended, with its reason. The table (data, not code) covers every subcommand and flag of
//! `runc --help`, the main config fields and the error paths. See
//! `oxirun_integration::differential` for the step syntax.

use oxirun_integration::differential::{run_table, Scenario};

const SLEEP: &str = r#"["sleep", "1000"]"#;
const TRUE: &str = r#"["true"]"#;
const ARGS: &str = "/process/args";

/// Differences explained for every scenario.
const GLOBAL: &[(&str, &str)] = &[
    (
        "ociVersion",
        "oxirun implements runtime-spec 1.2.0; runc 1.1.5 reports 1.0.2-dev",
    ),
    (
        "probe.mount /sys/fs/cgroup$",
        "the cgroup mount's \"ro\" makes oxirun's /sys/fs/cgroup tmpfs read-only too; runc 1.1.5 leaves the tmpfs rw (its hierarchies are ro in both)",
    ),
    (
        "probe.mount /sys/fs/cgroup/unified",
        "on a hybrid host oxirun also mounts the v2 hierarchy (ro) at /sys/fs/cgroup/unified, as systemd in a container expects; runc 1.1.5 omits it",
    ),
];

macro_rules! sc {
    ($name:expr, config: $config:expr, files: $files:expr, steps: $steps:expr, intended: $intended:expr) => {
        Scenario { name: $name, config: $config, files: $files, steps: $steps, intended: $intended }
    };
    ($name:expr, config: $config:expr, steps: $steps:expr, files: $files:expr, intended: $intended:expr) => {
        sc!($name, config: $config, files: $files, steps: $steps, intended: $intended)
    };
    ($name:expr, config: $config:expr, files: $files:expr, steps: $steps:expr) => {
        sc!($name, config: $config, files: $files, steps: $steps, intended: &[])
    };
    ($name:expr, config: $config:expr, steps: $steps:expr) => {
        sc!($name, config: $config, files: &[], steps: $steps, intended: &[])
    };
    ($name:expr, config: $config:expr, steps: $steps:expr, intended: $intended:expr) => {
        sc!($name, config: $config, files: &[], steps: $steps, intended: $intended)
    };
}

const HOOK_STATE: &str = "runtime-spec 1.2 state: oxirun's hook state also has rootfs, owner and created (runc 1.1.5's has none)";
const USAGE_OUT: &str = "runc prints its usage text on stdout for a usage error; oxirun one line on stderr (exit 1 both)";

const RUN: &str = "probe: run --bundle {bundle} {id}";
const RUN_D: &str = "run -d --bundle {bundle} --pid-file {pidfile} {id}";
const CREATE: &str = "create --bundle {bundle} --pid-file {pidfile} {id}";

const TABLE: &[Scenario] = &[
    // ---- what the process sees (config fields) ---------------------------------------------
    sc!("default", config: &[], steps: &[RUN]),
    sc!("user", config: &[("/process/user", r#"{"uid": 1000, "gid": 100, "additionalGids": [10, 20]}"#)], steps: &[RUN]),
    sc!("umask", config: &[("/process/user/umask", "63")], steps: &[RUN]),
    sc!("cwd", config: &[("/process/cwd", r#""/tmp""#)], steps: &[RUN]),
    sc!("cwd-missing", config: &[("/process/cwd", r#""/nonexistent/dir""#)], steps: &[RUN]),
    sc!("env", config: &[("/process/env", r#"["A=1", "PATH=/bin:/sbin", "B=two words"]"#)], steps: &[RUN]),
    sc!("args-missing-binary", config: &[(ARGS, r#"["/no/such/binary"]"#)], steps: &[RUN]),
    sc!("args-exit-code", config: &[(ARGS, r#"["sh", "-c", "exit 7"]"#)], steps: &[RUN]),
    sc!("capabilities", config: &[("/process/capabilities", r#"{"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": [], "ambient": []}"#)], steps: &[RUN]),
    sc!("rlimits", config: &[("/process/rlimits", r#"[{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048}, {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]"#)], steps: &[RUN]),
    sc!("no-new-privileges", config: &[("/process/noNewPrivileges", "true")], steps: &[RUN]),
    sc!("new-privileges", config: &[("/process/noNewPrivileges", "false")], steps: &[RUN]),
    sc!("oom-score-adj", config: &[("/process/oomScoreAdj", "500")], steps: &[RUN]),
    sc!("hostname", config: &[("/hostname", r#""diffhost""#)], steps: &[RUN]),
    sc!("terminal-console-socket", config: &[("/process/terminal", "true"), ("/process/user", r#"{"uid": 1000, "gid": 100}"#)], steps: &["tty: run -d --console-socket {console} --bundle {bundle} --pid-file {pidfile} {id}", "@wait stopped", "delete {id}"]),
    sc!("exec-tty-console-socket", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "tty: exec -d -t --console-socket {console} --user 1000:100 {id} {probe}", "tty: exec -d --tty --console-socket {console} {id} {probe}", "delete -f {id}"]),
    sc!("terminal-detached-no-socket", config: &[("/process/terminal", "true")], steps: &[RUN_D]),
    sc!("readonly-root", config: &[("/root/readonly", "true")], steps: &[RUN]),
    sc!("masked-readonly-paths", config: &[("/linux/maskedPaths", r#"["/proc/kcore", "/etc/hostname", "/nonexistent"]"#), ("/linux/readonlyPaths", r#"["/proc/sys", "/etc"]"#)], steps: &[RUN]),
    sc!("mount-bind-ro", config: &[("/mounts/-", r#"{"destination": "/mnt/share", "type": "bind", "source": "{dir}/share", "options": ["rbind", "ro"]}"#)], files: &[("share/f", "x")], steps: &[RUN], intended: &[]),
    sc!("mount-tmpfs", config: &[("/mounts/-", r#"{"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "size=64k", "mode=700"]}"#)], steps: &[RUN]),
    sc!("mount-bind-rw", config: &[("/mounts/-", r#"{"destination": "/data", "type": "bind", "source": "{dir}/share", "options": ["bind", "nosuid", "nodev"]}"#)], files: &[("share/f", "x")], steps: &[RUN], intended: &[]),
    sc!("ns-host-network", config: &[("/linux/namespaces", r#"[{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]"#)], steps: &[RUN]),
    sc!("ns-cgroup", config: &[("/linux/namespaces/-", r#"{"type": "cgroup"}"#)], steps: &[RUN]),
    sc!("ns-user", config: &[("/linux/namespaces/-", r#"{"type": "user"}"#), ("/linux/uidMappings", r#"[{"containerID": 0, "hostID": 100000, "size": 65536}]"#), ("/linux/gidMappings", r#"[{"containerID": 0, "hostID": 100000, "size": 65536}]"#)], steps: &[RUN]),
    sc!("ns-join-missing-path", config: &[("/linux/namespaces", r#"[{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "network", "path": "/proc/self/ns/nonexistent"}]"#)], steps: &[RUN]),
    sc!("sysctl", config: &[("/linux/sysctl", r#"{"net.ipv4.ip_forward": "1"}"#)], steps: &[RUN]),
    sc!("sysctl-host-netns", config: &[("/linux/namespaces", r#"[{"type": "pid"}, {"type": "mount"}]"#), ("/linux/sysctl", r#"{"net.ipv4.ip_forward": "1"}"#)], steps: &[RUN]),
    sc!("sysctl-unknown", config: &[("/linux/sysctl", r#"{"kernel.no_such_knob": "1"}"#)], steps: &[RUN]),
    sc!("resources", config: &[(ARGS, SLEEP), ("/linux/resources", r#"{"memory": {"limit": 67108864}, "pids": {"limit": 64}, "cpu": {"shares": 512}}"#)],
        steps: &[CREATE, "@cg memory.limit_in_bytes", "@cg pids.max", "@cg cpu.shares", "delete --force {id}"]),
    sc!("hooks", config: &[(ARGS, TRUE), ("/hooks", r#"{"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > {dir}/prestart.json"]}], "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > {dir}/createRuntime.json"]}], "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > {dir}/poststart.json"]}], "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > {dir}/poststop.json"]}]}"#)],
    steps: &["run --bundle {bundle} {id}", "@file prestart.json", "@file createRuntime.json", "@file poststart.json", "@file poststop.json"],
    intended: &[
        ("stdout.rootfs", HOOK_STATE), ("stdout.owner", HOOK_STATE), ("stdout.created", HOOK_STATE),
        ("poststart.json stdout.status", "poststart runs once the process runs: oxirun passes status running (runtime-spec), runc 1.1.5 the state from before start (created)"),
        ("poststop.json stdout.pid", "oxirun's poststop state has pid 0 (the init is gone); runc 1.1.5 leaves pid out"),
    ]),
    sc!("hook-fails", config: &[(ARGS, TRUE), ("/hooks", r#"{"prestart": [{"path": "/bin/false"}]}"#)], steps: &["run --bundle {bundle} {id}"]),
    sc!("seccomp", config: &[("/linux/seccomp", r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#), (ARGS, r#"["sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1 || echo refused"]"#)], steps: &["run --bundle {bundle} {id}"]),
    sc!("seccomp-bad-action", config: &[("/linux/seccomp", r#"{"defaultAction": "SCMP_ACT_NOPE"}"#)], steps: &["run --bundle {bundle} {id}"]),
    sc!("apparmor-profile", config: &[("/process/apparmorProfile", r#""oxirun-nonexistent-profile""#)], steps: &[RUN]),
    sc!("selinux-label", config: &[("/process/selinuxLabel", r#""system_u:system_r:container_t:s0""#)], steps: &[RUN],
        intended: &[("0:run --bundle ", "on a host without SELinux oxirun ignores process.selinuxLabel (podman sets one by default; config_process.rs selinux_labels_are_ignored_without_selinux); runc 1.1.5 refuses the config")]),
    sc!("rlimit-above-hard", config: &[("/process/rlimits", r#"[{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]"#)], steps: &[RUN]),
    sc!("rlimit-unknown", config: &[("/process/rlimits", r#"[{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]"#)], steps: &[RUN]),
    sc!("user-unmapped-gids", config: &[("/process/user", r#"{"uid": 65534, "gid": 65534}"#), ("/process/cwd", r#""/""#)], steps: &[RUN]),
    sc!("mount-missing-source", config: &[("/mounts/-", r#"{"destination": "/mnt/x", "type": "bind", "source": "{dir}/no-such-source", "options": ["bind"]}"#)], steps: &[RUN]),
    sc!("mount-file-bind", config: &[("/mounts/-", r#"{"destination": "/etc/oxi-file", "type": "bind", "source": "{dir}/share/f", "options": ["bind", "ro"]}"#)], files: &[("share/f", "content")], steps: &[RUN]),
    sc!("rootfs-propagation", config: &[("/linux/rootfsPropagation", r#""private""#)], steps: &[RUN]),
    sc!("no-namespaces-at-all", config: &[("/linux/namespaces", "[]"), (ARGS, r#"["sh", "-c", "readlink /proc/1/exe >/dev/null; echo ok"]"#)], steps: &["run --bundle {bundle} {id}"]),
    // ---- lifecycle -------------------------------------------------------------------------
    sc!("create-start-kill-delete", config: &[(ARGS, SLEEP)],
        steps: &[CREATE, "state {id}", "list", "start {id}", "state {id}", "kill {id} KILL", "@wait stopped", "state {id}", "delete {id}", "state {id}"]),
    sc!("run-detached-ps-list", config: &[(ARGS, SLEEP)],
        steps: &[RUN_D, "state {id}", "ps {id}", "ps --format json {id}", "list", "list -q", "list --format json", "list -f table", "kill {id}", "@wait stopped", "delete {id}"]),
    sc!("pause-resume", config: &[(ARGS, SLEEP)],
        steps: &[RUN_D, "pause {id}", "state {id}", "pause {id}", "exec {id} true", "resume {id}", "state {id}", "resume {id}", "delete --force {id}"]),
    sc!("exec", config: &[(ARGS, SLEEP)],
        steps: &[RUN_D, "probe: exec {id} {probe}", "probe: exec --cwd /tmp --env X=1 --env Y=2 --user 1000:100 -g 10 -g 20 {id} {probe}", "probe: exec --no-new-privs {id} {probe}", "probe: exec --cap CAP_SYS_ADMIN {id} {probe}", "exec -d --pid-file {dir}/exec.pid {id} sleep 1", "exec {id} false", "exec {id} /no/such", "exec -p {dir}/process.json {id}", "exec -p {dir}/nonexistent.json {id}", "delete --force {id}"],
        files: &[("process.json", r#"{"args": ["sh", "-c", "id; pwd; echo $PATH $Z"], "cwd": "/tmp", "env": ["PATH=/bin", "Z=zz"], "user": {"uid": 1000, "gid": 1000}}"#)], intended: &[]),
    sc!("exec-tty-no-socket", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "exec -t {id} true", "exec -d -t {id} true", "delete --force {id}"],
        intended: &[("1:exec -t", "a foreground exec -t whose stdin is not a terminal: oxirun allocates the pty and relays it; runc 1.1.5 fails (255)")]),
    sc!("exec-cgroup", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "exec --cgroup /nonexistent {id} true", "delete --force {id}"],
        intended: &[("1:exec --cgroup ", "a --cgroup that does not exist is bad input to oxirun (exit 1, checked before anything starts); runc fails while joining it (255)")]),
    sc!("kill-all", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "exec -d {id} sleep 1000", "kill --all {id} KILL", "@wait stopped", "kill {id} 0", "delete {id}"]),
    sc!("kill-signals", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "kill {id} 0", "kill {id} SIGUSR1", "kill {id} NOSUCH", "kill {id} 99", "kill {id} TERM", "@wait stopped", "delete {id}"],
        intended: &[("4:kill {id} error", "signal 99: oxirun refuses it as an invalid signal; runc passes it to kill(2) and reports EINVAL (exit 1 both)")]),
    sc!("update", config: &[(ARGS, SLEEP)],
        steps: &[RUN_D, "update --memory 67108864 {id}", "@cg memory.limit_in_bytes", "update --pids-limit 50 {id}", "@cg pids.max", "update --cpu-share 256 --cpu-period 100000 --cpu-quota 50000 {id}", "@cg cpu.shares", "@cg cpu.cfs_quota_us", "update -r {dir}/res.json {id}", "@cg memory.limit_in_bytes", "update --cpuset-cpus 0 {id}", "@cg cpuset.cpus", "update --blkio-weight 500 {id}", "update --memory-reservation 33554432 {id}", "update --memory-swap -1 {id}", "update --cpu-rt-period 1000000 --cpu-rt-runtime 0 {id}", "update --l3-cache-schema L3:0=f {id}", "update --memory nonsense {id}", "delete --force {id}"],
        files: &[("res.json", r#"{"memory": {"limit": 100663296}}"#)], intended: &[("16:update --l3-cache-schema", "oxirun has no Intel RDT, so no --l3-cache-schema/--mem-bw-schema; runc fails too on a host without RDT (exit 1 both)"),
            ("12:update --blkio-weight", "on a machine whose disk scheduler has no weight (no blkio.weight nor blkio.bfq.weight) runc fails opening the file and oxirun refuses the value naming the reason (exit 1 both); where it has one both set it")]),
    sc!("events-stats", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "keys: events --stats {id}", "delete --force {id}"]),
    sc!("run-keep", config: &[(ARGS, TRUE)], steps: &["run --keep --bundle {bundle} {id}", "state {id}", "delete {id}"]),
    sc!("run-flags", config: &[(ARGS, TRUE)], steps: &["run --no-subreaper --no-pivot --no-new-keyring --preserve-fds 0 --pid-file {pidfile} --bundle {bundle} {id}"]),
    sc!("create-flags", config: &[(ARGS, TRUE)], steps: &["create --no-pivot --no-new-keyring --preserve-fds 0 --bundle {bundle} {id}", "start {id}", "@wait stopped", "delete {id}"]),
    sc!("bundle-short-flag", config: &[(ARGS, TRUE)], steps: &["run -b {bundle} {id}"]),
    sc!("console-socket-missing", config: &[("/process/terminal", "true")], steps: &["create --console-socket {dir}/no.sock --bundle {bundle} {id}"]),
    sc!("exec-short-flags", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "probe: exec -u 1000 -e Q=1 -c CAP_NET_RAW --preserve-fds 0 {id} {probe}", "exec --apparmor nope {id} true", "exec --process-label system_u:system_r:container_t:s0 {id} true", "exec -p {dir}/process.json {id} extra-arg", "exec --user nobody {id} true", "delete -f {id}"],
        files: &[("process.json", r#"{"args": ["true"], "cwd": "/", "env": ["PATH=/bin"]}"#)], intended: &[]),
    sc!("exec-process-without-path", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "exec -p {dir}/process.json {id}", "delete -f {id}"],
        files: &[("process.json", r#"{"args": ["true"], "cwd": "/"}"#)],
        intended: &[("1:exec -p", "no PATH in the process env: oxirun searches the default path for a bare command name (as execvp does); runc 1.1.5 finds nothing (255)")]),
    sc!("kill-short-all", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "kill -a {id} 9", "@wait stopped", "delete {id}", "delete {id}", "delete -f {id}"]),
    sc!("events-stream", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "exit: events --interval 1s {id}", "delete -f {id}"],
        intended: &[]),
    sc!("ps-args", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "ps {id} -o pid,comm", "ps -f json {id}", "ps -f yaml {id}", "delete -f {id}"],
        intended: &[("1:ps {id} stdout", "ps prints the host's ps(1) output; the comm of the init is each runtime's own until exec (none here: both show sleep)")]),
    sc!("checkpoint-restore", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "checkpoint --image-path {dir}/img {id}", "restore --image-path {dir}/img --bundle {bundle} {id}-r", "delete -f {id}"],
        intended: &[("checkpoint --image-path error", "both fail on this host (criu 3.17 cannot run on kernel 6.18, or criu is missing), each naming CRIU's failure in its own words; the working checkpoint is tested in the guest (tests/checkpoint.rs)"), ("restore --image-path error", "both fail on this host (criu 3.17 cannot run on kernel 6.18, or criu is missing), each naming CRIU's failure in its own words; the working checkpoint is tested in the guest (tests/checkpoint.rs)")]),
    // ---- global flags and informational subcommands ----------------------------------------
    sc!("debug-log", config: &[(ARGS, TRUE)], steps: &["exit: --debug --log {dir}/log --log-format json run --bundle {bundle} {id}", "keys: @file log"],
        intended: &[("@file log stdout", "the --debug lines are each runtime's own steps (runc logs its C nsexec); both write JSON lines to the --log file")]),
    sc!("log-format-bad", config: &[(ARGS, TRUE)], steps: &["--log-format yaml run --bundle {bundle} {id}"]),
    sc!("systemd-cgroup-bad-path", config: &[(ARGS, TRUE)], steps: &["--systemd-cgroup run --bundle {bundle} {id}"]),
    sc!("rootless-false", config: &[(ARGS, TRUE)], steps: &["--rootless false run --bundle {bundle} {id}"]),
    sc!("criu-flag", config: &[(ARGS, TRUE)], steps: &["--criu /bin/true run --bundle {bundle} {id}"]),
    sc!("version", config: &[], steps: &["exit: --version", "exit: -v"]),
    sc!("help", config: &[], steps: &["exit: --help", "exit: help", "exit: create --help", "exit: exec -h"]),
    sc!("spec", config: &[], files: &[("specdir/", "")], steps: &["spec --bundle {dir}/specdir", "@file specdir/config.json", "spec --bundle {dir}/specdir"], intended: &[
        ("stdout.hostname", "the template's hostname is the runtime's name"),
        ("stdout.linux.maskedPaths", "oxirun's template follows runc 1.2: /sys/devices/virtual/powercap is masked too"),
        ("stdout.linux.namespaces", "oxirun's template follows runc 1.2: a cgroup namespace by default"),
        ("stdout.mounts[6]", "oxirun's rootless template leaves out the /sys/fs/cgroup mount that runc 1.1.5 keeps: its /sys is a read-only rbind of the host's, which already brings the host's cgroup hierarchies (an rbind takes the submounts), so a cgroup mount stacked on it adds nothing a rootless container can use"),
    ]),
    sc!("spec-rootless", config: &[], files: &[("specdir/", "")], steps: &["spec --rootless -b {dir}/specdir", "@file specdir/config.json"], intended: &[
        ("stdout.hostname", "the template's hostname is the runtime's name"),
        ("stdout.linux.maskedPaths", "oxirun's template follows runc 1.2: /sys/devices/virtual/powercap is masked too"),
        ("stdout.linux.namespaces", "oxirun's template follows runc 1.2: a cgroup namespace by default"),
        ("stdout.mounts[6]", "oxirun's rootless template leaves out the /sys/fs/cgroup mount that runc 1.1.5 keeps: its /sys is a read-only rbind of the host's, which already brings the host's cgroup hierarchies (an rbind takes the submounts), so a cgroup mount stacked on it adds nothing a rootless container can use"),
    ]),
    sc!("features", config: &[], steps: &["features"],
        intended: &[("0:features stdout", "features describes each runtime itself: its capabilities list order, mount options, seccomp, annotations and version")]),
    sc!("list-empty", config: &[], steps: &["list", "list --format json", "list -q", "list --format yaml"]),
    sc!("delete-created", config: &[(ARGS, SLEEP)], steps: &[CREATE, "delete {id}", "state {id}"]),
    sc!("two-containers-one-root", config: &[(ARGS, SLEEP)], steps: &[CREATE, "create --bundle {bundle} {id}-2", "list -q", "list", "delete -f {id}-2", "delete -f {id}"]),
    sc!("relative-pid-file", config: &[(ARGS, SLEEP)], steps: &["run -d --pid-file rel.pid --bundle {bundle} {id}", "keys: @file rel.pid", "delete -f {id}"]),
    // ---- error paths -----------------------------------------------------------------------
    sc!("state-missing", config: &[], steps: &["state {id}", "delete {id}", "kill {id}", "start {id}", "pause {id}", "resume {id}", "ps {id}", "exec {id} true", "update --memory 1 {id}", "events --stats {id}", "delete --force {id}"]),
    sc!("no-id", config: &[], steps: &["state", "delete", "kill", "start", "create", "exec", "ps", "pause"],
        intended: &[(" stdout", USAGE_OUT)]),
    sc!("bad-id", config: &[], steps: &["create --bundle {bundle} ../escape", "create --bundle {bundle} a/b", "state ../escape", "create --bundle {bundle} .."]),
    sc!("missing-bundle", config: &[], steps: &["create --bundle {dir}/nonexistent {id}", "run --bundle {dir}/nonexistent {id}"]),
    sc!("missing-rootfs", config: &[], files: &[("bundle/rootfs", "-")], steps: &["create --bundle {bundle} {id}", "run --bundle {bundle} {id}"]),
    sc!("missing-config", config: &[], files: &[("bundle/config.json", "-")], steps: &["create --bundle {bundle} {id}"]),
    sc!("malformed-config", config: &[], files: &[("bundle/config.json", "{ not json")], steps: &["create --bundle {bundle} {id}", "run --bundle {bundle} {id}"]),
    sc!("config-wrong-type", config: &[], files: &[("bundle/config.json", r#"{"ociVersion": "1.0.2", "process": {"args": "sh"}, "root": {"path": "rootfs"}}"#)], steps: &["create --bundle {bundle} {id}"]),
    sc!("config-no-process", config: &[("/process", "-")], steps: &["run --bundle {bundle} {id}"]),
    sc!("unknown-flags", config: &[], steps: &["--no-such-flag list", "list --no-such-flag", "create --zz --bundle {bundle} {id}", "no-such-command", "delete -x {id}"],
        intended: &[(" stdout", USAGE_OUT), ("3:no-such-command exit", "urfave/cli exits 3 for an unknown subcommand; oxirun exits 1, as for all bad input")]),
    sc!("start-running", config: &[(ARGS, SLEEP)], steps: &[RUN_D, "start {id}", "delete {id}", "create --bundle {bundle} {id}", "run --bundle {bundle} {id}", "delete --force {id}", "state {id}"]),
    sc!("duplicate-id", config: &[(ARGS, SLEEP)], steps: &[CREATE, "create --bundle {bundle} {id}", "start {id}", "start {id}", "delete --force {id}"]),
    sc!("stopped-container", config: &[(ARGS, TRUE)], steps: &[CREATE, "start {id}", "@wait stopped", "kill {id}", "kill {id} 0", "exec {id} true", "start {id}", "pause {id}", "resume {id}", "ps {id}", "update --memory 67108864 {id}", "delete {id}"]),
    sc!("created-container", config: &[(ARGS, TRUE)], steps: &[CREATE, "exec {id} true", "pause {id}", "ps {id}", "kill {id} KILL", "@wait stopped", "delete {id}"],
        intended: &[("3:ps {id} stdout", "the CMD of a created container's init is the runtime's own (runc init; oxirun's create command line)")]),
];

#[test]
fn differential_against_runc() {
    let t0 = std::time::Instant::now();
    let diffs = run_table(TABLE, GLOBAL);
    eprintln!("differential: {:?}", t0.elapsed());
    assert_eq!(
        diffs, 0,
        "{diffs} scenario(s) differ from runc without a reason (table above)"
    );
}
