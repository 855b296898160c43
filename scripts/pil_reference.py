#!/usr/bin/env python3
"""Writes PIL's "center-crop-bilinear" preprocessing of the sample images as .npy files.

These arrays are the reference that tests/preprocess.rs compares `preprocess::center_crop_resize`
(and `short_side_resize_crop`, torchvision's transform, below) against. The steps are the ones used to produce the expected TFLite predictions:
`Image.open().convert('RGB')`, a centred square crop of side min(w, h) with
left = (w - side) // 2, top = (h - side) // 2, then `resize((W, H), Image.BILINEAR)`.

It also writes jpeg_decoded.tsv there: for every JPEG in ../shared/images and in
fuzz/corpus/image/, PIL's decoded RGB pixels (`Image.open().convert('RGB')`) as width,
height and the SHA-256 of the bytes, which tests/preprocess.rs compares with ours.

Usage (needs Pillow and numpy; the committed files were made with Pillow 13.0.0, whose
JPEG decoder is libjpeg-turbo):
    python3 scripts/pil_reference.py [samples_dir] [out_dir] [shared_dir]
Defaults: samples/, tests/data/pil_reference/ and ../shared relative to the repository root.
"""

import hashlib

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


# torchvision's evaluation transform (short side to round(8/7 · crop), then a centre crop):
# the sizes, and a synthetic 3×1500 image whose resized form is 256 × 128,000 pixels.
TORCHVISION_SIZES = [(224, 224), (192, 128)]
THIN = (3, 1500)


def torchvision_resize_crop(img: Image.Image, width: int, height: int) -> np.ndarray:
    """`Resize(s)` with PIL's BILINEAR (the long side `int(s · long / short)`), then
    `CenterCrop` with offsets rounded half to even (Python's round)."""
    w, h = img.size
    s = round(max(width, height) * 8 / 7)
    short, long = min(w, h), max(w, h)
    new = (s, s * long // short) if w <= h else (s * long // short, s)
    img = img.resize(new, Image.BILINEAR)
    left, top = round((new[0] - width) / 2), round((new[1] - height) / 2)
    return np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.uint8)


def thin_image() -> Image.Image:
    """Pixel (x, y) channel c = (7x + 13y + 29c) mod 256; tests/preprocess.rs builds it too."""
    x, y, c = np.meshgrid(np.arange(THIN[0]), np.arange(THIN[1]), np.arange(3), indexing="xy")
    return Image.fromarray(((7 * x + 13 * y + 29 * c) % 256).astype(np.uint8), "RGB")


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
    for name in IMAGES:
        img = Image.open(samples / name).convert("RGB")
        for width, height in TORCHVISION_SIZES:
            target = out / f"{Path(name).stem}_torchvision_{width}x{height}.npy"
            np.save(target, torchvision_resize_crop(img, width, height))
            print(f"{target}")
    target = out / "thin_torchvision_64x64.npy"
    np.save(target, torchvision_resize_crop(thin_image(), 64, 64))
    print(f"{target}")
    shared = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT.parent / "shared"
    jpegs = sorted((shared / "images").glob("*.jpg")) + sorted(
        (ROOT / "fuzz/corpus/image").glob("*.jpg"))
    with open(out / "jpeg_decoded.tsv", "w") as table:
        table.write("file\twidth\theight\tsha256\n")
        for path in jpegs:
            img = Image.open(path).convert("RGB")
            digest = hashlib.sha256(img.tobytes()).hexdigest()
            table.write(f"{path.name}\t{img.width}\t{img.height}\t{digest}\n")
    print(f"{out / 'jpeg_decoded.tsv'}: {len(jpegs)} JPEGs")


if __name__ == "__main__":
    main()
