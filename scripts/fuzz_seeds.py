#!/usr/bin/env python3
"""Seed corpus for the fuzz targets (fuzz/corpus/<target>/): tiny files made here, no model
or photo from ../shared.

  tflite/  small models covering every operator the importer takes (float, uint8
           per-tensor, int8 per-channel; int8_word_paths: a grouped conv, a depth
           multiplier of 4, a residual after a 1x1 conv; int8_hard_swish: HARD_SWISH
           after convolutions, one with a residual), each checked to run in LiteRT,
           and the TANH model the importer must refuse
  onnx/    copies of small generated graphs from tests/data/onnx/
  image/   PNG (RGB, gray, palette, RGBA, 16-bit), JPEG (baseline, progressive, gray, CMYK)
           and BMP images of a few pixels, and a 66-byte PNG whose header claims 60000x60000
  npy/     arrays of the fuzz model's input (float32, uint8, int8), a Fortran-ordered one
           and a float64 one

The corpora also get `hostile_*` model files with absurd dimensions (2^31 channels,
zero-sized kernels, negative padding, zero strides, weights claiming more than the file
holds), which tests/hostile_models.rs expects to be refused with one-line errors.

Needs: pip install ai-edge-litert flatbuffers tflite numpy pillow onnx
Usage: python3 scripts/fuzz_seeds.py
"""

import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from tflite_builder import (B, NONE, RELU, RELU6, SAME, VALID, TfliteModel, conv,
                            depthwise)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "fuzz" / "corpus"
rng = np.random.default_rng(13)


def v2_like(dtype=np.float32):
    """conv 3x3/2 → depthwise 3x3 → conv 1x1 + residual → average pool → reshape → FC →
    softmax; in float, or uint8 with per-tensor quantization when dtype is np.uint8."""
    m = TfliteModel(rng)
    q = (lambda s, z: ([s], [z], 0)) if dtype == np.uint8 else (lambda s, z: None)
    w = dict(dtype=dtype, quant=q(0.02, 128))
    bias = (lambda n, s: m.tensor([n], np.int32, rng.integers(-300, 300, n), q(s, 0))) \
        if dtype == np.uint8 else (lambda n, s: m.const([n]))
    act = q(0.05, 0)
    x = m.tensor([1, 8, 8, 3], dtype, quant=q(1 / 128, 128))
    c1 = m.tensor([1, 4, 4, 4], dtype, quant=act)
    m.op(B.CONV_2D, [x, m.const([4, 3, 3, 3], **w), bias(4, 0.02 / 128)], [c1],
         conv(SAME, 2, RELU6))
    d1 = m.tensor([1, 4, 4, 8], dtype, quant=act)
    m.op(B.DEPTHWISE_CONV_2D, [c1, m.const([1, 3, 3, 8], **w), bias(8, 0.001)], [d1],
         depthwise(SAME, 1, RELU6, multiplier=2))
    p1 = m.tensor([1, 4, 4, 4], dtype, quant=act)
    m.op(B.CONV_2D, [d1, m.const([4, 1, 1, 8], **w), bias(4, 0.001)], [p1], conv(VALID, 1, NONE))
    s1 = m.tensor([1, 4, 4, 4], dtype, quant=act)
    m.op(B.ADD, [p1, c1], [s1], ("Add", {"FusedActivationFunction": NONE}))
    g = m.tensor([1, 1, 1, 4], dtype, quant=act)
    m.op(B.AVERAGE_POOL_2D, [s1], [g], ("Pool2D", {
        "Padding": VALID, "StrideW": 1, "StrideH": 1, "FilterWidth": 4, "FilterHeight": 4,
        "FusedActivationFunction": NONE}))
    r = m.tensor([1, 4], dtype, quant=act)
    m.op(B.RESHAPE, [g, m.tensor([2], np.int32, [1, 4])], [r])
    f = m.tensor([1, 5], dtype, quant=q(0.1, 100))
    m.op(B.FULLY_CONNECTED, [r, m.const([5, 4], **w), bias(5, 0.001)], [f],
         ("FullyConnected", {"FusedActivationFunction": NONE}))
    out = m.tensor([1, 5], dtype, quant=q(1 / 256, 0))
    m.op(B.SOFTMAX, [f], [out], ("Softmax", {"Beta": 1.0}))
    return m.build([x], [out]), ([1, 8, 8, 3], dtype)


