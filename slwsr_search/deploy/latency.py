"""Time per image of a network on a runtime, measured the way a shared CPU allows.

A measurement runs one image of the cost convention's size (x4: 320 x 180 LR in, 1280 x 720 out)
through a runtime (onnxruntime on CPU, the deployment runtime; LiteRT with XNNPACK, Android's; or
PyTorch eager, channels_last; :data:`~..model.latency_table.RUNTIMES`)
``warmup`` times unmeasured, then ``repeats`` times measured: the median wall time with its min and
interquartile range, and the median CPU time of the calling thread (``time.thread_time``), which a
busy neighbour disturbs less than wall time. With one intra-op thread both runtimes compute on the
calling thread, so its CPU time is the whole work. Every figure travels with the machine's identity
(:class:`.latency_table.MachineIdentity`): CPU model, core count, runtime and version, threads.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..model.cost import DEFAULT_HR_SIZE
from ..model.latency_table import split_runtime
from ..model.network import build_model
from ..model.spec import ArchSpec

#: A workload: opening it (a runtime session, a warm model) returns the call that runs one image.
Workload = Callable[[], Callable[[], object]]


def quartiles(times: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of ``times`` (inclusive method; one time: itself thrice)."""
    if len(times) < 2:
        return times[0], times[0], times[0]
    q1, q2, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return q1, q2, q3


@dataclass(frozen=True)
class Timing:
    """One measurement, in milliseconds: wall ``median_ms``, ``min_ms``, ``q1_ms``/``q3_ms`` (the
    interquartile range), the calling thread's CPU time ``cpu_median_ms``; ``repeats`` runs after
    ``warmup``."""

    median_ms: float
    min_ms: float
    q1_ms: float
    q3_ms: float
    cpu_median_ms: float
    repeats: int
    warmup: int

    def to_dict(self) -> dict:
        return asdict(self)


