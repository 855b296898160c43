#!/usr/bin/env python3
"""TFLite's reference-kernel outputs of every quantized shared model, the target of the
integer execution path (issue #14): its raw output tensor must equal these byte for byte.

For every quantized `.tflite` in ../shared/models (and the split V1 1.0 pair, chained: the
extractor's uint8 output fed unchanged to the head, as ../shared/expected does) and every
input below, LiteRT runs the model with its reference kernels (`OpResolverType.BUILTIN_REF`)
and this writes the raw output tensor (uint8 or int8, the model's own type) to
tests/data/tflite_int_reference/<model>/<input>.npy. Inputs:

  <photo stem>   each photo of ../shared/images, preprocessed as ../shared/expected/README.md
                 says ("center-crop-bilinear" to the model's size, uint8 NHWC, fed as is)
  random_<k>     k = 0, 1: uniform bytes on the uint8 grid from `grid_bytes(seed, n)` below,
                 seed = 1000 + k; a 64-bit LCG that the Rust tests reproduce
                 (state = state * 6364136223846793005 + 1442695040888963407, byte = state >> 56)

Also, for the quantized seeds of the fuzz corpus (fuzz/corpus/tflite: a per-channel int8
model with a float input and output, a uint8 one with FULLY_CONNECTED, a uint8 one with
LOGISTIC and CONCATENATION on other grids, an int8 one with a grouped conv, a depth
multiplier of 4 and a residual, an int8 one with HARD_SWISH after convolutions; and, built
here and kept beside their outputs, a uint8 and an int8 one whose 1x1 conv makes the largest
sums 8-bit values can, and eight MEANs: uint8 and int8, keep_dims or not, onto the input's
grid or another, the choices by which TFLite's reference MEAN picks its arithmetic), the outputs for
random_0 and random_1 in tests/data/tflite_int_reference/corpus/<seed>/ (a float input
takes (byte - 128) / 32 of the same bytes, exact in float32).

It also writes tests/data/tflite_int_reference/optimized_vs_reference.tsv: for each
(model, input), how many output values TFLite's optimized kernels
(`BUILTIN_WITHOUT_DEFAULT_DELEGATES`) and its default XNNPACK path (`AUTO`) give differently
from the reference kernels, and by how many LSB at most.

Needs: pip install ai-edge-litert flatbuffers tflite numpy pillow (and scripts/pil_reference.py
and scripts/tflite_builder.py beside it)
Usage: python3 scripts/tflite_int_reference.py [SHARED_DIR]   (default: ../shared)
       ONLY=corpus python3 scripts/tflite_int_reference.py   (the corpus seeds only)
"""

import os
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from pil_reference import center_crop_bilinear  # the shared "center-crop-bilinear"
from tflite_builder import B, NONE, VALID, TfliteModel, conv

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "tflite_int_reference"
CORPUS_SEEDS = ("int8_per_channel", "v2_like_uint8", "uint8_concat_logistic", "int8_word_paths",
                "int8_hard_swish")
# Built here, kept beside their outputs: their float forms cancel huge sums on purpose, so
# they stay out of the fuzz corpus, whose float runs must match the CPU reference.
WIDE_POINTWISE = {"uint8_wide_pointwise": np.uint8, "int8_wide_pointwise": np.int8}
CHAIN = ("mobilenet_v1_1.0_224_quant_embedding_extractor", "mobilenet_v1_1.0_224_quant_head_layers")
MASK = (1 << 64) - 1


def grid_bytes(seed, count):
    """`count` bytes from the LCG the Rust tests share (high byte of each state)."""
    state = seed & MASK
    out = np.empty(count, dtype=np.uint8)
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        out[i] = state >> 56
    return out


def interpreter(path, resolver):
    runner = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    runner.allocate_tensors()
    return runner


def run(runners, x):
    """Feeds `x` through the chain of interpreters; the last one's raw output."""
    for runner in runners:
        runner.set_tensor(runner.get_input_details()[0]["index"], x)
        runner.invoke()
        x = runner.get_tensor(runner.get_output_details()[0]["index"]).copy()
    return x


def models(shared):
    """(name, [paths]) of every quantized model, the split pair as one chained model."""
    found = []
    for path in sorted((shared / "models").glob("*.tflite")):
        if path.stem in CHAIN:
            continue
        details = interpreter(path, OpResolverType.BUILTIN_REF).get_input_details()[0]
        if details["dtype"] != np.float32:
            found.append((path.stem, [path]))
    chain = [shared / "models" / f"{m}.tflite" for m in CHAIN]
    found.append((f"{CHAIN[0]}+head_layers", chain))
    return found