def v3_like():
    """pad → conv → hard-swish → squeeze-excite (mean, 1x1 convs, logistic, mul) → concat →
    mean → FC → softmax, in float."""
    m = TfliteModel(rng)
    x = m.tensor([1, 6, 6, 3])
    padded = m.tensor([1, 8, 8, 3])
    m.op(B.PAD, [x, m.tensor([4, 2], np.int32, [0, 0, 1, 1, 1, 1, 0, 0])], [padded])
    c = m.tensor([1, 6, 6, 4])
    m.op(B.CONV_2D, [padded, m.const([4, 3, 3, 3]), m.const([4])], [c], conv(VALID, 1, NONE))
    h = m.tensor([1, 6, 6, 4])
    m.op(B.HARD_SWISH, [c], [h])
    pooled = m.tensor([1, 1, 1, 4])
    axes = m.tensor([2], np.int32, [1, 2])
    m.op(B.MEAN, [h, axes], [pooled], ("Reducer", {"KeepDims": True}))
    squeezed = m.tensor([1, 1, 1, 2])
    m.op(B.CONV_2D, [pooled, m.const([2, 1, 1, 4]), m.const([2])], [squeezed],
         conv(VALID, 1, RELU))
    excited = m.tensor([1, 1, 1, 4])
    m.op(B.CONV_2D, [squeezed, m.const([4, 1, 1, 2]), m.const([4])], [excited],
         conv(VALID, 1, NONE))
    gate = m.tensor([1, 1, 1, 4])
    m.op(B.LOGISTIC, [excited], [gate])
    scaled = m.tensor([1, 6, 6, 4])
    m.op(B.MUL, [h, gate], [scaled], ("Mul", {"FusedActivationFunction": NONE}))
    joined = m.tensor([1, 6, 6, 8])
    m.op(B.CONCATENATION, [scaled, h], [joined],
         ("Concatenation", {"Axis": 3, "FusedActivationFunction": NONE}))
    mean = m.tensor([1, 8])
    m.op(B.MEAN, [joined, axes], [mean], ("Reducer", {"KeepDims": False}))
    logits = m.tensor([1, 3])
    m.op(B.FULLY_CONNECTED, [mean, m.const([3, 8]), m.const([3])], [logits],
         ("FullyConnected", {"FusedActivationFunction": NONE}))
    out = m.tensor([1, 3])
    m.op(B.SOFTMAX, [logits], [out], ("Softmax", {"Beta": 1.0}))
    return m.build([x], [out]), ([1, 6, 6, 3], np.float32)


def int8_per_channel():
    """float in → QUANTIZE → int8 conv and depthwise with per-channel weight scales →
    RELU → QUANTIZE to uint8 → DEQUANTIZE → float out."""
    m = TfliteModel(rng)
    x = m.tensor([1, 5, 5, 2])
    xq = m.tensor([1, 5, 5, 2], np.int8, quant=([0.02], [-3], 0))
    m.op(B.QUANTIZE, [x], [xq])
    scales = [0.01, 0.02, 0.005]
    w = m.const([3, 3, 3, 2], np.int8, quant=(scales, [0, 0, 0], 0))
    b = m.tensor([3], np.int32, rng.integers(-500, 500, 3), ([0.02 * s for s in scales], [0] * 3, 0))
    c = m.tensor([1, 3, 3, 3], np.int8, quant=([0.03], [5], 0))
    m.op(B.CONV_2D, [xq, w, b], [c], conv(VALID, 1, NONE))
    dw_scales = [0.004, 0.01, 0.02]
    dw = m.const([1, 3, 3, 3], np.int8, quant=(dw_scales, [0, 0, 0], 3))
    db = m.tensor([3], np.int32, rng.integers(-500, 500, 3),
                  ([0.03 * s for s in dw_scales], [0] * 3, 0))
    d = m.tensor([1, 3, 3, 3], np.int8, quant=([0.05], [-10], 0))
    m.op(B.DEPTHWISE_CONV_2D, [c, dw, db], [d], depthwise(SAME, 1, NONE))
    r = m.tensor([1, 3, 3, 3], np.int8, quant=([0.05], [-10], 0))
    m.op(B.RELU, [d], [r])
    u = m.tensor([1, 3, 3, 3], np.uint8, quant=([0.05], [118], 0))
    m.op(B.QUANTIZE, [r], [u])
    out = m.tensor([1, 3, 3, 3])
    m.op(B.DEQUANTIZE, [u], [out])
    return m.build([x], [out]), ([1, 5, 5, 2], np.float32)


