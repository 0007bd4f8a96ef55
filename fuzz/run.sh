#!/bin/sh
# Runs every fuzz target for N seconds each (default 60) on a copy of its seed corpus, one after
# the other (one job, one worker: the machine is shared). Exits non-zero if any target crashed,
# leaked, timed out or ran out of memory; the reproducer is left in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [seconds] [target...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 2
targets=${*:-"config_parse mount_options seccomp_compile state_load sync_decode cli_args dbus_message"}

cargo +nightly fuzz build -O >/dev/null 2>build.log || {
    cat build.log >&2
    echo "fuzz/run.sh: build failed" >&2
    exit 2
}
failed=""
for t in $targets; do
    # Work on a scratch corpus so that the seed corpus in git stays small.
    work="$here/target/corpus-work/$t"
    mkdir -p "$work" "$here/artifacts/$t"
    echo "== $t: ${secs}s"
    if cargo +nightly fuzz run -O "$t" "$work" "$here/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
        -print_final_stats=1 >"$here/target/$t.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done ' "$here/target/$t.log"
        grep -E 'cov: [0-9]+' "$here/target/$t.log" | tail -1
    else
        echo "!! $t FAILED (log: fuzz/target/$t.log)"
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$here/target/$t.log" | head -5
        failed="$failed $t"
    fi
done
# The targets' scratch bundles / state roots (one per fuzzing process).
rm -rf "${TMPDIR:-/tmp}"/oxirun-fuzz-bundle-* "${TMPDIR:-/tmp}"/oxirun-fuzz-state-*
if [ -n "$failed" ]; then
    echo "fuzz/run.sh: crashes in:$failed" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash in $secs s per target"
