"""The exporter-shaped ONNX test graphs of `scripts/onnx_reference.py`, built with
`onnx.helper` at small sizes with random weights: torchvision's MobileNetV2 and V3-Small,
tf2onnx's Keras MobileNetV1 and V3, a conv net flattened into a Gemm, and edge cases. Each
function returns `(model, layout)`, the layout naming the input `random_input` draws."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, seed, opset):
        self.rng = np.random.default_rng(seed)
        self.opset = opset
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def init(self, array, prefix="w"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def constant(self, array):
        out = self.name("const")
        tensor = numpy_helper.from_array(np.asarray(array), out + "_value")
        self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=tensor))
        return out

    def weights(self, *shape):
        # LeCun-normal: activations stay O(1) through many layers, so the output is not
        # dominated by a few saturated ReLU6s (verify compares layers relative to their max).
        fan_in = int(np.prod(shape[1:]))
        return (self.rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(np.float32)

    def conv(self, x, cin, cout, k, stride=1, groups=1, bias=False, pads=None, **attrs):
        w = self.init(self.weights(cout, cin // groups, k, k))
        inputs = [x, w]
        if bias:
            inputs.append(self.init((self.rng.standard_normal(cout) * 0.1).astype(np.float32), "b"))
        if pads is not None:
            attrs["pads"] = pads
        return self.node("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], group=groups, **attrs)

    def batch_norm(self, x, c, eps=1e-5):
        r = self.rng
        params = [
            r.uniform(0.5, 1.5, c), r.normal(0, 0.1, c), r.normal(0, 0.1, c), r.uniform(0.5, 1.5, c)
        ]
        names = [self.init(p.astype(np.float32), "bn") for p in params]
        return self.node("BatchNormalization", [x, *names], epsilon=eps)

    def relu6(self, x):
        if self.opset < 11:
            return self.node("Clip", [x], min=0.0, max=6.0)
        lo = self.constant(np.array(0.0, np.float32))
        hi = self.constant(np.array(6.0, np.float32))
        return self.node("Clip", [x, lo, hi])

    def hardswish(self, x):
        if self.opset >= 14:
            return self.node("HardSwish", [x])
        gate = self.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        return self.node("Mul", [x, gate])

    def activation(self, x, kind):
        return {"relu": lambda: self.node("Relu", [x]), "relu6": lambda: self.relu6(x),
                "hswish": lambda: self.hardswish(x), None: lambda: x}[kind]()

    def conv_bn(self, x, cin, cout, k, stride=1, groups=1, act="relu6", eps=1e-5):
        y = self.conv(x, cin, cout, k, stride, groups, pads=[k // 2] * 4)
        return self.activation(self.batch_norm(y, cout, eps), act)

    def axes(self, op, x, axes):
        """Squeeze/Unsqueeze with axes as an attribute (opset < 13) or an input."""
        if self.opset < 13:
            return self.node(op, [x], axes=axes)
        return self.node(op, [x, self.init(np.array(axes, np.int64), "axes")])

    def model(self, inputs, output, producer):
        graph = helper.make_graph(self.nodes, "g", inputs, [output], self.inits)
        model = helper.make_model(graph, producer_name=producer,
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 7 if self.opset < 15 else 8
        return with_output_shape(model)


def with_output_shape(model):
    """Declares the output's shape as ONNX's shape inference finds it, then checks."""
    inferred = onnx.shape_inference.infer_shapes(model)
    name = model.graph.output[0].name
    found = [v for v in [*inferred.graph.output, *inferred.graph.value_info]
             if v.name == name and v.type.tensor_type.HasField("shape")]
    declared = found[0] if found else helper.make_tensor_value_info(
        name, TensorProto.FLOAT, ["unk__out0", "unk__out1"])
    model.graph.output[0].CopyFrom(declared)
    onnx.checker.check_model(model)
    return model


def image_input(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def out_info(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def torchvision_v2(opset, seed, resolution):
    b = Builder(seed, opset)
    x = b.conv_bn("input", 3, 16, 3, 2)
    cin = 16
    for t, c, s in [(1, 8, 1), (4, 12, 2), (4, 12, 1), (4, 16, 2), (4, 16, 1)]:
        hidden = cin * t
        y = x if t == 1 else b.conv_bn(x, cin, hidden, 1)
        y = b.conv_bn(y, hidden, hidden, 3, s, groups=hidden)
        y = b.conv_bn(y, hidden, c, 1, act=None)
        x = b.node("Add", [x, y]) if s == 1 and cin == c else y
        cin = c
    x = b.conv_bn(x, cin, 64, 1)
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    x = b.node("Gemm", [x, b.init(b.weights(10, 64)), b.init(np.zeros(10, np.float32) + 0.1)],
               transB=1)
    inp = image_input("input", ["batch", 3, resolution, resolution])
    return b.model([inp], out_info(x), "pytorch"), "nchw"


def torchvision_v2_full(seed):
    """torchvision's mobilenet_v2 (width 1.0, 224, 1000 classes) as torch.onnx.export writes
    it in eval mode without constant folding: for benchmarks (14 MB, not committed)."""
    b = Builder(seed, 13)
    x = b.conv_bn("input", 3, 32, 3, 2)
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x if t == 1 else b.conv_bn(x, cin, hidden, 1)
            y = b.conv_bn(y, hidden, hidden, 3, stride, groups=hidden)
            y = b.conv_bn(y, hidden, c, 1, act=None)
            x = b.node("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    x = b.conv_bn(x, cin, 1280, 1)
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    x = b.node("Gemm", [x, b.init(b.weights(1000, 1280)), b.init(np.zeros(1000, np.float32))],
               transB=1)
    inp = image_input("input", ["batch", 3, 224, 224])
    return b.model([inp], out_info(x), "pytorch")


def squeeze_excite(b, x, c):
    s = b.node("GlobalAveragePool", [x])
    s = b.node("Relu", [b.conv(s, c, max(8, c // 4), 1, bias=True)])
    s = b.conv(s, max(8, c // 4), c, 1, bias=True)
    s = b.node("HardSigmoid", [s], alpha=1.0 / 6.0, beta=0.5)
    return b.node("Mul", [x, s])


def torchvision_v3_small(opset, seed, resolution):
    b = Builder(seed, opset)
    mean = b.init(np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1), "mean")
    std = b.init(np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1), "std")
    x = b.node("Div", [b.node("Sub", ["input", mean]), std])
    x = b.conv_bn(x, 3, 16, 3, 2, act="hswish", eps=1e-3)
    # The first block: depthwise with SE and ReLU, no expansion.
    y = b.conv_bn(x, 16, 16, 3, 2, groups=16, act="relu", eps=1e-3)
    y = squeeze_excite(b, y, 16)
    x = b.conv_bn(y, 16, 16, 1, act=None, eps=1e-3)
    cin = 16
    for k, hidden, c, s, se in [(3, 48, 24, 2, False), (5, 64, 24, 1, True), (5, 96, 32, 2, True)]:
        y = b.conv_bn(x, cin, hidden, 1, act="hswish", eps=1e-3)
        y = b.conv_bn(y, hidden, hidden, k, s, groups=hidden, act="hswish", eps=1e-3)
        if se:
            y = squeeze_excite(b, y, hidden)
        y = b.conv_bn(y, hidden, c, 1, act=None, eps=1e-3)
        x = b.node("Add", [x, y]) if s == 1 and cin == c else y
        cin = c
    x = b.conv_bn(x, cin, 96, 1, act="hswish", eps=1e-3)
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1) if opset >= 14 else b.axes("Squeeze", x, [2, 3])
    x = b.node("Gemm", [x, b.init(b.weights(64, 96)), b.init(np.zeros(64, np.float32))], transB=1)
    x = b.node("Dropout", [b.hardswish(x)])
    x = b.node("Gemm", [x, b.init(b.weights(12, 64)), b.init(np.ones(12, np.float32))], transB=1)
    inp = image_input("input", ["N", 3, resolution, resolution])
    return b.model([inp], out_info(x), "pytorch"), "nchw"


def tf2onnx_v1(seed, resolution):
    b = Builder(seed, 13)
    x = b.node("Transpose", ["input_1:0"], perm=[0, 3, 1, 2])
    pads = b.init(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), "pads")
    x = b.node("Pad", [x, pads, b.init(np.array(0.0, np.float32), "zero")])
    x = b.relu6(b.conv(x, 3, 8, 3, 2, bias=True))
    x = b.node("Relu", [b.conv(x, 8, 8, 3, 1, groups=8, bias=True, auto_pad="SAME_UPPER")])
    x = b.relu6(b.conv(x, 8, 12, 1, bias=True))
    # Depth multiplier 2 at stride 2 on an even size: TF's SAME pads 0 before, 1 after.
    x = b.relu6(b.conv(x, 12, 24, 3, 2, groups=12, bias=True, auto_pad="SAME_UPPER"))
    left = b.relu6(b.conv(x, 24, 16, 1, bias=True))
    right = b.relu6(b.conv(x, 24, 8, 1, bias=True))
    x = b.node("Concat", [left, right], axis=1)
    x = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Transpose", [x], perm=[0, 2, 3, 1])
    x = b.node("ReduceMean", [x], axes=[1, 2], keepdims=0)
    shape = b.node("Shape", [x])
    batch = b.node("Gather", [shape, b.init(np.array(0, np.int64), "index")], axis=0)
    batch = b.axes("Unsqueeze", batch, [0])
    target = b.node("Concat", [batch, b.init(np.array([-1], np.int64), "rest")], axis=0)
    x = b.node("Reshape", [x, target])
    x = b.node("MatMul", [x, b.init(b.weights(11, 24).T.copy())])
    x = b.node("Add", [x, b.init(np.linspace(-0.5, 0.5, 11).astype(np.float32), "bias")])
    x = b.node("Softmax", [x], axis=-1)
    inp = image_input("input_1:0", ["unk__0", resolution, resolution, 3])
    return b.model([inp], out_info(x), "tf2onnx"), "nhwc"


def keras_hard_sigmoid(b, x):
    """Keras' `relu6(x + 3) * (1 / 6)` as tf2onnx writes it."""
    y = b.relu6(b.node("Add", [x, b.init(np.array(3.0, np.float32), "three")]))
    return b.node("Mul", [y, b.init(np.array(1.0 / 6.0, np.float32), "sixth")])