def uint8_concat_logistic():
    """uint8 in → LOGISTIC (onto the 1/256 grid) → CONCATENATION of the input and the
    logistic, each on another grid than the output (channels 3 + 3: parts share words)."""
    m = TfliteModel(rng)
    x = m.tensor([1, 4, 4, 3], np.uint8, quant=([0.05], [120], 0))
    s = m.tensor([1, 4, 4, 3], np.uint8, quant=([1 / 256], [0], 0))
    m.op(B.LOGISTIC, [x], [s])
    out = m.tensor([1, 4, 4, 6], np.uint8, quant=([0.04], [100], 0))
    m.op(B.CONCATENATION, [x, s], [out],
         ("Concatenation", {"Axis": 3, "FusedActivationFunction": NONE}))
    return m.build([x], [out]), ([1, 4, 4, 3], np.uint8)


def per_channel(source, n, lo, hi):
    """`n` per-channel scales drawn from [lo, hi)."""
    return list(source.uniform(lo, hi, n))


def int32_bias(m, source, scales):
    """A random int32 bias on `scales` (each channel's input scale times weight scale)."""
    n = len(scales)
    return m.tensor([n], np.int32, source.integers(-400, 400, n), (scales, [0] * n, 0))


def int8_word_paths(source):
    """float in → QUANTIZE → int8 grouped conv (2 groups of 4 channels) → depthwise with
    multiplier 4 → 1x1 conv + ADD of the grouped conv's output → DEQUANTIZE → float out:
    the integer conv's packed-dot path over groups, its word-of-outputs path on a depth
    multiplier, and a residual after a 1x1 conv. `source`: its generator."""
    m = TfliteModel(source)
    x = m.tensor([1, 6, 6, 8])
    xq = m.tensor([1, 6, 6, 8], np.int8, quant=([0.02], [4], 0))
    m.op(B.QUANTIZE, [x], [xq])
    g_scales = per_channel(source, 8, 0.004, 0.02)
    g = m.tensor([1, 6, 6, 8], np.int8, quant=([0.04], [-6], 0))
    m.op(B.CONV_2D, [xq, m.const([8, 3, 3, 4], np.int8, quant=(g_scales, [0] * 8, 0)),
                     int32_bias(m, source, [0.02 * s for s in g_scales])], [g], conv(SAME, 1, RELU6))
    d_scales = per_channel(source, 32, 0.004, 0.02)
    d = m.tensor([1, 6, 6, 32], np.int8, quant=([0.05], [3], 0))
    m.op(B.DEPTHWISE_CONV_2D, [g, m.const([1, 3, 3, 32], np.int8, quant=(d_scales, [0] * 32, 3)),
                               int32_bias(m, source, [0.04 * s for s in d_scales])], [d],
         depthwise(SAME, 1, NONE, multiplier=4))
    p_scales = per_channel(source, 8, 0.002, 0.01)
    p = m.tensor([1, 6, 6, 8], np.int8, quant=([0.06], [-2], 0))
    m.op(B.CONV_2D, [d, m.const([8, 1, 1, 32], np.int8, quant=(p_scales, [0] * 8, 0)),
                     int32_bias(m, source, [0.05 * s for s in p_scales])], [p], conv(VALID, 1, NONE))
    s = m.tensor([1, 6, 6, 8], np.int8, quant=([0.08], [1], 0))
    m.op(B.ADD, [p, g], [s], ("Add", {"FusedActivationFunction": NONE}))
    out = m.tensor([1, 6, 6, 8])
    m.op(B.DEQUANTIZE, [s], [out])
    return m.build([x], [out]), ([1, 6, 6, 8], np.float32)


