#!/usr/bin/env bash
# Download speed of `slm pull` against curl on the same 1 GiB file from a Hub on loopback
# (tests/hub/fake_hub), alternating runs, each into a fresh cache: once unthrottled, once with
# every connection capped as a CDN may cap it, where slm fetches byte ranges in parallel.
#
#   bench/hub_download.sh [BUILD_DIR] [RUNS] [CAP_MB_PER_S]   (defaults: build 5 100)
#
# Needs `ninja -C BUILD_DIR slm slm-fake-hub`. Prints each run's seconds, then the medians and
# slm's rate as a multiple of curl's.
set -euo pipefail
build=${1:-build}
runs=${2:-5}
cap=${3:-100}
slm="$build/tools/slm/slm"
fake_hub="$build/tests/slm-fake-hub"
for b in "$slm" "$fake_hub"; do [ -x "$b" ] || { echo "missing $b: ninja -C $build slm slm-fake-hub" >&2; exit 1; }; done
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

work=$(mktemp -d /tmp/slm-hub-bench.XXXXXX)
hub_pid=""
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/repos/bench/big"
head -c 1073741824 /dev/urandom >"$work/repos/bench/big/model.safetensors"
echo '{"model_type": "llama"}' >"$work/repos/bench/big/config.json"

start_hub() {  # $1: per-connection cap in MB/s (0: none)
    [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null && wait "$hub_pid" 2>/dev/null || true
    "$fake_hub" "$work/repos" --throttle "$1" >"$work/hub.out" &
    hub_pid=$!
    for _ in $(seq 600); do grep -q HF_ENDPOINT "$work/hub.out" 2>/dev/null && break; sleep 0.2; done  # it hashes the 1 GiB first
    endpoint=$(sed -n 's/^HF_ENDPOINT=//p' "$work/hub.out")
}
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

measure() {  # $1: label; runs curl and slm alternately, prints the medians and the ratio
    local label=$1 curl_times=() slm_times=()
    for i in $(seq "$runs"); do
        rm -f "$work/curl.out"
        local t0 t1
        t0=$(now)
        curl -sSfL -o "$work/curl.out" "$endpoint/bench/big/resolve/main/model.safetensors"
        t1=$(now)
        curl_times+=("$(echo "$t1 - $t0" | bc -l)")
        rm -rf "$work/cache"
        t0=$(now)
        HF_ENDPOINT=$endpoint HF_HUB_CACHE=$work/cache "$slm" pull bench/big -q >/dev/null
        t1=$(now)
        slm_times+=("$(echo "$t1 - $t0" | bc -l)")
        cmp -s "$work/curl.out" "$work/repos/bench/big/model.safetensors" || { echo "curl's copy differs" >&2; exit 1; }
        printf '%s run %d: curl %.2f s, slm %.2f s\n' "$label" "$i" "${curl_times[-1]}" "${slm_times[-1]}"
    done
    local c s
    c=$(printf '%s\n' "${curl_times[@]}" | median)
    s=$(printf '%s\n' "${slm_times[@]}" | median)
    printf '%s: curl median %.2f s (%.0f MB/s), slm median %.2f s (%.0f MB/s), slm/curl rate %.2fx\n' "$label" "$c" \
        "$(echo "1073.741824 / $c" | bc -l)" "$s" "$(echo "1073.741824 / $s" | bc -l)" "$(echo "$c / $s" | bc -l)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
start_hub 0
measure "unthrottled"
start_hub "$cap"
measure "capped at $cap MB/s per connection"
