"""Devices and process-wide speed settings. Entry points call :func:`configure_device` once
(nanoGPT's ``train.py`` sets its switches the same way); :func:`~slwsr_search.training.loop.train`
never changes process-wide state."""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

import torch

from ..config import is_int


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:i``; ``ValueError`` otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: unknown device {name!r}; expected auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: unsupported device {name!r}; expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name!r} requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device: {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev


_MALLOC_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed memory in glibc's heap instead of returning it to the OS (no mmap, no trim).

    PyTorch's CPU allocator asks malloc for every activation; glibc serves large blocks with
    fresh mmaps, so each step would pay page faults for its largest tensors. Process-wide and idempotent;
    a no-op off glibc. Returns whether it was applied.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_max, m_trim_threshold = -4, -1
        _MALLOC_TUNED = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False
    return _MALLOC_TUNED


@dataclass(frozen=True)
class Speedups:
    """Settings that change speed, not results (beyond float rounding). Each is on by default only
    where ``python -m slwsr_search.bench train`` measured a gain (``docs/training.md``).

    Process-wide, applied by :func:`configure_device`: ``threads`` (CPU threads; None: PyTorch's
    default, one per core), ``malloc_tuning`` (:func:`tune_cpu_allocator`, CPU),
    ``flush_denormal`` (treat denormal floats as zero, CPU: tiny gradients otherwise take a slow
    path), ``tf32`` (TF32 matmuls and convs, CUDA; cuDNN autotuning comes with CUDA).
    Per training, applied by :func:`~slwsr_search.training.loop.train`: ``channels_last`` (NHWC
    memory format), ``bf16`` (bfloat16 autocast on CUDA), ``cpu_bf16`` (bfloat16 autocast on a
    CPU: only where the CPU has bf16 units, AVX512_BF16 or AMX, :func:`~slwsr_search.machine.native_bf16`;
    others run it far slower; off by default: it changes results beyond float rounding),
    ``compile`` (``torch.compile``; off by default: slower on the CPUs we measured). Validation
    runs in fp32 on a CPU either way, so scores stay comparable.
    """

    channels_last: bool = True
    malloc_tuning: bool = True
    flush_denormal: bool = True
    bf16: bool = True
    tf32: bool = True
    compile: bool = False
    threads: int | None = None
    cpu_bf16: bool = False


def configure_device(dev: torch.device, sp: Speedups = Speedups()) -> None:
    """Apply the process-wide settings of ``sp`` for training on ``dev``. Called by entry points
    (commands, workers, benchmarks), once, before any training; idempotent."""
    if dev.type == "cpu":
        if sp.threads is not None:
            if not is_int(sp.threads) or sp.threads < 1:
                raise ValueError(f"threads: expected an integer >= 1, got {sp.threads!r}")
            torch.set_num_threads(sp.threads)
        if sp.malloc_tuning:
            tune_cpu_allocator()
        torch.set_flush_denormal(sp.flush_denormal)  # set either way, so an earlier setting does not leak
    else:
        torch.backends.cuda.matmul.allow_tf32 = sp.tf32
        torch.backends.cudnn.allow_tf32 = sp.tf32
        torch.backends.cudnn.benchmark = True


def is_oom(e: BaseException) -> bool:
    """Whether ``e`` says the device ran out of memory."""
    return isinstance(e, torch.cuda.OutOfMemoryError) or (isinstance(e, RuntimeError) and "out of memory" in str(e))


def synchronize(dev: torch.device) -> None:
    """Wait for ``dev``'s queued work (a no-op on CPU), so a timer reads the real time."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
