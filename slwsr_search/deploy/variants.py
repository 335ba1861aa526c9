"""A network's deployable files beside its fp32 ONNX graph (int8, fp16), each scored on the bench
sets and timed on this CPU, so a model card and a method comparison say what each file gives.

:func:`write_variants` writes them, :func:`score_variants` scores them as the literature does
(:func:`..sr.evaluate.evaluate_pairs`), :func:`time_variants` times them in turns
(:func:`.latency.round_robin`). Each returns plain data; the commands render it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..sr.evaluate import evaluate_pairs
from ..sr.table import Bench
from .bundle import ONNX_FP16, ONNX_INT8
from .int8_settings import Int8Settings
from .quantize import convert_fp16, quantize_int8
from .runners import onnx_runner, runner_upscaler


@dataclass(frozen=True)
class Variant:
    """One deployable graph: ``label`` (``fp32``, ``fp16``, ``int8``, or ``int8 METHOD`` in a
    comparison), ``precision``, ``path``, ``method`` (int8's calibration method, else None)."""

    label: str
    precision: str
    path: Path
    method: str | None = None


def write_variants(fp32: str | Path, folder: str | Path, patches: np.ndarray | None,
                   settings: Int8Settings = Int8Settings(), fp16: bool = True) -> list[Variant]:
    """The fp32 graph ``fp32`` and, written into ``folder``, its int8 graph (:data:`.bundle.ONNX_INT8`,
    calibrated on ``patches`` with ``settings``; none when ``patches`` is None) and fp16 graph
    (:data:`.bundle.ONNX_FP16`, with ``fp16``)."""
    out = Path(folder)
    variants = [Variant("fp32", "fp32", Path(fp32))]
    if patches is not None:
        variants.append(Variant("int8", "int8", quantize_int8(fp32, out / ONNX_INT8, patches, settings), settings.method))
    if fp16:
        variants.append(Variant("fp16", "fp16", convert_fp16(fp32, out / ONNX_FP16)))
    return variants


def method_variants(fp32: str | Path, folder: str | Path, patches: np.ndarray, methods: Sequence[str],
                    settings: Int8Settings = Int8Settings()) -> list[Variant]:
    """One int8 graph per calibration method in ``methods`` (``folder/model.int8.METHOD.onnx``),
    for comparing them on the same patches."""
    from dataclasses import replace

    out = []
    for m in methods:
        s = replace(settings, method=m)
        path = quantize_int8(fp32, Path(folder) / f"model.int8.{m}.onnx", patches, s)
        out.append(Variant(f"int8 {m}", "int8", path, m))
    return out


#: ``scores[variant label][set] = (PSNR dB, SSIM)``
Scores = dict[str, dict[str, tuple[float, float]]]


def score_variants(variants: Sequence[Variant], benches: Sequence[Bench], scale: int, threads: int | None = 1,
                   on_variant: Callable[[Variant], None] | None = None) -> Scores:
    """Each variant's PSNR (dB) / SSIM on each bench (Y channel, ``scale`` px crop, 8-bit output),
    run whole-image on onnxruntime with ``threads`` intra-op threads. ``on_variant`` hears each
    before it runs (progress)."""
    scores: Scores = {}
    for v in variants:
        if on_variant is not None:
            on_variant(v)
        up = runner_upscaler(onnx_runner(v.path, threads))
        scores[v.label] = {}
        for b in benches:
            r = evaluate_pairs(b.pairs, up, scale)
            scores[v.label][b.name] = (r.psnr, r.ssim)
    return scores


def time_variants(variants: Sequence[Variant], lr_size: tuple[int, int], threads: int = 1, passes: int = 3,
                  repeats: int = 2) -> dict[str, float]:
    """Median wall time (ms) of one (1, 3, *lr_size) image through each variant on onnxruntime with
    ``threads`` threads, the variants timed in turns (:func:`.latency.round_robin`) so a busy
    neighbour slows each alike."""
    from .latency import onnx_workload, round_robin

    x = np.random.default_rng(0).random((1, 3, *lr_size), dtype=np.float32)
    times = round_robin([onnx_workload(v.path.read_bytes(), x, threads) for v in variants], passes, repeats)
    return {v.label: float(np.median(t)) for v, t in zip(variants, times)}


def variant_rows(label: str, params: int | None, scores: Scores, note: str, skip: Sequence[str] = ("fp32",)):
    """The literature table's rows (:class:`..sr.table.TableRow`) for ``scores``, one per variant
    but those in ``skip`` (fp32 is the model's own row), labelled ``label (int8)`` etc."""
    from ..sr.table import MEASURED, TableRow

    return [TableRow(f"{label} ({v})", MEASURED, f"{note}, {v} ONNX on onnxruntime", params, dict(s))
            for v, s in scores.items() if v not in skip]