def int8_hard_swish(source):
    """float in → QUANTIZE → int8 conv 3x3 → HARD_SWISH → depthwise 3x3 → HARD_SWISH → ADD
    of the first HARD_SWISH's output → DEQUANTIZE: a HARD_SWISH run in the convolution
    before it, and after the depthwise one a residual too. `source`: its generator."""
    m = TfliteModel(source)
    x = m.tensor([1, 6, 6, 4])
    xq = m.tensor([1, 6, 6, 4], np.int8, quant=([0.02], [4], 0))
    m.op(B.QUANTIZE, [x], [xq])
    c_scales = per_channel(source, 8, 0.004, 0.02)
    c = m.tensor([1, 6, 6, 8], np.int8, quant=([0.03], [-20], 0))
    m.op(B.CONV_2D, [xq, m.const([8, 3, 3, 4], np.int8, quant=(c_scales, [0] * 8, 0)),
                     int32_bias(m, source, [0.02 * s for s in c_scales])], [c], conv(SAME, 1, NONE))
    h = m.tensor([1, 6, 6, 8], np.int8, quant=([0.025], [-30], 0))
    m.op(B.HARD_SWISH, [c], [h])
    d_scales = per_channel(source, 8, 0.004, 0.02)
    d = m.tensor([1, 6, 6, 8], np.int8, quant=([0.04], [5], 0))
    m.op(B.DEPTHWISE_CONV_2D, [h, m.const([1, 3, 3, 8], np.int8, quant=(d_scales, [0] * 8, 3)),
                               int32_bias(m, source, [0.025 * s for s in d_scales])], [d],
         depthwise(SAME, 1, NONE))
    g = m.tensor([1, 6, 6, 8], np.int8, quant=([0.03], [-40], 0))
    m.op(B.HARD_SWISH, [d], [g])
    total = m.tensor([1, 6, 6, 8], np.int8, quant=([0.05], [0], 0))
    m.op(B.ADD, [g, h], [total], ("Add", {"FusedActivationFunction": NONE}))
    out = m.tensor([1, 6, 6, 8])
    m.op(B.DEQUANTIZE, [total], [out])
    return m.build([x], [out]), ([1, 6, 6, 4], np.float32)


def external_buffers():
    """A convolution and a dense layer, written twice: constants inside the flatbuffer, and
    after it (tests/tflite_import.rs checks that both import to the same network)."""
    m = TfliteModel(np.random.default_rng(4))
    x = m.tensor([1, 4, 4, 3])
    c = m.tensor([1, 2, 2, 4])
    m.op(B.CONV_2D, [x, m.const([4, 3, 3, 3]), m.const([4])], [c], conv(SAME, 2, RELU))
    f = m.tensor([1, 5])
    m.op(B.FULLY_CONNECTED, [c, m.const([5, 16]), m.const([5])], [f],
         ("FullyConnected", {"FusedActivationFunction": NONE}))
    io = ([x], [f])
    return m.build(*io), m.build(*io, external=True), ([1, 4, 4, 3], np.float32)


def dilated_depthwise():
    """A depthwise convolution dilated 3 down and 2 across, which the importer refuses
    naming both (tests/tflite_import.rs): it pins where the dilations sit in the options."""
    m = TfliteModel(np.random.default_rng(6))
    x = m.tensor([1, 8, 8, 3])
    out = m.tensor([1, 2, 4, 3])
    options = depthwise(VALID, 1, NONE)
    options[1].update({"DilationWFactor": 2, "DilationHFactor": 3})
    m.op(B.DEPTHWISE_CONV_2D, [x, m.const([1, 3, 3, 3]), m.const([3])], [out], options)
    return m.build([x], [out]), ([1, 8, 8, 3], np.float32)


