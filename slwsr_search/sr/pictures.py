"""Users' pictures in and out: any Pillow-readable image (and 16-bit colour PNG, which Pillow
reads as 8 bits: :mod:`.png16`) as RGB on 0..1, its alpha and bit depth kept, and the upscaled
picture written back as PNG in the same kind (grey stays grey, 16-bit stays 16-bit, RGBA keeps
its alpha).

The network sees RGB; a grey picture is run as three equal channels and their mean is kept; an
alpha channel is upscaled with bicubic interpolation (it holds no texture the network learned).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

#: Pillow modes of 16-bit grey pictures (PNG and TIFF).
GREY16 = ("I;16", "I;16B", "I;16L", "I")


@dataclass
class Picture:
    """One picture: ``rgb`` float32 (H, W, 3) on 0..1; ``alpha`` float32 (H, W) on 0..1 or None;
    ``grey`` whether it had one channel; ``bits`` 8 or 16 (per channel)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    grey: bool
    bits: int

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def read_picture(path: str | Path) -> Picture:
    """Read ``path`` with Pillow (first frame of a multi-frame file; EXIF rotation applied).
    ``ValueError`` naming the file when it is not an image Pillow can read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .png16 import is_png16_colour, read_png16

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    if is_png16_colour(p):  # Pillow would read it as 8 bits
        a = read_png16(p).astype(np.float32) / 65535.0
        return Picture(np.ascontiguousarray(a[:, :, :3]), a[:, :, 3].copy() if a.shape[2] == 4 else None, False, 16)
    try:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except UnidentifiedImageError:
        raise ValueError(f"{p}: not an image this tool can read (Pillow does not recognise the format)") from None
    except (OSError, SyntaxError) as e:  # truncated or corrupt files, unreadable paths
        raise ValueError(f"{p}: cannot read the image ({e})") from None
    mode = im.mode
    if mode in GREY16 or mode == "F":
        a = np.asarray(im, dtype=np.float32)
        scale = 1.0 if mode == "F" else 65535.0
        g = np.clip(a / scale, 0.0, 1.0)
        return Picture(np.repeat(g[:, :, None], 3, axis=2), None, True, 32 if mode == "F" else 16)
    if mode in ("1", "L", "LA", "P", "PA"):
        if mode in ("P", "PA"):
            im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
            mode = im.mode
        else:
            im = im.convert("LA" if mode == "LA" else "L")
            mode = im.mode
    if mode == "L":
        g = np.asarray(im, dtype=np.float32) / 255.0
        return Picture(np.repeat(g[:, :, None], 3, axis=2), None, True, 8)
    if mode == "LA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        return Picture(np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1].copy(), True, 8)
    if mode in ("RGBA", "RGBa"):
        a = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return Picture(np.ascontiguousarray(a[:, :, :3]), a[:, :, 3].copy(), False, 8)
    a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0  # RGB, CMYK, YCbCr, LAB, HSV
    return Picture(a, None, False, 8)


def upscale_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """An alpha channel (H, W) on 0..1 upscaled x``scale`` with bicubic interpolation, on 0..1."""
    from PIL import Image

    h, w = alpha.shape
    im = Image.fromarray(alpha.astype(np.float32), mode="F")
    return np.clip(np.asarray(im.resize((w * scale, h * scale), Image.Resampling.BICUBIC)), 0.0, 1.0)


def output_array(pic: Picture, scale: int) -> np.ndarray:
    """The array an upscaled ``pic`` is quantized into, tile by tile: (sH, sW, 3) of uint8, or
    uint16 for a 16-bit (or float) picture. Kept as integers so a large picture's output costs 3
    (or 6) bytes per pixel, not 12."""
    h, w = pic.size
    return np.zeros((h * scale, w * scale, 3), dtype=np.uint8 if pic.bits == 8 else np.uint16)


def quantizer(out: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Values on 0..1 -> ``out``'s integer type (rounded to nearest)."""
    top = float(np.iinfo(out.dtype).max)
    return lambda v: np.rint(np.clip(v, 0.0, 1.0) * top).astype(out.dtype)


def write_picture(path: str | Path, pic: Picture, sr: np.ndarray, scale: int) -> None:
    """Write the upscaled ``sr`` (from :func:`output_array`) as a PNG in ``pic``'s kind: grey as
    grey (the mean of the three channels), 16-bit grey as 16-bit, with the alpha upscaled by
    bicubic interpolation; 16-bit colour as a 16-bit RGB(A) PNG (:mod:`.png16`). Written to a temporary file beside ``path`` and renamed into place."""
    from PIL import Image

    from ..config import write_atomic

    if pic.grey:
        g = sr.mean(axis=2, dtype=np.float32)
        if pic.alpha is not None:  # Pillow has no 16-bit grey + alpha: 8-bit LA
            grey8 = g if sr.dtype == np.uint8 else g / 257.0
            a = np.rint(upscale_alpha(pic.alpha, scale) * 255).astype(np.uint8)
            img = Image.merge("LA", (Image.fromarray(np.rint(grey8).astype(np.uint8), mode="L"), Image.fromarray(a, mode="L")))
        else:
            img = Image.fromarray(np.rint(g).astype(sr.dtype))  # uint8 -> L, uint16 -> I;16
    elif sr.dtype == np.uint16:  # 16-bit colour: Pillow writes none
        from .png16 import write_png16

        out = sr if pic.alpha is None else np.dstack([sr, np.rint(upscale_alpha(pic.alpha, scale) * 65535).astype(np.uint16)])
        write_atomic(Path(path), lambda tmp: write_png16(tmp, out, level=3))
        return
    else:
        img = Image.fromarray(sr, mode="RGB")
        if pic.alpha is not None:
            a = np.rint(upscale_alpha(pic.alpha, scale) * 255).astype(np.uint8)
            img.putalpha(Image.fromarray(a, mode="L"))
    write_atomic(Path(path), lambda tmp: img.save(tmp, format="PNG", compress_level=3))
