"""Upscaling an image of any size in tiles, with memory bounded by the tile, and no seams.

Each tile is run with a margin of real neighbouring pixels on every side that has them, and only
its centre is kept. With a margin of at least the network's receptive radius (:func:`receptive_radius`),
every kept output pixel sees exactly the input it would see in a whole-image run, so the tiled result
equals the whole-image one up to float rounding.

A runtime whose model has one fixed input size (a ``.tflite``) runs in windows of exactly that size
(:func:`window_boxes`): windows slide so that each lies wholly inside the picture and overlap as much
as their margins need; a picture smaller than the window in a dimension is run whole (the runner
pads it, :func:`..deploy.runners.padded_runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn


def receptive_radius(model: nn.Module, scale: int, limit: int = 512) -> int:
    """How many LR pixels away an input pixel can still change an output pixel: measured by
    back-propagating the centre output pixel of a random image to the input and taking the extent
    of the non-zero gradient (one forward and backward pass per size tried; sizes double up to
    ``limit``). ``ValueError`` past ``limit``."""
    size = 33
    was_training = model.training
    model.eval()
    try:
        while size <= limit:
            p = next(model.parameters())
            # random, not zeros: a ReLU passes no gradient at exactly 0
            gen = torch.Generator().manual_seed(size)
            x = (torch.rand(1, 3, size, size, generator=gen) * 255).to(p.device, p.dtype).requires_grad_(True)
            y = model(x)
            c = size // 2
            y[0, :, c * scale, c * scale].sum().backward()
            hit = (x.grad[0].abs().sum(0) > 0).nonzero()
            if len(hit) == 0:
                return 0
            r = int((hit - c).abs().max())
            if r < c:  # the support fits inside: it is the whole of it
                return r
            size = size * 2 + 1
    finally:
        model.train(was_training)
    raise ValueError(f"receptive radius beyond {limit // 2} LR pixels: give an explicit margin")


@dataclass(frozen=True)
class Box:
    """One tile: the LR rows/columns ``[y0, y1) x [x0, x1)`` it produces, and the larger window
    ``[ty0, ty1) x [tx0, tx1)`` (with up to ``margin`` pixels of context per side) it is run on."""

    y0: int
    y1: int
    x0: int
    x1: int
    ty0: int
    ty1: int
    tx0: int
    tx1: int


def tile_boxes(h: int, w: int, tile: int, margin: int) -> list[Box]:
    """The tiles of an ``h`` x ``w`` LR image, row by row, ``tile`` x ``tile`` pixels each (smaller
    at the right and bottom edges), each with up to ``margin`` pixels of context."""
    if tile < 1 or margin < 0:
        raise ValueError(f"tile: expected >= 1 and margin >= 0, got tile={tile}, margin={margin}")
    boxes = []
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            boxes.append(Box(y0, y1, x0, x1, max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)))
    return boxes


def _window_spans(n: int, size: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one dimension of ``n`` pixels: ``(keep0, keep1, win0, win1)`` per window of ``size``
    pixels (the whole dimension when ``n <= size``), the kept spans consecutive and each at least
    ``margin`` pixels from its window's inner edges."""
    if n <= size:
        return [(0, n, 0, n)]
    step = size - 2 * margin
    if step < 1:
        raise ValueError(f"a window of {size} px (the model's fixed size) is too small for a margin of {margin} px per "
                         f"side on a picture of {n} px: it needs at least {2 * margin + 1} (convert the model larger)")
    starts = list(range(0, n - size, step)) + [n - size]
    spans, keep0 = [], 0
    for a in starts:
        keep1 = n if a + size == n else a + size - margin
        spans.append((keep0, keep1, a, a + size))
        keep0 = keep1
    return spans


def window_boxes(h: int, w: int, window: tuple[int, int], margin: int) -> list[Box]:
    """The tiles of an ``h`` x ``w`` LR image for a runner of one fixed input size ``window`` =
    (rows, columns): every window exactly that size where the picture is at least as large (they
    slide back from the right and bottom edges instead of shrinking), each kept centre at least
    ``margin`` pixels from its window's inner edges, so the result equals a whole-image run."""
    if min(window) < 1 or margin < 0:
        raise ValueError(f"window: expected >= 1 px and margin >= 0, got window={window}, margin={margin}")
    return [Box(y0, y1, x0, x1, ty0, ty1, tx0, tx1)
            for y0, y1, ty0, ty1 in _window_spans(h, window[0], margin)
            for x0, x1, tx0, tx1 in _window_spans(w, window[1], margin)]


