#!/usr/bin/env bash
# Side-by-side MobileNet benchmark at batch 1: mobilenet-wgpu vs burn vs wonnx, each model
# the same network for all (our random weights, seed 0, BatchNorm folded), the same input,
# every peer checked against our output (a mismatch aborts the run). Prints one markdown
# table on stdout (logs go to stderr).
#
# Usage: bench/peers/run.sh   (from anywhere; the first build of burn takes ~15 min on 2 cores)
#   ARCHS="v1 v2"   models to run (default: v1 v2 v3-small v3-large, all 1.0/224)
#   RUNS=20         timed runs per runtime and model (median reported); WARMUP=3 untimed
# burn's first run autotunes its kernels (over a minute per model on lavapipe).
# wonnx 0.5.1 has no HardSwish/HardSigmoid: its V3 rows say so instead of timing.
# Needs: cargo, python3 with `onnx` and `numpy` (`onnxruntime` optional, for a 4th check).
set -euo pipefail
shopt -s inherit_errexit # a failing peer inside $(...) must stop the run too

peers="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$peers/../.." && pwd)"
export NODEVICE_SELECT="${NODEVICE_SELECT:-1}"
archs="${ARCHS:-v1 v2 v3-small v3-large}"
# Read by the peer binaries too (common/peer_common.rs).
export RUNS="${RUNS:-20}" WARMUP="${WARMUP:-3}"

log() { echo "== $*" >&2; }

build() {
    log "building mobilenet-wgpu and the exporter (release)"
    (cd "$root" && cargo build --release --quiet >&2)
    CARGO_TARGET_DIR="$root/target" cargo build --release --quiet \
        --manifest-path "$peers/export/Cargo.toml" >&2
    log "building burn_peer and wonnx_peer (release, own target dirs)"
    CARGO_TARGET_DIR="$peers/target" cargo build --release --quiet \
        --manifest-path "$peers/Cargo.toml" >&2
    CARGO_TARGET_DIR="$peers/target/wonnx" cargo build --release --quiet \
        --manifest-path "$peers/wonnx/Cargo.toml" >&2
}

# The table's name for an architecture (all at width 1.0 and input 224).
label() {
    case "$1" in
        v1) echo "V1 1.0/224" ;;
        v2) echo "V2 1.0/224" ;;
        v3-small) echo "V3-Small 1.0/224" ;;
        v3-large) echo "V3-Large 1.0/224" ;;
        *) echo "$1" ;;
    esac
}

# Our row, from `mobilenet-wgpu bench --json`: setup is device + plan + pipelines/upload.
ours_row() {
    local json version
    json="$("$root/target/release/mobilenet-wgpu" bench --arch "$1" --runs "$RUNS" \
        --warmup "$WARMUP" --json)"
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
setup = r["device_ms"] + r["plan_ms"] + r["pipelines_and_upload_ms"]
cells = ["mobilenet-wgpu", sys.argv[2] + " (wgpu 30)", r["adapter"], "%.1f" % setup,
         "%.1f" % r["first_inference_ms"], "%.1f" % r["median_ms"], "0 (reference)"]
print("RESULT|" + "|".join(cells))
' "$json" "$version"
}

# Exports one model, builds its ONNX file and appends the rows of all runtimes to `rows`.
bench_arch() {
    local arch="$1" data="$peers/data/$1" export_line out line
    log "$arch: exporting ours (seed 0) and building the ONNX model"
    export_line="$("$root/target/release/mobilenet-peers-export" "$data" "$arch")"
    echo "$export_line" >&2
    python3 "$root/scripts/make_peer_onnx.py" "$data" >&2
    PEER_ADAPTER="${export_line#*adapter }"
    export PEER_ADAPTER="${PEER_ADAPTER%%, ours vs cpu*}"
    for runtime in ours wonnx burn; do
        log "$arch: $runtime"
        case "$runtime" in
            ours) out="$(ours_row "$arch")" ;;
            wonnx) out="$("$peers/target/wonnx/release/wonnx_peer" "$data")" ;;
            burn) out="$("$peers/target/release/burn_peer" "$data")" ;;
        esac
        line="$(grep '^RESULT|' <<<"$out")"
        line="${line#RESULT|}"
        rows+="| $(label "$arch") | ${line//|/ | } |"$'\n'
        echo "$out" >&2
    done
}

build
rows=""
for arch in $archs; do
    bench_arch "$arch"
done
echo "| model | runtime | version | adapter | setup ms | first run ms | median ms ($RUNS runs, $WARMUP warm-up) | max \|Δ\| vs ours |"
echo "|---|---|---|---|---:|---:|---:|---:|"
printf '%s' "$rows"
