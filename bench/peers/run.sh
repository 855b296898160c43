#!/usr/bin/env bash
# Side-by-side MobileNetV2 1.0/224 benchmark: mobilenet-wgpu vs burn vs wonnx, all on the
# same network (our random weights, seed 0, BatchNorm folded), the same input, checked
# against our output. Prints a markdown table on stdout (logs go to stderr).
#
# Usage: bench/peers/run.sh   (from anywhere; the first build of burn takes ~15 min on 2 cores)
# Needs: cargo, python3 with `onnx` and `numpy` (`onnxruntime` optional, for a 4th check).
set -euo pipefail

peers="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$peers/../.." && pwd)"
data="$peers/data"
export NODEVICE_SELECT="${NODEVICE_SELECT:-1}"
runs=20
warmup=3

log() { echo "== $*" >&2; }

log "building mobilenet-wgpu and the exporter (release)"
(cd "$root" && cargo build --release --quiet >&2)
CARGO_TARGET_DIR="$root/target" cargo build --release --quiet \
    --manifest-path "$peers/export/Cargo.toml" >&2
log "building burn_v2 and wonnx_v2 (release, own target dirs)"
CARGO_TARGET_DIR="$peers/target" cargo build --release --quiet \
    --manifest-path "$peers/Cargo.toml" >&2
CARGO_TARGET_DIR="$peers/target/wonnx" cargo build --release --quiet \
    --manifest-path "$peers/wonnx/Cargo.toml" >&2

log "exporting our V2 (seed 0) and building the ONNX model"
export_line="$("$root/target/release/mobilenet-peers-export" "$data")"
echo "$export_line" >&2
python3 "$root/scripts/make_peer_onnx.py" "$data" >&2
export PEER_ADAPTER="${export_line#*adapter }"
PEER_ADAPTER="${PEER_ADAPTER%%, ours vs cpu*}"

log "ours"
ours_json="$("$root/target/release/mobilenet-wgpu" bench --arch v2 --runs "$runs" \
    --warmup "$warmup" --json)"
ours_version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
ours_row="$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
setup = r["device_ms"] + r["plan_ms"] + r["pipelines_and_upload_ms"]
cells = ["mobilenet-wgpu", sys.argv[2] + " (wgpu 30)", r["adapter"], "%.1f" % setup,
         "%.1f" % r["first_inference_ms"], "%.1f" % r["median_ms"], "0 (reference)"]
print("RESULT|" + "|".join(cells))
' "$ours_json" "$ours_version")"

log "wonnx"
wonnx_out="$("$peers/target/wonnx/release/wonnx_v2" "$data")"
echo "$wonnx_out" >&2
log "burn"
burn_out="$("$peers/target/release/burn_v2" "$data")"
echo "$burn_out" >&2

echo "| runtime | version | adapter | setup ms | first run ms | median ms ($runs runs, $warmup warm-up) | max \|Δ\| vs ours |"
echo "|---|---|---|---:|---:|---:|---:|"
printf '%s\n%s\n%s\n' "$ours_row" "$wonnx_out" "$burn_out" | grep '^RESULT|' |
    sed 's/^RESULT//; s/$/|/'
