#!/usr/bin/env python3
"""Writes the ONNX test graphs of `tests/onnx_import.rs` and onnxruntime's outputs for them.

Each graph is shaped like a real exporter's output, at a small size with random weights:
torchvision's MobileNetV2 and V3 (unfused BatchNormalization, Clip / HardSwish, squeeze-excite
as HardSigmoid + Mul; opsets 9, 13 and 14), tf2onnx's Keras MobileNetV1 (NHWC input,
Transpose, Pad, SAME padding, depth multiplier 2, Concat, ReduceMean, the
Shape → Gather → Unsqueeze → Concat → Reshape flatten, MatMul + Add), a conv net flattened
from NCHW into a Gemm and a 2-D BatchNormalization, a QDQ graph from
`onnxruntime.quantization.quantize_static` (per-channel int8 weights, uint8 activations), a
graph with its weights in an external-data side file, four graphs that must fail, and
five graphs in quantize_static's QOperator format (QLinearConv, QLinearMatMul, QGemm and
the `com.microsoft` QLinear operators), two written by hand (a uint8 input, int8
activations) and three such nodes that must fail.

The graphs are built in `scripts/onnx_graphs.py`. For each runnable graph `NAME.onnx` this
writes `NAME.input.npy` (the array onnxruntime takes) and `NAME.output.npy` (onnxruntime's
first output). Run from the repository root:

    pip install onnx onnxruntime numpy && python3 scripts/onnx_reference.py

`--full-v2 OUT.onnx` instead writes a full-size torchvision-shaped MobileNetV2 (random
weights) for benchmarks.
"""

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

# The graphs themselves (scripts/onnx_graphs.py, beside this file).
from onnx_graphs import (Builder, edge_cases, external_data, flatten_gemm, image_input,
                         out_info, qoperator_by_hand, tf2onnx_v1, tf2onnx_v3_keras,
                         torchvision_v2, torchvision_v2_full, torchvision_v3_small, two_outputs)

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx"


def random_input(layout, model, batch, rng):
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    dims[0] = dims[0] or batch
    if layout == "uint8":
        return rng.integers(0, 256, dims).astype(np.uint8)
    if layout == "nhwc":
        return rng.uniform(-1, 1, dims).astype(np.float32)
    if layout == "pixels":
        return rng.uniform(0, 255, dims).astype(np.float32)
    return rng.standard_normal(dims).astype(np.float32)


def run_ort(path, array):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: array})[0]


def save(name, model, layout, rng, batch=2, **save_args):
    path = OUT / f"{name}.onnx"
    if "location" in save_args:
        # onnx appends to an existing side file: start it afresh.
        (OUT / save_args["location"]).unlink(missing_ok=True)
    onnx.save_model(model, str(path), **save_args)
    array = random_input(layout, model, batch, rng)
    np.save(OUT / f"{name}.input.npy", array)
    np.save(OUT / f"{name}.output.npy", run_ort(path, array))
    return path


class Calibration(CalibrationDataReader):
    def __init__(self, rng, name, shape):
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


