"""How long pricing one spec takes: analytically (:func:`count_cost`) and with fvcore
(:func:`measure_cost`, which runs the network), and whether the two agree."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Sequence

from ..model.cost import count_cost, measure_cost
from ..model.presets import PRESETS
from ..model.spec import ArchSpec, random_spec


@dataclass(frozen=True)
class PricingRow:
    """One spec: its cost, the median analytic pricing time (microseconds) and, when measured,
    fvcore's time (seconds) and whether its counts equal the analytic ones."""

    label: str
    params: int
    gmacs: float
    analytic_us: float
    fvcore_s: float | None
    agree: bool | None


def bench_specs(presets: Sequence[str], n_random: int) -> list[tuple[str, ArchSpec]]:
    """The presets by name, then ``n_random`` seeded random specs (seed 0), labelled."""
    rng = random.Random(0)
    specs = [(name, PRESETS[name]) for name in presets]
    specs += [(f"random #{i} x{s.scale} n{s.n_feats} ir{s.n_ir}", s)
              for i, s in enumerate(random_spec(rng, n_feats=(16, 32)) for _ in range(n_random))]
    return specs


def time_pricing(specs: Sequence[tuple[str, ArchSpec]], repeat: int, hr_size: tuple[int, int],
                 fvcore: bool) -> list[PricingRow]:
    """Median of ``repeat`` analytic pricings per spec; one fvcore count each when ``fvcore``."""
    rows = []
    for label, spec in specs:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cost = count_cost(spec, hr_size)
            times.append(time.perf_counter() - t0)
        fv_s = agree = None
        if fvcore:
            t0 = time.perf_counter()
            numel, macs = measure_cost(spec, hr_size)
            fv_s = time.perf_counter() - t0
            agree = (numel, macs) == (cost.params, cost.macs)
        rows.append(PricingRow(label, cost.params, cost.gmacs, statistics.median(times) * 1e6, fv_s, agree))
    return rows
