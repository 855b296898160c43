#!/usr/bin/env python3
"""Writes PIL's "center-crop-bilinear" preprocessing of the sample images as .npy files.

These arrays are the reference that tests/preprocess.rs compares `preprocess::center_crop_resize`
against. The steps are the ones used to produce the expected TFLite predictions:
`Image.open().convert('RGB')`, a centred square crop of side min(w, h) with
left = (w - side) // 2, top = (h - side) // 2, then `resize((W, H), Image.BILINEAR)`.

Usage (needs Pillow and numpy; the committed files were made with Pillow 13.0.0):
    python3 scripts/pil_reference.py [samples_dir] [out_dir]
Defaults: samples/ and tests/data/pil_reference/ relative to the repository root.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ["chelsea.png", "coffee.png"]
# (width, height): the two square model sizes plus one non-square size that tells the
# horizontal and vertical passes apart.
SIZES = [(224, 224), (128, 128), (192, 128)]


def center_crop_bilinear(path: Path, width: int, height: int) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    return np.asarray(img.resize((width, height), Image.BILINEAR), dtype=np.uint8)


def main() -> None:
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "samples"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/data/pil_reference"
    out.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        for width, height in SIZES:
            array = center_crop_bilinear(samples / name, width, height)
            target = out / f"{Path(name).stem}_{width}x{height}.npy"
            np.save(target, array)
            print(f"{target}: {array.shape} {array.dtype}")


if __name__ == "__main__":
    main()
