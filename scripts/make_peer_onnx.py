#!/usr/bin/env python3
"""Builds an ONNX model from the network exported by bench/peers/export.

The exporter writes `graph.txt` (one layer per line, BatchNorm already folded into the
convs), the weights as .npy (NHWC/OHWI, our layouts), `input.npy` and `ours.npy`. This
script translates that into an NCHW ONNX graph that wonnx 0.5.1 can run:

- Conv with explicit `pads` [top, left, bottom, right] (TF SAME pads 0 before / 1 after
  at stride 2, which ONNX expresses exactly) and `group` = C for depthwise;
- ReLU6 as Clip with min/max given as initializer inputs (opset 13; wonnx moves them
  to attributes);
- Gemm without transB (wonnx 0.5.1 rejects transA/transB), so the dense weights are
  stored transposed as [in][out].

It checks the model with onnx.checker, stores inferred shapes (wonnx needs them) and,
if onnxruntime is installed, prints onnxruntime's max |diff| against our output.

Usage: make_peer_onnx.py <export-dir> [<out.onnx>]
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


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

    def add(self, fields):
        node_id, left, right = fields
        self.nodes.append(helper.make_node("Add", [left, right], [node_id]))

    def gap(self, fields):
        node_id, source = fields
        pooled = f"{node_id}_pooled"
        self.nodes.append(helper.make_node("GlobalAveragePool", [source], [pooled]))
        self.nodes.append(helper.make_node("Flatten", [pooled], [node_id], axis=1))

    def dense(self, fields):
        node_id, source, _out = fields
        weights = load(self.directory, f"w{node_id}.npy").T.copy()  # [out][in] -> [in][out]
        bias = load(self.directory, f"b{node_id}.npy")
        inputs = [source, self.constant(f"w{node_id}", weights), self.constant(f"b{node_id}", bias)]
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
        else:
            getattr(builder, kind)(fields)
    classes = np.load(directory / "ours.npy").shape[-1]
    output = helper.make_tensor_value_info(graph_output, TensorProto.FLOAT, [1, classes])
    graph = helper.make_graph(
        builder.nodes, "mobilenet_v2_seed0", [graph_input], [output], builder.initializers
    )
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
    print(
        f"onnxruntime {onnxruntime.__version__}: max |ort - ours| = "
        f"{np.abs(result - ours).max():.3e} (max |ours| = {np.abs(ours).max():.3e}, "
        f"argmax ort {result.argmax()} ours {ours.argmax()})"
    )


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    directory = Path(sys.argv[1])
    path = Path(sys.argv[2]) if len(sys.argv) == 3 else directory / "mobilenet_v2.onnx"
    model = build(directory)
    onnx.save(model, path)
    print(f"wrote {path} ({len(model.graph.node)} nodes, opset {OPSET}), onnx.checker passed")
    compare_with_onnxruntime(directory, path, model)


if __name__ == "__main__":
    main()