def wide_pointwise(dtype):
    """float in → QUANTIZE → a 1x1 conv to 1036 channels whose bias saturates every value
    (to 255, or to 127 with zero point −128: 255 above it) → a 1x1 conv 1036 → 8 whose
    centred weights are −255 (uint8) or −128 (int8), every fourth one 1 less in magnitude
    → DEQUANTIZE. The second conv makes about the largest sums an 8-bit pointwise conv
    can, −67.3 M (−33.7 M for int8), over a channel count that is no multiple of 16; its
    bias cancels them to within ±300, so an output moves if the sum is off by a few."""
    m = TfliteModel(np.random.default_rng(3))  # no random constants
    wide = 1036
    zp, weight_zp, weight = (-128, 0, -128) if dtype == np.int8 else (0, 255, 0)
    per_tensor = lambda scale, zero=0: ([scale], [zero], 0)
    x = m.tensor([1, 3, 5, 4])
    xq = m.tensor([1, 3, 5, 4], dtype, quant=per_tensor(1 / 128, zp + 128))
    m.op(B.QUANTIZE, [x], [xq])
    full = m.tensor([1, 3, 5, wide], dtype, quant=per_tensor(0.01, zp))
    # Centred weights 0 and a bias of 10^6: every output saturates.
    m.op(B.CONV_2D, [xq, m.tensor([wide, 1, 1, 4], dtype, np.full(wide * 4, zp + 128),
                                  per_tensor(0.01, zp + 128 if dtype == np.uint8 else 0)),
                     m.tensor([wide], np.int32, np.full(wide, 1_000_000),
                              per_tensor(np.float32(1 / 128) * np.float32(0.01)))],
         [full], conv(VALID, 1, NONE))
    # Every fourth input channel's weight one step nearer the zero point: sums of four
    # products are odd, so a float sum past 2^24 would round.
    weights = np.tile(np.where(np.arange(wide) % 4 == 3, weight + 1, weight), 8)
    sums = 255 * (weights[:wide] - weight_zp).sum()
    out = m.tensor([1, 3, 5, 8], dtype, quant=per_tensor(0.00086, zp + 128))
    m.op(B.CONV_2D, [full, m.tensor([8, 1, 1, wide], dtype, weights, per_tensor(0.02, weight_zp)),
                     m.tensor([8], np.int32, np.array([-300, -77, -1, 0, 1, 77, 150, 299]) - sums,
                              per_tensor(np.float32(0.01) * np.float32(0.02)))],
         [out], conv(VALID, 1, NONE))
    y = m.tensor([1, 3, 5, 8])
    m.op(B.DEQUANTIZE, [out], [y])
    return m.build([x], [y])


def mean(dtype, keep_dims, same_grid):
    """float in → QUANTIZE → MEAN over H and W (keep_dims or not; onto the input's own
    grid or another) → DEQUANTIZE. TFLite's reference MEAN has several integer paths
    chosen by these; each must stay byte-identical."""
    m = TfliteModel(np.random.default_rng(4))  # no random constants
    zp = 3 if dtype == np.uint8 else -7
    grid = ([0.05], [zp], 0)
    x = m.tensor([1, 5, 7, 24])
    xq = m.tensor([1, 5, 7, 24], dtype, quant=grid)
    m.op(B.QUANTIZE, [x], [xq])
    pooled = [1, 1, 1, 24] if keep_dims else [1, 24]
    yq = m.tensor(pooled, dtype, quant=grid if same_grid else ([0.031], [zp + 5], 0))
    axes = m.tensor([2], np.int32, np.array([1, 2]))
    m.op(B.MEAN, [xq, axes], [yq], ("Reducer", {"KeepDims": keep_dims}))
    y = m.tensor(pooled)
    m.op(B.DEQUANTIZE, [yq], [y])
    return m.build([x], [y])


def mean_seeds():
    """MEAN's seeds by name: uint8/int8, keep_dims or not, the same grid or another."""
    return {f"{np.dtype(t).name}_mean{'_keep_dims' * keep}{'_same_grid' * same}": (t, keep, same)
            for t in (np.uint8, np.int8) for keep in (True, False) for same in (True, False)}


def corpus_seeds():
    """The quantized fuzz seeds' reference outputs on the two random inputs."""
    paths = {seed: REPO / "fuzz/corpus/tflite" / f"{seed}.tflite" for seed in CORPUS_SEEDS}
    beside = {seed: wide_pointwise(dtype) for seed, dtype in WIDE_POINTWISE.items()}
    beside.update({seed: mean(*args) for seed, args in mean_seeds().items()})
    for seed, model in beside.items():
        paths[seed] = OUT / "corpus" / seed / f"{seed}.tflite"
        paths[seed].parent.mkdir(parents=True, exist_ok=True)
        paths[seed].write_bytes(model)
    for seed, path in paths.items():
        runner = interpreter(path, OpResolverType.BUILTIN_REF)
        details = runner.get_input_details()[0]
        shape = tuple(details["shape"])
        folder = OUT / "corpus" / seed
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(2):
            x = grid_bytes(1000 + k, int(np.prod(shape))).reshape(shape)
            if details["dtype"] == np.float32:
                x = (x.astype(np.float32) - 128) / 32
            np.save(folder / f"random_{k}.npy", run([runner], x.astype(details["dtype"])))
        print(f"corpus {seed}: 2 inputs", flush=True)


def main():
    corpus_seeds()
    if os.environ.get("ONLY") == "corpus":
        return
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared"
    photos = sorted((shared / "images").iterdir())
    rows = ["model\tinput\toptimized: values differing\toptimized: max LSB\t"
            "XNNPACK: values differing\tXNNPACK: max LSB"]
    for name, paths in models(shared):
        reference = [interpreter(p, OpResolverType.BUILTIN_REF) for p in paths]
        others = [[interpreter(p, kind) for p in paths]
                  for kind in (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, OpResolverType.AUTO)]
        details = reference[0].get_input_details()[0]
        shape = tuple(details["shape"])
        inputs = {p.stem: center_crop_bilinear(p, shape[2], shape[1])[None] for p in photos}
        for k in range(2):
            inputs[f"random_{k}"] = grid_bytes(1000 + k, int(np.prod(shape))).reshape(shape)
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for label, x in inputs.items():
            x = x.astype(details["dtype"])
            expected = run(reference, x)
            np.save(folder / f"{label}.npy", expected)
            row = [name, label]
            for runners in others:
                diff = np.abs(run(runners, x).astype(np.int32) - expected.astype(np.int32))
                row += [str(int((diff > 0).sum())), str(int(diff.max()))]
            rows.append("\t".join(row))
        print(f"{name}: {len(inputs)} inputs", flush=True)
    (OUT / "optimized_vs_reference.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
