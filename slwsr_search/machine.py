"""The machine a figure was measured on, once: the CPU's model name and flags (``/proc/cpuinfo``,
``platform`` elsewhere). A latency table's identity, an audit's training records and the
benchmarks all name the CPU with these. Plain Python, importable by every layer."""

from __future__ import annotations

import platform
from pathlib import Path


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``model name`` and ``flags`` lines of ``/proc/cpuinfo`` ({} where absent)."""
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "flags") and key not in out:
                out[key] = value.strip()
    except OSError:
        pass
    return out


def cpu_model() -> str:
    """The CPU's model name, e.g. ``AMD EPYC 9B14`` (``platform.processor()`` where there is no ``/proc/cpuinfo``)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``avx2``, ``avx512f``, ``amx_bf16``, ...); empty where unknown."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_label() -> str:
    """The CPU as far as a training's result depends on it: its model and whether it has AVX-512
    (short trainings at a high learning rate round differently across CPUs), e.g.
    ``Intel(R) Xeon(R) Processor, AVX-512``."""
    return f"{cpu_model()}{', AVX-512' if 'avx512f' in cpu_flags() else ''}"


def native_bf16() -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512_BF16 or AMX-BF16): where bf16
    autocast can pay (:attr:`~slwsr_search.training.device.Speedups.cpu_bf16`)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


#: The CPU features that decide how fast int8, bf16 and fp32 kernels run, in the order figures name them.
SPEED_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_int8", "amx_bf16")


def cpu_summary() -> str:
    """What a timing needs beside it: the CPU model, its speed-relevant flags (:data:`SPEED_FLAGS`),
    its core count and the 1-minute load average, e.g. ``Intel(R) Xeon(R) Processor (avx2 avx512f
    amx_int8), 2 cores, load 1.9``."""
    import os

    flags = " ".join(f for f in SPEED_FLAGS if f in cpu_flags())
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu_model()}{f' ({flags})' if flags else ''}, {os.cpu_count()} cores{load}"