def tf2onnx_v3_keras(seed, resolution):
    b = Builder(seed, 13)
    x = b.node("Transpose", ["input:0"], perm=[0, 3, 1, 2])
    # Keras' Rescaling layer: x / 127.5 - 1, baked into the graph.
    x = b.node("Mul", [x, b.init(np.array(1 / 127.5, np.float32), "rescale")])
    x = b.node("Sub", [x, b.init(np.array(1.0, np.float32), "one")])
    x = b.conv(x, 3, 16, 3, 2, bias=True, auto_pad="SAME_UPPER")
    x = b.node("Mul", [x, keras_hard_sigmoid(b, x)])
    y = b.node("Relu", [b.conv(x, 16, 32, 1, bias=True)])
    y = b.conv(y, 32, 32, 3, 1, groups=32, bias=True, auto_pad="SAME_UPPER")
    s = b.node("ReduceMean", [y], axes=[2, 3], keepdims=1)
    s = b.node("Relu", [b.conv(s, 32, 8, 1, bias=True)])
    s = keras_hard_sigmoid(b, b.conv(s, 8, 32, 1, bias=True))
    y = b.node("Mul", [y, s])
    x = b.node("Add", [x, b.conv(y, 32, 16, 1, bias=True)])
    x = b.conv(x, 16, 24, 1, bias=True)
    # TensorFlow's own order: x * relu6(x + 3), then / 6.
    gate = b.relu6(b.node("Add", [x, b.init(np.array(3.0, np.float32), "three")]))
    x = b.node("Div", [b.node("Mul", [x, gate]), b.init(np.array(6.0, np.float32), "six")])
    x = b.node("ReduceMean", [x], axes=[2, 3], keepdims=0)
    shape = b.node("Shape", [x])
    batch = b.node("Slice", [shape, b.init(np.array([0], np.int64), "starts"),
                             b.init(np.array([1], np.int64), "ends")])
    target = b.node("Concat", [batch, b.init(np.array([-1], np.int64), "rest")], axis=0)
    x = b.node("Reshape", [x, target])
    x = b.node("Gemm", [x, b.init(b.weights(9, 24)), b.init(np.zeros(9, np.float32))], transB=1)
    x = b.node("Softmax", [x], axis=-1)
    inp = image_input("input:0", ["unk__0", resolution, resolution, 3])
    return b.model([inp], out_info(x), "tf2onnx"), "pixels"


