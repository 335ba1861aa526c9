"""Score an upscaler (bicubic or a trained model) on HR/LR pairs with the literature's convention
(:mod:`.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .data import ImagePair
from .metrics import psnr, quantize, ssim
from .resize import imresize

Upscaler = Callable[[np.ndarray], np.ndarray]  # uint8 (h, w, 3) RGB -> (s*h, s*w, 3) on 0..255


@dataclass
class EvalResult:
    """Per-image and mean PSNR (dB) / SSIM on Y, ``scale`` pixels cropped per border."""

    images: list[dict] = field(default_factory=list)  # {"name", "psnr", "ssim"}

    @property
    def psnr(self) -> float:
        return float(np.mean([r["psnr"] for r in self.images]))

    @property
    def ssim(self) -> float:
        return float(np.mean([r["ssim"] for r in self.images]))


def bicubic_upscaler(scale: int) -> Upscaler:
    """The bicubic baseline: MATLAB-compatible bicubic ``imresize`` of the uint8 LR image."""
    return lambda lr: imresize(lr, scale)


def model_upscaler(model, device: str = "cpu", self_ensemble: bool = False) -> Upscaler:
    """Run ``model`` (input/output 0..255 RGB) on one LR image. ``self_ensemble``: the mean of the
    outputs over the 8 flips/rotations, each mapped back (the paper's '+')."""
    import torch

    model = model.to(device).eval()

    @torch.no_grad()
    def run(lr: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).float().unsqueeze(0).to(device)
        if not self_ensemble:
            y = model(x)
        else:
            outs = []
            for t in range(8):
                xt = x.transpose(2, 3) if t & 4 else x
                xt = xt.flip(3) if t & 1 else xt
                xt = xt.flip(2) if t & 2 else xt
                yt = model(xt)
                yt = yt.flip(2) if t & 2 else yt  # undo in reverse order
                yt = yt.flip(3) if t & 1 else yt
                outs.append(yt.transpose(2, 3) if t & 4 else yt)
            y = torch.stack(outs).mean(0)
        return y[0].permute(1, 2, 0).float().cpu().numpy()

    return run


def evaluate_pairs(pairs: Sequence[ImagePair], upscale: Upscaler, scale: int) -> EvalResult:
    """Upscale each LR, round to 8 bits, score against its HR (see :mod:`slwsr_search.sr.metrics`)."""
    result = EvalResult()
    for pair in pairs:
        sr = quantize(upscale(pair.lr))
        if sr.shape != pair.hr.shape:
            raise ValueError(f"{pair.name}: upscaler returned {sr.shape}, expected {pair.hr.shape}")
        result.images.append({"name": pair.name, "psnr": psnr(sr, pair.hr, crop=scale),
                              "ssim": ssim(sr, pair.hr, crop=scale)})
    return result
