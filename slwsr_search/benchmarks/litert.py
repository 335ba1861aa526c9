"""LiteRT against PyTorch and onnxruntime for one trained network: parity, quality, speed.

:func:`parity` converts the network at odd sizes and compares LiteRT fp32 with PyTorch on the same
inputs; :func:`bench_quality` scores LiteRT fp32/int8 beside the ONNX fp32/int8 graphs on a bench
set (a ``.tflite`` has one size: each picture gets its own conversion); :func:`speeds` times
onnxruntime fp32/int8 and LiteRT fp32/int8 (XNNPACK) on one image of the cost convention's size,
in turns within one process. Needs the ``[litert]`` extra.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..deploy.int8_settings import Int8Settings
from ..deploy.litert import export_tflite, litert_runner, mosaic_inputs, quantize_tflite
from ..deploy.onnx_export import export_onnx
from ..deploy.quantize import quantize_int8
from ..deploy.runners import onnx_runner, runner_upscaler, torch_runner
from ..sr.evaluate import evaluate_pairs
from ..sr.table import Bench


def parity(model, sizes: Sequence[tuple[int, int]], seed: int = 0) -> list[dict]:
    """Per LR size (h, w): the largest absolute difference (on 0..1) between LiteRT fp32 (XNNPACK)
    and PyTorch on one random input."""
    rows = []
    torch_run = torch_runner(model)
    with tempfile.TemporaryDirectory() as tmp:
        for h, w in sizes:
            path = export_tflite(model, Path(tmp) / f"m{h}x{w}.tflite", (h, w))
            x = np.random.default_rng(seed + h * 1000 + w).random((1, 3, h, w), dtype=np.float32)
            rows.append({"h": h, "w": w, "max_abs_diff": float(np.abs(litert_runner(path)(x) - torch_run(x)).max())})
    return rows


def _per_size(make: Callable[[tuple[int, int]], Callable]) -> Callable[[np.ndarray], np.ndarray]:
    """An upscaler (uint8 HWC in) that builds one runner per LR size with ``make`` and keeps it."""
    cache: dict[tuple[int, int], Callable] = {}

    def upscale(lr: np.ndarray) -> np.ndarray:
        size = lr.shape[:2]
        if size not in cache:
            cache[size] = runner_upscaler(make(size))
        return cache[size](lr)

    return upscale


def bench_quality(model, bench: Bench, patches: np.ndarray, calib_inputs: int = 8,
                  settings: Int8Settings = Int8Settings()) -> dict[str, float]:
    """PSNR (dB, Y) on ``bench`` of ONNX fp32 and int8 (``settings``, calibrated on ``patches``)
    and LiteRT fp32 and int8 (each picture's own conversion, the int8 calibrated on
    ``calib_inputs`` mosaics of the same patches, its ranges by ``settings.method``)."""
    scale = model.spec.scale
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        fp32 = export_onnx(model, t / "model.onnx")
        int8 = quantize_int8(fp32, t / "model.int8.onnx", patches, settings)

        def tflite(size, q: bool):
            path = export_tflite(model, t / f"m{size[0]}x{size[1]}.tflite", size)
            if q:
                path = quantize_tflite(path, t / f"q{size[0]}x{size[1]}.tflite", mosaic_inputs(patches, size, calib_inputs),
                                       settings.method)
            return litert_runner(path)

        ups = {"onnx fp32": runner_upscaler(onnx_runner(fp32, 1)), "onnx int8": runner_upscaler(onnx_runner(int8, 1)),
               "litert fp32": _per_size(lambda s: tflite(s, False)), "litert int8": _per_size(lambda s: tflite(s, True))}
        return {k: evaluate_pairs(bench.pairs, up, scale).psnr for k, up in ups.items()}


def speeds(model, lr_size: tuple[int, int], patches: np.ndarray, passes: int = 5, repeats: int = 2,
           settings: Int8Settings = Int8Settings()) -> dict[str, float]:
    """Median ms of one (1, 3, *lr_size) image on onnxruntime fp32 / int8 and LiteRT fp32 / int8
    (XNNPACK, 1 thread each), in turns (:func:`..deploy.latency.round_robin`)."""
    from ..deploy.latency import onnx_workload, round_robin, tflite_workload

    x = np.random.default_rng(0).random((1, 3, *lr_size), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        fp32 = export_onnx(model, t / "model.onnx")
        int8 = quantize_int8(fp32, t / "model.int8.onnx", patches, settings)
        lt32 = export_tflite(model, t / "m.tflite", lr_size)
        lt8 = quantize_tflite(lt32, t / "q.tflite", mosaic_inputs(patches, lr_size, 8), settings.method)

        names = ["onnxruntime fp32", "onnxruntime int8", "litert fp32 xnnpack", "litert int8 xnnpack"]
        loads = [onnx_workload(fp32.read_bytes(), x, 1), onnx_workload(int8.read_bytes(), x, 1),
                 tflite_workload(lt32.read_bytes(), x, 1), tflite_workload(lt8.read_bytes(), x, 1)]
        times = round_robin(loads, passes, repeats)
    return {n: float(np.median(ts)) for n, ts in zip(names, times)}
