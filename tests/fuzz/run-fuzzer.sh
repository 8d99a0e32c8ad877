#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time over the committed seed corpus; prints TAP.
# Usage: run-fuzzer.sh FUZZER SEED_DIR SECONDS
set -uo pipefail
fuzzer=$1 seeds=$2 seconds=$3
echo "1..1"
if [ ! -x "$fuzzer" ]; then
        echo "not ok 1 - fuzzer $fuzzer not built: clang is missing (apt-get install clang; scripts/setup-debian.sh)"
        exit 1
fi
work=$(mktemp -d /tmp/kc-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
# New inputs go to the temp dir; the seed corpus in the source tree is only read.
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=200000 -timeout=10 \
        -artifact_prefix="$work/" "$work" "$seeds" >"$work/log" 2>&1
rc=$?
runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -1)
if [ $rc -ne 0 ]; then
        sed 's/^/# /' "$work/log" | tail -60
        for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
                [ -f "$a" ] && echo "# artifact $(basename "$a"): $(base64 -w0 "$a" | head -c 2000)"
        done
        echo "not ok 1 - $(basename "$fuzzer") failed (exit $rc)"
        exit 1
fi
echo "ok 1 - $(basename "$fuzzer"): ${runs:-no summary} in ${seconds}s without a finding"