def check_window(window: tuple[int, int], margin: int, where: str) -> None:
    """``ValueError`` naming ``where`` (an option) when a fixed input size ``window`` (rows,
    columns) is too small to run larger pictures in windows with ``margin`` pixels of context."""
    if min(window) < 2 * margin + 1:
        raise ValueError(f"{where} {window[1]}x{window[0]}: at least {2 * margin + 1} LR pixels each way for this network "
                         f"(twice its receptive radius of {margin} px, plus one), or larger pictures could not be run in windows of it")


def plan_boxes(h: int, w: int, tile: int, margin: int, window: tuple[int, int] | None = None) -> list[Box]:
    """:func:`window_boxes` for a runner of one fixed size ``window``, else :func:`tile_boxes`."""
    return window_boxes(h, w, window, margin) if window is not None else tile_boxes(h, w, tile, margin)


def upscale_tiled(run: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor, scale: int, tile: int,
                  margin: int, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``run`` (an LR batch (1, C, h, w) -> its x``scale`` output) over ``lr`` (1, C, H, W) in
    tiles of ``tile`` x ``tile`` LR pixels, each run with up to ``margin`` pixels of context per
    side; returns (1, C, scale*H, scale*W). ``on_tile(done, total)`` after each tile."""
    if lr.dim() != 4 or lr.shape[0] != 1:
        raise ValueError(f"lr: expected one image as (1, C, H, W), got {tuple(lr.shape)}")
    _, c, h, w = lr.shape
    boxes = tile_boxes(h, w, tile, margin)
    out = None
    for k, b in enumerate(boxes):
        piece = run(lr[:, :, b.ty0:b.ty1, b.tx0:b.tx1])
        if out is None:
            out = piece.new_empty((1, piece.shape[1], h * scale, w * scale))
        oy, ox = (b.y0 - b.ty0) * scale, (b.x0 - b.tx0) * scale
        out[:, :, b.y0 * scale:b.y1 * scale, b.x0 * scale:b.x1 * scale] = \
            piece[:, :, oy:oy + (b.y1 - b.y0) * scale, ox:ox + (b.x1 - b.x0) * scale]
        if on_tile is not None:
            on_tile(k + 1, len(boxes))
    return out


def upscale_into(run: Callable[[np.ndarray], np.ndarray], lr: np.ndarray, scale: int, tile: int, margin: int,
                 out: np.ndarray, convert: Callable[[np.ndarray], np.ndarray],
                 on_tile: Callable[[int, int], None] | None = None, window: tuple[int, int] | None = None) -> np.ndarray:
    """As :func:`upscale_tiled` on a numpy picture ``lr`` (H, W, C) float32, writing each tile's
    kept centre through ``convert`` (say, quantize to 8 bits) into ``out`` (sH, sW, C): memory is the
    output array plus one tile's work. ``run`` maps (1, C, h, w) float32 to (1, C, sh, sw).
    ``window``: ``run`` takes one fixed size (rows, columns), so tiles are :func:`window_boxes`
    (``tile`` is then unused)."""
    h, w, _ = lr.shape
    if out.shape[:2] != (h * scale, w * scale):
        raise ValueError(f"out: expected {h * scale}x{w * scale} for x{scale} of {h}x{w}, got {out.shape[0]}x{out.shape[1]}")
    boxes = plan_boxes(h, w, tile, margin, window)
    for k, b in enumerate(boxes):
        x = np.ascontiguousarray(lr[b.ty0:b.ty1, b.tx0:b.tx1].transpose(2, 0, 1)[None], dtype=np.float32)
        piece = run(x)[0]
        oy, ox = (b.y0 - b.ty0) * scale, (b.x0 - b.tx0) * scale
        keep = piece[:, oy:oy + (b.y1 - b.y0) * scale, ox:ox + (b.x1 - b.x0) * scale]
        out[b.y0 * scale:b.y1 * scale, b.x0 * scale:b.x1 * scale] = convert(keep.transpose(1, 2, 0))
        if on_tile is not None:
            on_tile(k + 1, len(boxes))
    return out
