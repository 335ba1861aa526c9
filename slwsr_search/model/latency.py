"""Time per image of a network on a runtime, measured the way a shared CPU allows.

A measurement runs one image of the cost convention's size (x4: 320 x 180 LR in, 1280 x 720 out)
through a runtime (onnxruntime on CPU, the deployment runtime; or PyTorch eager, channels_last)
``warmup`` times unmeasured, then ``repeats`` times measured: the median wall time with its min and
interquartile range, and the median CPU time of the calling thread (``time.thread_time``), which a
busy neighbour disturbs less than wall time. With one intra-op thread both runtimes compute on the
calling thread, so its CPU time is the whole work. Every figure travels with the machine's identity
(:class:`MachineIdentity`): CPU model, core count, runtime and version, threads.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .cost import DEFAULT_HR_SIZE
from .network import build_model
from .spec import ArchSpec

#: The runtimes a latency is measured on.
RUNTIMES: tuple[str, ...] = ("onnxruntime", "torch")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class MachineIdentity:
    """Where a latency was measured: ``cpu`` model, ``cores`` (logical), ``runtime`` and its
    ``version``, intra-op ``threads``. Two figures compare only under one identity."""

    cpu: str
    cores: int
    runtime: str
    version: str
    threads: int

    @classmethod
    def here(cls, runtime: str, threads: int) -> "MachineIdentity":
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime == "onnxruntime":
            import onnxruntime

            version = onnxruntime.__version__
        else:
            version = torch.__version__
        return cls(cpu_model(), os.cpu_count() or 1, runtime, version, threads)


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
    q = statistics.quantiles(wall, n=4, method="inclusive") if repeats > 1 else [wall[0]] * 3
    return Timing(statistics.median(wall), min(wall), q[0], q[2], statistics.median(cpu), repeats, warmup)


def lr_size_for(scale: int, hr_size: tuple[int, int] = DEFAULT_HR_SIZE) -> tuple[int, int]:
    """The LR (height, width) whose x``scale`` output is ``hr_size`` (the cost convention's image)."""
    h, w = hr_size
    if h % scale or w % scale:
        raise ValueError(f"hr_size: {w}x{h} is not a multiple of the scale x{scale}")
    return h // scale, w // scale


def spec_runner(spec: ArchSpec, runtime: str, lr_size: tuple[int, int], threads: int = 1,
                seed: int = 0) -> Callable[[], object]:
    """A no-argument call that upscales one random (1, 3, *lr_size) image with ``spec``'s network
    (weights seeded; latency does not depend on them) on ``runtime``. onnxruntime: exported on the
    fly into a temporary folder, ``threads`` intra-op threads, one inter-op thread, spinning off
    (a spinning pool would burn a shared CPU between runs). torch: eager, channels_last, no grad;
    its thread count is the process's (the entry point sets it)."""
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    x = np.random.default_rng(seed).random((1, 3, *lr_size), dtype=np.float32)
    if runtime == "onnxruntime":
        from .onnx_export import INPUT, export_onnx
        from .runners import onnx_session

        with tempfile.TemporaryDirectory() as tmp:
            session = onnx_session(export_onnx(model, Path(tmp) / "model.onnx"), threads, spinning=False, inter_op=1)
        feed = {INPUT: x}
        return lambda: session.run(None, feed)
    if runtime == "torch":
        net = model.to(memory_format=torch.channels_last)
        xt = torch.from_numpy(x * 255.0).contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                return net(xt)

        return run
    raise ValueError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
