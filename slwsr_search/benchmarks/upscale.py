"""The ``upscale`` command on a large picture, per backend: wall time, peak memory (the child
process's maximum resident set) and how far its output is from the torch backend's.

Each backend runs as its own ``python -m slwsr_search.upscale`` process, so its peak memory is its
own (``os.wait4``'s ``ru_maxrss``), interpreter and libraries included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sr.data import IMAGE_EXTS


@dataclass(frozen=True)
class UpscaleRun:
    """One backend's run: ``wall_s`` seconds; ``peak_mib`` maximum resident memory (MiB);
    ``max_diff`` the largest difference from the torch output in 1/255 units (0 for torch itself)."""

    backend: str
    wall_s: float
    peak_mib: float
    max_diff: int
    out_size: tuple[int, int]


def photo_mosaic(folder: str | Path, size: tuple[int, int], tile: tuple[int, int] = (300, 400)) -> np.ndarray:
    """A (height, width) = ``size`` picture made of the photographs in ``folder`` (sorted by name),
    each cropped at its centre to ``tile`` (height, width) and laid row by row: a large photograph
    where none is at hand. ``ValueError`` when the folder holds too few photographs that large."""
    from PIL import Image

    h, w = size
    th, tw = tile
    rows, cols = -(-h // th), -(-w // tw)
    need = rows * cols
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS)
    crops = []
    for f in files:
        im = Image.open(f).convert("RGB")
        if im.height >= th and im.width >= tw:
            a = np.asarray(im)
            y, x = (im.height - th) // 2, (im.width - tw) // 2
            crops.append(a[y:y + th, x:x + tw])
        elif im.width >= th and im.height >= tw:  # portrait: rotate to landscape
            a = np.asarray(im).transpose(1, 0, 2)
            y, x = (a.shape[0] - th) // 2, (a.shape[1] - tw) // 2
            crops.append(a[y:y + th, x:x + tw])
        if len(crops) == need:
            break
    if len(crops) < need:
        raise ValueError(f"{folder}: {len(crops)} photograph(s) of at least {tw}x{th}, need {need} for {w}x{h}")
    grid = np.concatenate([np.concatenate(crops[r * cols:(r + 1) * cols], axis=1) for r in range(rows)], axis=0)
    return np.ascontiguousarray(grid[:h, :w])


def run_upscale(bundle: str | Path, picture: str | Path, backends: tuple[str, ...] = ("torch", "onnxruntime"),
                tile: int = 256, threads: int | None = None) -> list[UpscaleRun]:
    """Run the upscale command on ``picture`` once per backend, each in its own process."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own output, larger than Pillow's bomb guard
    runs, ref = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            out = Path(tmp) / backend
            cmd = [sys.executable, "-m", "slwsr_search.upscale", str(picture), "--model", str(bundle), "--out", str(out),
                   "--backend", backend, "--tile", str(tile), "--quiet"] + (["--threads", str(threads)] if threads else [])
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            err = proc.stderr.read().decode() if proc.stderr else ""
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise RuntimeError(f"{backend}: the upscale command failed ({proc.returncode}): {err.strip()}")
            result = np.asarray(Image.open(next(out.iterdir()))).astype(np.int16)
            if ref is None:
                ref = result
            runs.append(UpscaleRun(backend, wall, usage.ru_maxrss / 1024.0, int(np.abs(result - ref).max()),
                                   (result.shape[1], result.shape[0])))
    return runs
