"""MATLAB-compatible bicubic ``imresize``, as the SR literature makes its LR images.

Reproduces MATLAB's ``imresize(img, scale, 'bicubic')`` (its default method, with
antialiasing when shrinking): Keys' cubic kernel (a = -0.5) widened by ``1/scale`` when
shrinking, weights normalised per output pixel, out-of-range taps clamped to the edge pixel, the
dimension that shrinks most resized first (rows first when equal), and for uint8 input a
round-half-up to uint8 after **each** dimension, as MATLAB keeps the input's class between
passes. ``python -m slwsr_search.bench bicubic`` compares it with MATLAB-made LR images
(``docs/cost-and-evaluation.md``).
"""

from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' bicubic kernel with a = -0.5 (MATLAB's ``cubic``); support [-2, 2]."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def contributions(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(out_len, taps)`` and 0-based source indices ``(out_len, taps)`` for one dimension."""
    width = 4.0
    if scale < 1 and antialias:
        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)
        width /= scale
    else:
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)  # MATLAB's 1-based output coordinates
    u = x / scale + 0.5 * (1 - 1 / scale)  # matching input coordinate (1-based)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = kernel(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    idx = np.clip(idx - 1, 0, in_len - 1).astype(np.intp)  # clamp: replicate the edge pixels
    used = np.any(w != 0, axis=0)
    return w[:, used], idx[:, used]


def _resize_dim(a: np.ndarray, axis: int, scale: float, out_len: int, antialias: bool) -> np.ndarray:
    w, idx = contributions(a.shape[axis], out_len, scale, antialias)
    moved = np.moveaxis(a, axis, 0).astype(np.float64, copy=False)
    out = np.einsum("ok,ok...->o...", w, moved[idx])
    return np.moveaxis(out, 0, axis)


def to_uint8(a: np.ndarray) -> np.ndarray:
    """MATLAB's ``uint8()`` on 0..255 values: round half up (half away from zero for the
    non-negative values here), saturate to 0..255. The one 8-bit rounding of the package."""
    return np.clip(np.floor(np.asarray(a, dtype=np.float64) + 0.5), 0, 255).astype(np.uint8)


def imresize(img: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize ``img`` (H, W) or (H, W, C) by ``scale`` (e.g. 1/4 or 4) like MATLAB's bicubic imresize.

    Output size is ``ceil(H * scale), ceil(W * scale)``. uint8 in, uint8 out (rounded after each
    dimension, as MATLAB does); float in, float64 out, unrounded and unclipped.
    """
    if img.ndim not in (2, 3) or min(img.shape[:2]) < 1:
        raise ValueError(f"img: expected an (H, W) or (H, W, C) image, got shape {img.shape}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a positive number, got {scale!r}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"img: expected uint8 or float pixels, got {img.dtype}")
    out_shape = [int(math.ceil(n * scale - 1e-9)) for n in img.shape[:2]]
    out = img
    for axis in (0, 1):  # equal scales on both axes: MATLAB resizes rows (axis 0) first
        out = _resize_dim(out, axis, scale, out_shape[axis], antialias)
        if is_uint8:
            out = to_uint8(out)
    return out
