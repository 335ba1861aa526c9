"""The bicubic anchor: our ``imresize`` against MATLAB-made LR images, and the bicubic baseline
scored with our pipeline beside the published figures, on the benchmark sets under a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..model.published import BICUBIC_X4
from ..sr.data import load_pairs
from ..sr.evaluate import bicubic_upscaler, evaluate_pairs
from ..sr.resize import imresize

#: How far a reproduced bicubic figure may be from the published one (dB, SSIM).
TOL_PSNR, TOL_SSIM = 0.02, 0.002


@dataclass(frozen=True)
class ResizeRow:
    """``imresize(HR, 1/scale)`` against one set's MATLAB-made LR: uint8 values compared, how many
    are identical, the largest difference, and Pillow's bicubic's largest difference."""

    set: str
    values: int
    identical: int
    max_diff: int
    pillow_max_diff: int

    @property
    def ok(self) -> bool:
        return self.identical / self.values >= 0.999 and self.max_diff <= 1


@dataclass(frozen=True)
class BicubicRow:
    """Bicubic upscaling scored on one set (LR read from files, or made by our imresize) beside
    the published anchor."""

    set: str
    lr: str
    psnr: float
    ssim: float
    published: tuple[float, float]

    @property
    def ok(self) -> bool:
        return abs(self.psnr - self.published[0]) <= TOL_PSNR and abs(self.ssim - self.published[1]) <= TOL_SSIM


def bench_bicubic(data_root: str | Path, scale: int = 4) -> tuple[list[ResizeRow], list[BicubicRow]]:
    """Both tables for every published set under ``data_root`` that has ``LR_bicubic/X<scale>``."""
    root = Path(data_root)
    sets = [name for name in BICUBIC_X4 if (root / name / "LR_bicubic" / f"X{scale}").is_dir()]
    if not sets:
        raise ValueError(f"{root}: no benchmark set with LR_bicubic/X{scale} (looked for {', '.join(BICUBIC_X4)})")
    with_files = {name: load_pairs(root / name, scale, progress=False) for name in sets}
    resize_rows = []
    for name in sets:
        total = same = worst = pil_worst = 0
        for p in with_files[name]:
            d = np.abs(imresize(p.hr, 1 / scale).astype(int) - p.lr.astype(int))
            total, same, worst = total + d.size, same + int((d == 0).sum()), max(worst, int(d.max()))
            pil = np.asarray(Image.fromarray(p.hr).resize(p.lr.shape[1::-1], Image.Resampling.BICUBIC))
            pil_worst = max(pil_worst, int(np.abs(pil.astype(int) - p.lr.astype(int)).max()))
        resize_rows.append(ResizeRow(name, total, same, worst, pil_worst))
    score_rows = []
    for name in sets:
        for use_files, label in ((True, "MATLAB-made (files)"), (False, "our imresize of HR")):
            pairs = with_files[name] if use_files else load_pairs(root / name, scale, use_lr_files=False, progress=False)
            r = evaluate_pairs(pairs, bicubic_upscaler(scale), scale)
            score_rows.append(BicubicRow(name, label, r.psnr, r.ssim, BICUBIC_X4[name]))
    return resize_rows, score_rows
