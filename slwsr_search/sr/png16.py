"""16-bit colour PNG, read and written with numpy and zlib: Pillow has no 16-bit colour mode (it
reads such a file as 8-bit RGB and writes none), and a photographer's 16-bit PNG should come back
as 16 bits.

Only what Pillow lacks: non-interlaced PNGs of 16-bit RGB or RGBA (colour types 2 and 6). The PNG
format (ISO/IEC 15948): an 8-byte signature, then chunks (length, type, data, CRC); IHDR gives the
size, bit depth and colour type; the IDAT chunks hold one zlib stream of rows, each a filter-type
byte and the row filtered against the pixel to its left and the row above.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Colour types this module reads and writes, with their channel counts.
CHANNELS = {2: 3, 6: 4}


def _chunks(data: bytes):
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def is_png16_colour(path: str | Path) -> bool:
    """Whether ``path`` is a non-interlaced 16-bit RGB or RGBA PNG (read from its header only)."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return False
    _, _, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return depth == 16 and colour in CHANNELS and interlace == 0


def read_png16(path: str | Path) -> np.ndarray:
    """A 16-bit RGB(A) PNG as uint16 (H, W, 3 or 4). ``ValueError`` naming the file otherwise."""
    p = Path(path)
    data = p.read_bytes()
    if not is_png16_colour(p):
        raise ValueError(f"{p}: not a non-interlaced 16-bit RGB or RGBA PNG")
    w, h, _, colour, _, _, _ = struct.unpack(">IIBBBBB", data[16:29])
    try:
        raw = zlib.decompress(b"".join(body for kind, body in _chunks(data) if kind == b"IDAT"))
    except zlib.error as e:
        raise ValueError(f"{p}: corrupt PNG data ({e})") from None
    bpp = 2 * CHANNELS[colour]  # bytes per pixel
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        raise ValueError(f"{p}: PNG data holds {len(raw)} bytes, expected {h * (stride + 1)} for {w}x{h}")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(h):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum along each byte lane, modulo 256
            cur = np.cumsum(line.reshape(w, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            cur = line + prev
        elif kind in (3, 4):  # Average, Paeth: each pixel needs the one just decoded
            cur = np.empty(stride, dtype=np.uint8)
            left = np.zeros(bpp, dtype=np.int16)
            upleft = np.zeros(bpp, dtype=np.int16)
            f, up = line.astype(np.int16), prev.astype(np.int16)
            for x in range(0, stride, bpp):
                u = up[x:x + bpp]
                if kind == 3:
                    pred = (left + u) // 2
                else:
                    pa, pb, pc = np.abs(u - upleft), np.abs(left - upleft), np.abs(left + u - 2 * upleft)
                    pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, u, upleft))
                left = (f[x:x + bpp] + pred) % 256
                cur[x:x + bpp] = left
                upleft = u
        else:
            raise ValueError(f"{p}: row {y} has an unknown PNG filter type {kind}")
        out[y] = cur
        prev = cur
    return out.view(">u2").reshape(h, w, CHANNELS[colour]).astype(np.uint16)


def write_png16(path: str | Path, image: np.ndarray, level: int = 6) -> None:
    """Write uint16 (H, W, 3 or 4) as a 16-bit RGB or RGBA PNG (rows filtered 'Up')."""
    h, w, c = image.shape
    colour = {3: 2, 4: 6}[c]
    big = image.astype(">u2").reshape(h, w * c).view(np.uint8)
    up = big.copy()
    up[1:] -= big[:-1]  # 'Up' filter: each row minus the row above, modulo 256
    raw = np.concatenate([np.full((h, 1), 2, dtype=np.uint8), up], axis=1)
    raw[0, 0] = 0  # the first row has no row above: 'None'

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0)
    Path(path).write_bytes(SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
                           + chunk(b"IEND", b""))
