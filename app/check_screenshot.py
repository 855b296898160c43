#!/usr/bin/env python3
"""Checks a screenshot of the app is not blank and shows a photo, with the standard library
only (no PIL): decodes the PNG, counts distinct colours in the whole window and in the
middle of the picture area (a photo has thousands there, flat UI chrome a handful).

usage: check_screenshot.py SCREENSHOT.png RESULTS_PANEL_WIDTH
"""
import struct
import sys
import zlib

MIN_WINDOW_COLOURS = 200
MIN_PHOTO_COLOURS = 1000
PHOTO_PROBE_SIDE = 120


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path):
    """Returns (width, height, rows) for 8-bit RGB or RGBA PNGs; rows are lists of pixel tuples."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace:
        sys.exit(f"{path}: only 8-bit non-interlaced RGB/RGBA is supported")
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            predictor = (0, left, up, (left + up) // 2, paeth(left, up, upleft))[kind]
            line[i] = (line[i] + predictor) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def main():
    path, results_width = sys.argv[1], int(sys.argv[2])
    width, height, rows = read_png(path)
    window = {pixel for row in rows for pixel in row}
    # The picture fills the area left of the results panel; probe its middle.
    cx, cy, half = (width - results_width) // 2, height // 2, PHOTO_PROBE_SIDE // 2
    photo = {pixel for row in rows[cy - half:cy + half] for pixel in row[cx - half:cx + half]}
    print(f"{path}: {width}x{height}, {len(window)} colours, {len(photo)} in the picture probe")
    if len(window) < MIN_WINDOW_COLOURS:
        sys.exit(f"FAIL: the window looks blank ({len(window)} colours)")
    if len(photo) < MIN_PHOTO_COLOURS:
        sys.exit(f"FAIL: no photo in the picture area ({len(photo)} colours)")
    print("screenshot OK")


if __name__ == "__main__":
    main()
