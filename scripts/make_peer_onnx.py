#!/usr/bin/env python3
"""Builds an ONNX model from the network exported by bench/peers/export.

The exporter writes `graph.txt` (one layer per line, BatchNorm already folded into the
convs), the weights as .npy (NHWC/OHWI, our layouts), `input.npy` and `ours.npy`. This
script translates that into an NCHW ONNX graph (opset 14) in the form wonnx 0.5.1 runs:

- Conv with explicit `pads` [top, left, bottom, right] (TF SAME pads 0 before / 1 after
  at stride 2, which ONNX expresses exactly) and `group` = C for depthwise;
- ReLU6 as Clip with min/max given as initializer inputs (wonnx moves them to attributes);
- GlobalAveragePool keeps the 1x1 map (V3 runs 1x1 convs on it); the dense layer is
  Flatten + Gemm without transB (wonnx 0.5.1 rejects transA/transB), so its weights are
  stored transposed as [in][out];
- MobileNetV3's h-swish as HardSwish (opset 14), its `relu6(x + 3) / 6` gate as
  HardSigmoid(alpha=1/6, beta=0.5) (the same function; rounding may differ by an ulp),
  the squeeze-excite rescale as a broadcasting Mul. wonnx 0.5.1 implements neither
  HardSwish nor HardSigmoid, so its runner reports V3 as unsupported; the V3 models are
  still written for onnxruntime's check.

It checks the model with onnx.checker, stores inferred shapes (wonnx needs them) and,
if onnxruntime is installed, prints onnxruntime's max |diff| against our output.

Usage: make_peer_onnx.py <export-dir> [<out.onnx>]   (default: <export-dir>/model.onnx)
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 14
# onnxruntime must match our output as closely as the peers must (common/peer_common.rs):
# within 1e-3 absolute and 1e-3 of max |ours| (V3's seed-0 softmax is nearly flat).
MAX_ABS_DIFF = 1e-3
MAX_REL_DIFF = 1e-3
# The graph.txt words translated here, each by the Builder method of the same name.
LAYER_KINDS = {"conv", "relu", "relu6", "hswish", "hsigmoid", "add", "mulc", "gap", "dense",
               "softmax"}


def load(directory, name):
    return np.load(directory / name).astype(np.float32)


class Builder:
    """Accumulates ONNX nodes and initializers; tensor names are the exporter's ids."""

    def __init__(self, directory):
        self.directory = directory
        self.nodes = []
        self.initializers = []

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def conv(self, fields):
        node_id, source, _out, kh, kw, stride, top, left, bottom, right, groups = fields
        weights = load(self.directory, f"w{node_id}.npy").transpose(0, 3, 1, 2)  # OHWI -> OIHW
        bias = load(self.directory, f"b{node_id}.npy")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [source, self.constant(f"w{node_id}", weights), self.constant(f"b{node_id}", bias)],
                [node_id],
                kernel_shape=[int(kh), int(kw)],
                strides=[int(stride), int(stride)],
                pads=[int(top), int(left), int(bottom), int(right)],
                group=int(groups),
            )
        )

    def relu6(self, fields):
        node_id, source = fields
        low = self.constant(f"min{node_id}", np.array(0.0, dtype=np.float32))
        high = self.constant(f"max{node_id}", np.array(6.0, dtype=np.float32))
        self.nodes.append(helper.make_node("Clip", [source, low, high], [node_id]))

    def relu(self, fields):
        self.unary("Relu", fields)

    def hswish(self, fields):
        self.unary("HardSwish", fields)

    def hsigmoid(self, fields):
        self.unary("HardSigmoid", fields, alpha=1.0 / 6.0, beta=0.5)

    def unary(self, op, fields, **attributes):
        node_id, source = fields
        self.nodes.append(helper.make_node(op, [source], [node_id], **attributes))

    def add(self, fields):
        node_id, left, right = fields
        self.nodes.append(helper.make_node("Add", [left, right], [node_id]))

    def mulc(self, fields):
        node_id, source, scale = fields  # [1, C, H, W] * [1, C, 1, 1]
        self.nodes.append(helper.make_node("Mul", [source, scale], [node_id]))

    def gap(self, fields):
        node_id, source = fields
        self.nodes.append(helper.make_node("GlobalAveragePool", [source], [node_id]))

    def dense(self, fields):
        node_id, source, _out = fields
        weights = load(self.directory, f"w{node_id}.npy").T.copy()  # [out][in] -> [in][out]
        bias = load(self.directory, f"b{node_id}.npy")
        flat = f"{node_id}_flat"
        self.nodes.append(helper.make_node("Flatten", [source], [flat], axis=1))
        inputs = [flat, self.constant(f"w{node_id}", weights), self.constant(f"b{node_id}", bias)]
        self.nodes.append(helper.make_node("Gemm", inputs, [node_id]))

    def softmax(self, fields):
        node_id, source = fields
        self.nodes.append(helper.make_node("Softmax", [source], [node_id], axis=-1))


def build(directory):
    builder = Builder(directory)
    graph_input = graph_output = None
    for line in (directory / "graph.txt").read_text().splitlines():
        kind, *fields = line.split()
        if kind == "input":
            node_id, h, w, c = fields
            graph_input = helper.make_tensor_value_info(
                node_id, TensorProto.FLOAT, [1, int(c), int(h), int(w)]
            )
        elif kind == "output":
            graph_output = fields[0]
        elif kind in LAYER_KINDS:
            getattr(builder, kind)(fields)
        else:
            sys.exit(f"{directory / 'graph.txt'}: unknown layer kind in {line!r}")
    classes = np.load(directory / "ours.npy").shape[-1]
    output = helper.make_tensor_value_info(graph_output, TensorProto.FLOAT, [1, classes])
    name = f"mobilenet_{directory.resolve().name}_seed0"
    graph = helper.make_graph(builder.nodes, name, [graph_input], [output], builder.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def compare_with_onnxruntime(directory, path, model):
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime not installed: skipped its comparison")
        return
    image = load(directory, "input.npy").transpose(0, 3, 1, 2)  # NHWC -> NCHW
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = model.graph.input[0].name
    result = session.run(None, {name: image})[0]
    ours = load(directory, "ours.npy")
    diff, top = float(np.abs(result - ours).max()), float(np.abs(ours).max())
    print(
        f"onnxruntime {onnxruntime.__version__}: max |ort - ours| = {diff:.3e} "
        f"(max |ours| = {top:.3e}, argmax ort {result.argmax()} ours {ours.argmax()})"
    )
    if not (diff <= MAX_ABS_DIFF and diff <= MAX_REL_DIFF * top):  # NaN fails too
        sys.exit(f"onnxruntime disagrees with our output by {diff:e}: the ONNX export is wrong")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    directory = Path(sys.argv[1])
    path = Path(sys.argv[2]) if len(sys.argv) == 3 else directory / "model.onnx"
    model = build(directory)
    onnx.save(model, path)
    ops = " ".join(sorted({node.op_type for node in model.graph.node}))
    print(f"wrote {path} ({len(model.graph.node)} nodes, opset {OPSET}: {ops}), "
          "onnx.checker passed")
    compare_with_onnxruntime(directory, path, model)


if __name__ == "__main__":
    main()