def measure(run: Callable[[], object], repeats: int = 30, warmup: int = 3) -> Timing:
    """Time ``run()``: ``warmup`` unmeasured calls, then ``repeats`` measured ones."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats: expected >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        run()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        run()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    q1, med, q3 = quartiles(wall)
    return Timing(med, min(wall), q1, q3, statistics.median(cpu), repeats, warmup)


def lr_size_for(scale: int, hr_size: tuple[int, int] = DEFAULT_HR_SIZE) -> tuple[int, int]:
    """The LR (height, width) whose x``scale`` output is ``hr_size`` (the cost convention's image)."""
    h, w = hr_size
    if h % scale or w % scale:
        raise ValueError(f"hr_size: {w}x{h} is not a multiple of the scale x{scale}")
    return h // scale, w // scale


def onnx_workload(model: bytes, x: np.ndarray, threads: int = 1) -> Workload:
    """An ONNX graph (its bytes) on onnxruntime: each opening builds a fresh session with
    ``threads`` intra-op threads, one inter-op thread and spinning off (a spinning pool would burn
    a shared CPU between runs), fed ``x`` under the graph's input name."""
    from .onnx_export import INPUT
    from .runners import onnx_session

    def open_() -> Callable[[], object]:
        session = onnx_session(model, threads, spinning=False, inter_op=1)
        feed = {INPUT: x}
        return lambda: session.run(None, feed)

    return open_


def tflite_workload(model: bytes, x: np.ndarray, threads: int = 1) -> Workload:
    """A ``.tflite`` (its bytes) on ai-edge-litert's interpreter with the XNNPACK delegate: each
    opening loads a fresh interpreter with ``threads`` threads and sets ``x`` (1, C, h, w; moved to
    the file's NHWC, quantized when its input is int8) as its input; a run is one ``invoke``, what
    LiteRT's ``benchmark_model`` times."""
    from .litert import interpreter, to_tensor

    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def open_() -> Callable[[], object]:
        it = interpreter(model, threads)
        it.allocate_tensors()
        (detail,) = it.get_input_details()
        it.set_tensor(detail["index"], to_tensor(nhwc, detail))
        return it.invoke

    return open_


def model_workload(model: bytes, runtime: str, x: np.ndarray, threads: int = 1) -> Workload:
    """A model file's bytes (an ONNX graph, a ``.tflite``) on ``runtime``'s interpreter, fed ``x``."""
    base, _ = split_runtime(runtime)
    if base == "onnxruntime":
        return onnx_workload(model, x, threads)
    if base == "litert":
        return tflite_workload(model, x, threads)
    raise ValueError(f"runtime {runtime}: runs modules, not model files")


def torch_workload(module: torch.nn.Module, x: torch.Tensor) -> Workload:
    """A module on PyTorch eager: channels_last, inference mode; its thread count is the process's
    (the entry point sets it)."""
    net = module.eval().to(memory_format=torch.channels_last)
    xt = x.contiguous(memory_format=torch.channels_last)

    def run():
        with torch.inference_mode():
            return net(xt)

    return lambda: run


def spec_workload(spec: ArchSpec, runtime: str, lr_size: tuple[int, int], threads: int = 1,
                  seed: int = 0) -> Workload:
    """``spec``'s network upscaling one random (1, 3, *lr_size) image (weights seeded; latency does
    not depend on them) on ``runtime``: onnxruntime runs the graph a bundle ships
    (:func:`.onnx_export.export_onnx`, exported once here), onnxruntime-int8 its int8 graph
    (calibrated on the image: the ranges do not change the time), litert the ``.tflite`` converted
    at ``lr_size`` (:func:`.litert.export_tflite`'s file; litert-int8 its static int8 file,
    calibrated on the image), torch the module on 0..255."""
    base, int8 = split_runtime(runtime)
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    x = np.random.default_rng(seed).random((1, 3, *lr_size), dtype=np.float32)
    if base == "torch":
        return torch_workload(model, torch.from_numpy(x * 255.0))
    if base == "litert":
        from .litert import tflite_model
        from .onnx_export import UnitRange

        return tflite_workload(tflite_model(UnitRange(model).eval(), torch.from_numpy(x), int8), x, threads)
    from .onnx_export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        graph = export_onnx(model, Path(tmp) / "model.onnx").read_bytes()
    if int8:
        from .quantize import quantize_graph

        graph = quantize_graph(graph, x)
    return onnx_workload(graph, x, threads)


def spec_runner(spec: ArchSpec, runtime: str, lr_size: tuple[int, int], threads: int = 1,
                seed: int = 0) -> Callable[[], object]:
    """A no-argument call that upscales one image with ``spec``'s network (:func:`spec_workload`, opened)."""
    return spec_workload(spec, runtime, lr_size, threads, seed)()


def round_robin(workloads: Sequence[Workload], passes: int = 5, repeats: int = 2, warmup: int = 1,
                on_turn: Callable[[int, int], None] | None = None) -> list[list[float]]:
    """Wall times (ms) of each workload, taken in turns: ``passes`` passes over all of them, each
    turn opening the workload, running it ``warmup`` times unmeasured and ``repeats`` times
    measured, then closing it. On a shared CPU whose speed drifts in spells of seconds (memory-heavy
    graphs by up to +-20% here), turns spread every workload over the same spells, where measuring
    one after another would give each its own; a median over its turns is then comparable across
    workloads. ``on_turn(pass, i)`` hears each turn before it runs (progress)."""
    if passes < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"passes, repeats: expected >= 1 and warmup >= 0, got {passes}, {repeats}, {warmup}")
    times: list[list[float]] = [[] for _ in workloads]
    for k in range(passes):
        for i, workload in enumerate(workloads):
            if on_turn is not None:
                on_turn(k, i)
            run = workload()
            for _ in range(warmup):
                run()
            for _ in range(repeats):
                t0 = time.perf_counter()
                run()
                times[i].append((time.perf_counter() - t0) * 1e3)
            del run  # close the session before the next one opens: one graph's memory at a time
    return times
