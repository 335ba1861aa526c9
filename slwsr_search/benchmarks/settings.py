"""Which settings train fastest on this machine: processes x threads, bf16 autocast, torch.compile.

Each setting runs in fresh processes (threads are process-wide), all of a setting's processes at
once, each timing the same training steps of one design on the built-in images after a warm-up;
a setting's throughput is the sum of its processes' steps per second. Speeds compare within one
run on one machine only. Whether a setting keeps the quality is a separate measurement (the
training's loss and PSNR against fp32; docs/training.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """``processes`` processes of ``threads`` threads each, with or without bf16 autocast
    (CPU) and ``torch.compile``."""

    processes: int
    threads: int
    bf16: bool = False
    compile: bool = False

    @property
    def label(self) -> str:
        return (f"{self.processes} x {self.threads} thread(s), {'bf16' if self.bf16 else 'fp32'}"
                + (", compiled" if self.compile else ""))


def default_settings(cores: int, bf16: bool, compile: bool = True) -> list[Setting]:
    """One process on every core, one process per core, each in fp32 (and bf16 where the CPU has
    it), and (with ``compile``) the one-process fp32 loop compiled."""
    shapes = [(1, cores)] + ([(cores, 1)] if cores > 1 else [])
    out = [Setting(p, t) for p, t in shapes]
    if bf16:
        out += [Setting(p, t, bf16=True) for p, t in shapes]
    return out + ([Setting(1, cores, compile=True)] if compile else [])


def time_one(arch: str, batch: int, patch: int, steps: int, setting: Setting) -> float:
    """Steps per second of one process of ``setting`` (this process: its threads set here)."""
    import torch

    from ..model.spec import ArchSpec
    from ..sr.data import PatchSampler, load_pairs
    from ..training.device import Speedups, configure_device
    from ..training.loop import setup, train_step
    from ..training.protocol import Protocol

    dev = torch.device("cpu")
    sp = Speedups(threads=setting.threads, cpu_bf16=setting.bf16, compile=setting.compile)
    configure_device(dev, sp)
    spec = ArchSpec.from_arch(arch)
    model, fwd, opt, autocast = setup(spec, dev, Protocol(batch_size=batch, lr_patch=patch), sp)
    pairs = load_pairs("builtin:train", spec.scale, min_lr_size=patch, progress=False)
    sampler = PatchSampler(pairs, spec.scale, patch, batch, dev, seed=0, channels_last=sp.channels_last)
    for _ in range(5 if setting.compile else 3):  # warm-up: oneDNN plans, compilation
        train_step(fwd, opt, *sampler.sample(), autocast)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(fwd, opt, *sampler.sample(), autocast)
    return steps / (time.perf_counter() - t0)


def time_setting(arch: str, batch: int, patch: int, steps: int, setting: Setting) -> list[float]:
    """Each process's steps per second, all of ``setting``'s processes started together."""
    job = json.dumps({"arch": arch, "batch": batch, "patch": patch, "steps": steps, "setting": asdict(setting)})
    env = {**os.environ, "OMP_NUM_THREADS": str(setting.threads)}
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"{k}.txt" for k in range(setting.processes)]
        procs = [subprocess.Popen([sys.executable, "-m", "slwsr_search.benchmarks.settings", job, str(out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) for out in outs]
        for p in procs:
            _, stderr = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{setting.label}: a timing process failed: {stderr.strip().splitlines()[-1:]}")
        return [float(out.read_text()) for out in outs]


if __name__ == "__main__":  # one timing process of time_setting: its steps/s into the file named
    a = json.loads(sys.argv[1])
    Path(sys.argv[2]).write_text(repr(time_one(a["arch"], a["batch"], a["patch"], a["steps"], Setting(**a["setting"]))))