def one_conv_tflite(input_shape, filter_shape, options=None, data=True):
    """input → CONV_2D → output, with the filter's buffer as large as its shape says
    (or 8 bytes when `data` is false) and an output shape TFLite would not check."""
    m = TfliteModel(rng)
    x = m.tensor(input_shape)
    count = int(np.prod(filter_shape)) if data else 2
    w = m.tensor(filter_shape)
    m.tensors[w] = (list(filter_shape), np.float32, np.zeros(count, np.float32), None)
    out = m.tensor([1, 1, 1, max(1, filter_shape[0])])
    m.op(B.CONV_2D, [x, w], [out], options or conv(VALID, 1, NONE))
    return m.build([x], [out])


def hostile_tflite():
    """Model files with absurd dimensions, by name."""
    pad = TfliteModel(rng)
    x = pad.tensor([1, 4, 4, 3])
    out = pad.tensor([1, 2, 6, 3])
    pad.op(B.PAD, [x, pad.tensor([4, 2], np.int32, [0, 0, -1, -1, 1, 1, 0, 0])], [out])
    huge = TfliteModel(rng)
    x = huge.tensor([1, 1, 1, 2**31 - 1])
    out = huge.tensor([1, 1, 1, 2**31 - 1])
    huge.op(B.RELU, [x], [out])
    return {
        "negative_pad.tflite": pad.build([0], [1]),
        "channels_2_31.tflite": huge.build([0], [1]),
        "zero_kernel.tflite": one_conv_tflite([1, 4, 4, 3], [4, 0, 0, 3]),
        "zero_stride.tflite": one_conv_tflite([1, 4, 4, 3], [4, 1, 1, 3], conv(VALID, 0, NONE)),
        "weights_beyond_file.tflite": one_conv_tflite([1, 4, 4, 3], [65536, 3, 3, 3], data=False),
    }


def hostile_onnx():
    """ONNX graphs with absurd dimensions, by name."""
    def conv_graph(dims, weight_dims, raw=None, **attrs):
        weights = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=weight_dims)
        # Built by hand: onnx's helper refuses raw data shorter than the dims say.
        weights.raw_data = raw if raw is not None else bytes(4 * int(np.prod(weight_dims)))
        node = helper.make_node("Conv", ["x", "w"], ["y"], **attrs)
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weights])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        return model.SerializeToString()
    return {
        "negative_pads.onnx": conv_graph([1, 3, 4, 4], [4, 3, 3, 3], pads=[-1, -1, -1, -1]),
        "zero_kernel.onnx": conv_graph([1, 3, 4, 4], [4, 3, 0, 0], kernel_shape=[0, 0]),
        "zero_strides.onnx": conv_graph([1, 3, 4, 4], [4, 3, 3, 3], strides=[0, 0]),
        "channels_2_31.onnx": conv_graph([1, 2**31, 1, 1], [4, 2**31, 1, 1], raw=b"\0" * 16),
        "weights_beyond_file.onnx": conv_graph([1, 3, 4, 4], [1000000, 3, 3, 3], raw=b"\0" * 16),
    }


def hostile_seeds():
    for target, files in [("tflite", hostile_tflite()), ("onnx", hostile_onnx())]:
        for name, data in files.items():
            (CORPUS / target / f"hostile_{name}").write_bytes(data)


def runs_in_litert(model, shape, dtype, source=None):
    """`source`: the generator of the check's input (the shared one by default)."""
    source = source or rng
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    x = source.integers(0, 256, size=shape) if dtype == np.uint8 else source.uniform(-1, 1, shape)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.astype(dtype))
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.all(np.isfinite(out.astype(np.float32))), "non-finite output"


