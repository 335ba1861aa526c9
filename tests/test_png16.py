"""16-bit colour PNG: every PNG filter type decoded (rows filtered here, straight from the PNG
specification), the writer read back by Pillow (high bytes) and by the reader (all 16 bits)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from slwsr_search.sr.png16 import SIGNATURE, is_png16_colour, read_png16, write_png16


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filtered_png(img: np.ndarray, kinds: list[int]) -> bytes:
    """A PNG of uint16 ``img`` whose row y is filtered with ``kinds[y % len(kinds)]``, byte by byte."""
    h, w, c = img.shape
    bpp = 2 * c
    rows = img.astype(">u2").reshape(h, w * c).view(np.uint8).astype(int)
    raw = bytearray()
    for y in range(h):
        kind = kinds[y % len(kinds)]
        raw.append(kind)
        for x in range(w * bpp):
            a = rows[y, x - bpp] if x >= bpp else 0
            b = rows[y - 1, x] if y else 0
            cc = rows[y - 1, x - bpp] if (y and x >= bpp) else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][kind]
            raw.append((rows[y, x] - pred) % 256)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    # two IDAT chunks: the stream may be split anywhere
    z = zlib.compress(bytes(raw))
    return SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", z[:7]) + chunk(b"IDAT", z[7:]) + chunk(b"IEND", b"")


@pytest.mark.parametrize("channels", [3, 4])
def test_every_filter_type_decodes(tmp_path, channels):
    rng = np.random.default_rng(channels)
    img = rng.integers(0, 65536, (10, 7, channels), dtype=np.uint16)
    img[3] = img[2] + 1  # rows that filter well and rows that do not
    path = tmp_path / "f.png"
    path.write_bytes(_filtered_png(img, [0, 1, 2, 3, 4]))
    assert is_png16_colour(path)
    assert np.array_equal(read_png16(path), img)


@pytest.mark.parametrize("channels", [3, 4])
def test_writer_round_trip_and_pillow_reads_the_high_bytes(tmp_path, channels):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 65536, (13, 9, channels), dtype=np.uint16)
    path = tmp_path / "w.png"
    write_png16(path, img)
    assert np.array_equal(read_png16(path), img)
    with Image.open(path) as im:
        assert im.mode == ("RGB" if channels == 3 else "RGBA")
        assert np.array_equal(np.asarray(im), (img >> 8).astype(np.uint8))


def test_other_pngs_are_not_taken(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "8bit.png")
    Image.fromarray(np.zeros((4, 4), dtype=np.uint16)).save(tmp_path / "grey16.png")
    (tmp_path / "x.png").write_bytes(b"nothing")
    assert not any(is_png16_colour(tmp_path / n) for n in ("8bit.png", "grey16.png", "x.png"))
    with pytest.raises(ValueError, match="8bit.png: not a non-interlaced 16-bit"):
        read_png16(tmp_path / "8bit.png")
