"""Writes small TFLite flatbuffers by hand (tensors, constants, operators and their
options), for the generated test models of scripts/fuzz_seeds.py.

Needs: pip install flatbuffers tflite numpy
"""

import flatbuffers
import numpy as np
import tflite

TYPES = {np.float32: tflite.TensorType.FLOAT32, np.uint8: tflite.TensorType.UINT8,
         np.int8: tflite.TensorType.INT8, np.int32: tflite.TensorType.INT32}
B = tflite.BuiltinOperator
class TfliteModel:
    """Tensors and operators, written as one flatbuffer by `build`."""

    def __init__(self, rng):
        """`rng`: the generator of `const`'s random values."""
        self.rng = rng
        self.tensors, self.ops, self.codes = [], [], []

    def tensor(self, shape, dtype=np.float32, data=None, quant=None):
        """quant: (scales, zero_points, axis) or None. Returns the tensor's index."""
        if data is not None:
            data = np.asarray(data, dtype=dtype).reshape(shape)
        self.tensors.append((list(shape), dtype, data, quant))
        return len(self.tensors) - 1

    def const(self, shape, dtype=np.float32, quant=None, low=-1.0, high=1.0):
        if dtype == np.float32:
            data = self.rng.uniform(low, high, size=shape)
        else:
            info = np.iinfo(dtype)
            data = self.rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, size=shape)
        return self.tensor(shape, dtype, data, quant)

    def op(self, code, inputs, outputs, options=None):
        """options: (name, {field: value}) of a builtin options table, e.g. ("Conv2D", {...})."""
        if code not in self.codes:
            self.codes.append(code)
        self.ops.append((self.codes.index(code), inputs, outputs, options))

    def build(self, inputs, outputs, external=False):
        """external: the constants after the flatbuffer, found through each buffer's offset
        and size (as converters write files over 2 GB), 16-byte aligned."""
        if not external:
            return self._build(inputs, outputs, None)
        sizes = [0 if t[2] is None else t[2].nbytes for t in self.tensors]
        # Offset and size are fixed-width fields, so the flatbuffer's length does not depend
        # on their values: build once to learn it, then again with the real offsets. The
        # placeholder offset 2 is any value TFLite reads as set (above 1).
        length = len(self._build(inputs, outputs, [(2, s) for s in sizes]))
        places, at = [], align16(length)
        for size in sizes:
            places.append((at, size))
            at += align16(size)
        model = bytearray(self._build(inputs, outputs, places))
        assert len(model) == length
        for t in self.tensors:
            if t[2] is not None:
                model += bytes(align16(len(model)) - len(model)) + t[2].tobytes()
        return bytes(model)

    def _build(self, inputs, outputs, places):
        """places: each tensor's (offset, size) outside the flatbuffer, or None for inside."""
        b = flatbuffers.Builder(4096)
        buffers = [self._buffer(b, None, None)] + [
            self._buffer(b, t[2], None if places is None else places[i])
            for i, t in enumerate(self.tensors)]
        tensors = [self._tensor(b, i, t) for i, t in enumerate(self.tensors)]
        ops = [self._op(b, *o) for o in self.ops]
        sub = {
            "Tensors": vector(b, tflite.SubGraphStartTensorsVector, tensors),
            "Inputs": ints(b, tflite.SubGraphStartInputsVector, inputs),
            "Outputs": ints(b, tflite.SubGraphStartOutputsVector, outputs),
            "Operators": vector(b, tflite.SubGraphStartOperatorsVector, ops),
        }
        tflite.SubGraphStart(b)
        for field, value in sub.items():
            getattr(tflite, f"SubGraphAdd{field}")(b, value)
        subgraph = tflite.SubGraphEnd(b)
        codes = []
        for code in self.codes:
            tflite.OperatorCodeStart(b)
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, 1)
            codes.append(tflite.OperatorCodeEnd(b))
        model = {
            "OperatorCodes": vector(b, tflite.ModelStartOperatorCodesVector, codes),
            "Subgraphs": vector(b, tflite.ModelStartSubgraphsVector, [subgraph]),
            "Buffers": vector(b, tflite.ModelStartBuffersVector, buffers),
        }
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        for field, value in model.items():
            getattr(tflite, f"ModelAdd{field}")(b, value)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _buffer(b, data, place):
        inside = data is not None and place is None
        raw = b.CreateNumpyVector(np.frombuffer(data.tobytes(), dtype=np.uint8)) if inside \
            else None
        tflite.BufferStart(b)
        if raw is not None:
            tflite.BufferAddData(b, raw)
        elif data is not None:
            tflite.BufferAddOffset(b, place[0])
            tflite.BufferAddSize(b, place[1])
        return tflite.BufferEnd(b)

    @staticmethod
    def _tensor(b, index, spec):
        shape, dtype, data, quant = spec
        name = b.CreateString(f"t{index}")
        shape_vec = ints(b, tflite.TensorStartShapeVector, shape)
        q = None
        if quant is not None:
            scales, zero_points, axis = quant
            scale_vec = numbers(b, tflite.QuantizationParametersStartScaleVector, scales,
                                b.PrependFloat32)
            zp_vec = numbers(b, tflite.QuantizationParametersStartZeroPointVector,
                             zero_points, b.PrependInt64)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale_vec)
            tflite.QuantizationParametersAddZeroPoint(b, zp_vec)
            tflite.QuantizationParametersAddQuantizedDimension(b, axis)
            q = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape_vec)
        tflite.TensorAddType(b, TYPES[dtype])
        tflite.TensorAddBuffer(b, index + 1 if data is not None else 0)
        tflite.TensorAddName(b, name)
        if q is not None:
            tflite.TensorAddQuantization(b, q)
        return tflite.TensorEnd(b)

    @staticmethod
    def _op(b, code_index, inputs, outputs, options):
        options_offset = None
        if options is not None:
            name, fields = options
            getattr(tflite, f"{name}OptionsStart")(b)
            for field, value in fields.items():
                getattr(tflite, f"{name}OptionsAdd{field}")(b, value)
            options_offset = getattr(tflite, f"{name}OptionsEnd")(b)
        in_vec = ints(b, tflite.OperatorStartInputsVector, inputs)
        out_vec = ints(b, tflite.OperatorStartOutputsVector, outputs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, code_index)
        tflite.OperatorAddInputs(b, in_vec)
        tflite.OperatorAddOutputs(b, out_vec)
        if options_offset is not None:
            kind = "Pool2DOptions" if name == "Pool2D" else f"{name}Options"
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, kind))
            tflite.OperatorAddBuiltinOptions(b, options_offset)
        return tflite.OperatorEnd(b)


def align16(n):
    return -(-n // 16) * 16


def numbers(b, start, values, prepend):
    start(b, len(values))
    for v in reversed(values):
        prepend(v)
    return b.EndVector()


def ints(b, start, values):
    return numbers(b, start, [int(v) for v in values], b.PrependInt32)


def vector(b, start, offsets):
    start(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
NONE, RELU, RELU6 = (tflite.ActivationFunctionType.NONE, tflite.ActivationFunctionType.RELU,
                     tflite.ActivationFunctionType.RELU6)


def conv(pad, stride, act):
    return ("Conv2D", {"Padding": pad, "StrideW": stride, "StrideH": stride,
                       "FusedActivationFunction": act})


def depthwise(pad, stride, act, multiplier=1):
    return ("DepthwiseConv2D", {"Padding": pad, "StrideW": stride, "StrideH": stride,
                                "DepthMultiplier": multiplier, "FusedActivationFunction": act})