def two_outputs(seed):
    """Probabilities and their ArgMax: only the first output is the model's."""
    b = Builder(seed, 13)
    x = b.node("Relu", [b.conv("input", 3, 8, 3, 2, bias=True, pads=[1, 1, 1, 1])])
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    x = b.node("Gemm", [x, b.init(b.weights(5, 8)), b.init(np.zeros(5, np.float32))], transB=1)
    x = b.node("Softmax", [x], axis=1)
    top = b.node("ArgMax", [x], axis=1, keepdims=1)
    inp = image_input("input", ["batch", 3, 16, 16])
    model = b.model([inp], out_info(x), "pytorch")
    model.graph.output.append(helper.make_tensor_value_info(top, TensorProto.INT64, ["batch", 1]))
    onnx.checker.check_model(model)
    return model, "nchw"


def edge_cases(seed):
    """Pad before a SAME convolution, weights as QuantizeLinear of a float constant, a
    pre-13 Softmax over the last axis of [N, 1, 1, C], Flatten with a negative axis."""
    b = Builder(seed, 11)
    pads = b.init(np.array([0, 0, 1, 1, 0, 0, 0, 0], np.int64), "pads")
    x = b.node("Pad", ["input", pads])
    scale = b.init(np.array(0.02, np.float32), "scale")
    zero = b.init(np.array(3, np.int8), "zero")
    w = b.node("QuantizeLinear", [b.init(b.weights(8, 3, 3, 3)), scale, zero])
    w = b.node("DequantizeLinear", [w, scale, zero])
    bias = b.init((b.rng.standard_normal(8) * 0.1).astype(np.float32), "b")
    x = b.node("Conv", [x, w, bias], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    x = b.node("GlobalAveragePool", [b.node("Relu", [x])])
    x = b.node("Transpose", [x], perm=[0, 2, 3, 1])
    x = b.node("Softmax", [x], axis=3)
    x = b.node("Flatten", [x], axis=-3)
    inp = image_input("input", ["batch", 3, 16, 16])
    return b.model([inp], out_info(x), "test"), "nchw"


def flatten_gemm(seed):
    b = Builder(seed, 11)
    x = b.node("Relu", [b.batch_norm(b.conv("input", 3, 6, 3, pads=[1, 1, 1, 1]), 6)])
    x = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv(x, 6, 5, 3, 2, bias=True, pads=[1, 1, 1, 1])
    x = b.node("Flatten", [x], axis=1)
    w = b.init(b.weights(80, 7))
    x = b.node("Gemm", [x, w, b.init(np.arange(7, dtype=np.float32) * 0.1, "c")],
               alpha=0.5, beta=2.0, transB=0)
    x = b.batch_norm(x, 7)
    x = b.node("Softmax", [x], axis=1)
    inp = image_input("input", [2, 3, 16, 16])
    return b.model([inp], out_info(x), "pytorch"), "nchw"


def external_data(seed):
    b = Builder(seed, 13)
    x = b.node("Relu", [b.conv("input", 3, 4, 3, bias=True, pads=[1, 1, 1, 1])])
    x = b.node("GlobalAveragePool", [x])
    inp = image_input("input", [1, 3, 8, 8])
    return b.model([inp], out_info(x), "pytorch"), "nchw"


def qoperator_by_hand(seed):
    """Two QOperator graphs quantize_static does not write. `uint8_input`: a uint8 input read
    straight by a QLinearConv (its grid comes from there), QLinearSigmoid and
    QLinearGlobalAveragePool. `int8_add`: int8 activations, and a QLinearAdd whose output
    zero point is omitted (0 of its inputs' type)."""
    rng = np.random.default_rng(seed)
    ms = helper.make_opsetid("com.microsoft", 1)

    def model(nodes, inp, out_dims, inits):
        out = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)
        graph = helper.make_graph(nodes, "g", [inp], [out], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), ms])

    def consts(**arrays):
        return [numpy_helper.from_array(np.asarray(v), k) for k, v in arrays.items()]

    def node(op, inputs, out, **attrs):
        domain = "" if op in ("QLinearConv", "QuantizeLinear", "DequantizeLinear") else "com.microsoft"
        return helper.make_node(op, inputs, [out], domain=domain, **attrs)

    inits = consts(xs=np.float32(0.02), xz=np.uint8(128),
                   w=rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8),
                   ws=rng.uniform(0.002, 0.01, 4).astype(np.float32), wz=np.zeros(4, np.int8),
                   ys=np.float32(0.05), yz=np.uint8(128),
                   b=rng.integers(-2000, 2000, 4).astype(np.int32),
                   ss=np.float32(1 / 256), sz=np.uint8(0), ms=np.float32(1 / 512), mz=np.uint8(0))
    nodes = [node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], "c",
                  pads=[1, 1, 1, 1]),
             node("QLinearSigmoid", ["c", "ys", "yz", "ss", "sz"], "s"),
             node("QLinearGlobalAveragePool", ["s", "ss", "sz", "ms", "mz"], "m", channels_last=0),
             node("DequantizeLinear", ["m", "ms", "mz"], "y")]
    inp = helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 3, 8, 8])
    uint8_input = model(nodes, inp, ["N", 4, 1, 1], inits)

    inits = consts(qs=np.float32(0.05), qz=np.int8(-3),
                   w=rng.integers(-127, 128, (3, 3, 3, 3)).astype(np.int8),
                   ws=np.float32(0.004), wz=np.int8(0), ys=np.float32(0.06), yz=np.int8(5),
                   cs=np.float32(0.08))
    nodes = [node("QuantizeLinear", ["x", "qs", "qz"], "q"),
             node("QLinearConv", ["q", "qs", "qz", "w", "ws", "wz", "ys", "yz"], "c",
                  pads=[1, 1, 1, 1]),
             node("QLinearAdd", ["q", "qs", "qz", "c", "ys", "yz", "cs"], "a"),
             node("DequantizeLinear", ["a", "cs"], "y")]
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    int8_add = model(nodes, inp, ["N", 3, 8, 8], inits)
    return uint8_input, int8_add
