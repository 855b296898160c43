#!/usr/bin/env python3
"""Reference data for tests/tflite_import.rs, made with the LiteRT interpreter.

For chelsea.png and coffee.png (CC0) this writes under tests/data/tflite_reference/:
  <image>_128_input.npy   float32 128x128x3: the float model's preprocessed input (x/127.5 - 1)
  <image>_128_probs.npy   float32 1001: mobilenet_v1_0.25_128_float's output probabilities
  <image>_224_pixels.npy  uint8 224x224x3: the preprocessed pixels fed to the uint8 models
Preprocessing is shared/expected/README.md's "center-crop-bilinear".

It also writes tests/data/tflite_reference/unsupported_op.tflite: a one-operator model (TANH) the importer
must reject with an UnsupportedOp error.

Needs: pip install ai-edge-litert pillow numpy flatbuffers tflite
Usage: python3 scripts/tflite_reference.py [SHARED_DIR]   (default: ../shared)
"""

import sys
from pathlib import Path

import flatbuffers
import numpy as np
import tflite
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "tflite_reference"
IMAGES = ["chelsea.png", "coffee.png"]
FLOAT_MODEL = "mobilenet_v1_0.25_128_float.tflite"
QUANT_MODEL = "mobilenet_v2_1.0_224_quant.tflite"


def center_crop_bilinear(path, size):
    """Centered square crop of side min(w, h), then PIL bilinear resize: uint8 HxWx3."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def run(model_path, batch):
    interpreter = Interpreter(model_path=str(model_path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    values = interpreter.get_tensor(out["index"])[0].astype(np.float32)
    scale, zero_point = out["quantization"]
    return scale * (values - zero_point) if scale else values


def write_references(shared):
    OUT.mkdir(parents=True, exist_ok=True)
    for image in IMAGES:
        stem = Path(image).stem
        pixels = center_crop_bilinear(shared / "images" / image, 128)
        x = pixels.astype(np.float32) / 127.5 - 1.0
        probs = run(shared / "models" / FLOAT_MODEL, x[None])
        np.save(OUT / f"{stem}_128_input.npy", x)
        np.save(OUT / f"{stem}_128_probs.npy", probs.astype(np.float32))
        pixels224 = center_crop_bilinear(shared / "images" / image, 224)
        np.save(OUT / f"{stem}_224_pixels.npy", pixels224)
        quant = run(shared / "models" / QUANT_MODEL, pixels224[None])
        print(f"{image}: float top-1 {int(probs.argmax())} ({probs.max():.4f}), "
              f"{QUANT_MODEL} top-1 {int(quant.argmax())} ({quant.max():.4f})")


def int_vector(builder, start, values):
    start(builder, len(values))
    for v in reversed(values):
        builder.PrependInt32(v)
    return builder.EndVector()


def tensor(builder, name, shape):
    name = builder.CreateString(name)
    shape = int_vector(builder, tflite.TensorStartShapeVector, shape)
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    tflite.TensorAddType(builder, tflite.TensorType.FLOAT32)
    tflite.TensorAddBuffer(builder, 0)
    tflite.TensorAddName(builder, name)
    return tflite.TensorEnd(builder)


def table_vector(builder, start, offsets):
    start(builder, len(offsets))
    for off in reversed(offsets):
        builder.PrependUOffsetTRelative(off)
    return builder.EndVector()


def unsupported_op_model():
    """input [1,2,2,3] -> TANH -> output: valid TFLite, but TANH is not in the importer."""
    b = flatbuffers.Builder(1024)
    tensors = [tensor(b, "input", [1, 2, 2, 3]), tensor(b, "output", [1, 2, 2, 3])]
    op_inputs = int_vector(b, tflite.OperatorStartInputsVector, [0])
    op_outputs = int_vector(b, tflite.OperatorStartOutputsVector, [1])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_inputs)
    tflite.OperatorAddOutputs(b, op_outputs)
    operator = tflite.OperatorEnd(b)

    tensor_vec = table_vector(b, tflite.SubGraphStartTensorsVector, tensors)
    sg_inputs = int_vector(b, tflite.SubGraphStartInputsVector, [0])
    sg_outputs = int_vector(b, tflite.SubGraphStartOutputsVector, [1])
    op_vec = table_vector(b, tflite.SubGraphStartOperatorsVector, [operator])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddInputs(b, sg_inputs)
    tflite.SubGraphAddOutputs(b, sg_outputs)
    tflite.SubGraphAddOperators(b, op_vec)
    subgraph = tflite.SubGraphEnd(b)

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, tflite.BuiltinOperator.TANH)
    tflite.OperatorCodeAddBuiltinCode(b, tflite.BuiltinOperator.TANH)
    tflite.OperatorCodeAddVersion(b, 1)
    code = tflite.OperatorCodeEnd(b)

    tflite.BufferStart(b)
    empty_buffer = tflite.BufferEnd(b)

    codes = table_vector(b, tflite.ModelStartOperatorCodesVector, [code])
    subgraphs = table_vector(b, tflite.ModelStartSubgraphsVector, [subgraph])
    buffers = table_vector(b, tflite.ModelStartBuffersVector, [empty_buffer])
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def main():
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared"
    write_references(shared)
    model = unsupported_op_model()
    (OUT / "unsupported_op.tflite").write_bytes(model)
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(1, 2, 2, 3)
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.allclose(out, np.tanh(x), atol=1e-5), "the unsupported-op model does not run"
    print(f"unsupported-op model: {len(model)} bytes, runs in LiteRT")


if __name__ == "__main__":
    main()
