#!/usr/bin/env python3
"""Mutated real model files against the release binary (RELIABILITY.md, "Mutated model files").

For every model in MODELS_DIR (default ../shared/models) it writes N mutants to a temporary
folder: a few bytes flipped, a 32-bit word overwritten with an extreme value (0, -1, 2^31-1,
2^31, 2^16), or the file truncated; each mutated position is drawn from the first 64 KiB,
the last 64 KiB (where the flatbuffer tables and protobuf headers are) or the whole file,
with equal odds. Each mutant goes through `info` and, for the first CLASSIFY of them,
`classify` on a photo. A run passes when every command exits 0 or 1 within the time limit,
and a failure prints exactly one line starting with `error:` (besides `classify`'s closing
summary) and no panic.

With KIND=images it mutates the photos of ../shared/images and the corpus images of
fuzz/corpus/image instead, and runs each through `classify` (a small V3-Small with random
weights), with the same pass rule.

With KIND=int8 it mutates the quantized TFLite models and runs each through `verify
--precision int8` with both kernel families: a mutant that imports must match the integer
CPU reference to the bit (a `FAIL` verdict is a failure); one that does not gets one error.

Usage: python3 scripts/mutate_models.py [N] [CLASSIFY]   (default 30 and 10)
Environment: BINARY (default target/release/mobilenet-wgpu), MODELS_DIR, PHOTO, KIND (models,
images or int8).
"""

import os
import random
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINARY = os.environ.get("BINARY", str(REPO / "target/release/mobilenet-wgpu"))
MODELS = Path(os.environ.get("MODELS_DIR", REPO.parent / "shared/models"))
PHOTO = os.environ.get("PHOTO", str(REPO / "samples/chelsea.png"))
EXTREMES = [0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000]
TIMEOUT = 120
SUMMARY = re.compile(r"^\d+ of \d+ images classified in ")


def position(rng, size):
    window = min(size, 65536)
    return rng.choice([rng.randrange(window), size - 1 - rng.randrange(window),
                       rng.randrange(size)])


def mutate(rng, data):
    data = bytearray(data)
    kind = rng.choice(["flip", "word", "truncate"])
    if kind == "truncate":
        return bytes(data[:rng.randrange(len(data))]), kind
    for _ in range(rng.randint(1, 8)):
        at = position(rng, len(data) - 4)
        if kind == "flip":
            data[at] ^= 1 << rng.randrange(8)
        else:
            data[at:at + 4] = struct.pack("<I", rng.choice(EXTREMES))
    return bytes(data), kind


def check(args):
    """(what went wrong or None, exit code)."""
    try:
        done = subprocess.run([BINARY, *args], capture_output=True, text=True,
                              timeout=TIMEOUT, env={**os.environ, "NODEVICE_SELECT": "1"})
    except subprocess.TimeoutExpired:
        return f"timed out after {TIMEOUT} s", None
    stderr = [line for line in done.stderr.splitlines() if "XDG_RUNTIME_DIR" not in line]
    if "FAIL:" in done.stdout:
        return "the GPU differs from the CPU reference: " + done.stdout[-400:], done.returncode
    if "panicked" in done.stderr:
        return "panicked: " + done.stderr[-400:], done.returncode
    if done.returncode not in (0, 1):
        return f"exit {done.returncode}: {done.stderr[-400:]}", done.returncode
    # `classify` adds its summary ("0 of 1 images classified ...") after the error.
    other = [line for line in stderr if not SUMMARY.match(line)]
    if done.returncode == 1 and (len(other) != 1 or not other[0].startswith("error:")):
        return f"not one error line: {stderr}", done.returncode
    return None, done.returncode


def mutants(rng, files, count, folder):
    """`count` mutants of each of `files`, written to `folder` one at a time."""
    for original in files:
        data = original.read_bytes()
        for i in range(count):
            mutated, kind = mutate(rng, data)
            mutant = Path(folder) / f"{original.stem}.{i}{original.suffix}"
            mutant.write_bytes(mutated)
            yield original, i, kind, mutant
            if mutant.exists():
                mutant.unlink()
        print(f"{original.name}: {count} mutants", flush=True)


def commands_for(mutant, i, classify, kind):
    """`info` and (for the first `classify`) `classify` for a model; `classify` on a
    small random-weight model for an image; `verify` in int8 with both kernel families."""
    if kind == "images":
        return [["classify", "--arch", "v3-small", "--resolution", "96", str(mutant)]]
    if kind == "int8":
        return [["verify", "--model", str(mutant), "--precision", "int8", "--kernels", family]
                for family in ("cpu-adapter", "gpu")]
    commands = [["info", "--model", str(mutant)]]
    if i < classify:
        commands.append(["classify", "--model", str(mutant), PHOTO])
    return commands


def main():
    kind = os.environ.get("KIND", "models")
    images = kind == "images"
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    classify = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rng = random.Random(20261205)
    if images:
        files = sorted((MODELS.parent / "images").iterdir()) + sorted(
            (REPO / "fuzz/corpus/image").iterdir())
    elif kind == "int8":
        tflite = sorted(MODELS.glob("*.tflite"))
        files = [f for f in tflite if "quant" in f.name or "int8" in f.name]
    else:
        files = sorted(MODELS.glob("*.tflite")) + sorted(MODELS.glob("*.onnx"))
    runs, refused, failures = 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for original, i, how, mutant in mutants(rng, files, count, tmp):
            for args in commands_for(mutant, i, classify, kind):
                runs += 1
                problem, code = check(args)
                if problem:
                    failures.append(f"{original.name} mutant {i} ({how}) {args[0]}: {problem}")
                    mutant.rename(REPO / f"failing-{mutant.name}")
                    break
                refused += args == commands_for(mutant, i, classify, kind)[0] and code == 1
    what = {"images": "images refused by `classify`",
            "int8": "mutants refused by `verify --precision int8`"}.get(kind, "mutants refused by `info`")
    print(f"{runs} runs, {refused} {what} with an error, {len(failures)} failures")
    for failure in failures:
        print(failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
