"""A network's deployable files beside its fp32 ONNX graph (int8, fp16; LiteRT fp32 and int8), each
scored on the bench sets and timed on this CPU, so a model card and a method comparison say what
each file gives. A file runs on the runtime its kind names (``.onnx``: onnxruntime; ``.tflite``:
LiteRT with XNNPACK, in windows of its fixed size: :func:`.runners.runner_for`).

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
from .runners import runner_for, runner_upscaler, window_upscaler


@dataclass(frozen=True)
class Variant:
    """One deployable file: ``label`` (``fp32``, ``fp16``, ``int8``, ``int8 METHOD`` in a
    comparison, ``litert fp32``, ``litert int8``), ``precision``, ``path``, ``method`` (ONNX int8's
    calibration method, else None)."""

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


def litert_variants(model, folder: str | Path, lr_size: tuple[int, int], patches: np.ndarray | None,
                    settings: Int8Settings = Int8Settings()) -> list[Variant]:
    """``model``'s LiteRT files written into ``folder`` (:func:`.litert.write_litert`: fp32 at
    ``lr_size``, and int8 calibrated on ``patches`` with ``settings.method`` when given). Needs the
    ``[litert]`` extra."""
    from .litert import write_litert

    paths = write_litert(model, folder, lr_size, patches, settings.method)
    return [Variant(f"litert {p}", p, path, settings.method if p == "int8" else None)
            for p, path in zip(("fp32", "int8"), paths)]


def litert_what(lr_size: tuple[int, int], method: str) -> dict[str, str]:
    """What the LiteRT variants are, as a model card's file table says it (by variant label)."""
    size = f"{lr_size[1]}x{lr_size[0]} LR in"
    return {"litert fp32": f"fp32 LiteRT ({size}; XNNPACK here)",
            "litert int8": f"int8 LiteRT ({size}; weights and activations int8, {method} calibration)"}


#: ``scores[variant label][set] = (PSNR dB, SSIM)``
Scores = dict[str, dict[str, tuple[float, float]]]


def score_variants(variants: Sequence[Variant], benches: Sequence[Bench], scale: int, threads: int | None = 1,
                   on_variant: Callable[[Variant], None] | None = None, margin: int = 0) -> Scores:
    """Each variant's PSNR (dB) / SSIM on each bench (Y channel, ``scale`` px crop, 8-bit output),
    run whole-image with ``threads`` intra-op threads; a file of one fixed size runs each picture
    padded to it, or in windows of it with ``margin`` LR pixels of context (the network's receptive
    radius: :func:`..sr.tiles.receptive_radius`) where the picture is larger. ``on_variant`` hears
    each before it runs (progress)."""
    scores: Scores = {}
    for v in variants:
        if on_variant is not None:
            on_variant(v)
        run, window = runner_for(v.path, threads)
        up = runner_upscaler(run) if window is None else window_upscaler(run, window, scale, margin)
        scores[v.label] = {}
        for b in benches:
            r = evaluate_pairs(b.pairs, up, scale)
            scores[v.label][b.name] = (r.psnr, r.ssim)
    return scores


def time_variants(variants: Sequence[Variant], lr_size: tuple[int, int], threads: int = 1, passes: int = 3,
                  repeats: int = 2) -> dict[str, float | None]:
    """Median wall time (ms) of one (1, 3, *lr_size) image through each variant on its runtime
    (onnxruntime, or LiteRT with XNNPACK for a ``.tflite``) with ``threads`` threads, the variants
    timed in turns (:func:`.latency.round_robin`) so a busy neighbour slows each alike. A
    ``.tflite`` of another fixed size is not timed (None)."""
    from .latency import onnx_workload, round_robin, tflite_workload
    from .litert import tflite_shape

    x = np.random.default_rng(0).random((1, 3, *lr_size), dtype=np.float32)
    timed = [v for v in variants if v.path.suffix != ".tflite" or tflite_shape(v.path)[:2] == tuple(lr_size)]
    loads = [(tflite_workload if v.path.suffix == ".tflite" else onnx_workload)(v.path.read_bytes(), x, threads) for v in timed]
    times = dict(zip((v.label for v in timed), round_robin(loads, passes, repeats)))
    return {v.label: float(np.median(times[v.label])) if v.label in times else None for v in variants}


def variant_rows(label: str, params: int | None, scores: Scores, note: str, skip: Sequence[str] = ("fp32",)):
    """The literature table's rows (:class:`..sr.table.TableRow`) for ``scores``, one per variant
    but those in ``skip`` (fp32 is the model's own row), labelled ``label (int8)`` etc."""
    from ..sr.table import MEASURED, TableRow

    def how(v: str) -> str:
        return f"{v.split()[-1]} .tflite on LiteRT (XNNPACK)" if v.startswith("litert") else f"{v} ONNX on onnxruntime"

    return [TableRow(f"{label} ({v})", MEASURED, f"{note}, {how(v)}", params, dict(s))
            for v, s in scores.items() if v not in skip]
