"""PSNR and SSIM as the SR literature computes them. Pure functions on numpy arrays.

Conventions (those of the MATLAB evaluation scripts behind the published tables, e.g. the
s-LWSR/RCAN ``Evaluate_PSNR_SSIM.m``):

* Inputs: (H, W, 3) **RGB** or (H, W) grey images on **0..255**, uint8 or float. Float images
  (an SR output) are first **rounded to 8 bits** (round half up, clipped to 0..255), as saving
  the SR image as PNG does. A grey (H, W) image is treated as R = G = B.
* Scored on the **Y channel** of YCbCr (ITU-R BT.601, studio range, unrounded):
  ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``.
* ``crop`` pixels are removed at each border before scoring (the literature uses ``scale``).
* PSNR: ``10 log10(255^2 / MSE)``; identical images give ``inf``.
* SSIM: Wang et al. 2004, 11x11 Gaussian window with sigma 1.5 (normalised), K1 = 0.01,
  K2 = 0.03, L = 255, statistics over 'valid' window positions only (MATLAB's
  ``filter2(..., 'valid')``), mean of the SSIM map; identical images give 1.

scikit-image's ``structural_similarity(y_a, y_b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` on the same Y images gives the same value (to float
rounding; tested): those are the settings that match MATLAB. Its defaults (a 7x7 uniform window,
sample covariance) do not. How close the bicubic baseline comes to the published anchors:
``python -m slwsr_search.bench bicubic`` and ``docs/cost-and-evaluation.md``.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import is_int
from .resize import to_uint8

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def quantize(img: np.ndarray) -> np.ndarray:
    """Round to 8 bits: float on 0..255 -> uint8 (round half up, clipped). uint8 passes through."""
    return img if img.dtype == np.uint8 else to_uint8(img)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma on 0..255 as float64, (H, W). RGB (H, W, 3) or grey (H, W) (taken as R = G = B)."""
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 2:
        return 16.0 + a * _Y_WEIGHTS.sum()
    if a.ndim == 3 and a.shape[2] == 3:
        return 16.0 + a @ _Y_WEIGHTS
    raise ValueError(f"image: expected (H, W, 3) RGB or (H, W) grey, got shape {a.shape}")


def _prepare(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"shape mismatch: SR {sr.shape} vs HR {hr.shape}")
    if not is_int(crop) or crop < 0:
        raise ValueError(f"crop: expected an integer >= 0, got {crop!r}")
    h, w = hr.shape[:2]
    if 2 * crop >= min(h, w):
        raise ValueError(f"crop: {crop} pixels at each border leave nothing of a {h}x{w} image")
    y_sr, y_hr = rgb_to_y(quantize(sr)), rgb_to_y(quantize(hr))
    if crop:
        y_sr, y_hr = y_sr[crop:-crop, crop:-crop], y_hr[crop:-crop, crop:-crop]
    return y_sr, y_hr


def psnr(sr: np.ndarray, hr: np.ndarray, crop: int = 0) -> float:
    """PSNR in dB on the Y channel after cropping ``crop`` pixels per border (see module doc)."""
    a, b = _prepare(sr, hr, crop)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """1-D normalised Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    # Separable correlation over 'valid' positions (the window is symmetric, so = convolution).
    k = len(g)
    h, w = img.shape
    rows = sum(g[i] * img[i:h - k + 1 + i, :] for i in range(k))
    return sum(g[j] * rows[:, j:w - k + 1 + j] for j in range(k))


def ssim(sr: np.ndarray, hr: np.ndarray, crop: int = 0) -> float:
    """SSIM on the Y channel after cropping ``crop`` pixels per border (see module doc)."""
    a, b = _prepare(sr, hr, crop)
    if min(a.shape) < SSIM_WINDOW:
        raise ValueError(f"image: SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after cropping, got {a.shape[1]}x{a.shape[0]}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = gaussian_window()
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a * mu_a
    var_b = _filter_valid(b * b, g) - mu_b * mu_b
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())
