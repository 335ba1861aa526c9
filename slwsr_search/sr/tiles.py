"""Upscaling an image of any size in tiles, with memory bounded by the tile, and no seams.

Each tile is run with a margin of real neighbouring pixels on every side that has them, and only
its centre is kept. With a margin of at least the network's receptive radius (:func:`receptive_radius`),
every kept output pixel sees exactly the input it would see in a whole-image run, so the tiled result
equals the whole-image one up to float rounding.
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
                 on_tile: Callable[[int, int], None] | None = None) -> np.ndarray:
    """As :func:`upscale_tiled` on a numpy picture ``lr`` (H, W, C) float32, writing each tile's
    kept centre through ``convert`` (say, quantize to 8 bits) into ``out`` (sH, sW, C): memory is the
    output array plus one tile's work. ``run`` maps (1, C, h, w) float32 to (1, C, sh, sw)."""
    h, w, _ = lr.shape
    if out.shape[:2] != (h * scale, w * scale):
        raise ValueError(f"out: expected {h * scale}x{w * scale} for x{scale} of {h}x{w}, got {out.shape[0]}x{out.shape[1]}")
    boxes = tile_boxes(h, w, tile, margin)
    for k, b in enumerate(boxes):
        x = np.ascontiguousarray(lr[b.ty0:b.ty1, b.tx0:b.tx1].transpose(2, 0, 1)[None], dtype=np.float32)
        piece = run(x)[0]
        oy, ox = (b.y0 - b.ty0) * scale, (b.x0 - b.tx0) * scale
        keep = piece[:, oy:oy + (b.y1 - b.y0) * scale, ox:ox + (b.x1 - b.x0) * scale]
        out[b.y0 * scale:b.y1 * scale, b.x0 * scale:b.x1 * scale] = convert(keep.transpose(1, 2, 0))
        if on_tile is not None:
            on_tile(k + 1, len(boxes))
    return out