def save_quantized(name, float_model, rng, quant_format=QuantFormat.QDQ, preprocess=False):
    """`float_model` (batch 1) through quantize_static: per-channel int8
    weights, uint8 activations calibrated on random inputs; then onnxruntime's output for a
    batch of two. QDQ writes Q/DQ pairs around float operators, QOperator QLinearConv,
    QLinearMatMul and onnxruntime's `com.microsoft` QLinear operators and QGemm. With
    `preprocess`, onnxruntime's recommended `quant_pre_process` runs first (BatchNorm folded
    into Conv, so QLinearConv follows QLinearConv, and Clip becomes the output range)."""
    source = OUT / f"{name}.source.onnx"
    onnx.save_model(float_model, str(source))
    if preprocess:
        quant_pre_process(str(source), str(source))
    path = OUT / f"{name}.onnx"
    graph_input = float_model.graph.input[0]
    dims = [d.dim_value or 1 for d in graph_input.type.tensor_type.shape.dim]
    quantize_static(str(source), str(path), Calibration(rng, graph_input.name, dims),
                    quant_format=quant_format, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    source.unlink()
    array = rng.standard_normal([2, *dims[1:]]).astype(np.float32)
    np.save(OUT / f"{name}.input.npy", array)
    np.save(OUT / f"{name}.output.npy", run_ort(path, array))


def failing_graphs(seed):
    b = Builder(seed, 13)
    x = b.node("Elu", [b.conv("input", 3, 4, 3, pads=[1, 1, 1, 1])])
    inp = image_input("input", [1, 3, 8, 8])
    onnx.save_model(b.model([inp], out_info(x), "test"), str(OUT / "unsupported_op.onnx"))

    b = Builder(seed, 13)
    w = b.init(b.weights(4, 5, 3, 3))  # 5 input channels for a 3-channel image
    x = b.node("Conv", ["input", w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(b.nodes, "g", [inp], [image_input(x, [1, 4, 8, 8])], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save_model(model, str(OUT / "shapes_disagree.onnx"))

    model, _ = external_data(seed)
    onnx.save_model(model, str(OUT / "missing_external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="missing_external.onnx.data",
                    size_threshold=0)
    (OUT / "missing_external.onnx.data").unlink()

    # A user's Clip between x and the hard-swish product: x · HardSigmoid(z) with x = Clip(z)
    # is no hard swish (only a QuantizeLinear's range clamp is looked through).
    b = Builder(seed, 13)
    z = b.conv("input", 3, 4, 3, pads=[1, 1, 1, 1])
    clipped = b.node("Clip", [z, b.constant(np.float32(-2)), b.constant(np.float32(2))])
    x = b.node("Mul", [clipped, b.node("HardSigmoid", [z], alpha=1 / 6, beta=0.5)])
    onnx.save_model(b.model([inp], out_info(x), "test"), str(OUT / "clip_before_gate.onnx"))


def failing_qoperator_graphs(seed):
    """QOperator nodes that are refused: a leaky ReLU (its float part), a channels-last
    pool, an add without its output's scale."""
    b = Builder(seed, 13)
    ms = helper.make_opsetid("com.microsoft", 1)
    scale, zp = b.init(np.float32(0.05), "scale"), b.init(np.uint8(128), "zp")
    x = b.node("QuantizeLinear", ["input", scale, zp])
    unary = [x, scale, zp, scale, zp]
    for op, inputs, attrs in [("QLinearLeakyRelu", unary, {"alpha": 0.1}),
                              ("QLinearGlobalAveragePool", unary, {"channels_last": 1}),
                              ("QLinearAdd", [x, scale, zp, x, scale, zp], {})]:
        out = b.name(op.lower())
        b.nodes.append(helper.make_node(op, inputs, [out], name=out, domain="com.microsoft",
                                        **attrs))
        y = b.node("DequantizeLinear", [out, scale, zp])
        graph = helper.make_graph(b.nodes, "g", [image_input("input", [1, 3, 8, 8])],
                                  [out_info(y)], b.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), ms])
        onnx.save_model(model, str(OUT / f"{op.lower()}_refused.onnx"))
        b.nodes = b.nodes[:1]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--full-v2":
        onnx.save_model(torchvision_v2_full(0), sys.argv[2])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    save("torchvision_v2_opset13", *torchvision_v2(13, 1, 64), rng)
    save("torchvision_v2_opset9", *torchvision_v2(9, 2, 40), rng)
    save("torchvision_v3_small_opset14", *torchvision_v3_small(14, 3, 64), rng)
    save("torchvision_v3_small_opset13", *torchvision_v3_small(13, 4, 48), rng)
    save("tf2onnx_v1_nhwc", *tf2onnx_v1(5, 48), rng)
    save("flatten_gemm_opset11", *flatten_gemm(6), rng)
    model, layout = external_data(7)
    save("external_data", model, layout, rng, save_as_external_data=True,
         all_tensors_to_one_file=True, location="external_data.onnx.data", size_threshold=0)

    save_quantized("quantize_static_qdq", torchvision_v2(13, 8, 48)[0], rng)

    save("tf2onnx_v3_keras", *tf2onnx_v3_keras(10, 32), rng)
    save("two_outputs", *two_outputs(11), rng)
    save("edge_cases", *edge_cases(12), rng)
    save_quantized("quantize_static_v3_qdq", torchvision_v3_small(13, 13, 48)[0], rng)
    failing_graphs(9)
    qoperator = QuantFormat.QOperator
    save_quantized("qoperator_v2", torchvision_v2(13, 14, 48)[0], rng, qoperator)
    save_quantized("qoperator_v3_small", torchvision_v3_small(13, 15, 48)[0], rng, qoperator)
    save_quantized("qoperator_tf2onnx_v1", tf2onnx_v1(16, 48)[0], rng, qoperator)
    save_quantized("qoperator_flatten_gemm", flatten_gemm(17)[0], rng, qoperator)
    failing_qoperator_graphs(18)
    save_quantized("qoperator_v2_preprocessed", torchvision_v2(13, 19, 48)[0], rng, qoperator,
                   preprocess=True)
    uint8_input, int8_add = qoperator_by_hand(20)
    save("qoperator_uint8_input", uint8_input, "uint8", rng)
    save("qoperator_int8_add", int8_add, "nchw", rng)
    for path in sorted(OUT.iterdir()):
        print(f"{path.stat().st_size:>8}  {path.name}")


if __name__ == "__main__":
    main()
