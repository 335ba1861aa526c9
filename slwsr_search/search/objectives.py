"""The objective table: every objective a study may name, with its direction, label and unit.

The one home of these facts: the study's Optuna directions and dashboard metric names, where each
value lives in a trial's record (at the end and at each rung), whether it needs int8, the Pareto
computation, the reports' columns and the charts' axes all read them from :data:`OBJECTIVES`.
Adding an objective is one entry here (docs/development.md#add-an-objective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: A finite stand-in for an infinite PSNR (identical images), which Optuna cannot store.
PSNR_INF_STANDIN = 100.0


#: Where an objective's raw value comes from: the evaluator's scores (quality), or the price
#: every design gets before anything is built (cost).
QUALITY, COST = "quality", "cost"


@dataclass(frozen=True)
class Objective:
    """One objective and every fact the package derives from it.

    ``column``: the :class:`~.record.TrialRecord` field holding its raw value (dB, parameters,
    Multi-Adds, ms; also the trials frame's column and, for a cost, :class:`~.study.Price`'s
    attribute); ``per_value``: raw units per Optuna value (Multi-Adds are stored in G). ``kind``:
    :data:`QUALITY` (scored by the evaluator) or :data:`COST` (priced). ``rung_field``: the record's
    per-rung list holding a quality at each rung (None: scored at the top rung only, so a
    multi-fidelity study cannot promote by it). ``axis_title``: the report's axis title;
    ``chart_rank``: its place among its kind on the report's charts (quality: which one ranks a
    study with several, lowest first; cost: the order of the x axes); ``axis_always``: a cost the
    report charts for every study (every trial is priced by it), not only for a study that names it.
    ``companions``: columns the
    report shows beside it. ``needs_int8``: scoring it quantizes the trained network to int8.
    ``infinite``: a raw value that may be infinite (PSNR of identical images), stored as
    :data:`PSNR_INF_STANDIN`."""

    name: str
    direction: str  # "maximize" or "minimize"
    label: str
    unit: str
    column: str
    kind: str
    axis_title: str
    chart_rank: int
    per_value: float = 1.0
    rung_field: str | None = None
    companions: tuple[str, ...] = ()
    axis_always: bool = False
    needs_int8: bool = False
    infinite: bool = False

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
        if self.infinite and math.isinf(raw):
            return PSNR_INF_STANDIN
        return float(raw) / self.per_value

    def raw(self, record: Any, rung: int | None = None) -> float | None:
        """Its raw value in ``record`` (a :class:`~.record.TrialRecord`): the final one, or at
        rung ``rung`` (a cost is the same at every rung; a quality scored at the top only has
        none below it). None where the record lacks it."""
        if rung is None or self.kind == COST:
            return getattr(record, self.column)
        values = getattr(record, self.rung_field) if self.rung_field is not None else None
        return values[rung] if values is not None and len(values) > rung else None


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("psnr", "maximize", "PSNR", "dB", "psnr", QUALITY, "validation PSNR (dB)", 2,
              rung_field="rung_psnr", infinite=True),
    Objective("ssim", "maximize", "SSIM", "", "ssim", QUALITY, "validation SSIM", 3, rung_field="rung_ssim"),
    # The mean L1 training loss (0..255 pixels) over the last quarter of the steps (mean over seeds
    # at the top rung): it ranks designs closer to a long real-data training than the screening's
    # validation PSNR does (docs/fidelity.md#screening-defaults).
    Objective("loss", "minimize", "training loss", "L1, 0-255", "loss", QUALITY, "training loss (L1, 0-255)", 0,
              rung_field="rung_loss_tail"),
    Objective("params", "minimize", "parameters", "", "params", COST, "parameters", 1, axis_always=True),
    Objective("macs", "minimize", "Multi-Adds", "G", "macs", COST, "Multi-Adds (G)", 2, 1e9, companions=("gmacs",),
              axis_always=True),
    # Time per image predicted from this machine's latency table (docs/latency.md): the study's
    # [latency] runtime and threads, the cost convention's image (x4: 320x180 in, 1280x720 out).
    Objective("latency", "minimize", "latency", "ms", "latency_ms", COST, "latency (ms per image, predicted)", 0,
              companions=("measured_latency_ms",)),
    # The top-rung network quantized post-training to int8 (the bundle's model.int8.onnx recipe) and
    # scored on the validation set: what a phone's NPU would show (docs/deployment.md).
    Objective("int8_psnr", "maximize", "int8 PSNR", "dB", "int8_psnr", QUALITY, "validation PSNR in int8 (dB)", 1,
              companions=("int8_drop_db",), needs_int8=True, infinite=True),
)}


def of_kind(kind: str) -> tuple[Objective, ...]:
    """The objectives of ``kind`` (:data:`QUALITY` or :data:`COST`), in table order."""
    return tuple(o for o in OBJECTIVES.values() if o.kind == kind)


def chart_order(kind: str) -> tuple[Objective, ...]:
    """The objectives of ``kind`` in the order the report's charts take them (``chart_rank``)."""
    return tuple(sorted(of_kind(kind), key=lambda o: o.chart_rank))


#: Each objective by its column (the record's field and the trials frame's column).
BY_COLUMN: dict[str, Objective] = {o.column: o for o in OBJECTIVES.values()}


def get_objectives(names: list[str] | tuple[str, ...], where: str = "objectives") -> tuple[Objective, ...]:
    """The objectives called ``names``; ``ValueError`` names an unknown one and lists the known."""
    for n in names:
        if n not in OBJECTIVES:
            raise ValueError(f"{where}: unknown objective {n!r}; expected {', '.join(OBJECTIVES)}")
    return tuple(OBJECTIVES[n] for n in names)
