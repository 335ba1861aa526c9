"""The objective table: every objective a study may name, with its direction, label and unit.

The one home of these facts: the study's Optuna directions and dashboard metric names, the Pareto
computation and the reports' axes all read them from :data:`OBJECTIVES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A finite stand-in for an infinite PSNR (identical images), which Optuna cannot store.
PSNR_INF_STANDIN = 100.0


@dataclass(frozen=True)
class Objective:
    """One objective. ``column``: its column in the trials frame (raw units: dB, parameters,
    Multi-Adds); ``per_value``: raw units per Optuna value (Multi-Adds are stored in G)."""

    name: str
    direction: str  # "maximize" or "minimize"
    label: str
    unit: str
    column: str
    per_value: float = 1.0

    @property
    def metric_name(self) -> str:
        """The name the Optuna dashboard shows, e.g. ``PSNR (dB)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def sign(self) -> int:
        """+1 when smaller is better, -1 when larger is better (to minimise every objective)."""
        return 1 if self.direction == "minimize" else -1

    def study_value(self, raw: float) -> float:
        """The value stored in the Optuna trial for a raw value of the column."""
        if self.name in ("psnr", "int8_psnr") and math.isinf(raw):
            return PSNR_INF_STANDIN
        return float(raw) / self.per_value


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("psnr", "maximize", "PSNR", "dB", "psnr"),
    Objective("ssim", "maximize", "SSIM", "", "ssim"),
    # The mean L1 training loss (0..255 pixels) over the last quarter of the steps (mean over seeds
    # at the top rung): it ranks designs closer to a long real-data training than the screening's
    # validation PSNR does (docs/fidelity.md#screening-defaults).
    Objective("loss", "minimize", "training loss", "L1, 0-255", "loss"),
    Objective("params", "minimize", "parameters", "", "params"),
    Objective("macs", "minimize", "Multi-Adds", "G", "macs", 1e9),
    # Time per image predicted from this machine's latency table (docs/latency.md): the study's
    # [latency] runtime and threads, the cost convention's image (x4: 320x180 in, 1280x720 out).
    Objective("latency", "minimize", "latency", "ms", "latency_ms"),
    # The top-rung network quantized post-training to int8 (the bundle's model.int8.onnx recipe) and
    # scored on the validation set: what a phone's NPU would show (docs/deployment.md).
    Objective("int8_psnr", "maximize", "int8 PSNR", "dB", "int8_psnr"),
)}


def get_objectives(names: list[str] | tuple[str, ...], where: str = "objectives") -> tuple[Objective, ...]:
    """The objectives called ``names``; ``ValueError`` names an unknown one and lists the known."""
    for n in names:
        if n not in OBJECTIVES:
            raise ValueError(f"{where}: unknown objective {n!r}; expected {', '.join(OBJECTIVES)}")
    return tuple(OBJECTIVES[n] for n in names)
