"""Training-step speed against the device's own fp32 matmul rate, and the share of a step spent
drawing batches, for the optimised settings and (optionally) the plain eager fp32 NCHW loop."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass

import torch

from ..model.cost import count_cost
from ..model.presets import get_preset
from ..sr.data import PatchSampler, load_pairs
from ..training.device import Speedups, configure_device, resolve_device, synchronize
from ..training.loop import setup, train_step
from ..training.protocol import Protocol


def matmul_gflops(dev: torch.device, n: int | None = None, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 matmul rate (GFLOP/s) of an n x n product on ``dev`` (TF32 off)."""
    n = n or (8192 if dev.type == "cuda" else 2048)
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        best = math.inf
        for _ in range(repeats + 1):
            synchronize(dev)
            t0 = time.perf_counter()
            a @ b
            synchronize(dev)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    return 2 * n ** 3 / best / 1e9


@dataclass(frozen=True)
class SpeedRow:
    """One setting: best and median seconds per step over the rounds, achieved GFLOP/s (exact cost
    model), the best matmul GFLOP/s measured between rounds, and the median data share (0..1)."""

    label: str
    best_s: float
    median_s: float
    gflops: float
    matmul_gflops: float
    data_share: float

    @property
    def ratio(self) -> float:
        return self.gflops / self.matmul_gflops


@dataclass(frozen=True)
class TrainSpeed:
    """What :func:`bench_train` measured, with what it ran on."""

    device: str
    device_name: str
    gflop_per_step: float
    rows: list[SpeedRow]


#: The plain loop the optimised settings are compared with.
EAGER_FP32_NCHW = Speedups(channels_last=False, malloc_tuning=False, flush_denormal=False, bf16=False, tf32=False,
                           compile=False)


def bench_train(preset: str, batch: int, patch: int, device: str, rounds: int, steps_per_round: int,
                baseline: bool, train_dir: str, threads: int | None) -> TrainSpeed:
    """Time ``rounds`` x ``steps_per_round`` training steps after warm-up, per setting."""
    dev = resolve_device(device)
    spec = get_preset(preset)
    protocol = Protocol(batch_size=batch, lr_patch=patch)
    pairs = load_pairs(train_dir, spec.scale, min_lr_size=patch, progress=False)
    hr = patch * spec.scale
    flop_per_step = count_cost(spec, (hr, hr)).macs * batch * 2 * 3  # MACs x 2 FLOPs x (fwd + bwd = 3 fwd)
    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda"
            else f"CPU, {torch.get_num_threads() if threads is None else threads} threads")
    configs = []
    # The plain loop runs first: the optimised one tunes the process's allocator, which stays tuned.
    if baseline:
        configs.append(("eager fp32 NCHW", dataclasses.replace(EAGER_FP32_NCHW, threads=threads)))
    configs.append(("optimised (defaults)", Speedups(threads=threads)))
    rows = []
    for label, sp in configs:
        configure_device(dev, sp)
        model, fwd, opt, autocast = setup(spec, dev, protocol, sp)
        sampler = PatchSampler(pairs, spec.scale, patch, batch, dev, seed=0, channels_last=sp.channels_last)
        for _ in range(3 if not sp.compile else 5):  # warm-up: oneDNN / cuDNN plans, compile
            lr_img, hr_img = sampler.sample()
            train_step(fwd, opt, lr_img, hr_img, autocast)
        synchronize(dev)
        step_times, data_shares, mm = [], [], 0.0
        for _ in range(rounds):
            mm = max(mm, matmul_gflops(dev))
            data_s = compute_s = 0.0
            for _ in range(steps_per_round):
                t0 = time.perf_counter()
                lr_img, hr_img = sampler.sample()
                synchronize(dev)
                t1 = time.perf_counter()
                train_step(fwd, opt, lr_img, hr_img, autocast)
                synchronize(dev)
                t2 = time.perf_counter()
                data_s, compute_s = data_s + t1 - t0, compute_s + t2 - t1
            step_times.append((data_s + compute_s) / steps_per_round)
            data_shares.append(data_s / (data_s + compute_s))
        best = min(step_times)
        rows.append(SpeedRow(label, best, statistics.median(step_times), flop_per_step / best / 1e9, mm,
                             statistics.median(data_shares)))
        del model, fwd, opt, sampler
    return TrainSpeed(str(dev), name, flop_per_step / 1e9, rows)
