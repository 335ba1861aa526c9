"""Upscaling an image of any size in tiles, with memory bounded by the tile, and no seams.

Each tile is run with a margin of real neighbouring pixels on every side that has them, and only
its centre is kept. With a margin of at least the network's receptive radius (:func:`receptive_radius`),
every kept output pixel sees exactly the input it would see in a whole-image run, so the tiled result
equals the whole-image one up to float rounding.
"""

from __future__ import annotations

import math
from typing import Callable

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


def upscale_tiled(run: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor, scale: int, tile: int,
                  margin: int, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """``run`` (an LR batch (1, C, h, w) -> its x``scale`` output) over ``lr`` (1, C, H, W) in
    tiles of ``tile`` x ``tile`` LR pixels, each run with up to ``margin`` pixels of context per
    side; returns (1, C, scale*H, scale*W). ``on_tile(done, total)`` after each tile."""
    if lr.dim() != 4 or lr.shape[0] != 1:
        raise ValueError(f"lr: expected one image as (1, C, H, W), got {tuple(lr.shape)}")
    if tile < 1 or margin < 0:
        raise ValueError(f"tile: expected >= 1 and margin >= 0, got tile={tile}, margin={margin}")
    _, c, h, w = lr.shape
    rows, cols = math.ceil(h / tile), math.ceil(w / tile)
    out = None
    for i in range(rows):
        for j in range(cols):
            y0, x0 = i * tile, j * tile
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ty0, tx0 = max(0, y0 - margin), max(0, x0 - margin)
            ty1, tx1 = min(h, y1 + margin), min(w, x1 + margin)
            piece = run(lr[:, :, ty0:ty1, tx0:tx1])
            if out is None:
                out = piece.new_empty((1, piece.shape[1], h * scale, w * scale))
            oy, ox = (y0 - ty0) * scale, (x0 - tx0) * scale
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                piece[:, :, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
            if on_tile is not None:
                on_tile(i * cols + j + 1, rows * cols)
    return out
