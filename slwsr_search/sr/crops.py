"""Side-by-side crops of one picture as upscaled by several methods, each captioned with its PSNR:
what SR users look at first (a model card's picture).

:func:`detail_box` picks where to crop (the most textured window), :func:`crops_strip` draws the
strip; both are plain numpy/Pillow.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .metrics import rgb_to_y

#: A panel: its caption and the full-size (H, W, 3) uint8 image it crops.
Panel = tuple[str, np.ndarray]


def detail_box(hr: np.ndarray, size: int, stride: int | None = None) -> tuple[int, int]:
    """``(y, x)`` of the ``size`` x ``size`` window of ``hr`` (H, W, 3) with the largest mean
    absolute luma gradient (where upscalers differ most), searched on a grid of ``stride`` px
    (default ``size // 4``); the top-left corner when the image is no larger than the window."""
    h, w = hr.shape[:2]
    if h <= size or w <= size:
        return 0, 0
    y = rgb_to_y(hr.astype(np.float64))
    grad = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1, :]
    step = stride or max(1, size // 4)
    best, where = -1.0, (0, 0)
    for top in range(0, h - size, step):
        for left in range(0, w - size, step):
            v = float(grad[top:top + size - 1, left:left + size - 1].mean())
            if v > best:
                best, where = v, (top, left)
    return where


def crops_strip(panels: Sequence[Panel], box: tuple[int, int], size: int, zoom: int = 2, caption_px: int = 18) -> np.ndarray:
    """One uint8 (zoom*size + caption_px, n*(zoom*size + 4), 3) image: the ``size`` px crop at
    ``box`` of each panel, enlarged ``zoom`` times by pixel repetition (no smoothing that would hide
    the differences), side by side with its caption underneath."""
    from PIL import Image, ImageDraw

    if not panels:
        raise ValueError("panels: nothing to draw")
    y, x = box
    cell, gap = size * zoom, 4
    strip = Image.new("RGB", (len(panels) * (cell + gap) - gap, cell + caption_px), "white")
    draw = ImageDraw.Draw(strip)
    for i, (caption, img) in enumerate(panels):
        crop = np.ascontiguousarray(img[y:y + size, x:x + size])
        if crop.shape[:2] != (size, size):
            raise ValueError(f"panel {caption!r}: a {img.shape[1]}x{img.shape[0]} image has no {size} px crop at {box}")
        big = crop.repeat(zoom, axis=0).repeat(zoom, axis=1)
        strip.paste(Image.fromarray(big), (i * (cell + gap), 0))
        draw.text((i * (cell + gap) + 3, cell + 3), caption, fill="black")
    return np.asarray(strip)