def tflite_seeds(folder):
    models = {"v2_like_float": v2_like(), "v2_like_uint8": v2_like(np.uint8),
              "v3_like_float": v3_like(), "int8_per_channel": int8_per_channel()}
    for name, (model, (shape, dtype)) in models.items():
        runs_in_litert(model, shape, dtype)
        (folder / f"{name}.tflite").write_bytes(model)
        print(f"tflite/{name}.tflite: {len(model)} bytes, runs in LiteRT")
    model, (shape, dtype) = dilated_depthwise()
    runs_in_litert(model, shape, dtype, np.random.default_rng(7))
    (folder / "dilated_depthwise.tflite").write_bytes(model)
    print(f"tflite/dilated_depthwise.tflite: {len(model)} bytes, runs in LiteRT")
    # Its own generator: the shared one's sequence, and so every other seed, stays as it was.
    model, (shape, dtype) = uint8_concat_logistic()
    runs_in_litert(model, shape, dtype, np.random.default_rng(1))
    (folder / "uint8_concat_logistic.tflite").write_bytes(model)
    print(f"tflite/uint8_concat_logistic.tflite: {len(model)} bytes, runs in LiteRT")
    source = np.random.default_rng(2)
    model, (shape, dtype) = int8_word_paths(source)
    runs_in_litert(model, shape, dtype, source)
    (folder / "int8_word_paths.tflite").write_bytes(model)
    print(f"tflite/int8_word_paths.tflite: {len(model)} bytes, runs in LiteRT")
    source = np.random.default_rng(8)
    model, (shape, dtype) = int8_hard_swish(source)
    runs_in_litert(model, shape, dtype, source)
    (folder / "int8_hard_swish.tflite").write_bytes(model)
    print(f"tflite/int8_hard_swish.tflite: {len(model)} bytes, runs in LiteRT")
    shutil.copy(REPO / "tests/data/tflite_reference/unsupported_op.tflite", folder)
    inside, outside, (shape, dtype) = external_buffers()
    for name, model in [("buffers_inside", inside), ("buffers_outside", outside)]:
        runs_in_litert(model, shape, dtype, np.random.default_rng(5))
        (folder / f"{name}.tflite").write_bytes(model)
        print(f"tflite/{name}.tflite: {len(model)} bytes, runs in LiteRT")


def onnx_seeds(folder):
    for name in ["edge_cases", "flatten_gemm_opset11", "tf2onnx_v1_nhwc", "shapes_disagree"]:
        shutil.copy(REPO / "tests/data/onnx" / f"{name}.onnx", folder)


def image_seeds(folder):
    rgb = Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8))
    rgb.save(folder / "rgb.png")
    rgb.convert("L").save(folder / "gray.png")
    rgb.convert("P").save(folder / "palette.png")
    rgb.convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (2, 3), dtype=np.uint16)).save(folder / "gray16.png")
    big = Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8))
    big.save(folder / "baseline.jpg", quality=80)
    big.save(folder / "progressive.jpg", quality=80, progressive=True)
    big.convert("L").save(folder / "gray.jpg")
    big.convert("CMYK").save(folder / "cmyk.jpg")
    rgb.save(folder / "rgb.bmp")
    rgb.convert("P").save(folder / "palette.bmp")
    (folder / "bomb.png").write_bytes(png_bomb())


def png_bomb():
    """A valid PNG whose header claims 60000x60000 RGB and holds almost no data."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def npy_seeds(folder):
    arrays = {
        "float32": rng.uniform(-1, 1, (1, 3, 2, 2)).astype(np.float32),
        "uint8": rng.integers(0, 256, (2, 3, 2, 2), dtype=np.uint8),
        "int8": rng.integers(-128, 128, (1, 3, 2, 2), dtype=np.int8),
        "float64": rng.uniform(-1, 1, (1, 3, 2, 2)),
        "fortran": np.asfortranarray(rng.uniform(-1, 1, (1, 3, 2, 2)).astype(np.float32)),
    }
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array)
        (folder / f"{name}.npy").write_bytes(buffer.getvalue())


def main():
    for target, make in [("tflite", tflite_seeds), ("onnx", onnx_seeds),
                         ("image", image_seeds), ("npy", npy_seeds)]:
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        make(folder)
    hostile_seeds()


if __name__ == "__main__":
    main()
