#!/usr/bin/env bash
# Measures the GPU of this machine with the release binary and writes OUT/gpu-benchmark.md:
# V1, V2, V3-Large and V3-Small at batch 1, 8, 64 and 256 in f32 and f16, with one and with
# two inferences in flight (latency min / median / p90, images/s, the host's upload, encode
# and submit time per inference, the cold first result), then `profile`'s per-kernel table (GFLOP/s,
# GB/s) for V2 at batch 1, 64 and 256 in f32 and f16, under the adapter's name, driver and
# features.
#
# It needs nothing but the binary (BIN, default target/release/mobilenet-wgpu), a Vulkan
# loader and the vendor's driver: copy the binary to the GPU machine and run it there.
# A configuration that fails (say f16 on an adapter without SHADER_F16) gets a row saying
# why and the run goes on. Smaller runs, e.g. on lavapipe:
#   ARCHS=v3-small BATCHES="1 2" PRECISIONS=f32 PROFILE_BATCHES=1 RUNS=3 bench/gpu/run.sh out
# (PROFILE_ARCH and PROFILE_PRECISIONS change the profiled architecture and storage.)
# KERNELS (auto, cpu-adapter, gpu) picks the kernel family, auto by default.
# INT8_MODELS (quantized TFLite files, none by default; e.g. ../shared/models'
# mobilenet_v2_1.0_224_quant.tflite carried beside the binary; paths without spaces) adds
# their int8 rows at INT8_BATCHES (default 1 64).
set -uo pipefail

out=${1:?usage: bench/gpu/run.sh OUT_DIR}
BIN=${BIN:-target/release/mobilenet-wgpu}
ARCHS=${ARCHS:-"v1 v2 v3-large v3-small"}
BATCHES=${BATCHES:-"1 8 64 256"}
PRECISIONS=${PRECISIONS:-"f32 f16"}
IN_FLIGHT=${IN_FLIGHT:-"1 2"}
PROFILE_BATCHES=${PROFILE_BATCHES:-"1 64 256"}
PROFILE_PRECISIONS=${PROFILE_PRECISIONS:-"f32 f16"}
PROFILE_ARCH=${PROFILE_ARCH:-v2}
KERNELS=${KERNELS:-auto}
INT8_MODELS=${INT8_MODELS:-}
INT8_BATCHES=${INT8_BATCHES:-"1 64"}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-5}

mkdir -p "$out" || exit 1
md="$out/gpu-benchmark.md"
err="$out/errors.log"
: >"$err"

{
    echo "# mobilenet-wgpu GPU benchmark, $(date -u +%Y-%m-%d)"
    echo
    echo "Built-in architectures at 224×224 with random weights (and the INT8_MODELS files in"
    echo "int8, if any); \`bench --warmup $WARMUP --runs $RUNS\`."
    echo "Latency: queue to output (upload, dispatches, readback; with 2 in flight it includes"
    echo "waiting behind the other). images/s: images over the timed runs' wall time. Host: the"
    echo "median CPU time per inference to stage the input, to encode the dispatches and to submit them."
    echo "First result: device, plan, pipelines and weight upload, and the first inference."
    echo "Kernel family: \`$KERNELS\`."
    echo
    header="--markdown-header"
    deferred=""
    # One line per configuration: label, storage, batch, then `--arch NAME` or `--model
    # PATH` (the rest of the line, so a path may hold spaces).
    configs=""
    for arch in $ARCHS; do
        for precision in $PRECISIONS; do
            for batch in $BATCHES; do
                configs+="$arch $precision $batch --arch $arch"$'\n'
            done
        done
    done
    for model in $INT8_MODELS; do
        for batch in $INT8_BATCHES; do
            configs+="$(basename "$model" .tflite) int8 $batch --model $model"$'\n'
        done
    done
    while read -r label precision batch kind what; do
        [ -z "$label" ] && continue
        for k in $IN_FLIGHT; do
            if ! row=$("$BIN" bench "$kind" "$what" --precision "$precision" --batch "$batch" \
                --in-flight "$k" --kernels "$KERNELS" --warmup "$WARMUP" --runs "$RUNS" \
                --markdown $header 2>"$out/last.log" </dev/null); then
                cat "$out/last.log" >>"$err"
                reason=$(grep -m 1 '^error' "$out/last.log" || tail -n 1 "$out/last.log")
                failed="| $label | $precision | $KERNELS | $batch | $k | failed: ${reason//|/\\|} ||||||"
                # Until a run has printed the table's header, failed rows wait.
                if [ -n "$header" ]; then deferred+="$failed"$'\n'; else echo "$failed"; fi
                continue
            fi
            echo "$row"
            header=""
            [ -n "$deferred" ] && printf '%s' "$deferred"
            deferred=""
        done
    done <<<"$configs"
    printf '%s' "$deferred"
    for precision in $PROFILE_PRECISIONS; do
        for batch in $PROFILE_BATCHES; do
            echo
            echo "## profile --arch $PROFILE_ARCH --batch $batch --precision $precision"
            echo
            echo '```text'
            "$BIN" profile --arch "$PROFILE_ARCH" --batch "$batch" --precision "$precision" \
                --kernels "$KERNELS" --runs 10 2>"$out/last.log" ||
                echo "failed: $(grep -m 1 '^error' "$out/last.log" || tail -n 1 "$out/last.log")"
            cat "$out/last.log" >>"$err"
            echo '```'
        done
    done
} >"$md"
rm -f "$out/last.log"
echo "wrote $md"
