"""int8 quality in the search: a trained trial's network quantized post-training, as its bundle's
``model.int8.onnx`` would be (:mod:`..deploy.quantize`, the default method), and scored on the
study's validation set beside its fp32 scores.

A study scores int8 when it names the ``int8_psnr`` objective or sets ``[constraints]
max_int8_drop_db``; the record's ``int8_psnr``, ``int8_ssim`` and ``int8_drop_db`` hold the result
(:class:`.record.TrialRecord`).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Callable

from ..deploy.onnx_export import export_onnx
from ..deploy.int8_settings import Int8Settings
from ..deploy.quantize import patches_for, quantize_int8
from ..deploy.runners import onnx_runner, runner_upscaler
from ..sr.data import TrainData
from ..sr.evaluate import evaluate_pairs

class Int8Failed(RuntimeError):
    """Quantizing or scoring a trained network in int8 failed (the export, the quantizer, the
    runtime): the trial fails, the run goes on."""


#: The constraint a study's ``max_int8_drop_db`` puts on a trained design (Optuna's named
#: constraint): dB lost to int8 beyond the limit (<= 0 satisfies it).
INT8_DROP = "int8_drop"


def int8_scorer(data: TrainData, settings: Int8Settings = Int8Settings(), threads: int | None = 1) -> Callable:
    """A function of a trained network (any device) returning its int8 graph's ``(PSNR dB, SSIM)``
    on ``data.val`` (Y channel, ``data.scale`` px crop, as the fp32 score), calibrated on
    ``settings.patches`` LR patches of ``data.train`` drawn once here (every trial sees the same)."""
    patches = patches_for(data.train, settings)

    def score(model) -> tuple[float, float]:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                fp32 = export_onnx(model, Path(tmp) / "fp32.onnx")
                int8 = quantize_int8(fp32, Path(tmp) / "int8.onnx", patches, settings)
                r = evaluate_pairs(data.val, runner_upscaler(onnx_runner(int8, threads)), data.scale)
        except Exception as e:  # the exporter, the quantizer and onnxruntime raise many kinds
            raise Int8Failed(f"int8 scoring failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
        return r.psnr, r.ssim

    return score


def int8_constraint(constraints: dict[str, float], drop_db: float | None, limit: float | None,
                    screened: bool = False) -> dict[str, float]:
    """``constraints`` with :data:`INT8_DROP` set from a trained design's ``drop_db`` against the
    study's ``limit`` (unchanged when the study sets none). A design ``screened`` below the top has
    no int8 score and keeps 0 (its rungs constraint already keeps it off the front); any other
    design without one counts as over the limit."""
    if INT8_DROP not in constraints or limit is None or screened:
        return constraints
    drop = drop_db if drop_db is not None else math.inf
    return {**constraints, INT8_DROP: float(min(drop - limit, 1e9))}
