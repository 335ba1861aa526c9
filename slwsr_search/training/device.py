"""Devices and process-wide speed settings. Entry points call :func:`configure_device` once
(nanoGPT's ``train.py`` sets its switches the same way); :func:`~slwsr_search.training.loop.train`
never changes process-wide state. What differs between devices in a training is decided here: its
bf16 autocast and loss reads (:class:`Speedups`), and validation in fp32 on every device
(:func:`validation_scores`)."""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from typing import Sequence

import torch

from ..config import is_int
from ..sr.data import ImagePair
from ..sr.evaluate import evaluate_pairs, model_upscaler


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
    ``compile`` (``torch.compile``; off by default: slower on the CPUs we measured),
    ``loss_every`` (steps between reads of the training loss; None: the device's,
    :data:`LOSS_EVERY`; changes no weight, only what ``on_step`` sees and the step by which a
    non-finite loss is noticed). Validation runs in fp32 on every device whatever the autocast
    (:func:`validation_scores`), so scores from a GPU and a CPU compare.

    The loop's device-dependent choices are made here and nowhere else (:meth:`train_bf16`,
    :meth:`loss_reads_every`), so a CPU test runs a GPU's code path by setting them
    (``Speedups(cpu_bf16=True, loss_every=10)``).
    """

    channels_last: bool = True
    malloc_tuning: bool = True
    flush_denormal: bool = True
    bf16: bool = True
    tf32: bool = True
    compile: bool = False
    threads: int | None = None
    cpu_bf16: bool = False
    loss_every: int | None = None

    def __post_init__(self) -> None:
        if self.loss_every is not None and (not is_int(self.loss_every) or self.loss_every < 1):
            raise ValueError(f"loss_every: expected an integer >= 1 or None, got {self.loss_every!r}")

    def train_bf16(self, device_type: str) -> bool:
        """Whether the training forward runs under bf16 autocast on a ``device_type`` device
        (``bf16`` on CUDA, ``cpu_bf16`` on a CPU). Validation never does."""
        return self.bf16 if device_type == "cuda" else self.cpu_bf16

    def loss_reads_every(self, device_type: str) -> int:
        """Steps between reads of the training loss on a ``device_type`` device: ``loss_every``,
        else :data:`LOSS_EVERY`'s value for the device."""
        return self.loss_every if self.loss_every is not None else LOSS_EVERY.get(device_type, 1)


#: Steps between reads of the training loss, per device type, where :attr:`Speedups.loss_every`
#: does not say. A read copies the loss to the host: cheap on a CPU, where it already is (every
#: step), but on CUDA it waits for the queued steps, so a read per step would stall the GPU (every
#: 10, as before the setting existed). Each read checks finiteness and gives ``on_step`` its value
#: (the mean loss of the steps since the previous read; the steps between get that last value).
LOSS_EVERY: dict[str, int] = {"cpu": 1, "cuda": 10}


def validation_scores(model: torch.nn.Module, pairs: Sequence[ImagePair], scale: int,
                      dev: torch.device) -> tuple[float, float]:
    """``(PSNR, SSIM)`` of ``model`` (left in eval mode) on ``pairs``, in fp32 on every device:
    autocast is switched off, whatever the training (bf16 on CUDA by default, :meth:`Speedups.train_bf16`)
    or the caller runs under, so that a GPU's scores compare with a CPU's (and with the bundle's)."""
    with torch.autocast(dev.type, enabled=False):
        r = evaluate_pairs(pairs, model_upscaler(model.eval(), str(dev)), scale)
    return r.psnr, r.ssim


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
